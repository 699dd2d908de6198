#include "core/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <thread>

#include "core/file_util.h"
#include "core/ip.h"
#include "core/log.h"
#include "core/naming.h"

namespace vnetd {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kStateFileName = "state.json";
constexpr std::string_view kTempPrefix = ".state.json.tmp-";
constexpr std::string_view kPhases[] = {"prestart", "created"};
// Our format nests 6 levels deep. The cap keeps a file of millions of '[' from turning
// into millions of heap-allocated arrays before the schema check could reject it.
constexpr size_t kMaxNesting = 32;
// Values from the file are echoed in error messages; keep those messages one short line.
constexpr size_t kMaxEchoedChars = 64;
constexpr size_t kMaxSyntaxMessageChars = 200;
constexpr auto kLockFirstBackoff = std::chrono::milliseconds(1);
constexpr auto kLockMaxBackoff = std::chrono::milliseconds(50);

// Makes untrusted text safe for a one-line message: printable ASCII kept, everything
// else (newlines, control characters, bytes of other encodings) as \xNN, bounded.
std::string printable(std::string_view text, size_t max_chars) {
  std::string out;
  size_t shown = 0;
  for (char c : text) {
    if (shown++ == max_chars) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  return out;
}

std::string echoed(std::string_view text) {
  std::string out = "\"";
  for (char c : printable(text, kMaxEchoedChars)) {
    if (c == '"') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string jailLabel(std::string_view name) {
  if (isValidJailName(name)) return "jail '" + std::string(name) + "'";
  return "jail " + echoed(name);
}

std::string join(const std::string& where, const std::string& what) {
  return where.empty() ? what : where + ": " + what;
}

Error fileProblem(const std::string& problem) {
  return plainError(std::string(kStateFileName) + ": " + problem);
}

// What a JSON value is, for "<field> is <this>, expected <that>".
std::string describe(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::number_integer:
      return std::to_string(value.get<Json::number_integer_t>());
    case Json::value_t::number_unsigned:
      return std::to_string(value.get<Json::number_unsigned_t>());
    case Json::value_t::number_float:
      return "a floating-point number";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::binary:
      return "binary data";
    case Json::value_t::discarded:
      break;
  }
  return "invalid";
}

// Typed, non-throwing access to one object of the document; problems name `where`.
class FieldReader {
 public:
  FieldReader(const Json& object, std::string where) : object_(object), where_(std::move(where)) {}

  // Fields outside `known` are errors: a misspelt field must not fall back to a default.
  Result<void> onlyKnownFields(std::initializer_list<std::string_view> known) const {
    for (const auto& item : object_.items()) {
      if (std::find(known.begin(), known.end(), item.key()) == known.end())
        return problem("unknown field " + echoed(item.key()));
    }
    return success();
  }

  Result<const Json*> field(std::string_view key) const {
    auto it = object_.find(std::string(key));
    if (it == object_.end()) return problem(std::string(key) + " is missing");
    return &*it;
  }

  Result<std::string> string(std::string_view key) const {
    auto value = field(key);
    if (!value) return value.error();
    if (!(*value)->is_string()) return typeProblem(key, **value, "a string");
    return (*value)->get<std::string>();
  }

  Result<uint64_t> unsignedInteger(std::string_view key) const {
    auto value = field(key);
    if (!value) return value.error();
    const Json& v = **value;
    if (v.is_number_unsigned()) return v.get<uint64_t>();
    // "-0" parses as a signed zero.
    if (v.is_number_integer() && v.get<int64_t>() == 0) return uint64_t{0};
    return typeProblem(key, v, "an unsigned integer");
  }

  Result<int64_t> signedInteger(std::string_view key) const {
    auto value = field(key);
    if (!value) return value.error();
    const Json& v = **value;
    if (v.is_number_unsigned()) {
      uint64_t u = v.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      return v.get<int64_t>();
    }
    return typeProblem(key, v, "a 64-bit integer");
  }

  Result<bool> boolean(std::string_view key) const {
    auto value = field(key);
    if (!value) return value.error();
    if (!(*value)->is_boolean()) return typeProblem(key, **value, "true or false");
    return (*value)->get<bool>();
  }

  Result<const Json*> object(std::string_view key) const {
    auto value = field(key);
    if (!value) return value.error();
    if (!(*value)->is_object()) return typeProblem(key, **value, "an object");
    return *value;
  }

  Result<const Json*> array(std::string_view key) const {
    auto value = field(key);
    if (!value) return value.error();
    if (!(*value)->is_array()) return typeProblem(key, **value, "an array");
    return *value;
  }

  Error problem(const std::string& what) const { return fileProblem(join(where_, what)); }

  Error typeProblem(std::string_view key, const Json& value, std::string_view expected) const {
    return problem(std::string(key) + " is " + describe(value) + ", expected " +
                   std::string(expected));
  }

 private:
  const Json& object_;
  std::string where_;
};

Result<InterfaceRecord> decodeInterface(const Json& value, const std::string& jail_where,
                                        size_t position) {
  std::string where = jail_where + " interfaces[" + std::to_string(position) + "]";
  if (!value.is_object())
    return fileProblem(where + " is " + describe(value) + ", expected an object");
  InterfaceRecord record;
  {
    // Until the index is known the interface is named by its position in the array.
    FieldReader positional(value, where);
    auto index = positional.unsignedInteger("index");
    if (!index) return index.error();
    if (*index > UINT32_MAX)
      return positional.problem("index " + std::to_string(*index) + " is out of range");
    record.index = static_cast<unsigned>(*index);
  }
  FieldReader reader(value, jail_where + " interface " + std::to_string(record.index));
  VNETD_TRY(reader.onlyKnownFields({"index", "host_name", "jail_name", "host_mac", "jail_mac",
                                    "bridge", "addresses", "created_by_vnetd"}));
  struct StringField {
    std::string_view key;
    std::string* out;
  };
  for (const StringField& f :
       {StringField{"host_name", &record.host_name}, StringField{"jail_name", &record.jail_name},
        StringField{"host_mac", &record.host_mac}, StringField{"jail_mac", &record.jail_mac},
        StringField{"bridge", &record.bridge}}) {
    auto text = reader.string(f.key);
    if (!text) return text.error();
    *f.out = std::move(*text);
  }
  auto addresses = reader.array("addresses");
  if (!addresses) return addresses.error();
  for (size_t i = 0; i < (*addresses)->size(); ++i) {
    const Json& address = (**addresses)[i];
    if (!address.is_string()) {
      return reader.problem("addresses[" + std::to_string(i) + "] is " + describe(address) +
                            ", expected a string");
    }
    record.addresses.push_back(address.get<std::string>());
  }
  auto created = reader.boolean("created_by_vnetd");
  if (!created) return created.error();
  record.created_by_vnetd = *created;
  return record;
}

// "limits": null (not recorded) or {"<resource>": {"action": ..., "amount": ...}}.
// Names and ranges are checked by stateProblem, like every other semantic rule.
Result<std::optional<RctlLimits>> decodeLimits(const FieldReader& jail_reader, const std::string& where) {
  auto value = jail_reader.field("limits");
  if (!value) return value.error();
  if ((*value)->is_null()) return std::optional<RctlLimits>();
  if (!(*value)->is_object()) return jail_reader.typeProblem("limits", **value, "an object or null");
  RctlLimits limits;
  for (const auto& item : (*value)->items()) {
    const std::string lw = where + " limit " + echoed(item.key());
    if (!item.value().is_object())
      return fileProblem(lw + " is " + describe(item.value()) + ", expected an object");
    FieldReader reader(item.value(), lw);
    VNETD_TRY(reader.onlyKnownFields({"action", "amount"}));
    auto action = reader.string("action");
    if (!action) return action.error();
    auto amount = reader.unsignedInteger("amount");
    if (!amount) return amount.error();
    limits[item.key()] = RctlLimit{std::move(*action), *amount};
  }
  return std::optional<RctlLimits>(std::move(limits));
}

Result<JailRecord> decodeJail(const std::string& key, const Json& value, uint64_t version) {
  const std::string where = jailLabel(key);
  if (!value.is_object())
    return fileProblem(where + " is " + describe(value) + ", expected an object");
  FieldReader reader(value, where);
  if (version == 1)
    VNETD_TRY(reader.onlyKnownFields({"name", "phase", "updated_at", "interfaces"}));
  else
    VNETD_TRY(reader.onlyKnownFields({"name", "phase", "updated_at", "limits", "interfaces"}));
  JailRecord record;
  if (version == 1) {
    record.limits.reset();  // version 1 did not record limits: unknown, not "none"
  } else {
    auto limits = decodeLimits(reader, where);
    if (!limits) return limits.error();
    record.limits = std::move(*limits);
  }
  auto name = reader.string("name");
  if (!name) return name.error();
  record.name = std::move(*name);
  auto phase = reader.string("phase");
  if (!phase) return phase.error();
  record.phase = std::move(*phase);
  auto updated_at = reader.signedInteger("updated_at");
  if (!updated_at) return updated_at.error();
  record.updated_at = *updated_at;
  auto interfaces = reader.array("interfaces");
  if (!interfaces) return interfaces.error();
  for (size_t i = 0; i < (*interfaces)->size(); ++i) {
    auto interface = decodeInterface((**interfaces)[i], where, i);
    if (!interface) return interface.error();
    record.interfaces.push_back(std::move(*interface));
  }
  return record;
}

// The rules one jail's record must satisfy on its own. Returns "" when valid.
std::string jailProblem(const std::string& key, const JailRecord& jail) {
  const std::string where = jailLabel(key);
  if (std::string p = jailNameProblem(key); !p.empty()) return where + ": " + p;
  if (jail.name != key) return where + ": name " + echoed(jail.name) + " does not match its key";
  if (std::find(std::begin(kPhases), std::end(kPhases), jail.phase) == std::end(kPhases)) {
    std::string known;
    for (std::string_view phase : kPhases)
      known += (known.empty() ? "\"" : " or \"") + std::string(phase) + "\"";
    return where + ": phase " + echoed(jail.phase) + " is not " + known;
  }
  if (jail.limits) {
    for (const auto& [resource, limit] : *jail.limits) {
      const std::string lw = where + " limit " + echoed(resource);
      const RctlResource* r = findRctlResource(resource);
      if (!r) return lw + ": not an rctl resource";
      if (!rctlAllows(*r, limit.action))
        return lw + ": action " + echoed(limit.action) + " is not one rctl takes for it";
      if (limit.amount > r->max_amount)
        return lw + ": amount " + std::to_string(limit.amount) + " is more than rctl accepts";
    }
  }
  std::set<unsigned> indexes;
  std::set<std::string_view> jail_side_names;
  for (const InterfaceRecord& iface : jail.interfaces) {
    const std::string iw = where + " interface " + std::to_string(iface.index);
    if (iface.index >= kMaxInterfacesPerJail) {
      return iw + ": index is out of range (0.." + std::to_string(kMaxInterfacesPerJail - 1) + ")";
    }
    if (!indexes.insert(iface.index).second)
      return where + ": interface index " + std::to_string(iface.index) + " appears twice";
    for (const auto& [field, name] :
         {std::pair{"host_name", &iface.host_name}, std::pair{"jail_name", &iface.jail_name}}) {
      if (std::string p = interfaceNameProblem(*name); !p.empty())
        return iw + ": " + field + " " + echoed(*name) + " is invalid: " + p;
    }
    if (!iface.bridge.empty()) {
      if (std::string p = interfaceNameProblem(iface.bridge); !p.empty())
        return iw + ": bridge " + echoed(iface.bridge) + " is invalid: " + p;
    }
    for (const auto& [field, mac] :
         {std::pair{"host_mac", &iface.host_mac}, std::pair{"jail_mac", &iface.jail_mac}}) {
      if (!MacAddress::parse(*mac)) return iw + ": " + field + " " + echoed(*mac) + " is not a MAC address";
    }
    for (const std::string& address : iface.addresses) {
      if (!Cidr::parse(address))
        return iw + ": address " + echoed(address) + " is not a CIDR (address/prefix length)";
    }
    if (!jail_side_names.insert(iface.jail_name).second)
      return iw + ": jail_name " + echoed(iface.jail_name) + " is used twice in this jail";
  }
  return {};
}

// The semantic rules, shared by decodeState and save(). Returns "" when valid.
// `valid_before`, when given, has one entry per jail (map order): true for a record
// equal to one a state that passed these rules held, whose own rules need no second
// look; names are still checked across every jail.
std::string stateProblem(const State& state, const std::vector<char>* valid_before = nullptr) {
  size_t i = 0;
  for (const auto& [key, jail] : state.jails) {
    if (!valid_before || !(*valid_before)[i])
      if (std::string p = jailProblem(key, jail); !p.empty()) return p;
    ++i;
  }
  // Host-side names are unique in the state. With most jails known valid, only the names
  // of the others can collide, and a scan for those beats building a map of every name.
  if (valid_before) {
    std::vector<std::string_view> fresh;
    i = 0;
    for (const auto& [key, jail] : state.jails) {
      if (!(*valid_before)[i++])
        for (const InterfaceRecord& iface : jail.interfaces) fresh.push_back(iface.host_name);
    }
    if (fresh.size() <= 8) {  // beyond, the map below is cheaper
      bool collides = false;
      for (size_t f = 0; f < fresh.size() && !collides; ++f) {
        size_t seen = 0;
        for (const auto& [key, jail] : state.jails)
          for (const InterfaceRecord& iface : jail.interfaces) seen += iface.host_name == fresh[f];
        collides = seen > 1;
      }
      if (!collides) return {};  // else the map finds the pair, in the order its message names them
    }
  }
  std::map<std::string, std::string, std::less<>> host_names;  // host_name → its owner
  for (const auto& [key, jail] : state.jails) {
    for (const InterfaceRecord& iface : jail.interfaces) {
      const std::string iw = jailLabel(key) + " interface " + std::to_string(iface.index);
      auto [owner, inserted] = host_names.emplace(iface.host_name, iw);
      if (!inserted)
        return iw + ": host_name " + echoed(iface.host_name) + " is also used by " + owner->second;
    }
  }
  return {};
}

// Depth of [ and { outside strings. Agrees with the real parser on every valid prefix,
// and whatever it says about invalid input, the parser rejects that input anyway.
bool nestedTooDeep(std::span<const char> bytes) {
  size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : bytes) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxNesting) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

// A SAX consumer that accepts everything and records the first syntax error. Used only
// after the DOM parse failed: the non-throwing DOM parse says nothing about why.
class SyntaxErrorCapture {
 public:
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(Json::number_integer_t) { return true; }
  bool number_unsigned(Json::number_unsigned_t) { return true; }
  bool number_float(Json::number_float_t, const Json::string_t&) { return true; }
  bool string(Json::string_t&) { return true; }
  bool binary(Json::binary_t&) { return true; }
  bool start_object(std::size_t) { return true; }
  bool key(Json::string_t&) { return true; }
  bool end_object() { return true; }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t, const std::string&, const Json::exception& error) {
    message_ = error.what();
    return false;
  }

  // "line 3, column 5: syntax error while parsing object - ...", without the library's
  // "[json.exception.parse_error.101] parse error at " prefix.
  std::string message() const {
    std::string_view text = message_;
    constexpr std::string_view kMarker = "parse error at ";
    if (size_t at = text.find(kMarker); at != std::string_view::npos)
      text.remove_prefix(at + kMarker.size());
    if (text.empty()) return "syntax error";
    return printable(text, kMaxSyntaxMessageChars);
  }

 private:
  std::string message_;
};

// JSON string literal. Valid states are printable ASCII (names and addresses are
// validated); anything else is still escaped so the output is always well-formed JSON:
// control characters as \u00XX, and bytes >= 0x80 (possibly invalid UTF-8 in an
// unvalidated State) as U+FFFD, like nlohmann's "replace" error handler.
void appendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else if (c >= 0x80) {
      out += "\\ufffd";
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
}

void appendField(std::string& out, std::string_view key, std::string_view value, bool first = false) {
  if (!first) out += ',';
  appendJsonString(out, key);
  out += ':';
  appendJsonString(out, value);
}

// What encode() may copy instead of writing again: an earlier encoding's text, and for
// each jail of the state it encoded (map order) where its line is in it.
struct JailSpan {
  size_t begin = 0;
  size_t end = 0;
};
struct EncodedBefore {
  std::string_view text;
  const std::vector<JailSpan>* spans = nullptr;
  // One entry per jail of the state being encoded (map order): the index of an equal
  // record of the same key in the earlier state, or -1.
  const std::vector<int32_t>* same = nullptr;
};

std::string encode(const State& state, uint64_t generation, const EncodedBefore* before = nullptr,
                   std::vector<JailSpan>* spans = nullptr) {
  // One jail per line: readable, greppable, and linear to build for any number of jails.
  // Written directly rather than through a JSON DOM: hooks save the state on every
  // change, and with hundreds of jails the DOM round-trip cost more than the fsync.
  std::string out = "{\n  \"version\": " + std::to_string(kStateFormatVersion) +
                    ",\n  \"generation\": " + std::to_string(generation) + ",\n  \"jails\": {";
  out.reserve(before ? out.size() + before->text.size() + 1024 : out.size() + state.jails.size() * 320);
  if (spans) spans->clear();
  bool first = true;
  size_t i = 0;
  for (const auto& [key, jail] : state.jails) {
    out += first ? "\n    " : ",\n    ";
    first = false;
    const size_t begin = out.size();
    const int32_t same = before ? (*before->same)[i] : -1;
    ++i;
    if (same >= 0) {
      // An unchanged record: its line as the last save wrote it (the same function made it).
      const JailSpan& was = (*before->spans)[static_cast<size_t>(same)];
      out.append(before->text.substr(was.begin, was.end - was.begin));
      if (spans) spans->push_back({begin, out.size()});
      continue;
    }
    appendJsonString(out, key);
    out += ": {";
    appendField(out, "name", jail.name, true);
    appendField(out, "phase", jail.phase);
    out += ",\"updated_at\":" + std::to_string(jail.updated_at) + ",\"limits\":";
    if (!jail.limits) {
      out += "null";
    } else {
      out += '{';
      bool first_limit = true;
      for (const auto& [resource, limit] : *jail.limits) {
        if (!first_limit) out += ',';
        first_limit = false;
        appendJsonString(out, resource);
        out += ":{";
        appendField(out, "action", limit.action, true);
        out += ",\"amount\":" + std::to_string(limit.amount) + "}";
      }
      out += '}';
    }
    out += ",\"interfaces\":[";
    bool first_iface = true;
    for (const InterfaceRecord& iface : jail.interfaces) {
      out += first_iface ? "{" : ",{";
      first_iface = false;
      out += "\"index\":" + std::to_string(iface.index);
      appendField(out, "host_name", iface.host_name);
      appendField(out, "jail_name", iface.jail_name);
      appendField(out, "host_mac", iface.host_mac);
      appendField(out, "jail_mac", iface.jail_mac);
      appendField(out, "bridge", iface.bridge);
      out += ",\"addresses\":[";
      for (size_t i = 0; i < iface.addresses.size(); ++i) {
        if (i) out += ',';
        appendJsonString(out, iface.addresses[i]);
      }
      out += "],\"created_by_vnetd\":";
      out += iface.created_by_vnetd ? "true}" : "false}";
    }
    out += "]}";
    if (spans) spans->push_back({begin, out.size()});
  }
  out += first ? "}\n}\n" : "\n  }\n}\n";
  return out;
}

Result<void> writeAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoError("write " + path);
    }
    if (n == 0) return Error{EIO, "write " + path + " made no progress"};
    data.remove_prefix(static_cast<size_t>(n));
  }
  return success();
}

