#include "platform/freebsd/pair_steps.h"

namespace vnetd::platform::fbsd {

std::optional<std::string> epairPeerName(const std::string& a_side) {
  if (a_side.size() < 2 || a_side.back() != 'a') return std::nullopt;
  return a_side.substr(0, a_side.size() - 1) + "b";
}

Result<void> createPairInSteps(PairPrimitives& kernel, const PairSpec& spec) {
  auto created = kernel.clonePair();
  if (!created) return created.error();
  std::string host_now = *created;
  auto peer = epairPeerName(host_now);
  if (!peer) {
    (void)kernel.destroy(host_now);
    return plainError("create pair " + spec.host_name + "/" + spec.jail_name +
                      ": the epair cloner returned the unexpected name '" + host_now + "'");
  }
  std::string jail_now = *peer;
  bool jail_side_here = true;  // until it moves into the jail

  auto steps = [&]() -> Result<void> {
    // Marks first, on both sides, while they still have their kernel names.
    if (!spec.description.empty()) {
      VNETD_TRY(kernel.setDescription(host_now, spec.description));
      // Kept across the move: if.c frees if_description only in if_free_deferred.
      VNETD_TRY(kernel.setDescription(jail_now, spec.description));
    }
    VNETD_TRY(kernel.setMac(host_now, spec.host_mac));
    VNETD_TRY(kernel.setMac(jail_now, spec.jail_mac));
    if (spec.mtu) {
      VNETD_TRY(kernel.setMtu(host_now, *spec.mtu));
      VNETD_TRY(kernel.setMtu(jail_now, *spec.mtu));
    }
    VNETD_TRY(kernel.rename(host_now, spec.host_name));
    host_now = spec.host_name;
    VNETD_TRY(kernel.rename(jail_now, spec.jail_name));
    jail_now = spec.jail_name;
    // Join while down: FreeBSD 15 refuses members that have addresses, and bringing the
    // interface up would give it an IPv6 link-local one.
    if (!spec.bridge.empty())
      VNETD_TRY(kernel.addBridgeMember(spec.bridge, host_now, spec.private_member));
    if (spec.peer_in_jail) {
      VNETD_TRY(kernel.moveToJail(jail_now, *spec.peer_in_jail));
      jail_side_here = false;
    }
    // Only the host side comes up here (as on Linux): up on the host, the jail side would
    // only collect a link-local address that the move purges again.
    return kernel.setUp(host_now);
  };

  auto r = steps();
  if (r) return r;
  // One destroy removes both sides. The host side's name is always known; the jail
  // side's is the fallback while it is still in this stack.
  auto removed = kernel.destroy(host_now);
  if (!removed && jail_side_here) removed = kernel.destroy(jail_now);
  if (!removed)
    return Error{r.error().code, r.error().context + " (and removing the half-made pair " +
                                     host_now + "/" + jail_now +
                                     " failed: " + removed.error().message() + ")"};
  return r;
}

}  // namespace vnetd::platform::fbsd
