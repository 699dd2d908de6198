#include "core/config_validate.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "core/config_text.h"

namespace vnetd {
namespace {

using config_text::closest;
using config_text::definedNames;
using config_text::quoted;
using config_text::show;
using config_text::tomlKey;

class Validator {
 public:
  Validator(Config& config, ConfigPositions& positions, ConfigErrors& errors)
      : config_(config), positions_(positions), errors_(errors) {}

  void run() {
    checkBridges();
    checkVlans();
    if (config_.jail_defaults) checkInterfaces(*config_.jail_defaults, positions_.jail_defaults);
    for (auto& [name, jail] : config_.jails) checkInterfaces(jail, positions_.jails[name]);
    checkDuplicateAddresses();
    checkInterfaceNames();
    checkExposes();
  }

 private:
  void error(Pos pos, std::string message, std::string hint = {}) {
    errors_.add(pos, std::move(message), std::move(hint));
  }

  void checkBridges() {
    std::vector<std::pair<const std::string*, Cidr>> v4_subnets, v6_subnets;
    for (const auto& entry : config_.bridges) {
      // Not a structured binding: the lambda below captures the key (clang < 16).
      const std::string& key = entry.first;
      const BridgeConfig& bridge = entry.second;
      const BridgePositions& info = positions_.bridges[key];
      for (const auto& [uplink, pos] : info.uplinks) {
        std::optional<std::string> vlan_key = uplinkVlanKey(uplink);
        if (!vlan_key) continue;
        const std::string& vlan = *vlan_key;
        if (config_.vlans.count(vlan)) continue;
        std::vector<std::string> names;
        for (const auto& [name, v] : config_.vlans) names.push_back(name);
        std::string hint = names.empty() ? "define it in a [vlan." + tomlKey(vlan) + "] table"
                                         : "defined vlans: " + definedNames(names);
        if (auto best = closest(vlan, names)) hint = "did you mean 'vlan:" + show(*best) + "'?";
        error(pos,
              "uplink " + quoted(uplink) + " of bridge " + quoted(key) +
                  " refers to undefined vlan " + quoted(vlan),
              hint);
      }
      if (!bridge.nat.empty() && !bridge.address && !info.address_given) {
        error(info.nat, "nat on bridge " + quoted(key) + " needs an IPv4 address on the bridge",
              "set address in [bridge." + tomlKey(key) + "], e.g. \"198.18.0.1/24\"");
      }
      auto overlaps = [&](const std::optional<Cidr>& subnet, Pos pos, auto& seen) {
        if (!subnet) return;
        for (const auto& [other_key, other] : seen) {
          if (!subnet->overlaps(other)) continue;
          error(pos,
                "subnet " + Cidr{subnet->network(), subnet->prefix}.toString() + " of bridge " +
                    quoted(key) + " overlaps subnet " +
                    Cidr{other.network(), other.prefix}.toString() + " of bridge " +
                    quoted(*other_key),
                "give each bridge its own subnet");
          return;
        }
        seen.emplace_back(&key, *subnet);
      };
      overlaps(bridge.address, info.address, v4_subnets);
      overlaps(bridge.address6, info.address6, v6_subnets);
      checkRouterAdvertisements(key, bridge, info);
    }
  }

  void checkVlans() {
    std::map<std::pair<std::string, uint16_t>, std::string> seen;
    for (const auto& [key, vlan] : config_.vlans) {
      if (vlan.parent.empty() || vlan.tag == 0) continue;
      auto [it, inserted] = seen.emplace(std::pair(vlan.parent, vlan.tag), key);
      if (inserted) continue;
      error(positions_.vlans[key].tag,
            "vlan " + quoted(key) + " has the same parent " + vlan.parent + " and tag " +
                std::to_string(vlan.tag) + " as vlan " + quoted(it->second),
            "a parent can carry each tag once");
    }
  }

  static std::string subnetOf(const Cidr& c) { return Cidr{c.network(), c.prefix}.toString(); }

  // Jail address vs. the bridge's subnet: same subnet, same prefix.
  void checkInBridgeSubnet(const Cidr& address, const Cidr& bridge_subnet, Pos pos,
                           const std::string& who, const std::string& bridge, bool auto_ok) {
    std::string subnet = subnetOf(bridge_subnet);
    std::string label = address.address.family == IpFamily::V4 ? "address " : "address6 ";
    if (!bridge_subnet.contains(address.address)) {
      error(pos,
            label + address.toString() + " of " + who + " is outside bridge " + quoted(bridge) +
                " subnet " + subnet,
            "use an address in " + subnet + (auto_ok ? " or \"auto\"" : ""));
    } else if (address.prefix != bridge_subnet.prefix) {
      error(pos,
            label + address.toString() + " of " + who + " has prefix length /" +
                std::to_string(address.prefix) + " but bridge " + quoted(bridge) + " subnet is " +
                subnet,
            "use " + address.address.toString() + "/" + std::to_string(bridge_subnet.prefix));
    }
  }

