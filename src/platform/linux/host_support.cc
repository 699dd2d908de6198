// Linux facts for `vnetctl doctor` (platform/host.h): read-only, from /sys, /proc,
// /lib/modules and the kernel configuration — never by loading a module or creating a
// test interface.
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

#include <memory>
#include <tuple>

#include "core/file_util.h"
#include "platform/host.h"
#include "platform/linux/kernel_facts.h"
#include "platform/linux/nft_nat.h"
#include "platform/netif.h"

namespace vnetd::platform {
namespace {

constexpr size_t kMaxListBytes = size_t{16} << 20;  // modules.dep of a distribution kernel is ~1 MiB

bool isDirectory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string readOrEmpty(const std::string& path) {
  auto text = readSmallFile(path, kMaxListBytes);
  return text ? std::move(*text) : std::string();
}

// The running kernel's configuration text and where it came from; "" when neither
// /proc/config.gz (CONFIG_IKCONFIG_PROC) nor /boot/config-<release> is there.
std::pair<std::string, std::string> kernelConfig(const std::string& release) {
  struct GzCloser {
    void operator()(gzFile f) const { gzclose(f); }
  };
  std::unique_ptr<gzFile_s, GzCloser> gz(gzopen("/proc/config.gz", "rb"));
  if (gz) {
    std::string text;
    char buf[16384];
    int n;
    while ((n = gzread(gz.get(), buf, sizeof buf)) > 0 && text.size() < kMaxListBytes)
      text.append(buf, static_cast<size_t>(n));
    if (n == 0 && !text.empty()) return {std::move(text), "/proc/config.gz"};
  }
  std::string boot = "/boot/config-" + release;
  return {readOrEmpty(boot), boot};
}

struct KernelSources {
  std::string release;
  std::string proc_modules;
  std::string builtin, builtin_path;
  std::string dep, dep_path;
  std::string config, config_path;
};

// Loaded, built in, or loadable on demand (the kernel loads rtnl-link-<kind> modules at
// the first RTM_NEWLINK of that kind, so a present module file is enough).
KernelFeature moduleFeature(const KernelSources& k, const std::string& module, const std::string& symbol,
                            const std::string& feature) {
  KernelFeature f{feature, Support::Unknown, ""};
  auto yes = [&](std::string why) {
    f.support = Support::Yes;
    f.evidence = std::move(why);
    return f;
  };
  if (isDirectory("/sys/module/" + module)) return yes("loaded (/sys/module/" + module + ")");
  if (linux_facts::procModulesListed(k.proc_modules, module)) return yes("loaded (/proc/modules)");
  if (linux_facts::moduleFileListed(k.builtin, module)) return yes("built in (" + k.builtin_path + ")");
  auto opt = linux_facts::kernelConfigOption(k.config, symbol);
  if (opt == 'y') return yes("built in (" + symbol + "=y in " + k.config_path + ")");
  if (opt == 'm') return yes("module, loaded on first use (" + symbol + "=m in " + k.config_path + ")");
  if (linux_facts::moduleFileListed(k.dep, module)) return yes("module, loaded on first use (" + k.dep_path + ")");
  if (opt == 'n') {
    f.support = Support::No;
    f.evidence = symbol + " is not set in " + k.config_path;
    return f;
  }
  f.evidence = "cannot tell: not loaded, and no modules.builtin, modules.dep or kernel config lists it";
  return f;
}

}  // namespace

Result<HostSupport> readHostSupport() {
  KernelSources k;
  struct utsname u {};
  if (::uname(&u) == 0) k.release = u.release;
  k.proc_modules = readOrEmpty("/proc/modules");
  std::string moddir = "/lib/modules/" + k.release;
  k.builtin_path = moddir + "/modules.builtin";
  k.builtin = readOrEmpty(k.builtin_path);
  k.dep_path = moddir + "/modules.dep";
  k.dep = readOrEmpty(k.dep_path);
  std::tie(k.config, k.config_path) = kernelConfig(k.release);

  HostSupport out;
  out.features.push_back(moduleFeature(k, "veth", "CONFIG_VETH", "veth"));
  out.features.push_back(moduleFeature(k, "bridge", "CONFIG_BRIDGE", "bridge"));
  // Interfaces of a kind in use prove the kind is available, whatever the files say
  // (e.g. a kernel without module support or an exported config).
  bool need_links = false;
  for (const auto& f : out.features) need_links |= f.support == Support::Unknown;
  if (need_links) {
    if (auto host = openHostStack()) {
      if (auto links = (*host)->links()) {
        for (auto& f : out.features) {
          if (f.support != Support::Unknown) continue;
          LinkKind kind = f.name == "veth" ? LinkKind::Pair : LinkKind::Bridge;
          for (const auto& l : *links)
            if (l.kind == kind) {
              f.support = Support::Yes;
              f.evidence = "in use (" + l.name + " is one)";
              break;
            }
        }
      }
    }
  }
  out.features.push_back(moduleFeature(k, "nf_tables", "CONFIG_NF_TABLES", "nf_tables"));
  KernelFeature netns{"netns", Support::No, "/proc/self/ns/net is missing (kernel without CONFIG_NET_NS)"};
  struct stat st {};
  if (::stat("/proc/self/ns/net", &st) == 0) netns = {"netns", Support::Yes, "network namespaces (/proc/self/ns/net)"};
  out.features.push_back(netns);
  // `ip netns add` creates /run/netns with the first namespace; jails are found there.
  out.features.push_back(isDirectory("/run/netns")
                             ? KernelFeature{"netns_dir", Support::Yes, "/run/netns exists"}
                             : KernelFeature{"netns_dir", Support::No, "/run/netns does not exist (no jail yet)"});

  out.ipv4_forwarding = linux_facts::parseSysctlFlag(readOrEmpty("/proc/sys/net/ipv4/ip_forward"));
  out.ipv6_forwarding = linux_facts::parseSysctlFlag(readOrEmpty("/proc/sys/net/ipv6/conf/all/forwarding"));
  return out;
}

Result<NatFacts> readBridgeNat(const std::string& bridge, const Cidr& subnet, const std::string& egress) {
  // What Policy::applyBridgeNat loads: the rules named "vnetd:bridge:<bridge>" in the
  // postrouting chain of vnetd's table "ip vnetd" (platform/linux/nft_text.h), read back
  // through libnftables the way the daemon's reconciler reads them. Only as root:
  // libnftables 1.0.6 writes its own "(you must be root)" line to stderr on EPERM
  // (src/libnftables.c nft_run_cmd_from_buffer), which doctor's one-line output cannot catch.
  if (::geteuid() != 0) return plainError("reading nftables table ip vnetd needs root");
  auto loaded = lnx::nftNatOf(bridge);
  if (!loaded) return loaded.error();
  const BridgeNat want{egress, {Cidr{subnet.network(), subnet.prefix}}, true};
  if (*loaded && **loaded == want)
    return NatFacts{NatState::Present, NatMissing::None,
                    "nftables table ip vnetd masquerades " + want.subnets.front().toString() + " out of " + egress};
  return NatFacts{NatState::Absent, NatMissing::Rules,
                  std::string(*loaded ? "the NAT rules for bridge " + bridge + " in nftables table ip vnetd differ from the "
                                                                                  "configuration"
                                      : "no NAT rule for bridge " + bridge + " in nftables table ip vnetd") +
                      " (a running vnetd loads it again within reconcile_interval_seconds; start it)"};
}

}  // namespace vnetd::platform