// fsync(2), or the seam a test installed (StateStore::setFsync).
int fsyncRetrying(int fd, const std::function<int(int)>& seam) {
  int rc;
  do {
    rc = seam ? seam(fd) : ::fsync(fd);
  } while (rc != 0 && errno == EINTR);
  return rc;
}

// Makes a rename in `dir` durable.
Result<void> syncDirectory(const std::string& dir, const std::function<int(int)>& seam) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errnoError("open directory " + dir);
  // EINVAL: the filesystem cannot fsync a directory at all; failing every save there
  // would make vnetd unusable without making anything more durable.
  if (fsyncRetrying(fd.get(), seam) != 0 && errno != EINVAL) return errnoError("fsync directory " + dir);
  return success();
}

Result<void> checkHeld(const StateLock& held) {
  if (!held.held())
    return Error{EINVAL, "state store used without its lock (moved-from StateLock)"};
  return success();
}

// Read failures that say something about the file itself (rather than about us or the
// system, like EACCES or EMFILE) are treated like corrupt contents.
bool isBadFile(int code) { return code == 0 || code == EFBIG || code == EIO || code == ELOOP; }

struct DirCloser {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

}  // namespace

std::string encodeState(const State& state) { return encode(state, state.generation); }

Result<void> validateState(const State& state) {
  std::string problem = stateProblem(state);
  if (!problem.empty()) return plainError(problem);
  return success();
}

