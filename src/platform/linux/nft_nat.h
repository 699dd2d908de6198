// NAT for a bridge's jails on Linux in vnetd's own nftables table "ip vnetd" (layout, commands
// and the listing reader in nft_text.h), through libnftables in-process (nftables.h): no nft(8)
// child. Every change is one transaction built from a fresh listing, so a bridge's rules are
// deleted exactly by handle and nothing else in the table (or outside it) is touched.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/result.h"
#include "platform/linux/nft_text.h"
#include "platform/policy.h"

namespace vnetd::platform::lnx {

// vnetd's table as listed now; an empty listing when the table is not there.
Result<NftNatListing> listNftNat();
// Where load/remove get their listing from: listNftNat, or a test's wrapper of it that lets
// "someone else" change the table between the listing and the transaction.
using NftNatLister = std::function<Result<NftNatListing>()>;
// Replaces the bridge's rules with one masquerade rule per subnet out of `egress` (and deletes
// its issue-15 chain if listed). A transaction that fails with ENOENT (a listed rule was
// deleted meanwhile) is built again from a new listing and run once more.
Result<void> loadNftNat(const std::string& bridge, const std::string& egress, const std::vector<Cidr>& subnets,
                        const NftNatLister& list = listNftNat);
// Deletes exactly the bridge's rules (and its issue-15 chain); none there is success (no
// transaction at all). Retried once on ENOENT like loadNftNat.
Result<void> removeNftNat(const std::string& bridge, const NftNatLister& list = listNftNat);
// What vnetd's table holds for `bridge`; nullopt when nothing (no table, no rule of the bridge).
Result<std::optional<BridgeNat>> nftNatOf(const std::string& bridge);

}  // namespace vnetd::platform::lnx
