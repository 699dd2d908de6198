#include "tests/support/fake_pf.h"
#include "core/file_util.h"

#include <cctype>
#include <cstring>
#include <optional>
#include <utility>

#include "core/ip.h"

namespace vnetd::testing {
namespace {

using platform::ChildExit;

// Not part of pfctl's behaviour: the model's own refusal.
constexpr int kNotModelled = 64;

ChildExit exitWith(int status, std::string output) {
  ChildExit e;
  e.exited = true;
  e.status = status;
  e.output = std::move(output);
  return e;
}

ChildExit notModelled(const std::string& what) { return exitWith(kNotModelled, "fake pfctl: not modelled: " + what + "\n"); }

// pfctl_lookup_option(): the first word of `list` that `cmd` is a prefix of.
std::string lookupOption(const std::string& cmd, const std::vector<std::string>& list) {
  if (cmd.empty()) return "";
  for (const auto& word : list)
    if (word.compare(0, cmd.size(), cmd) == 0) return word;
  return "";
}

const std::vector<std::string> kShowWords = {"ether",      "nat",    "queue",    "rules",  "Anchors", "Sources",
                                             "states",     "info",   "Interfaces", "labels", "timeouts", "memory",
                                             "Tables",     "osfp",   "Running",  "all"};
const std::vector<std::string> kClearWords = {"nat", "queue", "rules", "Sources", "states",
                                              "info", "Tables", "osfp", "all", "ethernet"};

std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  for (std::string_view w : splitFields(line)) out.emplace_back(w);
  return out;
}

bool isIfName(const std::string& s) {
  if (s.empty() || s.size() >= 16) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return false;
  return true;
}

// An IPv4 host or network as print_addr() prints it: the address, and "/<len>" unless 32.
std::optional<std::string> printedV4(const std::string& text) {
  auto cidr = Cidr::parse(text.find('/') == std::string::npos ? text + "/32" : text);
  if (!cidr || cidr->address.family != IpFamily::V4) return std::nullopt;
  std::string out = cidr->address.toString();
  if (cidr->prefix != 32) out += "/" + std::to_string(cidr->prefix);
  return out;
}

struct Parsed {
  std::string printed;
  std::string anchor_call;
};

// One rule of the model's grammar (see fake_pf.h); nullopt: a syntax error.
std::optional<Parsed> parseRule(const std::vector<std::string>& t) {
  if (t.size() == 2 && t[0] == "nat-anchor" && t[1].size() > 2 && (t[1].front() == '"' || t[1].front() == '\'') &&
      t[1].back() == t[1].front()) {
    std::string name = t[1].substr(1, t[1].size() - 2);
    std::string call = name;
    // pf_anchor_setup(): a trailing "/*" is a wildcard over the children of the anchor.
    if (call.size() >= 2 && call.compare(call.size() - 2, 2, "/*") == 0) call.resize(call.size() - 2);
    if (call.empty()) return std::nullopt;
    return Parsed{"nat-anchor \"" + name + "\" all", call};
  }
  // nat on <if> [inet] from <src> to any -> <target>
  size_t i = 0;
  auto next = [&](const char* word) { return i < t.size() && t[i] == word ? (++i, true) : false; };
  if (!next("nat") || !next("on") || i >= t.size() || !isIfName(t[i])) return std::nullopt;
  std::string ifname = t[i++];
  next("inet");
  if (!next("from") || i >= t.size()) return std::nullopt;
  auto src = printedV4(t[i++]);
  if (!src || !next("to") || !next("any") || !next("->") || i + 1 != t.size()) return std::nullopt;
  const std::string& target = t[i];
  std::string pool;
  if (target.size() > 2 && target.front() == '(' && target.back() == ')' &&
      isIfName(target.substr(1, target.size() - 2)))
    pool = target + " round-robin";  // a dynamic interface address: parse.y makes the pool round-robin
  else if (auto host = printedV4(target); host && host->find('/') == std::string::npos)
    pool = *host;  // one host: no pool type printed
  else
    return std::nullopt;
  return Parsed{"nat on " + ifname + " inet from " + *src + " to any -> " + pool, ""};
}

}  // namespace