Result<State> decodeState(std::span<const char> bytes) {
  if (bytes.size() > kMaxStateFileBytes)
    return fileProblem("larger than " + std::to_string(kMaxStateFileBytes) + " bytes");
  if (bytes.empty()) return fileProblem("file is empty");
  if (nestedTooDeep(bytes))
    return fileProblem("nested deeper than " + std::to_string(kMaxNesting) + " levels");
  const char* first = bytes.data();
  const char* last = first + bytes.size();
  Json doc = Json::parse(first, last, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    SyntaxErrorCapture capture;
    (void)Json::sax_parse(first, last, &capture);
    return fileProblem("not valid JSON: " + capture.message());
  }
  if (!doc.is_object())
    return fileProblem("top level is " + describe(doc) + ", expected an object");

  FieldReader reader(doc, "");
  // Version before anything else: a newer format may well have fields we do not know.
  auto version = reader.unsignedInteger("version");
  if (!version) return version.error();
  if (*version < static_cast<uint64_t>(kOldestStateFormatVersion) ||
      *version > static_cast<uint64_t>(kStateFormatVersion)) {
    return reader.problem("version " + std::to_string(*version) +
                          " is not supported (this vnetd reads versions " +
                          std::to_string(kOldestStateFormatVersion) + " to " +
                          std::to_string(kStateFormatVersion) + ")");
  }
  VNETD_TRY(reader.onlyKnownFields({"version", "generation", "jails"}));
  State state;
  auto generation = reader.unsignedInteger("generation");
  if (!generation) return generation.error();
  state.generation = *generation;
  auto jails = reader.object("jails");
  if (!jails) return jails.error();
  for (const auto& item : (*jails)->items()) {
    auto jail = decodeJail(item.key(), item.value(), *version);
    if (!jail) return jail.error();
    state.jails.emplace(item.key(), std::move(*jail));
  }
  if (std::string problem = stateProblem(state); !problem.empty()) return fileProblem(problem);
  return state;
}

