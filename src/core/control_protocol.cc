#include "core/control_protocol.h"

#include <algorithm>
#include <iterator>
#include <nlohmann/json.hpp>

#include "core/naming.h"

namespace vnetd::control {
namespace {

using Json = nlohmann::json;

struct OpName {
  Op op;
  const char* name;
};
constexpr OpName kOps[] = {{Op::Ping, "ping"},     {Op::Hook, "hook"},       {Op::Status, "status"},
                           {Op::Reload, "reload"}, {Op::Capture, "capture"}};

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

constexpr const char* kCaptureFields[] = {"count", "seconds", "snaplen", "filter", "last"};

// An optional unsigned field of a capture request, at most `max`.
Result<uint32_t> boundedField(const Json& doc, const char* key, uint32_t max) {
  const Json* f = field(doc, key);
  if (!f) return uint32_t{0};
  if (!f->is_number_unsigned() || f->get<uint64_t>() > max)
    return plainError(std::string("\"") + key + "\" must be an integer from 0 to " + std::to_string(max));
  return static_cast<uint32_t>(f->get<uint64_t>());
}

// Fills the capture fields of `r` from `doc` (op capture only).
Result<void> decodeCapture(const Json& doc, Request& r) {
  auto count = boundedField(doc, "count", kMaxCaptureCount);
  if (!count) return count.error();
  auto seconds = boundedField(doc, "seconds", kMaxCaptureSeconds);
  if (!seconds) return seconds.error();
  auto snaplen = boundedField(doc, "snaplen", kMaxCaptureSnaplen);
  if (!snaplen) return snaplen.error();
  r.count = *count;
  r.seconds = *seconds;
  r.snaplen = *snaplen;
  if (const Json* last = field(doc, "last")) {
    if (!last->is_boolean()) return plainError("\"last\" must be true or false");
    r.last = last->get<bool>();
  }
  if (const Json* filter = field(doc, "filter")) {
    if (!filter->is_string()) return plainError("\"filter\" must be a string");
    const std::string& f = filter->get_ref<const std::string&>();
    if (f.size() > kMaxCaptureFilterBytes)
      return plainError("capture filter longer than " + std::to_string(kMaxCaptureFilterBytes) + " bytes");
    for (char c : f)
      if (c < 0x20 || c > 0x7e) return plainError("capture filter contains a non-printable character");
    r.filter = f;
  }
  if (r.jail.empty()) return plainError("op capture needs \"jail\"");
  if (r.last && r.seconds != 0) return plainError("a flight-recorder capture (\"last\") takes no \"seconds\"");
  // A live capture nobody bounded would run until the client goes away; refuse it here
  // too, not only in vnetctl.
  if (!r.last && r.count == 0 && r.seconds == 0)
    return plainError("a live capture needs \"count\" or \"seconds\" (or both)");
  return success();
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
    bool capture_field = std::find(std::begin(kCaptureFields), std::end(kCaptureFields), k) != std::end(kCaptureFields);
    if (k != "v" && k != "op" && k != "phase" && k != "jail" && !capture_field)
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
    if (!phase || !phase->is_string())
      return plainError("op hook needs \"phase\" (prestart, created, poststart, prestop or poststop)");
    r.phase = parseHookPhase(phase->get_ref<const std::string&>());
    if (!r.phase) return plainError("unknown phase \"" + echo(phase->get_ref<const std::string&>()) + "\"");
    if (!jail) return plainError("op hook needs \"jail\"");
  } else {
    if (phase) return plainError(std::string("op ") + opName(r.op) + " takes no \"phase\"");
    if (jail && r.op != Op::Status && r.op != Op::Capture)
      return plainError(std::string("op ") + opName(r.op) + " takes no \"jail\"");
  }
  if (r.op == Op::Capture) {
    VNETD_TRY(decodeCapture(doc, r));
  } else {
    for (const char* k : kCaptureFields)
      if (field(doc, k)) return plainError(std::string("op ") + opName(r.op) + " takes no \"" + k + "\"");
  }
  return r;
}

std::string encodeRequest(const Request& request) {
  Json doc = {{"v", kProtocolVersion}, {"op", opName(request.op)}};
  if (request.phase) doc["phase"] = hookPhaseName(*request.phase);
  if (request.op == Op::Hook || request.op == Op::Capture || !request.jail.empty()) doc["jail"] = request.jail;
  if (request.op == Op::Capture) {
    doc["count"] = request.count;
    doc["seconds"] = request.seconds;
    doc["snaplen"] = request.snaplen;
    if (!request.filter.empty()) doc["filter"] = request.filter;
    if (request.last) doc["last"] = true;
  }
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

std::string encodeCaptureHeader(const CaptureHeader& header) {
  Json doc = {{"v", kProtocolVersion},
              {"ok", true},
              {"bridge", header.bridge},
              {"linktype", header.linktype},
              {"snaplen", header.snaplen}};
  if (header.sample > 1) doc["sample"] = header.sample;
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<CaptureHeader> decodeCaptureHeader(std::string_view line) {
  auto doc = decodeEnvelope(line);
  if (!doc) return doc.error();
  const Json* bridge = field(*doc, "bridge");
  const Json* linktype = field(*doc, "linktype");
  const Json* snaplen = field(*doc, "snaplen");
  if (!bridge || !bridge->is_string() || !linktype || !linktype->is_number_unsigned() || !snaplen ||
      !snaplen->is_number_unsigned())
    return plainError("vnetd sent a malformed capture header");
  CaptureHeader h;
  h.bridge = bridge->get<std::string>();
  // Printed to the operator's terminal: interface names only, no escape sequences.
  std::string_view rest = h.bridge;
  while (true) {
    size_t comma = rest.find(',');
    if (!isValidInterfaceName(rest.substr(0, comma)))
      return plainError("vnetd sent a malformed capture header (bad bridge name)");
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (linktype->get<uint64_t>() > UINT32_MAX || snaplen->get<uint64_t>() == 0 ||
      snaplen->get<uint64_t>() > kMaxCaptureSnaplen)
    return plainError("vnetd sent a malformed capture header (linktype or snaplen out of range)");
  h.linktype = static_cast<uint32_t>(linktype->get<uint64_t>());
  h.snaplen = static_cast<uint32_t>(snaplen->get<uint64_t>());
  if (const Json* sample = field(*doc, "sample")) {  // absent: every frame (and older daemons)
    if (!sample->is_number_unsigned() || sample->get<uint64_t>() == 0 || sample->get<uint64_t>() > UINT32_MAX)
      return plainError("vnetd sent a malformed capture header (sample out of range)");
    h.sample = static_cast<uint32_t>(sample->get<uint64_t>());
  }
  return h;
}

}  // namespace vnetd::control