  // Gateway vs. the interface's own subnet.
  void checkGateway(const std::optional<IpAddress>& gateway, bool gateway_given, Pos pos,
                    const std::optional<Cidr>& subnet, const std::optional<Cidr>& own,
                    bool address_given, const std::string& key, const std::string& who) {
    if (!gateway) return;
    if (!subnet) {
      // An invalid address is already reported; only a missing one is news.
      if (!address_given && gateway_given) {
        std::string address_key = key == "gateway" ? "address" : "address6";
        error(pos,
              key + " " + gateway->toString() + " of " + who + " needs an " + address_key +
                  " on the same interface",
              "set " + address_key + ", or remove " + key);
      }
      return;
    }
    if (!subnet->contains(*gateway)) {
      error(pos,
            key + " " + gateway->toString() + " of " + who + " is outside its subnet " +
                subnetOf(*subnet),
            "use an address in " + subnetOf(*subnet) + ", or remove " + key +
                " to use the bridge address");
    } else if (own && own->address == *gateway) {
      error(pos, key + " " + gateway->toString() + " of " + who + " is the interface's own address",
            "use the router's address, e.g. the bridge address");
    }
  }

  // [bridge.X] router_advertisements (issue 19): the advertised prefix is the bridge's
  // address6 subnet, and SLAAC forms addresses only from a /64 prefix (RFC 4862 5.5.3 d:
  // prefix length plus the 64-bit interface identifier must be 128; Linux
  // net/ipv6/addrconf.c addrconf_prefix_rcv ignores other lengths for autoconf).
  void checkRouterAdvertisements(const std::string& key, const BridgeConfig& bridge,
                                 const BridgePositions& info) {
    if (!bridge.router_advertisements) return;
    const std::string table = "[bridge." + tomlKey(key) + "]";
    if (!bridge.address6) {
      if (!info.address6_given)  // an invalid one is reported already
        error(info.router_advertisements,
              "router_advertisements on bridge " + quoted(key) + " needs an IPv6 address6 on the bridge",
              "set address6 in " + table + ", e.g. \"2001:db8:180::1/64\"");
      return;
    }
    if (bridge.address6->prefix != 64) {
      error(info.router_advertisements,
            "router_advertisements on bridge " + quoted(key) + " needs a /64 address6, but it is " +
                bridge.address6->toString(),
            "SLAAC forms addresses only in a /64: use " + bridge.address6->address.toString() + "/64");
    }
  }

  // address6 = "slaac" (issue 19): the default route comes from the router
  // advertisements (their source, the router's link-local address), so a static gateway6
  // would be a second, competing default route that RAs cannot withdraw when the router
  // goes: refused rather than silently ignored.
  void checkSlaacInterface(InterfaceConfig& iface, const InterfacePositions& info) {
    if (info.gateway6_given) {
      error(info.gateway6,
            "gateway6 of " + info.who + " cannot be combined with address6 = \"slaac\"",
            "remove gateway6: with SLAAC the default route is learned from router advertisements");
    }
    iface.gateway6.reset();
  }

