#include "platform/forward_firewall.h"

#include <algorithm>
#include <map>

namespace vnetd::platform {
namespace {

// Whether a rule matches a packet: surely not, perhaps, surely.
enum class Tri { No = 0, Maybe = 1, Yes = 2 };
Tri negated(Tri t) { return t == Tri::Maybe ? t : (t == Tri::Yes ? Tri::No : Tri::Yes); }

// A forwarded packet of the bridge, as far as it is known.
struct Probe {
  IpFamily family = IpFamily::V4;
  std::string iif, oif;            // the bridge, or "" for "some other interface"
  std::optional<Cidr> saddr, daddr;  // the bridge's subnet, or unknown (the outside)
  bool established = false;        // a reply (ct state established) or a new connection
};

bool nameMatches(const std::string& pattern, const std::string& name) {
  // nft's interface-name wildcard: a trailing '*' matches any suffix.
  if (!pattern.empty() && pattern.back() == '*') return name.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return pattern == name;
}

Tri anyOf(const std::vector<Tri>& ts) {
  Tri best = Tri::No;
  for (Tri t : ts) best = std::max(best, t);
  return best;
}

Tri ifMatch(const FwMatch& m, const std::string& bridge, const std::string& known) {
  std::vector<Tri> ts;
  for (const auto& w : m.words) {
    if (!known.empty()) ts.push_back(nameMatches(w, known) ? Tri::Yes : Tri::No);
    else ts.push_back(nameMatches(w, bridge) ? Tri::No : Tri::Maybe);  // "another interface": not the bridge
  }
  return anyOf(ts);
}

Tri netMatch(const FwMatch& m, const Probe& p, const std::optional<Cidr>& have) {
  if (m.family != p.family) return Tri::No;  // `ip saddr` never matches an IPv6 packet
  if (!have) return Tri::Maybe;
  std::vector<Tri> ts;
  for (const auto& n : m.nets) {
    if (n.address.family != have->address.family) ts.push_back(Tri::No);
    else if (n.prefix <= have->prefix && n.contains(have->network())) ts.push_back(Tri::Yes);
    else if (n.overlaps(*have)) ts.push_back(Tri::Maybe);
    else ts.push_back(Tri::No);
  }
  return anyOf(ts);
}

Tri matchOne(const FwMatch& m, const Probe& p, const std::string& bridge) {
  Tri t = Tri::Maybe;
  switch (m.key) {
    case FwMatch::Key::Iifname: t = ifMatch(m, bridge, p.iif); break;
    case FwMatch::Key::Oifname: t = ifMatch(m, bridge, p.oif); break;
    case FwMatch::Key::Saddr: t = netMatch(m, p, p.saddr); break;
    case FwMatch::Key::Daddr: t = netMatch(m, p, p.daddr); break;
    case FwMatch::Key::CtState:
      if (m.opaque_conntrack) {
        t = p.established ? Tri::Yes : Tri::Maybe;
      } else {
        const char* state = p.established ? "established" : "new";
        t = std::find(m.words.begin(), m.words.end(), state) != m.words.end() ? Tri::Yes : Tri::No;
      }
      break;
    case FwMatch::Key::NfProto: {
      const char* proto = p.family == IpFamily::V4 ? "ipv4" : "ipv6";
      t = std::find(m.words.begin(), m.words.end(), proto) != m.words.end() ? Tri::Yes : Tri::No;
      break;
    }
    case FwMatch::Key::Other: return Tri::Maybe;  // negation of the unknown is unknown
  }
  return m.negate ? negated(t) : t;
}

Tri ruleMatches(const FwRule& r, const Probe& p, const std::string& bridge) {
  Tri all = Tri::Yes;
  for (const auto& m : r.matches) all = std::min(all, matchOne(m, p, bridge));
  return all;
}

enum class Outcome { Accept, Drop, Continue };

// Walks chains for one probe. A chain's outcome depends only on the chain and the probe,
// so each is walked once (memo): a listing with many jumps to the same chains costs no
// more than its rules, and a loop (nft refuses them, a crafted listing need not) ends as
// "falls off" where it closes.
class Walker {
 public:
  using Index = std::map<std::string, const FwChain*, std::less<>>;
  Walker(const Index& chains, const Probe& p, const std::string& bridge) : chains_(chains), p_(p), bridge_(bridge) {}