StateLock::StateLock(StateLock&& other) noexcept = default;
StateLock& StateLock::operator=(StateLock&& other) noexcept = default;
StateLock::~StateLock() = default;

Result<StateStore> StateStore::open(const std::string& state_dir) {
  if (state_dir.empty()) return Error{EINVAL, "state dir is empty"};
  std::string dir = state_dir;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  // mkdir -p: only the state dir itself is private; parents are ordinary directories
  // such as /var/db that other software expects to be traversable.
  for (size_t end = 1; end <= dir.size(); ++end) {
    if (end != dir.size() && dir[end] != '/') continue;
    if (dir[end - 1] == '/') continue;  // "//" in the path
    const bool is_state_dir = end == dir.size();
    const std::string prefix = dir.substr(0, end);
    if (::mkdir(prefix.c_str(), is_state_dir ? 0700 : 0755) == 0) continue;
    if (errno != EEXIST) return errnoError("create state dir " + prefix);
    struct stat st {};
    if (::stat(prefix.c_str(), &st) != 0) return errnoError("stat " + prefix);
    if (!S_ISDIR(st.st_mode)) {
      return Error{ENOTDIR, is_state_dir ? "state dir " + prefix + " exists and is not a directory"
                                         : "state dir " + dir + ": " + prefix +
                                               " exists and is not a directory"};
    }
  }
  return StateStore(std::move(dir));
}