  void checkInterfaces(JailConfig& jail, JailPositions& jail_info) {
    for (size_t i = 0; i < jail.interfaces.size(); ++i) {
      InterfaceConfig& iface = jail.interfaces[i];
      const InterfacePositions& info = jail_info.interfaces[i];
      if (iface.bridge.empty()) continue;  // missing or mistyped: already reported
      auto it = config_.bridges.find(iface.bridge);
      if (it == config_.bridges.end()) {
        std::vector<std::string> names;
        for (const auto& [name, b] : config_.bridges) names.push_back(name);
        std::string hint = names.empty()
                               ? "define it in a [bridge." + tomlKey(iface.bridge) + "] table"
                               : "defined bridges: " + definedNames(names);
        if (auto best = closest(iface.bridge, names)) hint = "did you mean '" + show(*best) + "'?";
        error(info.bridge, info.who + " refers to undefined bridge " + quoted(iface.bridge), hint);
        continue;
      }
      const BridgeConfig& bridge = it->second;
      const BridgePositions& bridge_info = positions_.bridges[iface.bridge];
      const std::string bridge_table = "[bridge." + tomlKey(iface.bridge) + "]";

      // IPv4.
      if (iface.address_auto && !bridge.address && !bridge_info.address_given) {
        error(info.address,
              "address \"auto\" of " + info.who + " needs an IPv4 address on bridge " +
                  quoted(iface.bridge),
              "set address in " + bridge_table + ", or give a static address");
      }
      if (iface.address && bridge.address)
        checkInBridgeSubnet(*iface.address, *bridge.address, info.address, info.who, iface.bridge,
                            true);
      std::optional<Cidr> subnet = iface.address;
      if (!subnet && iface.address_auto) subnet = bridge.address;
      checkGateway(iface.gateway, info.gateway_given, info.gateway, subnet, iface.address,
                   info.address_given, "gateway", info.who);
      if (!info.gateway_given && subnet && bridge.address) iface.gateway = bridge.address->address;

      // IPv6 (no "auto": SLAAC or static only).
      if (iface.address6_slaac) {
        checkSlaacInterface(iface, info);
      } else if (iface.address6 && bridge.address6)
        checkInBridgeSubnet(*iface.address6, *bridge.address6, info.address6, info.who,
                            iface.bridge, false);
      checkGateway(iface.gateway6, info.gateway6_given, info.gateway6, iface.address6,
                   iface.address6, info.address6_given, "gateway6", info.who);
      if (!info.gateway6_given && iface.address6 && bridge.address6)
        iface.gateway6 = bridge.address6->address;

      // Every member of a bridge runs at the bridge's MTU (FreeBSD forces members to it), so
      // a per-interface value can only restate it or contradict it.
      if (iface.mtu) {
        if (bridge.mtu && *iface.mtu != *bridge.mtu) {
          error(info.mtu,
                "mtu " + std::to_string(*iface.mtu) + " of " + info.who + " differs from bridge " +
                    quoted(iface.bridge) + " mtu " + std::to_string(*bridge.mtu),
                "remove the key: bridge members always use the bridge mtu");
        } else if (!bridge.mtu && !bridge_info.mtu_given) {
          error(info.mtu,
                "mtu " + std::to_string(*iface.mtu) + " of " + info.who + " is set but bridge " +
                    quoted(iface.bridge) + " has no mtu",
                "remove the key and set mtu in " + bridge_table + " instead");
        }
      } else {
        iface.mtu = bridge.mtu;
      }
    }
  }

  void checkDuplicateAddresses() {
    std::map<IpAddress, std::string> owners;
    std::map<MacAddress, std::string> mac_owners;
    for (const auto& [key, bridge] : config_.bridges) {
      // Two bridges with one address also overlap, which is reported already.
      if (bridge.address) owners.emplace(bridge.address->address, "bridge " + quoted(key));
      if (bridge.address6) owners.emplace(bridge.address6->address, "bridge " + quoted(key));
    }
    auto claim = [&](const std::optional<Cidr>& address, Pos pos, const std::string& who,
                     const char* label, const char* hint) {
      if (!address) return;
      auto [it, inserted] = owners.emplace(address->address, who);
      if (!inserted) {
        error(pos,
              std::string(label) + " " + address->toString() + " of " + who +
                  " is already used by " + it->second,
              hint);
      }
    };
    for (const auto& [name, jail] : config_.jails) {
      const JailPositions& jail_info = positions_.jails[name];
      for (size_t i = 0; i < jail.interfaces.size(); ++i) {
        const InterfaceConfig& iface = jail.interfaces[i];
        const InterfacePositions& info = jail_info.interfaces[i];
        claim(iface.address, info.address, info.who, "address",
              "choose another address or \"auto\"");
        claim(iface.address6, info.address6, info.who, "address6", "choose another address");
        if (iface.mac) {
          auto [it, inserted] = mac_owners.emplace(*iface.mac, info.who);
          if (!inserted) {
            error(info.mac,
                  "mac " + iface.mac->toString() + " of " + info.who + " is already used by " +
                      it->second,
                  "choose another MAC, or remove the key to get a derived one");
          }
        }
      }
    }
  }

