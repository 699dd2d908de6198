// NAT for a bridge's jails on Linux through vnetd's own nftables table (scripts and the
// listing reader in nft_text.h). nft(8) runs via fork/execve with an argv vector, the
// script on its stdin — never a shell — with a minimal environment, only descriptors 0-2,
// and a bounded wait (killed after kNftTimeoutMs: the daemon's mutator holds the state
// lock meanwhile).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/ip.h"
#include "core/result.h"
#include "platform/policy.h"

namespace vnetd::platform::lnx {

inline constexpr const char* kNft = "/usr/sbin/nft";
inline constexpr int kNftTimeoutMs = 10000;

// Replaces the bridge's NAT chain with one masquerade rule per subnet out of `egress`.
Result<void> loadNftNat(const std::string& bridge, const std::string& egress, const std::vector<Cidr>& subnets);
// Deletes the bridge's NAT chain; none there is success.
Result<void> removeNftNat(const std::string& bridge);
// What vnetd's table holds for `bridge`; nullopt when nothing (no table, no chain, or a
// chain without rules — `nft flush table ip vnetd` leaves empty chains).
Result<std::optional<BridgeNat>> nftNatOf(const std::string& bridge);

}  // namespace vnetd::platform::lnx