Result<StateLock> StateStore::lock(int timeout_ms) const {
  const std::string path = lockPath();
  const auto timeout = std::chrono::milliseconds(std::max(timeout_ms, 0));
  const auto start = std::chrono::steady_clock::now();
  auto backoff = kLockFirstBackoff;
  for (;;) {
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return errnoError("open state lock " + path);
    // No OS has a timed flock(2), and interrupting a blocking one needs a timer signal
    // that a library must not own. So poll LOCK_NB with a backoff: 1 ms first (hooks
    // usually hold the lock for a few ms), doubling to 50 ms so a long wait costs ~20
    // wakeups a second, never sleeping past the deadline.
    for (;;) {
      if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) break;
      if (errno == EINTR) continue;
      if (errno != EWOULDBLOCK) return errnoError("lock " + path);
      const auto elapsed = std::chrono::steady_clock::now() - start;
      if (elapsed >= timeout) {
        // No errno text: "Connection timed out" would only blur the line an administrator reads.
        return plainError("state lock " + path + " held by another process for " + std::to_string(timeout_ms) +
                          " ms (a vnetd or vnetd-hook that is stopped or stuck: `fuser " + path +
                          "` on Linux, `fstat " + path + "` on FreeBSD names it)");
      }
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(backoff, timeout - elapsed));
      backoff = std::min(backoff * 2, kLockMaxBackoff);
    }
    // If state.lock was removed or replaced while we waited, we hold a lock on an inode
    // nobody else will ever open: it excludes no one. Start over on the current file.
    struct stat held {
    }, current{};
    if (::fstat(fd.get(), &held) != 0) return errnoError("stat " + path);
    if (::stat(path.c_str(), &current) == 0 && current.st_dev == held.st_dev &&
        current.st_ino == held.st_ino) {
      return StateLock(std::move(fd));
    }
  }
}