  // Every kernel interface name vnetd creates or uses on the host must be unique. The
  // jail side is named on the host too (it is created there, then moved), so jail-side
  // names are unique across jails. Generated names are claimed first so that a clash
  // is reported at the value the administrator chose.
  void checkInterfaceNames() {
    std::map<std::string, std::string> owners;
    auto claim = [&](const std::string& name, const std::string& owner, Pos pos,
                     const std::string& hint) {
      if (name.empty()) return;
      auto [it, inserted] = owners.emplace(name, owner);
      if (inserted) return;
      error(
          pos,
          "interface name " + quoted(name) + " for " + owner + " is already used by " + it->second,
          hint);
    };
    auto each_interface = [&](auto&& fn) {
      for (const auto& [name, jail] : config_.jails) {
        const JailPositions& jail_info = positions_.jails[name];
        for (size_t i = 0; i < jail.interfaces.size(); ++i)
          fn(jail.interfaces[i], jail_info.interfaces[i]);
      }
    };
    each_interface([&](const InterfaceConfig& iface, const InterfacePositions& info) {
      claim(iface.host_side_name, "the host side of " + info.who, info.table,
            "rename one of the jails");
    });
    each_interface([&](const InterfaceConfig& iface, const InterfacePositions& info) {
      if (!info.name_given)
        claim(iface.jail_side_name, "the jail side of " + info.who, info.table,
              "rename one of the jails");
    });
    for (const auto& [key, bridge] : config_.bridges) {
      const BridgePositions& info = positions_.bridges[key];
      claim(bridge.interface, "bridge " + quoted(key),
            info.interface_given ? info.interface : info.key,
            "give each bridge its own interface name");
    }
    for (const auto& [key, vlan] : config_.vlans) {
      claim(vlan.name, "vlan " + quoted(key), positions_.vlans[key].key,
            "rename the [vlan." + tomlKey(key) + "] table");
    }
    std::map<std::string, std::string> vlan_users;
    for (const auto& [key, bridge] : config_.bridges) {
      for (const auto& [uplink, pos] : positions_.bridges[key].uplinks) {
        if (std::optional<std::string> vlan = uplinkVlanKey(uplink)) {
          auto [it, inserted] = vlan_users.emplace(*vlan, key);
          if (!inserted && config_.vlans.count(it->first)) {
            error(pos,
                  "vlan " + quoted(it->first) + " is already an uplink of bridge " +
                      quoted(it->second),
                  "an interface can be a member of one bridge only");
          }
          continue;
        }
        std::string hint = "an interface can be a member of one bridge only";
        if (config_.vlans.count(uplink)) hint = "write \"vlan:" + uplink + "\" to use the vlan";
        claim(uplink, "an uplink of bridge " + quoted(key), pos, hint);
      }
    }
    each_interface([&](const InterfaceConfig& iface, const InterfacePositions& info) {
      if (info.name_given)
        claim(iface.jail_side_name, "the jail side of " + info.who, info.name,
              "choose another name");
    });
  }

  // Issue 19: every forward needs an address of its family on its interface (IPv4: static
  // or "auto"; IPv6: a static address6, the forward's target), and no two forwards of any
  // jails may catch the same external (address, protocol, port).
  void checkExposes() {
    struct Claim {
      ExposeRule rule;
      std::string who;
    };
    std::vector<Claim> claims;
    for (auto& [name, jail] : config_.jails) {
      JailPositions& jail_info = positions_.jails[name];
      for (size_t i = 0; i < jail.interfaces.size(); ++i) {
        InterfaceConfig& iface = jail.interfaces[i];
        InterfacePositions& info = jail_info.interfaces[i];
        // A present but unreadable address is reported already: count it as there.
        bool has_v4 = iface.address || iface.address_auto || info.address_given;
        // "slaac" (issue 19) has no address to forward to before the jail autoconfigures.
        bool has_v6 = iface.address6 || (info.address6_given && !iface.address6_slaac);
        std::vector<ExposeRule> kept;
        std::vector<Pos> kept_pos;
        for (size_t k = 0; k < iface.expose.size(); ++k) {
          ExposeRule rule = iface.expose[k];
          Pos pos = info.expose[k];
          std::string what = "expose " + quoted(exposeString(rule)) + " of " + info.who;
          if (rule.address) {
            bool v6 = rule.address->family == IpFamily::V6;
            if (v6 ? !has_v6 : !has_v4) {
              error(pos, what + " needs an " + (v6 ? "IPv6 address6" : "IPv4 address") + " on the interface",
                    v6 ? "set a static address6 on the interface to forward to"
                       : "set address (static or \"auto\") on the interface to forward to");
              continue;
            }
            rule.v4 = !v6;
            rule.v6 = v6;
          } else {
            if (!has_v4 && !has_v6) {
              error(pos, what + " needs an address on the interface to forward to",
                    "set address (static or \"auto\") or a static address6 on the interface");
              continue;
            }
            rule.v4 = has_v4;
            rule.v6 = has_v6;
          }
          auto clash = std::find_if(claims.begin(), claims.end(),
                                    [&](const Claim& c) { return exposeOverlaps(rule, c.rule); });
          if (clash != claims.end()) {
            error(pos, what + " overlaps expose " + quoted(exposeString(clash->rule)) + " of " + clash->who,
                  "give each forward its own external port or address");
            continue;
          }
          claims.push_back({rule, info.who});
          kept.push_back(rule);
          kept_pos.push_back(pos);
        }
        iface.expose = std::move(kept);
        info.expose = std::move(kept_pos);
      }
    }
  }

  Config& config_;
  ConfigPositions& positions_;
  ConfigErrors& errors_;
};

}  // namespace

void validateConfig(Config& config, ConfigPositions& positions, ConfigErrors& errors) {
  Validator(config, positions, errors).run();
}

}  // namespace vnetd