  Outcome walk(const FwChain& c) {
    auto [it, fresh] = memo_.try_emplace(&c);
    if (!fresh) return it->second.value_or(Outcome::Continue);  // done, or on the current path
    // The kernel's own bound on nested jumps (NFT_JUMP_STACK_SIZE, 16); deeper is not a
    // listing the kernel runs.
    if (++depth_ > kMaxDepth) {
      --depth_;
      return Outcome::Continue;
    }
    Outcome o = body(c);
    --depth_;
    memo_[&c] = o;
    return o;
  }

 private:
  Outcome body(const FwChain& c) {
    for (const auto& r : c.rules) {
      // Only what surely happens counts: a rule that may match is passed over, whether it
      // would accept (the traffic cannot count on it) or drop (it may well be for others).
      if (ruleMatches(r, p_, bridge_) != Tri::Yes) continue;
      switch (r.verdict) {
        case FwRule::Verdict::None: break;
        case FwRule::Verdict::Accept: return Outcome::Accept;
        case FwRule::Verdict::Drop:
        case FwRule::Verdict::Reject: return Outcome::Drop;
        case FwRule::Verdict::Return: return Outcome::Continue;
        case FwRule::Verdict::Jump:
        case FwRule::Verdict::Goto: {
          auto next = chains_.find(r.target);
          Outcome o = next != chains_.end() ? walk(*next->second) : Outcome::Continue;
          // A goto never comes back: falling off its chain ends this one too.
          if (o != Outcome::Continue || r.verdict == FwRule::Verdict::Goto) return o;
          break;
        }
      }
    }
    return Outcome::Continue;
  }

  static constexpr int kMaxDepth = 16;
  const Index& chains_;
  const Probe& p_;
  const std::string& bridge_;
  std::map<const FwChain*, std::optional<Outcome>> memo_;
  int depth_ = 0;
};

bool unconditionalDrop(const FwRule& r) {
  return r.matches.empty() && (r.verdict == FwRule::Verdict::Drop || r.verdict == FwRule::Verdict::Reject);
}

}  // namespace

const FwChain* FwTable::chain(const std::string& n) const {
  for (const auto& c : chains)
    if (c.name == n) return &c;
  return nullptr;
}

std::vector<ForwardBlock> forwardBlocks(const FwRuleset& ruleset, const std::string& ifname, const Cidr& subnet) {
  std::vector<ForwardBlock> out;
  const IpFamily fam = subnet.address.family;
  for (const auto& t : ruleset.tables) {
    bool family_applies = t.family == "inet" || (t.family == "ip" && fam == IpFamily::V4) ||
                          (t.family == "ip6" && fam == IpFamily::V6);
    if (!family_applies) continue;
    Walker::Index index;
    for (const auto& c : t.chains) index.emplace(c.name, &c);
    for (const auto& c : t.chains) {
      if (c.hook != "forward") continue;
      bool policy_drop = c.policy == "drop";
      if (!policy_drop && (c.rules.empty() || !unconditionalDrop(c.rules.back()))) continue;
      auto passes = [&](const Probe& p) {
        Outcome o = Walker(index, p, ifname).walk(c);
        if (o == Outcome::Continue) o = policy_drop ? Outcome::Drop : Outcome::Accept;
        return o == Outcome::Accept;
      };
      Probe out_probe{fam, ifname, "", Cidr{subnet.network(), subnet.prefix}, std::nullopt, false};
      Probe in_probe{fam, "", ifname, std::nullopt, Cidr{subnet.network(), subnet.prefix}, true};
      ForwardBlock b;
      b.outbound = !passes(out_probe);
      b.inbound = !passes(in_probe);
      if (!b.outbound && !b.inbound) continue;
      b.family = t.family;
      b.table = t.name;
      b.chain = c.name;
      b.policy_drop = policy_drop;
      if (t.family == "ip" && t.name == "filter" && t.chain("DOCKER-USER")) b.owner = FwOwner::Docker;
      else if (t.family == "inet" && t.name == "firewalld") b.owner = FwOwner::Firewalld;
      out.push_back(std::move(b));
    }
  }
  return out;
}

}  // namespace vnetd::platform