// The last state this store decoded or saved, with the exact bytes it came from or went
// to. load() compares the file's bytes with `text` (exact: any other writer's state
// differs in at least its generation); snapshot() first compares the file's identity:
// saves replace state.json by rename(2), so a new state is a new inode, and size and
// mtime also catch an edit in place by hand. Any thread (the mutex).
struct StateStore::SnapshotCache {
  std::mutex replacing;  // held by save() across rename + remember, by snapshot() to look at the file
  std::mutex mutex;      // the fields below
  bool identity_known = false;
  dev_t dev = 0;
  ino_t ino = 0;
  off_t size = 0;
  struct timespec mtime {};
  std::string text;
  std::shared_ptr<const State> state;
  // When `text` is what this store's save() encoded `state` to: each jail's line in it
  // (map order), for the next save to copy what did not change. Empty otherwise.
  std::vector<JailSpan> spans;
  std::atomic<uint64_t> decodes{0};

  static bool sameFile(const struct stat& a, dev_t dev, ino_t ino, off_t size, const struct timespec& mtime) {
    return a.st_dev == dev && a.st_ino == ino && a.st_size == size && a.st_mtim.tv_sec == mtime.tv_sec &&
           a.st_mtim.tv_nsec == mtime.tv_nsec;
  }
  // The cached state when `bytes` are exactly the cached text; null otherwise.
  std::shared_ptr<const State> stateFor(std::string_view bytes) {
    std::lock_guard<std::mutex> guard(mutex);
    return state && bytes == text ? state : nullptr;
  }
  // `st`: the identity of the file holding `bytes` now; null when not known. `newer_only`:
  // for snapshot(), which reads without the lock: the file it read may already have been
  // replaced by a save whose state is cached, and an older state must not take its place
  // (generations only grow while the file is in place; load() and save() hold the lock,
  // so theirs is the current state whatever its generation).
  // `encoded`: where each jail's line is in `bytes`, when save() encoded them.
  void remember(std::string bytes, std::shared_ptr<const State> decoded, const struct stat* st,
                bool newer_only = false, std::vector<JailSpan>* encoded = nullptr) {
    std::lock_guard<std::mutex> guard(mutex);
    if (newer_only && state && decoded->generation <= state->generation && bytes != text) return;
    if (encoded) {
      spans = std::move(*encoded);
    } else if (bytes != text) {
      spans.clear();  // another text: the spans described the old one
    }
    text = std::move(bytes);
    state = std::move(decoded);
    identity_known = st != nullptr;
    if (st) {
      dev = st->st_dev;
      ino = st->st_ino;
      size = st->st_size;
      mtime = st->st_mtim;
    }
  }
};

Result<State> StateStore::load(const StateLock& held) const {
  VNETD_TRY(checkHeld(held));
  removeStaleTempsIfDue();
  auto bytes = readSmallFile(statePath(), kMaxStateFileBytes);
  if (!bytes) {
    if (bytes.error().code == ENOENT) return State{};
    if (!isBadFile(bytes.error().code)) return bytes.error();
    return moveAside(bytes.error().message());
  }
  // The bytes are read every time (a hook of another process may have replaced the file);
  // decoding them again is what the cache saves: the daemon's hooks load what its own last
  // save wrote, and at hundreds of jails the decode is most of a hook's CPU time.
  if (auto cached = cache_->stateFor(*bytes)) return State(*cached);
  cache_->decodes.fetch_add(1, std::memory_order_relaxed);
  auto state = decodeState(*bytes);
  if (!state) return moveAside(state.error().message());
  cache_->remember(std::move(*bytes), std::make_shared<const State>(*state), nullptr);
  return state;
}

// Set before threads save (setWriteBehind, setFsync), then only read.
struct StateStore::Durability {
  std::function<void()> saved;     // set: write-behind
  std::function<int(int)> fsync;  // set: a test's seam instead of fsync(2)
  std::atomic<int64_t> last_temp_scan{0};  // steady_clock ns of the last scan; 0 = never
  std::mutex spare_mutex;
  UniqueFd spare;          // prepareSpare()'s empty file, for the next save
  std::string spare_name;  // its name: a new one every time (spareName)
  uint64_t spares = 0;     // how many were made: the next name's number
};

namespace {
// The names prepareSpare() uses, both temp names (never state; removeStaleTemps removes
// other processes' ones): the empty file the next save writes — a name of its own each
// time, created exclusively, so a preparation never opens a file a save still holds (one
// name reused with O_TRUNC truncated the file a save was renaming in) — and the second name
// of the state in place when it was prepared.
std::string spareName(const std::string& dir, uint64_t n) {
  return dir + "/" + std::string(kTempPrefix) + std::to_string(::getpid()) + ".next-" + std::to_string(n);
}
std::string previousName(const std::string& dir) {
  return dir + "/" + std::string(kTempPrefix) + std::to_string(::getpid()) + ".old";
}
}  // namespace

