#include "daemon/access_policy.h"

namespace vnetd::daemon {

Caller requiredCaller(control::Op op) {
  for (const auto& rule : kOpAccess)
    if (rule.op == op) return rule.caller;
  return Caller::Root;
}

std::optional<std::string> refusal(control::Op op, const PeerCredentials& peer) {
  switch (requiredCaller(op)) {
    case Caller::ControlGroup: return std::nullopt;  // the control server checked the connection
    case Caller::Root:
      if (peer.uid == 0) return std::nullopt;
      return std::string("permission denied: op ") + control::opName(op) + " needs root (uid " +
             std::to_string(peer.uid) + ")";
  }
  return std::string("permission denied");
}

}  // namespace vnetd::daemon
