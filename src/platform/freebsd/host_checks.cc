#include "platform/freebsd/host_checks.h"

#include <sys/param.h>
#include <sys/types.h>
#include <sys/linker.h>
#include <sys/module.h>
#include <sys/sysctl.h>
#include <unistd.h>

#include <cstring>

namespace vnetd::platform::fbsd {

Result<std::optional<int64_t>> readIntSysctl(const char* name) {
  // Integer sysctls come as int, long, or (SYSCTL_BOOL / u8) a single byte.
  alignas(int64_t) unsigned char buf[8] = {};
  size_t len = sizeof buf;
  if (::sysctlbyname(name, buf, &len, nullptr, 0) != 0) {
    if (errno == ENOENT) return std::optional<int64_t>();
    return errnoError(std::string("read sysctl ") + name);
  }
  switch (len) {
    case 1: return std::optional<int64_t>(buf[0]);
    case 2: {
      int16_t v;
      std::memcpy(&v, buf, 2);
      return std::optional<int64_t>(v);
    }
    case 4: {
      int32_t v;
      std::memcpy(&v, buf, 4);
      return std::optional<int64_t>(v);
    }
    case 8: {
      int64_t v;
      std::memcpy(&v, buf, 8);
      return std::optional<int64_t>(v);
    }
    default:
      return Error{EINVAL, std::string("read sysctl ") + name + ": not an integer (" +
                               std::to_string(len) + " bytes)"};
  }
}

Result<bool> moduleLoaded(const std::string& name) {
  // modfind() also finds modules compiled into the kernel, which kldstat would not list.
  if (::modfind(name.c_str()) >= 0) return true;
  if (errno == ENOENT) return false;
  return errnoError("look up kernel module " + name);
}

Result<void> loadKernelModule(const std::string& file) {
  auto present = moduleLoaded(file);
  if (!present) return present.error();
  if (*present) return success();
  if (::kldload(file.c_str()) >= 0) return success();
  if (errno == EEXIST) return success();  // loaded meanwhile, or compiled in under another name
  if (errno == ENOENT)
    return errnoError("load kernel module " + file + " (no " + file + ".ko in the module path)");
  if (errno == EPERM)
    return errnoError("load kernel module " + file +
                      " (needs root, outside a jail, and kern.securelevel < 1)");
  return errnoError("load kernel module " + file);
}

Result<HostFacts> readHostFacts() {
  HostFacts f;
  // feature_present() reads kern.features.<name>, which exists only on VIMAGE kernels.
  f.vimage = ::feature_present("vimage") == 1;
  struct {
    const char* module;
    bool* out;
  } modules[] = {
      {"if_epair", &f.epair_loaded}, {"if_bridge", &f.bridge_loaded}, {"pf", &f.pf_loaded}};
  for (auto& m : modules) {
    auto loaded = moduleLoaded(m.module);
    if (!loaded) return loaded.error();
    *m.out = *loaded;
  }
  struct {
    const char* name;
    std::optional<int64_t>* out;
  } sysctls[] = {
      {"net.inet.ip.forwarding", &f.ip_forwarding},
      {"net.inet6.ip6.forwarding", &f.ip6_forwarding},
      {"net.link.bridge.pfil_member", &f.bridge_pfil_member},
      {"net.link.bridge.pfil_bridge", &f.bridge_pfil_bridge},
      {"net.link.bridge.pfil_onlyip", &f.bridge_pfil_onlyip},
      {"net.link.bridge.member_ifaddrs", &f.bridge_member_ifaddrs},
      {"kern.racct.enable", &f.racct_enable},
  };
  for (auto& s : sysctls) {
    auto v = readIntSysctl(s.name);
    if (!v) return v.error();
    *s.out = *v;
  }
  return f;
}

}  // namespace vnetd::platform::fbsd