void StateStore::prepareSpare() const {
  const std::string old = previousName(dir_);
  // The state a save will replace keeps a name of its own until the next preparation, so
  // that rename(2) does not drop its last link and free its blocks on the hook path.
  if (::unlink(old.c_str()) != 0 && errno != ENOENT) return;
  (void)::link(statePath().c_str(), old.c_str());  // no state.json yet: nothing to keep
  std::lock_guard<std::mutex> guard(durability_->spare_mutex);
  if (durability_->spare) return;
  const std::string spare = spareName(dir_, ++durability_->spares);
  // O_EXCL: never a file someone holds (a leftover of an earlier process with our pid
  // makes this preparation fail; the next one takes the next number).
  durability_->spare = UniqueFd(::open(spare.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (durability_->spare) durability_->spare_name = spare;
}

StateStore::StateStore(std::string dir)
    : dir_(std::move(dir)), cache_(std::make_shared<SnapshotCache>()), durability_(std::make_shared<Durability>()) {}

void StateStore::setWriteBehind(std::function<void()> saved) { durability_->saved = std::move(saved); }

void StateStore::setFsync(std::function<int(int)> fsync) { durability_->fsync = std::move(fsync); }

Result<void> StateStore::sync() const {
  const std::string path = statePath();
  // By name, now: the inode that is state.json at this moment is the one whose data must
  // reach the disk before the directory entry naming it does. O_RDONLY is enough for
  // fsync (Linux; FreeBSD kern_fsync asks for CAP_FSYNC only).
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno != ENOENT) return errnoError("open " + path + " to fsync it");
  } else if (fsyncRetrying(fd.get(), durability_->fsync) != 0) {
    return errnoError("fsync " + path);
  }
  return syncDirectory(dir_, durability_->fsync);
}

Result<std::shared_ptr<const State>> StateStore::snapshot() const {
  const std::string path = statePath();
  SnapshotCache& c = *cache_;
  UniqueFd fd;
  struct stat st {};
  {
    // Not while this store's save() renames a file in and caches it (see save()).
    std::lock_guard<std::mutex> replacing(c.replacing);
    fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return std::make_shared<const State>();
      return errnoError("open " + path);
    }
    if (::fstat(fd.get(), &st) != 0) return errnoError("stat " + path);
    if (!S_ISREG(st.st_mode)) return plainError(path + " is not a regular file");
    std::lock_guard<std::mutex> guard(c.mutex);
    if (c.identity_known && c.state && SnapshotCache::sameFile(st, c.dev, c.ino, c.size, c.mtime)) return c.state;
  }
  auto bytes = readSmallFile(fd.get(), path, kMaxStateFileBytes);
  if (!bytes) return bytes.error();
  std::shared_ptr<const State> state = c.stateFor(*bytes);
  if (!state) {
    c.decodes.fetch_add(1, std::memory_order_relaxed);
    auto decoded = decodeState(*bytes);
    if (!decoded) return decoded.error();
    state = std::make_shared<const State>(std::move(*decoded));
  }
  c.remember(std::move(*bytes), state, &st, /*newer_only=*/true);
  return state;
}

uint64_t StateStore::decodes() const { return cache_->decodes.load(std::memory_order_relaxed); }

Result<State> StateStore::peek() const {
  auto s = snapshot();
  if (!s) return s.error();
  return **s;
}

