#include "core/control_protocol.h"

#include <nlohmann/json.hpp>

#include "core/naming.h"

namespace vnetd::control {
namespace {

using Json = nlohmann::json;

struct OpName {
  Op op;
  const char* name;
};
constexpr OpName kOps[] = {{Op::Ping, "ping"}, {Op::Hook, "hook"}, {Op::Status, "status"}, {Op::Reload, "reload"}};

// Client text echoed in an error: bounded and printable, so replies stay one short line.
std::string echo(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > 40) out += "...";
  return out;
}

const Json* field(const Json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

}  // namespace

const char* opName(Op op) {
  for (const auto& o : kOps)
    if (o.op == op) return o.name;
  return "?";
}

Result<Request> decodeRequest(std::string_view line) {
  if (line.size() > kMaxRequestBytes)
    return plainError("request larger than " + std::to_string(kMaxRequestBytes) + " bytes");
  Json doc = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return plainError("request is not valid JSON");
  if (!doc.is_object()) return plainError("request is not a JSON object");
  for (const auto& item : doc.items()) {
    const std::string& k = item.key();
    if (k != "v" && k != "op" && k != "phase" && k != "jail")
      return plainError("unknown request field \"" + echo(k) + "\"");
  }
  const Json* v = field(doc, "v");
  if (!v || !v->is_number_unsigned())
    return plainError("request has no protocol version (\"v\": " + std::to_string(kProtocolVersion) + ")");
  if (v->get<uint64_t>() != static_cast<uint64_t>(kProtocolVersion))
    return plainError("protocol version " + std::to_string(v->get<uint64_t>()) + " is not supported (this vnetd speaks " +
                      std::to_string(kProtocolVersion) + ")");
  const Json* op = field(doc, "op");
  if (!op || !op->is_string()) return plainError("request has no \"op\"");
  Request r;
  bool known = false;
  for (const auto& o : kOps)
    if (op->get_ref<const std::string&>() == o.name) {
      r.op = o.op;
      known = true;
    }
  if (!known) return plainError("unknown op \"" + echo(op->get_ref<const std::string&>()) + "\"");

  const Json* jail = field(doc, "jail");
  if (jail) {
    if (!jail->is_string()) return plainError("\"jail\" must be a string");
    r.jail = jail->get<std::string>();
    if (auto p = jailNameProblem(r.jail); !p.empty()) return plainError(p);
  }
  const Json* phase = field(doc, "phase");
  if (r.op == Op::Hook) {
    if (!phase || !phase->is_string()) return plainError("op hook needs \"phase\" (prestart, created or poststop)");
    r.phase = parseHookPhase(phase->get_ref<const std::string&>());
    if (!r.phase) return plainError("unknown phase \"" + echo(phase->get_ref<const std::string&>()) + "\"");
    if (!jail) return plainError("op hook needs \"jail\"");
  } else {
    if (phase) return plainError(std::string("op ") + opName(r.op) + " takes no \"phase\"");
    if (jail && r.op != Op::Status) return plainError(std::string("op ") + opName(r.op) + " takes no \"jail\"");
  }
  return r;
}

std::string encodeRequest(const Request& request) {
  Json doc = {{"v", kProtocolVersion}, {"op", opName(request.op)}};
  if (request.phase) doc["phase"] = hookPhaseName(*request.phase);
  if (request.op == Op::Hook || !request.jail.empty()) doc["jail"] = request.jail;
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string encodeError(std::string_view message) {
  Json doc = {{"v", kProtocolVersion}, {"ok", false}, {"error", std::string(message)}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string encodeHookReply(const HookOutcome& outcome) {
  Json doc = {{"v", kProtocolVersion}, {"ok", true}, {"changed", outcome.changed},
              {"jail_side_names", outcome.jail_side_names}};
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {

// Parses a reply line and checks its envelope; ok:false becomes the daemon's error.
Result<Json> decodeEnvelope(std::string_view line) {
  Json doc = Json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return plainError("vnetd sent a reply that is not a JSON object");
  const Json* v = field(doc, "v");
  if (!v || !v->is_number_unsigned() || v->get<uint64_t>() != static_cast<uint64_t>(kProtocolVersion))
    return plainError("vnetd replied with an unsupported protocol version");
  const Json* ok = field(doc, "ok");
  if (!ok || !ok->is_boolean()) return plainError("vnetd sent a reply without \"ok\"");
  if (!ok->get<bool>()) {
    const Json* error = field(doc, "error");
    if (!error || !error->is_string()) return plainError("vnetd reported a failure without a message");
    return plainError(error->get<std::string>());
  }
  return doc;
}

}  // namespace

Result<HookOutcome> decodeHookReply(std::string_view line) {
  auto doc = decodeEnvelope(line);
  if (!doc) return doc.error();
  const Json* changed = field(*doc, "changed");
  const Json* names = field(*doc, "jail_side_names");
  if (!changed || !changed->is_boolean() || !names || !names->is_array())
    return plainError("vnetd sent a malformed hook reply");
  HookOutcome out;
  out.changed = changed->get<bool>();
  for (const auto& n : *names) {
    if (!n.is_string() || !isValidInterfaceName(n.get_ref<const std::string&>()))
      return plainError("vnetd sent a malformed hook reply (bad interface name)");
    out.jail_side_names.push_back(n.get<std::string>());
  }
  return out;
}

Result<void> decodeReplyStatus(std::string_view line) {
  auto doc = decodeEnvelope(line);
  if (!doc) return doc.error();
  return success();
}

}  // namespace vnetd::control
