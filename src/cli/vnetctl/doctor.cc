// vnetctl doctor: gathers the facts (kernel, configuration file, host and jail network
// stacks, packet filter, capture, daemon) and hands them to the pure verdicts of
// doctor_checks.h. Read-only: nothing here creates, changes or loads anything.
#include <glob.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "cli/vnetctl/doctor_checks.h"
#include "cli/vnetctl/status_view.h"
#include "cli/vnetctl/vnetctl.h"
#include "collectors/capture.h"
#include "core/config.h"
#include "core/control_client.h"
#include "core/control_protocol.h"
#include "core/expose_targets.h"  // issue 19
#include "core/forwarding_needs.h"
#include "core/jail_conf.h"
#include "core/state_store.h"
#include "platform/capture.h"
#include "platform/forward_firewall.h"
#include "platform/forwarding.h"
#include "platform/host.h"
#include "platform/jails.h"
#include "platform/listening.h"  // issue 19
#include "platform/netif.h"
#include "platform/policy.h"  // issue 19
#include "vnetd/build_config.h"

namespace vnetd::cli {
namespace {

using namespace doctor;

void gatherSlaac(const JailConfig& jc, platform::NetStack& stack, JailFacts& j);  // issue 19, below

// The daemon answers status from its loop; two seconds of silence means it is wedged,
// and doctor must stay quick.
constexpr std::chrono::milliseconds kDaemonTimeout{2000};

// What jail(8) reads when not given -f (usr.sbin/jail/jailp.h CONF_FILE, jail.c main).
constexpr const char* kDefaultJailConf = "/etc/jail.conf";

constexpr const char* kUsage =
    "usage: vnetctl [-c FILE] [-S SOCKET] doctor [-q|--quiet] [--json] [--jail-conf FILE]\n";

constexpr const char* kHelp =
    "NAME\n"
    "     vnetctl doctor - check everything VNET jail networking depends on\n"
    "\n"
    "SYNOPSIS\n"
    "     vnetctl [-c FILE] [-S SOCKET] doctor [-q | --quiet] [--json] [--jail-conf FILE]\n"
    "\n"
    "DESCRIPTION\n"
    "     Runs the troubleshooting list of a VNET jail host as checks and prints one\n"
    "     line per check, OK, WARN or FAIL, each WARN and FAIL followed by the command\n"
    "     that fixes it (for this platform):\n"
    "\n"
    "       OK    bridge lan (bridge0) exists\n"
    "       FAIL  bridge lan (bridge0) is down\n"
    "             fix: ifconfig bridge0 up\n"
    "\n"
    "     and a summary line (\"12 checks: 10 ok, 1 warning, 1 failure\"). The checks:\n"
    "\n"
    "     kernel:FEATURE      FreeBSD: VIMAGE, if_epair and if_bridge present; pf when a\n"
    "                         bridge has nat; racct when jails have limits. Linux: veth\n"
    "                         and bridge (loaded, built in or loadable), network\n"
    "                         namespaces, /run/netns; nf_tables when a bridge has nat.\n"
    "     config              The configuration file loads (else its first error as\n"
    "                         FILE:LINE:COLUMN; vnetd -n lists them all).\n"
    "     jailconf            jail.conf can be read: /etc/jail.conf (--jail-conf) with\n"
    "                         what it includes, and each jail.conf.d/*.conf next to it\n"
    "                         that it does not include (rc.d/jail reads those alone).\n"
    "                         No such file: the jail.conf checks are skipped.\n"
    "     jailconf:JAIL:vnet.interface, jailconf:JAIL:prestop\n"
    "                         For each jail vnetd manages ([jail.JAIL], or any jail\n"
    "                         whose exec.* lines call vnetd-hook when there are\n"
    "                         [jail_defaults]): no vnet.interface names its interfaces\n"
    "                         (vnetd-hook created moves them; jail(8) would fail to move\n"
    "                         them again), and exec.prestop calls vnetd-hook prestop\n"
    "                         rather than 'ifconfig IF -vnet JAIL', which fails when the\n"
    "                         interface is not in the jail and then stops 'jail -r'.\n"
    "                         Each WARN names the FILE:LINE to change.\n"
    "     bridge:KEY:exists, :up, :address, :members, :mtu\n"
    "                         Each configured bridge exists, is up, has its configured\n"
    "                         addresses and, as members, the host sides of the running\n"
    "                         jails vnetd recorded on it (from the daemon's status, else\n"
    "                         read from the state directory); its members' MTUs equal\n"
    "                         the bridge's, and the bridge's the configured mtu.\n"
    "     forwarding:ipv4, forwarding:ipv6\n"
    "                         IP forwarding is on where needed: FAIL when a bridge has\n"
    "                         nat, WARN when jails route via a host address (then they\n"
    "                         reach only the host and each other). [daemon]\n"
    "                         manage_forwarding = true lets vnetd switch it on.\n"
    "     firewall:forward:KEY\n"
    "                         Linux: no nftables chain at hook forward (policy drop, or\n"
    "                         ending in a drop/reject: iptables-nft/Docker, firewalld,\n"
    "                         your own) drops the forwarded traffic of a bridge that\n"
    "                         needs forwarding; WARN with the rules that let it through.\n"
    "     firewall:legacy     Linux: legacy iptables has a filter table, whose rules\n"
    "                         nftables cannot see (check iptables-legacy -S FORWARD).\n"
    "     nat:KEY             The NAT of a bridge with nat is in place: its egress\n"
    "                         interface exists, and the rule is loaded (FreeBSD: pf\n"
    "                         enabled, nat-anchor \"vnetd/*\" in the ruleset, the rule in\n"
    "                         anchor vnetd/IFNAME; Linux: the rule named\n"
    "                         vnetd:bridge:IFNAME in nftables table ip vnetd).\n"
    "     jail:NAME:interfaces, :route, :route6\n"
    "                         Inside each running recorded jail: its interfaces exist,\n"
    "                         are up and have their addresses; the default route points\n"
    "                         at the configured gateway.\n"
    "     capture:KEY         A packet capture can open the bridge ([capture] enabled).\n"
    "     capture_buffer      FreeBSD: net.bpf.maxbufsize is at least [capture]\n"
    "                         buffer_size (WARN: each capture silently gets the\n"
    "                         smaller buffer).\n"
    "     daemon:reachable, daemon:config\n"
    "                         vnetd answers on its control socket within 2 s (WARN when\n"
    "                         not: hooks work without it), and runs the configuration\n"
    "                         that is in the file now (WARN: reload it).\n"
    "\n"
    "     doctor only reads: it never creates, changes or loads anything. Run it as\n"
    "     root; other users cannot look inside jails or open captures.\n"
    "\n"
    "OPTIONS\n"
    "     -q, --quiet  Print only the WARN and FAIL checks, with their fixes, and the\n"
    "                  summary; print nothing when every check is OK (for cron).\n"
    "     --jail-conf FILE\n"
    "                  The jail.conf to check (default %s); the jail.conf.d\n"
    "                  directory next to it is read too.\n"
    "     --json       Print a JSON array instead, one object per check:\n"
    "                  {\"check\": NAME, \"status\": \"ok\"|\"warn\"|\"fail\",\n"
    "                   \"message\": TEXT, \"fix\": COMMAND or \"\"}.\n"
    "                  Check names are stable (see above); messages may change.\n"
    "     -h, --help   Print this help.\n"
    "\n"
    "     The global options -c FILE (configuration, default %s) and -S SOCKET come\n"
    "     before the sub-command; see vnetctl --help.\n"
    "\n"
    "EXIT STATUS\n"
    "     0 when every check is OK, 1 when some check warns and none fails, 2 when any\n"
    "     check fails, 64 on usage errors.\n"
    "\n"
    "EXAMPLES\n"
    "     vnetctl doctor\n"
    "     vnetctl -c /usr/local/etc/vnetd.toml doctor --quiet || mail -s doctor root\n"
    "     vnetctl doctor --json | jq -r '.[] | select(.status != \"ok\") | .fix'\n"
    "\n"
    "SEE ALSO\n"
    "     vnetctl(8), vnetd(8), vnetd-hook(8)\n";

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::optional<platform::LinkInfo> findLink(const std::vector<platform::LinkInfo>& links, const std::string& name) {
  for (const auto& l : links)
    if (l.name == name) return l;
  return std::nullopt;
}

// Not callDaemon: that prints the failure, and doctor turns it into a verdict instead.
DaemonFacts askDaemon(const std::string& socket_path) {
  DaemonFacts d;
  control::Request req;
  req.op = control::Op::Status;
  auto r = control::call(socket_path, control::encodeRequest(req), kDaemonTimeout);
  if (!r.ok()) {
    d.error = r.error.message();
    d.permission_denied = daemonAccessDenied(r);
    d.silent = r.failure == control::CallFailure::Timeout || r.failure == control::CallFailure::Lost;
    return d;
  }
  d.reachable = true;
  auto snapshot = decodeStatusReply(r.reply);
  if (snapshot)
    d.status = daemonStatusFrom(*snapshot);
  else
    d.error = snapshot.error().message();
  return d;
}

// The recorded jails: the daemon's view when it answered, else the state store read
// without its lock (and without creating the directory: StateStore::open would).
std::vector<RecordedJail> recordedJails(const DaemonFacts& daemon, const Config& config) {
  if (daemon.status) return daemon.status->jails;
  std::vector<RecordedJail> out;
  if (!exists(config.daemon.state_dir + "/state.json")) return out;
  auto store = StateStore::open(config.daemon.state_dir);
  if (!store) return out;
  auto state = store->peek();
  if (!state) return out;
  for (const auto& [name, rec] : state->jails) {
    RecordedJail rj{name, {}};
    for (const auto& ir : rec.interfaces) rj.interfaces.push_back({ir.host_name, ir.jail_name, ir.bridge, ir.addresses});
    out.push_back(std::move(rj));
  }
  return out;
}

// jail.conf as jail(8) and rc.d/jail would read it: the main file with its .includes,
// then <dir>/jail.conf.d/*.conf not already included, each alone (rc.d/jail
// parse_options passes -f /etc/jail.conf.d/NAME.conf for jail NAME when jail.conf does
// not .include that directory).
JailConfFacts readJailConfs(const std::string& path) {
  JailConfFacts jc;
  jc.path = path;
  auto take = [&jc](const std::string& file) {
    auto r = readJailConfFile(file);
    if (!r) {
      jc.errors.push_back({file, r.error().message()});
      return;
    }
    for (auto& s : r->sources) jc.sources.push_back(std::move(s));
    for (auto& j : r->jails) jc.jails.push_back(std::move(j));
  };
  if (exists(path)) {
    jc.exists = true;
    take(path);
  }
  size_t slash = path.rfind('/');
  std::string dir = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/jail.conf.d";
  glob_t g{};
  if (::glob((dir + "/*.conf").c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      std::string file = g.gl_pathv[i];
      if (std::find(jc.sources.begin(), jc.sources.end(), file) == jc.sources.end()) take(file);
    }
  ::globfree(&g);
  return jc;
}

// Issue 19: each running recorded jail's forwards, read as the daemon's reconciler reads
// them (platform::Policy::jailExpose), with the jail's bound ports.
void gatherExposes(const Config& cfg,
                   const std::vector<std::pair<RecordedJail, std::optional<platform::JailInfo>>>& running, Facts& f) {
  std::unique_ptr<platform::Policy> policy;
  for (const auto& [rj, info] : running) {
    auto jc = cfg.jailFor(rj.name);
    if (!jc || !info) continue;
    // The record doctor has is the daemon's (or the state's): its addresses are the jail's.
    JailRecord rec;
    rec.name = rj.name;
    for (size_t k = 0; k < rj.interfaces.size() && k < jc->interfaces.size(); ++k) {
      InterfaceRecord ir;
      ir.index = jc->interfaces[k].index;
      ir.addresses = rj.interfaces[k].addresses;
      rec.interfaces.push_back(std::move(ir));
    }
    auto targets = exposeTargets(cfg, *jc, rec);
    if (targets.empty()) continue;
    if (!policy) policy = platform::openPolicy();
    auto loaded = policy->jailExpose(rj.name, targets);
    auto bound = platform::readJailBoundPorts(*info);
    for (const ExposeTarget& t : targets) {
      ExposeCheckFacts e;
      e.jail = rj.name;
      e.target = t;
      if (loaded) {
        auto it = loaded->active.find(t.name());
        e.active = it != loaded->active.end() && it->second;
        e.hooked = loaded->hooked;
      } else {
        e.rule_error = loaded.error().message();
      }
      if (bound) e.bound = *bound;
      else e.bound_error = bound.error().message();
      f.exposes.push_back(std::move(e));
    }
  }
}

Facts gather(const Context& ctx, const std::string& jail_conf) {
  Facts f;
  f.platform = buildPlatform();
  f.socket_path = ctx.socket_path;
  if (auto h = platform::readHostSupport())
    f.host = std::move(*h);
  else
    f.host_error = h.error().message();

  f.config.path = ctx.config_path;
  if (!ctx.config_path.empty()) {
    // Loaded again rather than taken from ctx: doctor reports every error, and the
    // digest must be of the file as it is now.
    ConfigLoadResult loaded = loadConfigFile(ctx.config_path);
    for (const auto& e : loaded.errors) f.config.errors.push_back(e.toString());
    f.config.config = std::move(loaded.config);
  }
  f.jail_conf = readJailConfs(jail_conf);
  f.daemon = askDaemon(ctx.socket_path);
  if (!f.config.config) return f;
  const Config& cfg = *f.config.config;

  if (cfg.capture.enabled) {
    if (auto limit = platform::readCaptureBufferLimit())
      f.capture_buffer_limit = *limit;
    else
      f.capture_buffer_error = limit.error().message();
  }

  // The firewall matters only on the forwarding path: read it when some bridge needs it.
  const ForwardingNeeds needs = forwardingNeeds(cfg);
  if (needs.ipv4.needed() || needs.ipv6.needed()) {
    if (auto fw = platform::readForwardFirewall())
      f.firewall = std::move(*fw);
    else
      f.firewall_error = fw.error().message();
  }

  auto host = platform::openHostStack();
  std::vector<platform::LinkInfo> links;
  std::unique_ptr<platform::NetStack> hs;
  if (!host) {
    f.host_links_error = host.error().message();
  } else {
    hs = std::move(*host);
    if (auto l = hs->links())
      links = std::move(*l);
    else
      f.host_links_error = l.error().message();
  }

  // Running recorded jails; the rest are the daemon's business (orphans).
  std::vector<RecordedJail> recorded = recordedJails(f.daemon, cfg);
  std::unique_ptr<platform::Jails> jails;
  if (auto j = platform::openJails()) jails = std::move(*j);
  std::vector<std::pair<RecordedJail, std::optional<platform::JailInfo>>> running;
  for (auto& rj : recorded) {
    std::optional<platform::JailInfo> info;
    if (jails)
      if (auto found = jails->find(rj.name); found && *found) info = **found;
    if (info) running.emplace_back(std::move(rj), info);
  }

  for (const auto& [key, bc] : cfg.bridges) {
    BridgeFacts b;
    b.config = bc;
    b.link = findLink(links, bc.interface);
    if (b.link) {
      if (hs)
        if (auto a = hs->addresses(b.link->index))
          for (const auto& x : *a) b.addresses.push_back(x.cidr);
      for (const auto& l : links)
        if (l.master_index == b.link->index) b.members.push_back(l);
    }
    for (const auto& [rj, info] : running)
      for (const auto& ri : rj.interfaces)
        if (ri.bridge == bc.interface) b.expected.push_back({rj.name, ri.host_name, findLink(links, ri.host_name)});
    f.bridges.push_back(std::move(b));

    if (natWanted(bc)) {
      NatCheckFacts n;
      n.egress_exists = findLink(links, bc.nat).has_value();
      for (const std::string& ifname : {bc.interface, bc.nat})
        if (auto flag = platform::readInterfaceForwardingV4(ifname)) f.interface_forwarding_v4[ifname] = *flag;
      if (auto r = platform::readBridgeNat(bc.interface, Cidr{bc.address->network(), bc.address->prefix}, bc.nat))
        n.nat = *r;
      else
        n.error = r.error().message();
      f.nat[key] = n;
    }
    // A capture of a missing bridge fails for the reason bridge:KEY:exists already gives.
    if (cfg.capture.enabled && findLink(links, bc.interface)) {
      auto probe = collectors::probeCapture(bc.interface);
      f.capture[key] = CaptureFacts{probe ? "" : probe.error().message()};
    }
  }

  for (const auto& [rj, info] : running) {
    JailFacts j;
    j.name = rj.name;
    j.interfaces = rj.interfaces;
    // The same rule as the created hook: the first configured interface with a gateway.
    if (auto jc = cfg.jailFor(rj.name))
      for (const auto& ic : jc->interfaces) {
        if (!j.gateway4 && ic.gateway) j.gateway4 = ic.gateway;
        if (!j.gateway6 && ic.gateway6) j.gateway6 = ic.gateway6;
      }
    auto stack = jails->openStack(*info);
    if (!stack) {
      j.error = stack.error().message();
    } else {
      auto l = (*stack)->links();
      auto a = (*stack)->addresses();
      auto r = (*stack)->defaultRoutes();
      if (!l) j.error = l.error().message();
      else if (!a) j.error = a.error().message();
      else if (!r) j.error = r.error().message();
      else {
        j.links = std::move(*l);
        j.addresses = std::move(*a);
        j.default_routes = std::move(*r);
        for (const RecordedInterface& ri : j.interfaces) {
          bool v6 = std::any_of(ri.addresses.begin(), ri.addresses.end(), [](const std::string& text) {
            auto c = Cidr::parse(text);
            return c && c->address.family == IpFamily::V6;
          });
          if (!v6) continue;
          auto on = (*stack)->ipv6Enabled(ri.jail_name);
          if (on && !*on) j.ipv6_off.insert(ri.jail_name);  // a missing interface is the interfaces check's
        }
        if (auto jc = cfg.jailFor(rj.name)) gatherSlaac(*jc, **stack, j);
      }
    }
    f.jails.push_back(std::move(j));
  }
  gatherExposes(cfg, running, f);  // issue 19
  return f;
}

// Issue 19: the IPv6 autoconfiguration of the jail sides configured with "slaac" (matched
// by their host-side names, which the record and the configuration share).
void gatherSlaac(const JailConfig& jc, platform::NetStack& stack, JailFacts& j) {
  for (const InterfaceConfig& ic : jc.interfaces) {
    if (!ic.address6_slaac) continue;
    for (const RecordedInterface& ri : j.interfaces) {
      if (ri.host_name != ic.host_side_name) continue;
      SlaacFacts sf;
      auto on = stack.ipv6Enabled(ri.jail_name);
      auto state = stack.autoconfState(ri.jail_name);
      if (!on) sf.error = on.error().message();
      else if (!state) sf.error = state.error().message();
      else {
        sf.ipv6_on = *on;
        sf.accepts_ra = state->accepts_ra;
        sf.autoconf = state->autoconf;
      }
      j.slaac[ri.jail_name] = sf;
    }
  }
}

}  // namespace

int doctorCommand(const Context& ctx, const std::vector<std::string>& args) {
  bool quiet = false, json = false;
  std::string jail_conf = kDefaultJailConf;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--jail-conf" || a.rfind("--jail-conf=", 0) == 0) {
      if (a == "--jail-conf" && i + 1 == args.size()) {
        std::fprintf(ctx.err, "vnetctl: doctor: --jail-conf needs a file\n%s", kUsage);
        return kExitUsage;
      }
      jail_conf = a == "--jail-conf" ? args[++i] : a.substr(std::strlen("--jail-conf="));
    } else if (a == "-q" || a == "--quiet") {
      quiet = true;
    } else if (a == "--json") {
      json = true;
    } else if (a == "-h" || a == "--help") {
      std::fprintf(ctx.out, kHelp, kDefaultJailConf, build::kDefaultConfigPath);
      return kExitOk;
    } else {
      std::fprintf(ctx.err, "vnetctl: doctor: unknown argument '%s'\n%s", a.c_str(), kUsage);
      return kExitUsage;
    }
  }
  std::vector<Verdict> verdicts = judge(gather(ctx, jail_conf));
  std::string text = json ? renderJson(verdicts) : renderText(verdicts, quiet);
  std::fputs(text.c_str(), ctx.out);
  std::fflush(ctx.out);
  return exitCode(verdicts);
}

}  // namespace vnetd::cli
