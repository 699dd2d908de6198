// doctor's readers of the Linux kernel's self-descriptions, on text laid out as the
// kernel and kmod write it.
#include "platform/linux/kernel_facts.h"

#include <gtest/gtest.h>

namespace vnetd::platform::linux_facts {
namespace {

TEST(KernelFacts, ConfigOption) {
  const char* config =
      "#\n# Automatically generated file; DO NOT EDIT.\nCONFIG_VETH=y\nCONFIG_BRIDGE=m\n"
      "# CONFIG_NF_TABLES is not set\nCONFIG_VETH_EXTRA=y\nCONFIG_NET_NS=\"x\"\n";
  EXPECT_EQ(kernelConfigOption(config, "CONFIG_VETH"), 'y');
  EXPECT_EQ(kernelConfigOption(config, "CONFIG_BRIDGE"), 'm');
  EXPECT_EQ(kernelConfigOption(config, "CONFIG_NF_TABLES"), 'n');
  EXPECT_EQ(kernelConfigOption(config, "CONFIG_NET_NS"), std::nullopt) << "not a tristate value";
  EXPECT_EQ(kernelConfigOption(config, "CONFIG_VET"), std::nullopt) << "a prefix is not the symbol";
  EXPECT_EQ(kernelConfigOption("", "CONFIG_VETH"), std::nullopt);
}

TEST(KernelFacts, ProcModules) {
  const char* mods = "nf_tables 319488 0 - Live 0x0000000000000000\nbr_netfilter 32768 0 - Live 0x0\n";
  EXPECT_TRUE(procModulesListed(mods, "nf_tables"));
  EXPECT_TRUE(procModulesListed(mods, "nf-tables")) << "'-' and '_' are the same in module names";
  EXPECT_TRUE(procModulesListed(mods, "br_netfilter"));
  EXPECT_FALSE(procModulesListed(mods, "br"));
  EXPECT_FALSE(procModulesListed(mods, "veth"));
}

TEST(KernelFacts, ModuleFiles) {
  const char* dep =
      "kernel/drivers/net/veth.ko.xz:\nkernel/net/bridge/bridge.ko.zst: kernel/net/802/stp.ko.zst\n"
      "kernel/net/netfilter/nf_tables.ko\n";
  EXPECT_TRUE(moduleFileListed(dep, "veth"));
  EXPECT_TRUE(moduleFileListed(dep, "bridge"));
  EXPECT_TRUE(moduleFileListed(dep, "nf_tables"));
  EXPECT_FALSE(moduleFileListed(dep, "stp")) << "a dependency after ':' is not a listed module";
  EXPECT_FALSE(moduleFileListed("kernel/drivers/net/veth.kofoo\n", "veth"));
  EXPECT_FALSE(moduleFileListed(dep, ""));
}

TEST(KernelFacts, SysctlFlag) {
  EXPECT_EQ(parseSysctlFlag("1\n"), true);
  EXPECT_EQ(parseSysctlFlag("0\n"), false);
  EXPECT_EQ(parseSysctlFlag("2"), true);
  EXPECT_EQ(parseSysctlFlag(""), std::nullopt);
  EXPECT_EQ(parseSysctlFlag("yes"), std::nullopt);
  EXPECT_EQ(parseSysctlFlag("1 1"), std::nullopt);
}

}  // namespace
}  // namespace vnetd::platform::linux_facts
