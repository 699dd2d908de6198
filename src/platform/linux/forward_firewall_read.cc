#include <unistd.h>

#include <cerrno>

#include "core/file_util.h"
#include "platform/forward_firewall.h"
#include "platform/linux/forward_firewall.h"
#include "platform/linux/nftables.h"

namespace vnetd::platform {

Result<ForwardFirewallFacts> readForwardFirewall() {
  ForwardFirewallFacts f;
  f.applicable = true;
  // Listing needs CAP_NET_ADMIN, and without it libnftables prints its complaint to
  // stderr itself (see nftables.h): doctor says it in its own line instead.
  if (::geteuid() != 0) return Error{EPERM, "list the nftables ruleset (needs root)"};
  // The whole ruleset: the forward chains of any table (Docker's ip filter, firewalld's
  // inet firewalld, the administrator's) and the regular chains they jump to.
  auto json = lnx::nftListJson("list ruleset", "list the nftables ruleset");
  if (!json) return json.error();
  auto rs = lnx::decodeNftRuleset(*json);
  if (!rs) return rs.error();
  f.ruleset = std::move(*rs);
  // Present only while the legacy ip_tables module is loaded; its tables are invisible to
  // nftables (iptables-nft writes nftables tables instead and leaves this file alone).
  auto names = readSmallFile("/proc/net/ip_tables_names", 4096);
  f.legacy_iptables = names && lnx::legacyFilterListed(*names);
  return f;
}

}  // namespace vnetd::platform
