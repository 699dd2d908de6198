// Jails as the platform sees them: FreeBSD jails with their own vnet; on Linux, named
// network namespaces (/run/netns/<name>, as `ip netns add` makes them).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "platform/netif.h"

namespace vnetd::platform {

struct JailInfo {
  std::string name;
  int64_t id = 0;           // FreeBSD jid; Linux network-namespace inode number
  bool own_stack = false;   // FreeBSD: vnet = new; Linux: always true
};

class Jails {
 public:
  virtual ~Jails() = default;
  // Every running jail (FreeBSD: lastjid loop of jail_get(2); Linux: /run/netns).
  virtual Result<std::vector<JailInfo>> list() = 0;
  // nullopt when no such jail is running (not an error).
  virtual Result<std::optional<JailInfo>> find(const std::string& name) = 0;
  // A NetStack operating inside the jail's own stack. Linux: a netlink socket created in
  // the namespace by a short-lived helper thread (setns); FreeBSD: sockets created by a
  // forked child that jail_attach()es. Never by running ip(8)/ifconfig(8)/jexec(8).
  virtual Result<std::unique_ptr<NetStack>> openStack(const JailInfo& jail) = 0;
};

Result<std::unique_ptr<Jails>> openJails();

}  // namespace vnetd::platform
