// What writing Linux's forwarding switch (net.ipv4.ip_forward = conf/all/forwarding,
// net.ipv6.conf.all.forwarding) does to other settings of the same network namespace, as
// pure functions over keys, so that vnetd can snapshot them before its switch-on and put
// them back after its switch-off (src/daemon/forwarding.h). Keys are paths below
// /proc/sys/net/ipv4/ or /proc/sys/net/ipv6/ ("conf/eth0/forwarding").
//
// IPv4, net/ipv4/devinet.c inet_forward_change() (run by devinet_sysctl_forward() when
// conf/all/forwarding or ip_forward is written and changes): conf/all/accept_redirects
// becomes !on, conf/default/forwarding becomes on, and every interface's
// conf/<if>/forwarding becomes on (IN_DEV_CONF_SET). conf/default/accept_redirects is
// not touched. (It also disables LRO on every device when switching on,
// dev_disable_lro(): a device feature, not a sysctl; not undone.)
//
// IPv6, net/ipv6/addrconf.c addrconf_fixup_forwarding() when conf/all/forwarding is
// written: conf/default/forwarding becomes the new value, and addrconf_forward_change()
// sets every interface's conf/<if>/forwarding to it; switching off also sets
// conf/all/force_forwarding and every conf/<if>/force_forwarding to 0 (kernels with
// force_forwarding, 6.17+). accept_ra is not written (its effect changes: see
// docs/configuration.md). Switching on also drops learned default routers
// (rt6_purge_dflt_routers()): not a setting, not undone.
//
// Checked on this machine's kernel in a private network namespace (6.18): exactly these
// entries change, both ways.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/ip.h"

namespace vnetd::platform::linux_forwarding {

// The leaves of conf/<name>/ that the switch of `family` changes for `name` ("all",
// "default" or an interface), in the order they are read and restored.
std::vector<std::string> sideEffectLeaves(IpFamily family, std::string_view name);

// Whether `name` can be a directory of /proc/sys/net/<family>/conf/ ("all", "default", or
// an interface name by the kernel's rule).
bool isConfName(std::string_view name);

// Whether `key` is one of the entries above for some valid name: a key from a marker
// file is written to /proc/sys only if it is (never a path of someone's choosing).
bool isSideEffectKey(IpFamily family, std::string_view key);

// What switching `family` on makes of the entry `key` whose value was `before`.
int valueAfterSwitchOn(IpFamily family, std::string_view key, int before);

}  // namespace vnetd::platform::linux_forwarding
