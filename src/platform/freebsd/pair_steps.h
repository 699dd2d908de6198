// The order in which the FreeBSD backend builds a jail's epair, over an abstract set of
// kernel primitives, so that the order itself is unit-tested on Linux (recording fakes)
// and the FreeBSD NetStack only supplies the ioctls. Pure and platform-neutral.
//
// Why the order matters: FreeBSD cannot create an epair with its final names, MACs and
// description in one step (Linux can: one RTM_NEWLINK). SIOCIFCREATE2 makes epair<N>a
// and epair<N>b with kernel MACs (sys/net/if_epair.c epair_clone_create →
// epair_generate_mac: 02:<hash>:0a, the b side a copy ending 0b in epair_clone_add),
// no description, administratively down (epair_setup_ifp leaves IFF_UP clear), and
// returns the a side's name. Everything else is a separate ioctl, and the process may
// die between any two. A leftover must still be recognisable as vnetd's (description
// "vnetd:<jail>:<i>" and the recorded MACs, whatever its name), so both sides are
// marked — description, MAC, MTU — BEFORE anything gives them the final names: a
// renamed but unmarked e0a_web (which prestart then refuses) cannot occur, and an
// unrenamed epair<N>a/b can only be unmarked in the few microseconds between the
// clone and the first ioctls. The kernel allows this order:
//  - SIOCSIFDESCR sets if_description on any interface; if_rename never touches it
//    (sys/net/if.c ifhwioctl SIOCSIFDESCR, if_rename).
//  - SIOCSIFLLADDR → if_setlladdr copies the address for IFT_ETHER (epairs are
//    if_alloc(IFT_ETHER)) whether the interface is up or down (an up one is only
//    re-initialised); if_rename moves the link-level address along with the name in
//    the AF_LINK sockaddr, so the MAC survives the rename (sys/net/if.c).
//  - SIOCSIFMTU: epair_ioctl accepts any MTU; ifhwioctl refuses it (EOPNOTSUPP) once
//    the interface is a bridge member, hence before BRDGADD.
//  - SIOCIFDESTROY of either side destroys both, wherever the other side is
//    (if_epair.c epair_clone_destroy), so one destroy cleans up at any step.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/naming.h"
#include "core/result.h"
#include "platform/jails.h"
#include "platform/netif.h"

namespace vnetd::platform::fbsd {

// The kernel operations a pair is built from, each one ioctl on FreeBSD. Names are
// interface names in the stack the implementation acts on (the host's).
class PairPrimitives {
 public:
  virtual ~PairPrimitives() = default;
  // SIOCIFCREATE2 "epair": both sides; returns the a side's name (epair<N>a).
  virtual Result<std::string> clonePair() = 0;
  virtual Result<void> setDescription(const std::string& name, const std::string& text) = 0;
  virtual Result<void> setMac(const std::string& name, const MacAddress& mac) = 0;
  virtual Result<void> setMtu(const std::string& name, uint32_t mtu) = 0;
  virtual Result<void> rename(const std::string& from, const std::string& to) = 0;
  virtual Result<void> addBridgeMember(const std::string& bridge, const std::string& member,
                                       bool private_member) = 0;
  virtual Result<void> moveToJail(const std::string& name, const JailInfo& jail) = 0;
  virtual Result<void> setUp(const std::string& name) = 0;
  // SIOCIFDESTROY: either side destroys both.
  virtual Result<void> destroy(const std::string& name) = 0;
};

// The b side of an epair whose a side the cloner named `a_side` ("epair3a" →
// "epair3b"); nullopt when the name does not end in 'a'.
std::optional<std::string> epairPeerName(const std::string& a_side);

// Builds the pair of `spec` (NetStack::createPair's contract): clone; on both sides the
// description, then the MAC, then the MTU; then the renames; then the host side joins
// the bridge (while down: FreeBSD 15 refuses members with addresses), the jail side
// moves into the jail, and the host side comes up. The jail side is brought up inside
// the jail later (the created hook). When a step fails, the pair is destroyed by the
// name its host side has at that moment (by the jail side's if that fails and the jail
// side is still here), and the step's error is returned — with the cleanup's error
// appended if the pair could not be removed.
Result<void> createPairInSteps(PairPrimitives& kernel, const PairSpec& spec);

}  // namespace vnetd::platform::fbsd