Result<void> StateStore::save(const StateLock& held, State& state) const {
  VNETD_TRY(checkHeld(held));
  const std::string path = statePath();
  if (state.generation == UINT64_MAX) return plainError("state generation would overflow");
  const uint64_t next = state.generation + 1;
  // A hook changes one jail: the records the last save wrote that are unchanged need
  // neither their checks nor their encoding again — their line is copied. At 200 jails
  // that takes a save's CPU from ~0.15 ms to ~0.03 ms, and it no longer grows with the
  // number of jails (bench/hook_latency).
  std::string text;
  std::vector<JailSpan> spans;
  {
    std::lock_guard<std::mutex> guard(cache_->mutex);
    const State* before = cache_->spans.empty() ? nullptr : cache_->state.get();
    std::vector<int32_t> same;
    std::vector<char> valid_before;
    if (before && before->jails.size() == cache_->spans.size()) {
      same.reserve(state.jails.size());
      valid_before.reserve(state.jails.size());
      auto b = before->jails.begin();
      int32_t bi = 0;
      for (const auto& [key, jail] : state.jails) {
        while (b != before->jails.end() && b->first < key) ++b, ++bi;
        const bool equal = b != before->jails.end() && b->first == key && b->second == jail;
        same.push_back(equal ? bi : -1);
        valid_before.push_back(equal);
      }
    } else {
      before = nullptr;
    }
    if (std::string problem = stateProblem(state, before ? &valid_before : nullptr); !problem.empty())
      return plainError("refusing to save an invalid state to " + path + ": " + problem);
    EncodedBefore reuse{cache_->text, &cache_->spans, &same};
    text = encode(state, next, before ? &reuse : nullptr, &spans);
  }

  // The file prepareSpare() made, when there is one: creating a file is the costliest
  // step of a save on the hook path (on ext4 ~0.16 ms of ~0.3).
  std::string temp;
  UniqueFd fd;
  {
    std::lock_guard<std::mutex> guard(durability_->spare_mutex);
    if (durability_->spare) {
      fd = std::move(durability_->spare);
      temp = std::move(durability_->spare_name);
    }
  }
  const bool spare = static_cast<bool>(fd);
  if (!spare) {
    temp = dir_ + "/" + std::string(kTempPrefix) + std::to_string(::getpid());
    // O_TRUNC: a file of that name can only be the leftover of an earlier process with
    // our pid that was killed mid-write (we hold the lock).
    fd = UniqueFd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) return errnoError("create " + temp);
  }
  auto discard = [&](Error error) -> Error {
    fd.reset();
    ::unlink(temp.c_str());
    return error;
  };
  if (auto written = writeAll(fd.get(), text, temp); !written) return discard(written.error());
  // The identity state.json will have once renamed (rename keeps inode, size and mtime).
  struct stat written_st {};
  const bool identity = ::fstat(fd.get(), &written_st) == 0;
  // Write-behind: no fsync here or below; the owner of `saved` syncs within the window.
  const std::function<void()>& write_behind = durability_->saved;
  if (!write_behind && fsyncRetrying(fd.get(), durability_->fsync) != 0)
    return discard(errnoError("fsync " + temp));
  // close() can report a deferred write error (NFS); EINTR means it was closed anyway.
  if (::close(fd.release()) != 0 && errno != EINTR) return discard(errnoError("close " + temp));
  // In place, the next load() or snapshot() of these bytes needs no decode: the cache
  // takes them with the rename, which no snapshot() looks at the file in the middle of
  // (it would see the new file while the cache still holds the old state, and decode).
  auto saved = std::make_shared<State>(state);
  saved->generation = next;
  bool spare_gone = false;
  {
    std::lock_guard<std::mutex> replacing(cache_->replacing);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
      // Another process's load() removed the spare (a temp name not of its pid): the
      // slow way, once more (below), with a file of our own.
      if (!spare || errno != ENOENT) return discard(errnoError("rename " + temp + " to " + path));
      spare_gone = true;
    } else {
      cache_->remember(std::move(text), std::move(saved), identity ? &written_st : nullptr, false, &spans);
    }
  }
  // Again, without the spare we took (one a preparation made meanwhile would be used; a
  // loop needs another process's load() removing each).
  if (spare_gone) return save(held, state);
  if (write_behind) {
    state.generation = next;
    write_behind();
    return success();
  }
  if (auto synced = syncDirectory(dir_, durability_->fsync); !synced) {
    return Error{synced.error().code, "wrote " + path + " but " + synced.error().context +
                                          " failed, so it may not survive a power loss"};
  }
  state.generation = next;
  return success();
}

Error StateStore::moveAside(const std::string& problem) const {
  const std::string path = statePath();
  const std::string base =
      path + ".corrupt-" + std::to_string(::time(nullptr)) + "-" + std::to_string(::getpid());
  // Never overwrite an earlier corrupt file: it may be the only copy of someone's state.
  std::string target = base;
  struct stat st {};
  for (int n = 1; ::lstat(target.c_str(), &st) == 0; ++n) target = base + "." + std::to_string(n);
  if (::rename(path.c_str(), target.c_str()) != 0) {
    const int error = errno;
    return plainError(problem + "; could not move it aside to " + target + " (" +
                      std::strerror(error) + "); nothing will be destroyed on the basis of it");
  }
  if (auto synced = syncDirectory(dir_, durability_->fsync); !synced)
    VNETD_LOG_WARN("%s", synced.error().message().c_str());
  return plainError(problem + "; the file was moved aside to " + target +
                    "; nothing will be destroyed on the basis of it, and the next load starts "
                    "from an empty state");
}

void StateStore::removeStaleTempsIfDue() const {
  if (durability_->saved) {
    const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                            std::chrono::steady_clock::now().time_since_epoch())
                            .count();
    const int64_t last = durability_->last_temp_scan.load(std::memory_order_relaxed);
    if (last != 0 && now - last < std::chrono::nanoseconds(kStaleTempScanInterval).count()) return;
    durability_->last_temp_scan.store(now, std::memory_order_relaxed);
  }
  removeStaleTemps();
}

void StateStore::removeStaleTemps() const {
  // Writers hold the lock while a temp file exists, and so do we: any temp file here
  // belongs to a writer that was killed. It is never state, only litter.
  std::unique_ptr<DIR, DirCloser> dir(::opendir(dir_.c_str()));
  if (!dir) return;
  std::vector<std::string> stale;
  // Except this process's prepareSpare() files, which it makes without the lock.
  const std::string own = std::string(kTempPrefix) + std::to_string(::getpid()) + ".";
  while (const dirent* entry = ::readdir(dir.get())) {
    std::string_view name = entry->d_name;
    if (name.substr(0, kTempPrefix.size()) == kTempPrefix && name.substr(0, own.size()) != own)
      stale.emplace_back(name);
  }
  for (const std::string& name : stale) {
    const std::string path = dir_ + "/" + name;
    if (::unlink(path.c_str()) == 0) {
      VNETD_LOG_INFO("removed %s left by an interrupted state write", path.c_str());
    } else if (errno != ENOENT) {
      VNETD_LOG_WARN("cannot remove leftover %s: %s", path.c_str(), std::strerror(errno));
    }
  }
}

}  // namespace vnetd