void FakePf::findOrCreate(const std::string& path) const {
  // pf_find_or_create_kruleset(): every component of the path.
  size_t pos = 0;
  while (true) {
    size_t slash = path.find('/', pos);
    std::string prefix = path.substr(0, slash);
    if (!prefix.empty()) rulesets_.try_emplace(prefix);
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
}

void FakePf::removeIfEmpty(std::string path) const {
  // pf_remove_if_empty_kruleset(): never main; stops at the first anchor still in use.
  while (!path.empty()) {
    auto it = rulesets_.find(path);
    if (it == rulesets_.end()) return;
    const Ruleset& rs = it->second;
    if (rs.refcnt > 0 || !rs.nat.empty() || !rs.filter.empty()) return;
    auto child = rulesets_.lower_bound(path + "/");
    if (child != rulesets_.end() && child->first.compare(0, path.size() + 1, path + "/") == 0) return;
    rulesets_.erase(it);
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return;  // its parent is main
    path.resize(slash);
  }
}

void FakePf::replaceNat(const std::string& path, std::vector<Rule> rules) const {
  // The new rules reference their anchors when added (pf_anchor_setup), the old ones let go
  // of theirs when the commit frees them (pf_anchor_remove).
  for (const Rule& r : rules)
    if (!r.anchor_call.empty()) {
      findOrCreate(r.anchor_call);
      rulesets_[r.anchor_call].refcnt++;
    }
  std::vector<Rule> old = std::exchange(rulesets_[path].nat, std::move(rules));
  for (const Rule& r : old)
    if (!r.anchor_call.empty()) {
      rulesets_[r.anchor_call].refcnt--;
      removeIfEmpty(r.anchor_call);
    }
}

std::vector<std::string> FakePf::natRules(const std::string& path) const {
  std::vector<std::string> out;
  auto it = rulesets_.find(path);
  if (it != rulesets_.end())
    for (const Rule& r : it->second.nat) out.push_back(r.printed);
  return out;
}

int FakePf::loadMain(const std::string& rules) const { return pfctl({"-f", "-"}, rules); }

int FakePf::pfctl(const std::vector<std::string>& args, const std::string& input) const {
  std::vector<std::string> argv = {"pfctl"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto ran = run(argv, input, size_t{1} << 20);
  return ran->status;
}

Result<ChildExit> FakePf::run(const std::vector<std::string>& argv, const std::string& input,
                              size_t max_output) const {
  calls_.push_back({argv, input});
  auto bounded = [&](ChildExit e) {
    if (e.output.size() > max_output) e.output.resize(max_output);
    return e;
  };
  if (fail_status_ >= 0) {
    ChildExit e = exitWith(std::exchange(fail_status_, -1), std::exchange(fail_output_, ""));
    return bounded(std::move(e));
  }

  std::string joined;
  for (const auto& a : argv) joined += (joined.empty() ? "" : " ") + a;
  if (argv.empty() || argv[0] != "pfctl") return bounded(notModelled(joined));
  std::optional<std::string> anchor, file, show, clear;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& opt = argv[i];
    std::optional<std::string>* slot = opt == "-a" ? &anchor : opt == "-f" ? &file : opt == "-s" ? &show
                                     : opt == "-F" ? &clear : nullptr;
    if (!slot || *slot || i + 1 >= argv.size()) return bounded(notModelled(joined));
    *slot = argv[++i];
  }
  if ((file ? 1 : 0) + (show ? 1 : 0) + (clear ? 1 : 0) != 1) return bounded(notModelled(joined));
  const std::string path = anchor.value_or("");
  // main(): "-a X/*" recurses into X's children; not modelled.
  if (!path.empty() && (path.back() == '*' || path.front() == '/')) return bounded(notModelled(joined));

  if (show) {
    if (lookupOption(*show, kShowWords) != "nat") return bounded(notModelled(joined));
    auto it = rulesets_.find(path);
    if (it == rulesets_.end()) return bounded(exitWith(0, "pfctl: DIOCGETRULES: Invalid argument\n"));
    std::string out;
    for (const Rule& r : it->second.nat) out += r.printed + "\n";
    return bounded(exitWith(0, out));
  }

  if (clear) {
    const std::string what = lookupOption(*clear, kClearWords);
    if (what != "nat" && what != "all") return bounded(notModelled(joined));
    findOrCreate(path);  // DIOCXBEGIN opens the anchor's rulesets
    std::string out;
    if (what == "all") {
      rulesets_[path].filter.clear();
      out += "Ethernet rules cleared\nrules cleared\n";
    }
    replaceNat(path, {});
    removeIfEmpty(path);  // pf_commit_rules()
    out += "nat cleared\n";
    return bounded(exitWith(0, out));
  }

  if (*file != "-") return bounded(notModelled(joined));
  std::vector<Rule> rules;
  size_t line_no = 0, start = 0;
  while (start < input.size()) {
    size_t nl = input.find('\n', start);
    std::string line = input.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? input.size() : nl + 1;
    ++line_no;
    if (size_t hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    auto t = words(line);
    if (t.empty()) continue;
    auto parsed = parseRule(t);
    if (parsed && !parsed->anchor_call.empty() && !path.empty())
      return bounded(notModelled("an anchor call inside anchor " + path));
    if (!parsed)
      return bounded(exitWith(1, "stdin:" + std::to_string(line_no) +
                                     ": syntax error\npfctl: Syntax error in config file: pf rules not loaded\n"));
    rules.push_back({parsed->printed, parsed->anchor_call});
  }
  findOrCreate(path);
  rulesets_[path].filter.clear();  // the anchor's filter rules are part of the transaction
  replaceNat(path, std::move(rules));
  removeIfEmpty(path);
  return bounded(exitWith(0, ""));
}

}  // namespace vnetd::testing
