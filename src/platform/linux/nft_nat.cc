#include "platform/linux/nft_nat.h"

#include <cerrno>

#include "platform/linux/nftables.h"

namespace vnetd::platform::lnx {
namespace {

std::string listCommand() { return std::string("list table ") + kNftFamily + " " + kNftTable; }

// Builds the commands from a fresh listing and runs them; once more from a new listing when
// the kernel says ENOENT (someone deleted a listed rule, the chain or the table between the
// listing and the transaction: the transaction changed nothing).
template <typename Build>
Result<void> runFromListing(const NftNatLister& list, Build build, const std::string& what) {
  for (int attempt = 0;; ++attempt) {
    auto listing = list();
    if (!listing) return withContext(listing.error(), what);
    auto commands = build(*listing);
    if (!commands) return withContext(commands.error(), what);
    if (commands->empty()) return success();
    auto done = nftRun(*commands, what);
    if (done || done.error().code != ENOENT || attempt == 1) return done;
  }
}

const NftBridgeRules& rulesOf(const NftNatListing& listing, const std::string& bridge) {
  static const NftBridgeRules kNone;
  auto it = listing.bridges.find(bridge);
  return it == listing.bridges.end() ? kNone : it->second;
}

}  // namespace

Result<NftNatListing> listNftNat() {
  auto json = nftListJson(listCommand(), "list nftables table ip vnetd");
  if (!json) {
    // No table yet (never loaded, or deleted by hand / `nft flush ruleset`): nothing loaded.
    if (json.error().code == ENOENT) return NftNatListing{};
    return json.error();
  }
  auto listing = decodeNftNatListing(*json);
  if (!listing) return withContext(listing.error(), "list nftables table ip vnetd");
  return listing;
}

Result<void> loadNftNat(const std::string& bridge, const std::string& egress, const std::vector<Cidr>& subnets,
                        const NftNatLister& list) {
  return runFromListing(
      list,
      [&](const NftNatListing& listing) {
        return nftNatLoadCommands(bridge, egress, subnets, rulesOf(listing, bridge));
      },
      "load NAT rules for bridge " + bridge + " into nftables table ip vnetd");
}

Result<void> removeNftNat(const std::string& bridge, const NftNatLister& list) {
  return runFromListing(
      list, [&](const NftNatListing& listing) { return nftNatRemoveCommands(bridge, rulesOf(listing, bridge)); },
      "remove the NAT rules of bridge " + bridge + " from nftables table ip vnetd");
}

Result<std::optional<BridgeNat>> nftNatOf(const std::string& bridge) {
  auto listing = listNftNat();
  if (!listing) return withContext(listing.error(), "read the NAT rules of bridge " + bridge);
  auto it = listing->bridges.find(bridge);
  if (it == listing->bridges.end()) return std::optional<BridgeNat>();
  return std::optional<BridgeNat>(it->second.nat);
}

}  // namespace vnetd::platform::lnx
