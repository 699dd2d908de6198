#include "cli/vnetctl/doctor_checks.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/forwarding_needs.h"
#include "core/naming.h"
#include "core/ndp.h"
#include "vnetd/build_config.h"

namespace vnetd::cli::doctor {
namespace {

using Json = nlohmann::json;
using platform::Support;

// ------------------------------------------------------------------- fix commands
// One place per command shape, so the FreeBSD and Linux spellings stay side by side.

std::string linkUp(Platform p, const std::string& ifname) {
  return p == Platform::FreeBSD ? "ifconfig " + ifname + " up" : "ip link set dev " + ifname + " up";
}
std::string setMtu(Platform p, const std::string& ifname, uint32_t mtu) {
  return p == Platform::FreeBSD ? "ifconfig " + ifname + " mtu " + std::to_string(mtu)
                                : "ip link set dev " + ifname + " mtu " + std::to_string(mtu);
}
std::string addAddress(Platform p, const std::string& ifname, const Cidr& c) {
  bool v6 = c.address.family == IpFamily::V6;
  if (p == Platform::FreeBSD) return "ifconfig " + ifname + (v6 ? " inet6 " : " inet ") + c.toString() + " alias";
  return std::string("ip ") + (v6 ? "-6 " : "") + "address add " + c.toString() + " dev " + ifname;
}
std::string addMember(Platform p, const std::string& bridge, const std::string& member) {
  return p == Platform::FreeBSD ? "ifconfig " + bridge + " addm " + member
                                : "ip link set dev " + member + " master " + bridge;
}
std::string createBridge(Platform p, const std::string& bridge) {
  return p == Platform::FreeBSD ? "ifconfig bridge create name " + bridge + " up"
                                : "ip link add name " + bridge + " type bridge && ip link set dev " + bridge + " up";
}
std::string jailLinkUp(Platform p, const std::string& jail, const std::string& ifname) {
  return p == Platform::FreeBSD ? "jexec " + jail + " ifconfig " + ifname + " up"
                                : "ip -n " + jail + " link set dev " + ifname + " up";
}
std::string jailAddAddress(Platform p, const std::string& jail, const std::string& ifname, const Cidr& c) {
  bool v6 = c.address.family == IpFamily::V6;
  if (p == Platform::FreeBSD)
    return "jexec " + jail + " ifconfig " + ifname + (v6 ? " inet6 " : " inet ") + c.toString() + " alias";
  return "ip -n " + jail + (v6 ? " -6" : "") + " address add " + c.toString() + " dev " + ifname;
}
std::string jailDefaultRoute(Platform p, const std::string& jail, const IpAddress& gw, bool replace) {
  bool v6 = gw.family == IpFamily::V6;
  if (p == Platform::FreeBSD)
    return "jexec " + jail + " route " + (v6 ? "-6 " : "") + (replace ? "change" : "add") + " default " +
           gw.toString();
  return "ip -n " + jail + (v6 ? " -6" : "") + " route replace default via " + gw.toString();
}
std::string rerunCreated(const std::string& jail) { return "vnetd-hook created " + jail; }

std::string joinFixes(const std::vector<std::string>& fixes) {
  std::string out;
  std::set<std::string> seen;
  for (const auto& f : fixes) {
    if (f.empty() || !seen.insert(f).second) continue;
    if (!out.empty()) out += " && ";
    out += f;
  }
  return out;
}
std::string join(const std::vector<std::string>& parts, const char* sep = ", ") {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

// "bridge lan (br0)", or "bridge br0" when the key is the interface name.
std::string bridgeLabel(const BridgeConfig& b) {
  return b.interface == b.name ? "bridge " + b.name : "bridge " + b.name + " (" + b.interface + ")";
}

Verdict ok(std::string check, std::string message) { return {std::move(check), Status::Ok, std::move(message), ""}; }
Verdict bad(Status s, std::string check, std::string message, std::string fix) {
  return {std::move(check), s, std::move(message), std::move(fix)};
}

bool anyLimits(const Config& c) {
  for (const auto& [name, j] : c.jails)
    if (!j.limits.empty()) return true;
  return c.jail_defaults && !c.jail_defaults->limits.empty();
}

// What each kernel feature is needed for and how to get it.
struct FeatureRule {
  Platform platform;
  const char* name;
  enum { Always, WithNat, WithLimits } when;
  Status missing;  // verdict when it is absent
  const char* purpose;
  const char* fix;
};
constexpr FeatureRule kFeatureRules[] = {
    {Platform::FreeBSD, "vimage", FeatureRule::Always, Status::Fail, "jails with their own network stack",
     "build a kernel with 'options VIMAGE' (GENERIC has it since FreeBSD 12.0)"},
    {Platform::FreeBSD, "if_epair", FeatureRule::Always, Status::Fail, "jail interface pairs",
     "kldload if_epair && sysrc kld_list+=if_epair"},
    {Platform::FreeBSD, "if_bridge", FeatureRule::Always, Status::Fail, "bridges",
     "kldload if_bridge && sysrc kld_list+=if_bridge"},
    {Platform::FreeBSD, "pf", FeatureRule::WithNat, Status::Fail, "NAT of bridges with 'nat'",
     "kldload pf && sysrc pf_enable=YES"},
    {Platform::FreeBSD, "racct", FeatureRule::WithLimits, Status::Fail, "[jail.X.limits] (rctl)",
     "echo kern.racct.enable=1 >> /boot/loader.conf && shutdown -r now"},
    {Platform::Linux, "veth", FeatureRule::Always, Status::Fail, "jail interface pairs", "modprobe veth"},
    {Platform::Linux, "bridge", FeatureRule::Always, Status::Fail, "bridges", "modprobe bridge"},
    {Platform::Linux, "nf_tables", FeatureRule::WithNat, Status::Fail, "NAT of bridges with 'nat'",
     "modprobe nf_tables"},
    {Platform::Linux, "netns", FeatureRule::Always, Status::Fail, "network namespaces as jails",
     "use a kernel built with CONFIG_NET_NS=y"},
    // `ip netns add` creates the directory with the first jail: its absence only means
    // no jail has been made yet.
    {Platform::Linux, "netns_dir", FeatureRule::Always, Status::Warn, "where ip netns keeps jails",
     "ip netns add JAIL"},
};

// ----------------------------------------------------------------------- jail.conf

// The simple commands of a jail.conf exec.* value, as words: split at blanks and at the
// shell's command separators. Enough to find a program and its arguments; quotes
// inside the value are not undone (the hook lines never need them).
std::vector<std::vector<std::string>> commandWords(const std::string& command) {
  std::vector<std::vector<std::string>> out(1);
  std::string word;
  auto endWord = [&] {
    if (!word.empty()) out.back().push_back(std::move(word));
    word.clear();
  };
  for (char c : command) {
    if (c == ' ' || c == '\t') {
      endWord();
    } else if (c == ';' || c == '&' || c == '|' || c == '(' || c == ')' || c == '\n') {
      endWord();
      if (!out.back().empty()) out.emplace_back();
    } else {
      word += c;
    }
  }
  endWord();
  return out;
}

std::string baseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// A vnetd-hook call found in a jail's exec.* lines.
struct HookCall {
  std::string program;  // as written, e.g. /usr/local/sbin/vnetd-hook
  std::string phase;    // prestart, created, prestop, poststop, ...
};

// vnetd-hook [-c FILE | --config FILE | --config=FILE] [-s | --standalone] PHASE JAIL
std::vector<HookCall> hookCalls(const JailConfJail& jail) {
  std::vector<HookCall> out;
  for (const JailConfParam& p : jail.params) {
    if (p.name.rfind("exec.", 0) != 0) continue;
    for (const std::string& value : p.values)
      for (const auto& words : commandWords(value))
        for (size_t i = 0; i < words.size(); ++i) {
          if (baseName(words[i]) != "vnetd-hook") continue;
          size_t k = i + 1;
          while (k < words.size() && words[k].size() > 1 && words[k][0] == '-') {
            if (words[k] == "-c" || words[k] == "--config") ++k;
            ++k;
          }
          if (k < words.size()) out.push_back({words[i], words[k]});
        }
  }
  return out;
}

// An `ifconfig IF ... -vnet JAIL` in exec.prestop that names one of `ifnames`.
struct IfconfigVnet {
  std::string command;
  JailConfLocation where;
};
std::vector<IfconfigVnet> ifconfigReclaims(const JailConfJail& jail, const std::set<std::string>& ifnames) {
  std::vector<IfconfigVnet> out;
  const JailConfParam* p = jail.find("exec.prestop");
  if (!p) return out;
  for (size_t v = 0; v < p->values.size(); ++v)
    for (const auto& words : commandWords(p->values[v])) {
      auto ifc = std::find_if(words.begin(), words.end(), [](const std::string& w) { return baseName(w) == "ifconfig"; });
      if (ifc == words.end()) continue;
      bool reclaim = std::find(ifc, words.end(), "-vnet") != words.end();
      bool ours = std::any_of(ifc, words.end(), [&](const std::string& w) { return ifnames.count(w) != 0; });
      if (!reclaim || !ours) continue;
      // Shown in a one-line message: no control characters from the file.
      std::string command = join(words, " ");
      for (char& c : command)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
      out.push_back({command, p->value_locations[v]});
    }
  return out;
}

}  // namespace

Platform buildPlatform() { return std::strcmp(build::kPlatform, "freebsd") == 0 ? Platform::FreeBSD : Platform::Linux; }

const char* statusName(Status s) {
  switch (s) {
    case Status::Ok: return "OK";
    case Status::Warn: return "WARN";
    case Status::Fail: return "FAIL";
  }
  return "?";
}

// ------------------------------------------------------------------ status reply

DaemonStatus daemonStatusFrom(const StatusSnapshot& snapshot) {
  DaemonStatus st{snapshot.daemon.pid, snapshot.daemon.version, snapshot.daemon.config, snapshot.daemon.config_digest,
                  {}};
  for (const JailStatus& j : snapshot.jails) {
    RecordedJail rj{j.name, {}};
    for (const InterfaceStatus& i : j.interfaces)
      rj.interfaces.push_back({i.host_name, i.jail_name, i.bridge, i.addresses});
    st.jails.push_back(std::move(rj));
  }
  return st;
}

// ------------------------------------------------------------------------- kernel

std::vector<Verdict> judgeKernel(Platform p, const platform::HostSupport& host, const Config* config) {
  bool nat = false;
  if (config)
    for (const auto& [key, b] : config->bridges) nat |= natWanted(b);
  bool limits = config && anyLimits(*config);
  std::vector<Verdict> out;
  for (const FeatureRule& r : kFeatureRules) {
    if (r.platform != p) continue;
    if (r.when == FeatureRule::WithNat && !nat) continue;
    if (r.when == FeatureRule::WithLimits && !limits) continue;
    auto f = std::find_if(host.features.begin(), host.features.end(),
                          [&](const platform::KernelFeature& x) { return x.name == r.name; });
    std::string check = std::string("kernel:") + r.name;
    std::string what = std::string("kernel: ") + r.name + " (" + r.purpose + ")";
    if (f == host.features.end()) {
      out.push_back(bad(Status::Warn, check, what + ": not examined on this system", r.fix));
      continue;
    }
    switch (f->support) {
      case Support::Yes: out.push_back(ok(check, what + ": " + f->evidence)); break;
      case Support::No: out.push_back(bad(r.missing, check, what + ": missing, " + f->evidence, r.fix)); break;
      case Support::Unknown: out.push_back(bad(Status::Warn, check, what + ": " + f->evidence, r.fix)); break;
    }
  }
  return out;
}

// ------------------------------------------------------------------------- config

Verdict judgeConfig(Platform, const ConfigFacts& c) {
  if (c.path.empty())
    return bad(Status::Warn, "config", "no configuration file given (only --socket): bridge and jail checks skipped",
               "vnetctl -c FILE doctor");
  if (!c.config) {
    std::string first = c.errors.empty() ? "unknown error" : c.errors.front();
    std::string more = c.errors.size() > 1 ? " (+" + std::to_string(c.errors.size() - 1) + " more)" : "";
    return bad(Status::Fail, "config", "configuration " + c.path + " does not load: " + first + more,
               "vnetd -n -c " + c.path);
  }
  auto count = [](size_t n, const char* what) { return std::to_string(n) + " " + what + (n == 1 ? "" : "s"); };
  return ok("config", "configuration " + c.path + " loads (" + count(c.config->bridges.size(), "bridge") + ", " +
                          count(c.config->jails.size(), "jail") + (c.config->jail_defaults ? ", jail defaults)" : ")"));
}

// ---------------------------------------------------------------------- jail.conf

std::vector<Verdict> judgeJailConf(Platform p, const JailConfFacts& jc, const Config* config) {
  std::vector<Verdict> out;
  if (!jc.exists && jc.sources.empty() && jc.errors.empty()) {
    out.push_back(ok("jailconf", "no " + jc.path + ": jail.conf checks skipped"));
    return out;
  }
  for (const auto& e : jc.errors)
    out.push_back(bad(Status::Warn, "jailconf", "cannot read " + e.message + "; the jails in " + e.file + " are not checked",
                      p == Platform::FreeBSD ? "jail -f " + e.file + " -e ' '  # jail(8)'s own reading of the file"
                                             : "edit " + e.file));

  // The jails vnetd manages, with the names of their interfaces.
  struct Managed {
    const JailConfJail* jail;
    std::set<std::string> ifnames;     // both sides
    std::vector<std::string> inside;   // the jail sides, in interface order
    std::vector<HookCall> hooks;
  };
  std::vector<Managed> managed;
  if (config)
    for (const JailConfJail& j : jc.jails) {
      if (!isValidJailName(j.name)) continue;
      std::vector<HookCall> hooks = hookCalls(j);
      if (!config->jails.count(j.name) && !(config->jail_defaults && !hooks.empty())) continue;
      Managed m{&j, {}, {}, std::move(hooks)};
      if (auto jail = config->jailFor(j.name))
        for (const InterfaceConfig& i : jail->interfaces) {
          m.ifnames.insert(i.jail_side_name);
          m.ifnames.insert(i.host_side_name);
          m.inside.push_back(i.jail_side_name);
        }
      managed.push_back(std::move(m));
    }

  if (jc.errors.empty()) {
    std::string count = std::to_string(jc.jails.size()) + (jc.jails.size() == 1 ? " jail" : " jails");
    out.push_back(ok("jailconf", "read " + join(jc.sources) + ": " + count +
                                     (config ? ", " + std::to_string(managed.size()) + " managed by vnetd"
                                             : " (no vnetd configuration: not checked)")));
  }

  for (const Managed& m : managed) {
    const JailConfJail& j = *m.jail;
    const std::string pre = "jailconf:" + j.name + ":";
    const std::string inside = m.inside.empty() ? "its interfaces" : join(m.inside);

    // vnet.interface: jail(8) moves it after exec.created (jail.c startcommands), and
    // vnetd-hook created has moved it already, so `ifconfig X vnet JID` fails and
    // jail(8) undoes the start.
    std::vector<std::string> clashes, where;
    if (const JailConfParam* vi = j.find("vnet.interface"))
      for (size_t k = 0; k < vi->values.size(); ++k)
        if (m.ifnames.count(vi->values[k])) {
          clashes.push_back(vi->values[k]);
          where.push_back(vi->value_locations[k].toString());
        }
    if (!clashes.empty())
      out.push_back(bad(Status::Warn, pre + "vnet.interface",
                        "jail " + j.name + ": vnet.interface = " + join(clashes) + " (" + join(where) +
                            "): vnetd-hook created already moves it into the jail, so jail(8) fails to move it "
                            "again and undoes every start",
                        "remove vnet.interface from jail " + j.name + " at " + join(where)));
    else
      out.push_back(ok(pre + "vnet.interface", "jail " + j.name + ": no vnet.interface naming " +
                                                   (m.ifnames.empty() ? "an interface vnetd manages" : join({m.ifnames.begin(), m.ifnames.end()}))));

    // exec.prestop: the old sample's `ifconfig e0b_X -vnet X` fails when the interface
    // is not in the jail (SIOCSIFRVNET looks the name up inside the jail:
    // if_vmove_reclaim), and a failed exec.prestop makes `jail -r` stop without removing
    // the jail (command.c). vnetd-hook prestop hands it back only when it is there.
    std::string program = m.hooks.empty() ? "/usr/local/sbin/vnetd-hook" : m.hooks.front().program;
    std::string line = "exec.prestop += \"" + program + " prestop ${name}\";";
    bool has_prestop = std::any_of(m.hooks.begin(), m.hooks.end(), [](const HookCall& h) { return h.phase == "prestop"; });
    auto reclaims = ifconfigReclaims(j, m.ifnames);
    if (!reclaims.empty()) {
      out.push_back(bad(Status::Warn, pre + "prestop",
                        "jail " + j.name + ": exec.prestop runs '" + reclaims.front().command + "' (" +
                            reclaims.front().where.toString() + "): it fails whenever the interface is not in the "
                            "jail, and then 'jail -r " + j.name + "' gives up without removing the jail",
                        "replace that line with  " + line));
    } else if (!m.hooks.empty() && !has_prestop) {
      // Optional: poststop destroys the pair from the host side even while its jail side
      // is still in the dying jail (sys/net/if_epair.c epair_clone_destroy destroys both
      // ends, each in its own vnet). prestop only hands it back earlier.
      out.push_back(ok(pre + "prestop", "jail " + j.name + ": no vnetd-hook prestop (optional: poststop destroys " +
                                            inside + " either way)"));
    } else if (has_prestop) {
      out.push_back(ok(pre + "prestop", "jail " + j.name + ": exec.prestop calls vnetd-hook prestop"));
    }
  }
  return out;
}

// ------------------------------------------------------------------------ bridges

std::vector<Verdict> judgeBridge(Platform p, const BridgeFacts& b) {
  const BridgeConfig& cfg = b.config;
  const std::string& ifname = cfg.interface;
  const std::string label = bridgeLabel(cfg);
  const std::string pre = "bridge:" + cfg.name + ":";
  std::vector<Verdict> out;
  if (!b.link) {
    // Nothing else about it can be true; one verdict says it all.
    out.push_back(bad(Status::Fail, pre + "exists", label + " does not exist", createBridge(p, ifname)));
    return out;
  }
  if (b.link->kind != platform::LinkKind::Bridge) {
    out.push_back(bad(Status::Fail, pre + "exists",
                      label + ": " + ifname + " exists but is a " + platform::linkKindName(b.link->kind) +
                          ", not a bridge",
                      "set [bridge." + cfg.name + "] interface to a free name, or remove " + ifname));
    return out;
  }
  out.push_back(ok(pre + "exists", label + " exists"));
  out.push_back(b.link->admin_up ? ok(pre + "up", label + " is up")
                                 : bad(Status::Fail, pre + "up", label + " is down", linkUp(p, ifname)));

  std::vector<Cidr> want;
  for (const auto& a : {cfg.address, cfg.address6})
    if (a) want.push_back(*a);
  if (!want.empty()) {
    std::vector<std::string> missing, fixes, present;
    for (const Cidr& w : want) {
      bool has = std::any_of(b.addresses.begin(), b.addresses.end(), [&](const Cidr& c) { return c == w; });
      (has ? present : missing).push_back(w.toString());
      if (!has) fixes.push_back(addAddress(p, ifname, w));
    }
    out.push_back(missing.empty()
                      ? ok(pre + "address", label + " has " + join(present))
                      : bad(Status::Fail, pre + "address", label + " lacks its address " + join(missing),
                            joinFixes(fixes)));
  }

  std::vector<std::string> problems, fixes, fine;
  for (const ExpectedMember& m : b.expected) {
    if (!m.link) {
      problems.push_back(m.host_name + " (jail " + m.jail + ") does not exist");
      fixes.push_back("vnetd-hook prestart " + m.jail + " && vnetd-hook created " + m.jail);
      continue;
    }
    if (m.link->master_index != b.link->index) {
      problems.push_back(m.host_name + " (jail " + m.jail + ") is not a member");
      fixes.push_back(addMember(p, ifname, m.host_name));
    }
    if (!m.link->admin_up) {
      problems.push_back(m.host_name + " (jail " + m.jail + ") is down");
      fixes.push_back(linkUp(p, m.host_name));
    }
    if (m.link->master_index == b.link->index && m.link->admin_up) fine.push_back(m.host_name);
  }
  if (!problems.empty())
    out.push_back(bad(Status::Fail, pre + "members", label + ": " + join(problems, "; "), joinFixes(fixes)));
  else if (b.expected.empty())
    out.push_back(ok(pre + "members", label + ": no running jail has an interface on it"));
  else
    out.push_back(ok(pre + "members", label + " has its jail members " + join(fine)));

  // MTU: the members must all agree with the bridge (a smaller one drops the larger
  // frames the others send: USERS.md #6), and the bridge with the configuration.
  uint32_t target = cfg.mtu.value_or(b.link->mtu);
  std::vector<std::string> off;
  std::vector<std::string> mtu_fixes;
  for (const auto& l : b.members)
    if (l.mtu != target) {
      off.push_back(l.name + " " + std::to_string(l.mtu));
      mtu_fixes.push_back(setMtu(p, l.name, target));
    }
  bool bridge_off = cfg.mtu && b.link->mtu != *cfg.mtu;
  if (bridge_off) mtu_fixes.push_back(setMtu(p, ifname, *cfg.mtu));
  if (!off.empty())
    out.push_back(bad(Status::Fail, pre + "mtu",
                      label + ": MTU mismatch, " + (cfg.mtu ? "configured " : "bridge ") + std::to_string(target) +
                          " but " + join(off),
                      joinFixes(mtu_fixes)));
  else if (bridge_off)
    out.push_back(bad(Status::Warn, pre + "mtu",
                      label + " has MTU " + std::to_string(b.link->mtu) + ", configured " + std::to_string(*cfg.mtu),
                      joinFixes(mtu_fixes)));
  else
    out.push_back(ok(pre + "mtu", label + ": MTU " + std::to_string(b.link->mtu) + " on the bridge and its " +
                                      std::to_string(b.members.size()) + " members"));
  return out;
}

// --------------------------------------------------------------------- forwarding

namespace {

// Linux decides by the flag of the interface a packet arrives on (platform/forwarding.h):
// jails' packets arrive on the bridge, the translated replies on the egress. Only NAT
// bridges can be judged so: replies to a routed (untranslated) jail come in on whichever
// interface the outside routes them through, which doctor cannot know.
bool routedPerInterface(const Config& config, const ForwardingNeed& need, const std::map<std::string, bool>& flags) {
  if (need.nat.empty()) return false;
  auto on = [&](const std::string& ifname) {
    auto it = flags.find(ifname);
    return it != flags.end() && it->second;
  };
  for (const auto& [key, gateway] : need.gateways)
    if (std::find(need.nat.begin(), need.nat.end(), key) == need.nat.end()) return false;
  for (const auto& key : need.nat) {
    const BridgeConfig& b = config.bridges.at(key);
    if (!on(b.interface) || !on(b.nat)) return false;
  }
  return true;
}

}  // namespace

std::vector<Verdict> judgeForwarding(Platform p, const platform::HostSupport& host, const Config& config,
                                     const std::vector<JailFacts>& jails,
                                     const std::map<std::string, bool>& interface_v4) {
  std::vector<Verdict> out;
  // The rule is the daemon's too ([daemon] manage_forwarding): core/forwarding_needs.h.
  std::vector<IpAddress> running;
  for (const auto& j : jails) {
    if (j.gateway4) running.push_back(*j.gateway4);
    if (j.gateway6) running.push_back(*j.gateway6);
  }
  const ForwardingNeeds needs = forwardingNeeds(config, running);
  for (IpFamily fam : {IpFamily::V4, IpFamily::V6}) {
    bool v4 = fam == IpFamily::V4;
    std::vector<std::string> nat, gw;  // bridge labels needing forwarding, and why
    for (const auto& key : needs.of(fam).nat) nat.push_back(bridgeLabel(config.bridges.at(key)));
    for (const auto& [key, g] : needs.of(fam).gateways)
      gw.push_back(bridgeLabel(config.bridges.at(key)) + " (" + g.toString() + ")");

    const std::string check = v4 ? "forwarding:ipv4" : "forwarding:ipv6";
    const std::string name = v4 ? "IPv4" : "IPv6";
    if (nat.empty() && gw.empty()) {
      // IPv6 forwarding only matters when some jail routes IPv6 via the host.
      if (v4) out.push_back(ok(check, "IPv4 forwarding not needed (no NAT, no jail routes via a host address)"));
      continue;
    }
    std::string fix;
    if (p == Platform::FreeBSD)
      fix = v4 ? "sysrc gateway_enable=YES && sysctl net.inet.ip.forwarding=1"
               : "sysrc ipv6_gateway_enable=YES && sysctl net.inet6.ip6.forwarding=1";
    else
      fix = v4 ? "sysctl -w net.ipv4.ip_forward=1 && echo net.ipv4.ip_forward=1 > /etc/sysctl.d/90-vnetd.conf"
               : "sysctl -w net.ipv6.conf.all.forwarding=1 && echo net.ipv6.conf.all.forwarding=1 > "
                 "/etc/sysctl.d/90-vnetd-ipv6.conf";
    // vnetd can do it itself (src/daemon/forwarding.h); when it is meant to, its not
    // having done so means it is not running (or could not: its log says why).
    fix += config.daemon.manage_forwarding
               ? "  # [daemon] manage_forwarding = true in " + config.source +
                     ": vnetd switches it on when it starts; is it running? (its log says what it changed)"
               : "  # or let vnetd do it: [daemon] manage_forwarding = true in " + config.source;
    std::string users = !nat.empty() ? "NAT on " + join(nat) : "jails route via " + join(gw);
    const std::optional<bool>& on = v4 ? host.ipv4_forwarding : host.ipv6_forwarding;
    if (!on) {
      out.push_back(bad(Status::Warn, check, "cannot read the " + name + " forwarding setting (" + users + " need it)",
                        p == Platform::FreeBSD ? (v4 ? "sysctl net.inet.ip.forwarding" : "sysctl net.inet6.ip6.forwarding")
                                               : (v4 ? "sysctl net.ipv4.ip_forward" : "sysctl net.ipv6.conf.all.forwarding")));
    } else if (*on) {
      out.push_back(ok(check, name + " forwarding is on (" + users + ")"));
    } else if (v4 && routedPerInterface(config, needs.ipv4, interface_v4)) {
      out.push_back(ok(check, "IPv4 forwarding is on for the NAT bridges and their egress interfaces (" + users +
                                  "; net.ipv4.ip_forward itself is off)"));
    } else if (!nat.empty()) {
      out.push_back(bad(Status::Fail, check, name + " forwarding is off: " + users + " translates nothing", fix));
    } else {
      out.push_back(bad(Status::Warn, check,
                        name + " forwarding is off: " + users + " but reach only the host and each other", fix));
    }
  }
  return out;
}

// ----------------------------------------------------------------------- firewall

namespace {

// The rules that let a bridge's forwarded traffic through `b`, written for whoever
// manages that chain (a rule added behind Docker's or firewalld's back is lost at their
// next reload, or fights them).
std::vector<std::string> firewallFixes(const platform::ForwardBlock& b, const std::string& br) {
  switch (b.owner) {
    case platform::FwOwner::Docker: {
      // Docker's documented place for the administrator's rules: DOCKER-USER, which
      // FORWARD jumps to first and Docker never rewrites.
      std::vector<std::string> out;
      if (b.outbound) out.push_back("iptables -I DOCKER-USER -i " + br + " -j ACCEPT");
      if (b.inbound)
        out.push_back("iptables -I DOCKER-USER -o " + br + " -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT");
      return out;
    }
    case platform::FwOwner::Firewalld:
      return {"firewall-cmd --permanent --zone=trusted --add-interface=" + br + " && firewall-cmd --reload"};
    case platform::FwOwner::Nftables: {
      const std::string at = "nft insert rule " + b.family + " " + b.table + " " + b.chain + " ";
      std::vector<std::string> out;
      if (b.outbound) out.push_back(at + "iifname \"" + br + "\" accept");
      if (b.inbound) out.push_back(at + "oifname \"" + br + "\" ct state established,related accept");
      return out;
    }
  }
  return {};
}

}  // namespace

std::vector<Verdict> judgeForwardFirewall(const Config& config, const std::optional<platform::ForwardFirewallFacts>& fw,
                                          const std::string& error) {
  std::vector<Verdict> out;
  const ForwardingNeeds needs = forwardingNeeds(config);
  // Bridge key -> the subnets whose forwarded traffic must pass, in config order.
  std::map<std::string, std::vector<Cidr>> subnets;
  auto need = [&](const std::string& key, const std::optional<Cidr>& a) {
    if (!a) return;
    Cidr net{a->network(), a->prefix};
    auto& v = subnets[key];
    if (std::find(v.begin(), v.end(), net) == v.end()) v.push_back(net);
  };
  for (const auto& key : needs.ipv4.nat) need(key, config.bridges.at(key).address);
  for (const auto& [key, g] : needs.ipv4.gateways) need(key, config.bridges.at(key).address);
  for (const auto& [key, g] : needs.ipv6.gateways) need(key, config.bridges.at(key).address6);
  if (subnets.empty()) return out;
  if (!fw) {
    if (error.empty()) return out;  // not looked at
    out.push_back(bad(Status::Warn, "firewall:forward", "cannot read the host firewall's ruleset: " + error,
                      "vnetctl doctor  # as root"));
    return out;
  }
  if (!fw->applicable) return out;
  for (const auto& [key, nets] : subnets) {
    const BridgeConfig& b = config.bridges.at(key);
    std::vector<std::string> cidrs, found, fixes;
    for (const auto& net : nets) {
      cidrs.push_back(net.toString());
      for (const auto& blk : platform::forwardBlocks(fw->ruleset, b.interface, net)) {
        std::string what = "table " + blk.family + " " + blk.table + " chain " + blk.chain + " (" +
                           (blk.policy_drop ? "policy drop" : "ends in a drop") + ") drops " +
                           (blk.outbound && blk.inbound ? "it both ways"
                            : blk.outbound             ? "what the jails send out"
                                                       : "the replies to the jails") +
                           (blk.owner == platform::FwOwner::Docker      ? " [Docker]"
                            : blk.owner == platform::FwOwner::Firewalld ? " [firewalld]"
                                                                        : "");
        if (std::find(found.begin(), found.end(), what) == found.end()) found.push_back(what);
        for (auto& fx : firewallFixes(blk, b.interface))
          if (std::find(fixes.begin(), fixes.end(), fx) == fixes.end()) fixes.push_back(std::move(fx));
      }
    }
    const std::string check = "firewall:forward:" + key;
    const std::string label = bridgeLabel(b) + " (" + join(cidrs) + ")";
    if (found.empty())
      out.push_back(ok(check, "no firewall chain at hook forward drops the forwarded traffic of " + label));
    else
      out.push_back(bad(Status::Warn, check, "the host firewall drops forwarded traffic of " + label + ": " +
                                                 join(found, "; "),
                        joinFixes(fixes)));
  }
  if (fw->legacy_iptables)
    out.push_back(bad(Status::Warn, "firewall:legacy",
                      "legacy iptables has a filter table (/proc/net/ip_tables_names): its FORWARD rules are "
                      "invisible to nftables and to firewall:forward checks",
                      "iptables-legacy -S FORWARD"));
  return out;
}

// ---------------------------------------------------------------------------- NAT

Verdict judgeNat(Platform p, const BridgeConfig& b, const NatCheckFacts& n, const std::string& config_path) {
  const std::string check = "nat:" + b.name;
  const std::string label = bridgeLabel(b);
  const std::string subnet = b.address ? Cidr{b.address->network(), b.address->prefix}.toString() : "";
  // First: without its egress nothing can be translated, whatever the rules say (the
  // daemon waits for the interface and loads the NAT when it appears).
  if (!n.egress_exists)
    return bad(Status::Fail, check,
               "NAT of " + label + " goes out of " + b.nat + ", which does not exist: jails on " + b.interface +
                   " reach only the host and each other",
               "attach or create " + b.nat + " (vnetd loads the NAT as soon as it appears), or name an existing "
               "interface in nat = \"...\" of [bridge." + b.name + "] in " + config_path + " and reload vnetd");
  if (!n.nat)
    return bad(Status::Warn, check, "cannot tell whether NAT of " + label + " is in place: " + n.error,
               p == Platform::FreeBSD ? "pfctl -a vnetd/" + b.interface + " -s nat" : "nft list table ip vnetd");
  switch (n.nat->state) {
    case platform::NatState::Present:
      return ok(check, "NAT of " + label + " (" + subnet + " out of " + b.nat + "): " + n.nat->detail);
    case platform::NatState::Unsupported:
      return bad(Status::Fail, check, "NAT of " + label + " is configured but " + n.nat->detail,
                 "remove nat = \"" + b.nat + "\" from [bridge." + b.name + "] in " + config_path);
    case platform::NatState::Absent: break;
  }
  std::string fix;
  if (p == Platform::FreeBSD) {
    switch (n.nat->missing) {
      case platform::NatMissing::Module: fix = "kldload pf && sysrc pf_enable=YES && pfctl -e"; break;
      case platform::NatMissing::Disabled: fix = "pfctl -e && sysrc pf_enable=YES"; break;
      case platform::NatMissing::Hook:
        fix = "pfctl -f /etc/pf.conf  # after adding the line  nat-anchor \"vnetd/*\"  before the filter rules";
        break;
      case platform::NatMissing::Rules:
      case platform::NatMissing::None:
        fix = "echo 'nat on " + b.nat + " from " + subnet + " to any -> (" + b.nat + ")' | pfctl -a vnetd/" +
              b.interface + " -f -";
        break;
    }
  } else {
    fix = "systemctl restart vnetd";
  }
  return bad(Status::Fail, check, "NAT of " + label + " (" + subnet + " out of " + b.nat + ") is missing: " +
                                      n.nat->detail,
             fix);
}

// -------------------------------------------------------------------------- jails

std::vector<Verdict> judgeJail(Platform p, const JailFacts& j) {
  std::vector<Verdict> out;
  const std::string pre = "jail:" + j.name + ":";
  if (!j.error.empty()) {
    out.push_back(bad(Status::Warn, pre + "interfaces", "jail " + j.name + ": cannot look inside: " + j.error,
                      "vnetctl doctor  # as root"));
    return out;
  }
  std::vector<std::string> problems, fixes, fine;
  for (const RecordedInterface& ri : j.interfaces) {
    auto l = std::find_if(j.links.begin(), j.links.end(),
                          [&](const platform::LinkInfo& x) { return x.name == ri.jail_name; });
    if (l == j.links.end()) {
      problems.push_back(ri.jail_name + " is missing");
      fixes.push_back(rerunCreated(j.name));
      continue;
    }
    if (!l->admin_up) {
      problems.push_back(ri.jail_name + " is down");
      fixes.push_back(jailLinkUp(p, j.name, ri.jail_name));
    }
    std::vector<std::string> has;
    for (const auto& text : ri.addresses) {
      auto want = Cidr::parse(text);
      if (!want) continue;
      bool present = std::any_of(j.addresses.begin(), j.addresses.end(), [&](const platform::AddressInfo& a) {
        return a.link_index == l->index && a.cidr == *want;
      });
      if (present) {
        has.push_back(text);
      } else {
        problems.push_back(ri.jail_name + " lacks " + text);
        fixes.push_back(jailAddAddress(p, j.name, ri.jail_name, *want));
      }
    }
    if (l->admin_up) fine.push_back(ri.jail_name + (has.empty() ? "" : " " + join(has)));
  }
  if (!problems.empty())
    out.push_back(bad(Status::Fail, pre + "interfaces", "jail " + j.name + ": " + join(problems, "; "), joinFixes(fixes)));
  else
    out.push_back(ok(pre + "interfaces", "jail " + j.name + ": " + (fine.empty() ? "no interfaces" : join(fine, "; ")) +
                                             (fine.empty() ? "" : " up")));

  // IPv6 switched off under vnetd's IPv6 addresses: FreeBSD's rc does that to every
  // interface but lo0 unless ipv6_activate_all_interfaces="YES" (libexec/rc/network.subr
  // ifconfig_up); the poststart hook switches it back on after rc.
  std::vector<std::string> off;
  for (const RecordedInterface& ri : j.interfaces)
    if (j.ipv6_off.count(ri.jail_name)) off.push_back(ri.jail_name);
  if (!off.empty())
    out.push_back(bad(Status::Fail, pre + "ipv6",
                      "jail " + j.name + ": IPv6 is switched off on " + join(off) +
                          (p == Platform::FreeBSD ? " (IFDISABLED: the jail's rc does that unless its rc.conf has "
                                                    "ipv6_activate_all_interfaces=\"YES\")"
                                                  : " (disable_ipv6)"),
                      "vnetd-hook poststart " + j.name +
                          (p == Platform::FreeBSD
                               ? "  # and in jail.conf: exec.poststart += \"/usr/local/sbin/vnetd-hook poststart "
                                 "${name}\"; in the jail's rc.conf: ipv6_activate_all_interfaces=\"YES\""
                               : "")));

  for (const auto& want : {j.gateway4, j.gateway6}) {
    if (!want) continue;
    bool v6 = want->family == IpFamily::V6;
    const std::string check = pre + (v6 ? "route6" : "route");
    std::vector<std::string> current;
    bool right = false;
    for (const auto& r : j.default_routes) {
      if (r.destination.address.family != want->family) continue;
      current.push_back(r.gateway ? r.gateway->toString() : "a direct interface route");
      right |= r.gateway && *r.gateway == *want;
    }
    const std::string what = v6 ? "IPv6 default route" : "default route";
    if (right)
      out.push_back(ok(check, "jail " + j.name + ": " + what + " via " + want->toString()));
    else if (current.empty())
      out.push_back(bad(Status::Fail, check,
                        "jail " + j.name + " has no " + what + " (configured: via " + want->toString() + ")",
                        jailDefaultRoute(p, j.name, *want, false)));
    else
      out.push_back(bad(Status::Fail, check,
                        "jail " + j.name + ": " + what + " via " + join(current) + ", configured via " +
                            want->toString(),
                        jailDefaultRoute(p, j.name, *want, true)));
  }
  return out;
}

// -------------------------------------------------------------------------- slaac

std::vector<Verdict> judgeSlaac(Platform p, const JailFacts& j) {
  std::vector<Verdict> out;
  for (const auto& entry : j.slaac) {
    // Not a structured binding: the lambda below captures the name (clang < 16).
    const std::string& ifname = entry.first;
    const SlaacFacts& sf = entry.second;
    const std::string check = "slaac:" + j.name + ":" + ifname;
    const std::string who = "jail " + j.name + " " + ifname;
    auto l = std::find_if(j.links.begin(), j.links.end(), [&](const platform::LinkInfo& x) { return x.name == ifname; });
    if (l == j.links.end()) continue;  // missing: the interfaces check says so
    if (!sf.error.empty()) {
      out.push_back(bad(Status::Warn, check, who + ": cannot read its IPv6 autoconfiguration: " + sf.error,
                        "vnetctl doctor  # as root"));
      continue;
    }
    const std::string repair =
        "vnetd-hook poststart " + j.name +
        (p == Platform::FreeBSD ? "  # and in the jail's rc.conf: ifconfig_" + ifname + "_ipv6=\"inet6 accept_rtadv\""
                                : "");
    if (!sf.ipv6_on || !sf.accepts_ra || !sf.autoconf) {
      std::string what = !sf.ipv6_on ? "IPv6 is switched off" + std::string(p == Platform::FreeBSD ? " (IFDISABLED)" : " (disable_ipv6)")
                         : !sf.accepts_ra ? std::string(p == Platform::FreeBSD ? "router advertisements are not accepted (no accept_rtadv)"
                                                                               : "router advertisements are not accepted (accept_ra)")
                                          : "autoconfiguration is off (autoconf)";
      out.push_back(bad(Status::Fail, check, who + " has address6 = \"slaac\" but " + what, repair));
      continue;
    }
    std::vector<std::string> formed;
    for (const auto& a : j.addresses)
      if (a.link_index == l->index && a.cidr.prefix == 64 && !ndp::isLinkLocal(a.cidr.address) &&
          ndp::hasEui64InterfaceId(a.cidr.address, l->mac))
        formed.push_back(a.cidr.toString());
    std::optional<IpAddress> router;
    bool routed = false;
    for (const auto& r : j.default_routes) {
      if (r.destination.address.family != IpFamily::V6) continue;
      routed = true;
      if (r.gateway) router = r.gateway;
    }
    const std::string wait =
        "router advertisements come every 30 s at most: is the daemon running and the bridge's "
        "router_advertisements = true (or a router on the segment)? vnetctl status --json shows "
        "router_advertisements_sent";
    if (formed.empty())
      out.push_back(bad(Status::Warn, check, who + ": no autoconfigured IPv6 address (EUI-64 of " + l->mac.toString() + ") yet",
                        wait));
    else if (!routed)
      out.push_back(bad(Status::Warn, check, who + ": " + join(formed) + " but no IPv6 default route learned",
                        "the jail forwards IPv6 (then RAs' routers are ignored) or the RAs say router lifetime 0; " + wait));
    else
      out.push_back(ok(check, who + ": " + join(formed) + ", default route via " +
                                  (router ? router->toString() : std::string("the link"))));
  }
  return out;
}

// ------------------------------------------------------------------------ capture

Verdict judgeCapture(const BridgeConfig& b, const CaptureFacts& c) {
  const std::string check = "capture:" + b.name;
  if (c.error.empty()) return ok(check, "capture can open " + bridgeLabel(b));
  bool perm = c.error.find("ermission") != std::string::npos || c.error.find("not permitted") != std::string::npos;
  return bad(Status::Fail, check, "capture cannot open " + bridgeLabel(b) + ": " + c.error,
             perm ? "vnetctl doctor  # as root (the daemon captures as root)"
                  : "tcpdump -i " + b.interface + " -c 1  # the same open, with libpcap's full message");
}

std::optional<Verdict> judgeCaptureBuffer(Platform p, const CaptureConfig& capture,
                                          const std::optional<platform::CaptureBufferLimit>& limit,
                                          const std::string& error) {
  const std::string check = "capture_buffer";
  if (!capture.enabled) return std::nullopt;
  const std::string wanted = "[capture] buffer_size " + std::to_string(capture.buffer_bytes);
  if (!error.empty())
    return bad(Status::Warn, check, "cannot read the kernel's cap on capture buffers (" + wanted + "): " + error,
               p == Platform::FreeBSD ? "sysctl net.bpf.maxbufsize" : "");
  if (!limit) return std::nullopt;
  const std::string cap = limit->sysctl + " = " + std::to_string(limit->bytes);
  if (limit->bytes >= capture.buffer_bytes) return ok(check, "capture buffer: " + wanted + " fits " + cap);
  return bad(Status::Warn, check,
             "capture buffer: " + cap + " caps every capture below " + wanted + " (each bridge's capture gets " +
                 std::to_string(limit->bytes) + " bytes and drops sooner)",
             // Captures keep the buffer they opened with (BIOCSBLEN is refused once attached:
             // sys/net/bpf_buffer.c bpf_buffer_ioctl_sblen): restart them.
             platform::raiseCaptureBufferLimitCommand(*limit, capture.buffer_bytes) + " && " +
                 (p == Platform::FreeBSD ? "service vnetd restart" : "systemctl restart vnetd"));
}

// ------------------------------------------------------------------------- daemon

std::vector<Verdict> judgeDaemon(Platform p, const DaemonFacts& d, const ConfigFacts& c,
                                 const std::string& socket_path) {
  std::vector<Verdict> out;
  bool default_config = c.path.empty() || c.path == build::kDefaultConfigPath;
  std::string start = !default_config ? "vnetd -c " + c.path
                      : p == Platform::FreeBSD ? "service vnetd start"
                                               : "systemctl start vnetd";
  if (!d.reachable) {
    if (d.permission_denied)
      out.push_back(bad(Status::Warn, "daemon:reachable", "cannot reach vnetd on " + socket_path + " (" + d.error + ")",
                        "vnetctl doctor  # as root or as a member of [daemon] control_group"));
    else if (d.silent)
      out.push_back(bad(Status::Warn, "daemon:reachable", "vnetd does not answer on " + socket_path + " (" + d.error + ")",
                        p == Platform::FreeBSD ? "grep vnetd /var/log/messages | tail" : "journalctl -u vnetd -n 50"));
    else
      out.push_back(bad(Status::Warn, "daemon:reachable",
                        "vnetd is not running (" + d.error +
                            "); hooks work without it, but nothing repairs or measures the jails' network",
                        start));
    return out;
  }
  if (!d.status) {
    // It answered, but not in a way this vnetctl understands: every check that needs
    // the daemon's view would silently fall back, so say so.
    out.push_back(bad(Status::Warn, "daemon:reachable",
                      "vnetd answers on " + socket_path + " but its status reply was not understood (" + d.error +
                          ")",
                      "vnetd -V; vnetctl -V  # use the vnetctl of the running vnetd's release, or restart vnetd"));
    return out;
  }
  std::string who = " (pid " + std::to_string(d.status->pid) + ", version " + d.status->version + ")";
  out.push_back(ok("daemon:reachable", "vnetd answers on " + socket_path + who));
  if (!c.config) return out;
  const std::string& running = d.status->config_digest;
  if (running == c.config->digest) {
    out.push_back(ok("daemon:config", "vnetd runs the configuration in " + c.path));
    return out;
  }
  std::string reload;
  if (p == Platform::FreeBSD)
    reload = default_config ? "service vnetd reload" : "kill -HUP $(cat " + c.config->daemon.pidfile + ")";
  else
    reload = "kill -HUP $(cat " + c.config->daemon.pidfile + ")";
  std::string from = d.status->config_path.empty() || d.status->config_path == c.path
                         ? ""
                         : " (it was started with " + d.status->config_path + ")";
  out.push_back(bad(Status::Warn, "daemon:config",
                    "vnetd runs an older configuration than " + c.path + from + " (digest " + running + ", file " +
                        c.config->digest + ")",
                    reload));
  return out;
}

// ------------------------------------------------------------------ expose (issue 19)

Verdict judgeExpose(Platform p, const platform::HostSupport* host, const ExposeCheckFacts& e) {
  const std::string forward = e.target.name();
  const std::string check = "expose:" + e.jail + ":" + forward;
  const std::string who = "forward " + forward + " of jail " + e.jail;
  const bool fbsd = p == Platform::FreeBSD;
  if (!e.active)
    return bad(Status::Warn, check, "cannot tell whether the rules of " + who + " are loaded: " + e.rule_error,
               fbsd ? "pfctl -a vnetd/expose." + e.jail + " -s nat" : "nft list table inet vnetd");
  if (!e.hooked)
    return bad(Status::Fail, check,
               who + ": its rdr rules are loaded but pf does not evaluate them (the loaded ruleset has no "
                     "rdr-anchor \"vnetd/*\")",
               "pfctl -f /etc/pf.conf  # after adding the line  rdr-anchor \"vnetd/*\"  beside nat-anchor \"vnetd/*\"");
  if (!*e.active)
    return bad(Status::Fail, check, who + ": its rules are not loaded",
               fbsd ? "service vnetd status  # the daemon loads them within reconcile_interval_seconds"
                    : "systemctl status vnetd  # the daemon loads them within reconcile_interval_seconds");
  const bool v4 = e.target.jail_v4.has_value(), v6 = e.target.jail_v6.has_value();
  if (host && v4 && host->ipv4_forwarding == false)
    return bad(Status::Fail, check, who + ": the host does not forward IPv4, so the connection never reaches the jail",
               fbsd ? "sysctl net.inet.ip.forwarding=1 && sysrc gateway_enable=YES" : "sysctl -w net.ipv4.ip_forward=1");
  if (host && v6 && host->ipv6_forwarding == false)
    return bad(Status::Fail, check, who + ": the host does not forward IPv6, so the connection never reaches the jail",
               fbsd ? "sysctl net.inet6.ip6.forwarding=1 && sysrc ipv6_gateway_enable=YES"
                    : "sysctl -w net.ipv6.conf.all.forwarding=1");
  const char* proto = exposeProtoName(e.target.rule.proto);
  const PortRange& ports = e.target.rule.jail;
  const std::string port_text = ports.first == ports.last ? "port " + std::to_string(ports.first)
                                                          : "ports " + std::to_string(ports.first) + "-" +
                                                                std::to_string(ports.last);
  const std::string look = fbsd ? "sockstat -4 -6 -l -j " + e.jail : "ip netns exec " + e.jail + " ss -ltnu";
  if (!e.bound)
    return ok(check, who + ": rules loaded, host forwards (whether the jail listens on " + std::string(proto) + " " +
                         port_text + " was not read: " + e.bound_error + "; " + look + ")");
  bool listening = false;
  for (const auto& b : *e.bound)
    listening = listening || (b.proto == e.target.rule.proto && b.port >= ports.first && b.port <= ports.last);
  if (!listening)
    return bad(Status::Warn, check,
               who + ": nothing in the jail listens on " + std::string(proto) + " " + port_text +
                   " (connections are refused or dropped there)",
               "start the service in the jail; " + look);
  return ok(check, who + ": rules loaded, host forwards, the jail listens on " + std::string(proto) + " " + port_text);
}

// -------------------------------------------------------------------------- all

std::vector<Verdict> judge(const Facts& f) {
  std::vector<Verdict> out;
  auto add = [&](std::vector<Verdict> v) {
    for (auto& x : v) out.push_back(std::move(x));
  };
  const Config* config = f.config.config ? &*f.config.config : nullptr;
  if (f.host)
    add(judgeKernel(f.platform, *f.host, config));
  else
    out.push_back(bad(Status::Warn, "kernel", "cannot read the kernel's facilities: " + f.host_error,
                      "vnetctl doctor  # as root"));
  out.push_back(judgeConfig(f.platform, f.config));
  add(judgeJailConf(f.platform, f.jail_conf, config));
  if (config) {
    if (!f.host_links_error.empty())
      out.push_back(bad(Status::Fail, "bridges", "cannot read the host's interfaces: " + f.host_links_error,
                        "vnetctl doctor  # as root"));
    for (const auto& b : f.bridges) add(judgeBridge(f.platform, b));
    if (f.host) add(judgeForwarding(f.platform, *f.host, *config, f.jails, f.interface_forwarding_v4));
    add(judgeForwardFirewall(*config, f.firewall, f.firewall_error));
    for (const auto& [key, b] : config->bridges) {
      auto n = f.nat.find(key);
      if (natWanted(b) && n != f.nat.end()) out.push_back(judgeNat(f.platform, b, n->second, f.config.path));
    }
  }
  for (const auto& j : f.jails) {
    add(judgeJail(f.platform, j));
    add(judgeSlaac(f.platform, j));
  }
  for (const auto& e : f.exposes) out.push_back(judgeExpose(f.platform, f.host ? &*f.host : nullptr, e));  // issue 19
  if (config)
    for (const auto& [key, b] : config->bridges) {
      auto c = f.capture.find(key);
      if (c != f.capture.end()) out.push_back(judgeCapture(b, c->second));
    }
  if (config)
    if (auto v = judgeCaptureBuffer(f.platform, config->capture, f.capture_buffer_limit, f.capture_buffer_error))
      out.push_back(std::move(*v));
  add(judgeDaemon(f.platform, f.daemon, f.config, f.socket_path));
  return out;
}

int exitCode(const std::vector<Verdict>& v) {
  bool warn = false;
  for (const auto& x : v) {
    if (x.status == Status::Fail) return 2;
    warn |= x.status == Status::Warn;
  }
  return warn ? 1 : 0;
}

std::string summaryLine(const std::vector<Verdict>& v) {
  size_t n[3] = {0, 0, 0};
  for (const auto& x : v) ++n[static_cast<int>(x.status)];
  auto count = [](size_t k, const char* one, const char* many) { return std::to_string(k) + " " + (k == 1 ? one : many); };
  return count(v.size(), "check", "checks") + ": " + std::to_string(n[0]) + " ok, " +
         count(n[1], "warning", "warnings") + ", " + count(n[2], "failure", "failures");
}

std::string renderText(const std::vector<Verdict>& v, bool quiet) {
  std::string out;
  for (const auto& x : v) {
    if (quiet && x.status == Status::Ok) continue;
    std::string tag = statusName(x.status);
    tag.resize(6, ' ');
    out += tag + x.message + "\n";
    if (x.status != Status::Ok && !x.fix.empty()) out += "      fix: " + x.fix + "\n";
  }
  if (quiet && exitCode(v) == 0) return out;
  out += summaryLine(v) + "\n";
  return out;
}

std::string renderJson(const std::vector<Verdict>& v) {
  Json arr = Json::array();
  for (const auto& x : v) {
    const char* s = x.status == Status::Ok ? "ok" : x.status == Status::Warn ? "warn" : "fail";
    arr.push_back({{"check", x.check}, {"status", s}, {"message", x.message}, {"fix", x.fix}});
  }
  // Interface names, paths and messages from the system may hold any byte: replace
  // invalid UTF-8 rather than throw.
  return arr.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace vnetd::cli::doctor
