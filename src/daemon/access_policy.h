// Access policy: which callers may use each control operation, in one table. Who may
// connect at all (root, or members of [daemon] control_group) is the control server's
// check; this table then says, per operation, whether a connected caller is enough or
// root is needed. Pure: tests and the daemon read the same table.
//
//   ping     control group  says only that the daemon runs
//   status   control group  operators watch the network (what `vnetctl status|top` show)
//   hook     root           changes jail networking
//   reload   root           changes what the daemon believes
//   capture  root           shows frames of other hosts too (a jail's peers), like tcpdump
//
// An operation missing from the table is root-only: a new op is closed until given a rule.
#pragma once

#include <optional>
#include <string>

#include "core/control_protocol.h"
#include "daemon/control_server.h"

namespace vnetd::daemon {

enum class Caller {
  ControlGroup,  // anyone the control server let in: root or a member of control_group
  Root,          // uid 0 only
};

struct OpAccess {
  control::Op op;
  Caller caller;
};

inline constexpr OpAccess kOpAccess[] = {
    {control::Op::Ping, Caller::ControlGroup}, {control::Op::Status, Caller::ControlGroup},
    {control::Op::Hook, Caller::Root},         {control::Op::Reload, Caller::Root},
    {control::Op::Capture, Caller::Root},
};

// Who may call `op` (Root for an op without a rule).
Caller requiredCaller(control::Op op);

// nullopt when `peer` may call `op`; otherwise the one-line reason for the refusal,
// e.g. "permission denied: op hook needs root (uid 1001)".
std::optional<std::string> refusal(control::Op op, const PeerCredentials& peer);

}  // namespace vnetd::daemon
