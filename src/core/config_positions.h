// The part of each config struct that only the loader needs: where things were written
// (for messages) and whether a key was present at all. The section schema fills it while
// reading; the cross-section rules read it to put each error at the value to change. A
// present but invalid value is already reported and must not also count as "missing".
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/config_errors.h"

namespace vnetd {

struct BridgePositions {
  Pos key;
  Pos interface;
  bool interface_given = false;
  Pos address;
  bool address_given = false;
  Pos address6;
  bool mtu_given = false;
  Pos nat;
  Pos router_advertisements;  // issue 19 (slaac)
  bool address6_given = false;
  std::vector<std::pair<std::string, Pos>> uplinks;  // valid ones, as written
};

struct VlanPositions {
  Pos key;
  Pos tag;
};

struct InterfacePositions {
  std::string who;  // "jail 'web' interface 0"
  Pos table;
  Pos bridge;
  Pos address;
  bool address_given = false;
  Pos address6;
  bool address6_given = false;
  Pos gateway;
  bool gateway_given = false;
  Pos gateway6;
  bool gateway6_given = false;
  Pos mtu;
  Pos mac;
  Pos name;
  bool name_given = false;
  std::vector<Pos> expose;  // issue 19: parallel to InterfaceConfig::expose
};

struct JailPositions {
  bool name_valid = false;
  std::vector<InterfacePositions> interfaces;  // parallel to JailConfig::interfaces
};

// Keyed like the Config maps they describe.
struct ConfigPositions {
  std::map<std::string, BridgePositions> bridges;
  std::map<std::string, VlanPositions> vlans;
  std::map<std::string, JailPositions> jails;
  JailPositions jail_defaults;
};

}  // namespace vnetd
