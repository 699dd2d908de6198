// Fuzzes vnetctl's one decoder of the daemon's status reply (status, top and doctor) and
// everything drawn from it: any line, no crash or exception; whatever decodes names only
// jails and interfaces vnetd would accept (doctor prints them in fix commands), renders a
// table without control characters (names reach a terminal), a JSON document that
// parses back, a top screen that fits 80x24, and doctor's facts with the same names.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "cli/vnetctl/doctor_checks.h"
#include "cli/vnetctl/status_view.h"
#include "cli/vnetctl/top_view.h"
#include "core/naming.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd::cli;
  std::string_view line(reinterpret_cast<const char*>(data), size);
  auto s = decodeStatusReply(line);
  if (!s) {
    if (s.error().message().find('\n') != std::string::npos) __builtin_trap();
    return 0;
  }
  for (const auto& j : s->jails) {
    if (!vnetd::isValidJailName(j.name)) __builtin_trap();
    for (const auto& i : j.interfaces)
      if (!vnetd::isValidInterfaceName(i.host_name) || !vnetd::isValidInterfaceName(i.jail_name) ||
          (!i.bridge.empty() && !vnetd::isValidInterfaceName(i.bridge)))
        __builtin_trap();
  }
  for (const auto& b : s->bridges)
    if (!vnetd::isValidInterfaceName(b.interface)) __builtin_trap();
  auto facts = doctor::daemonStatusFrom(*s);
  if (facts.jails.size() != s->jails.size()) __builtin_trap();
  for (size_t k = 0; k < facts.jails.size(); ++k) {
    if (facts.jails[k].name != s->jails[k].name) __builtin_trap();
    if (facts.jails[k].interfaces.size() != s->jails[k].interfaces.size()) __builtin_trap();
  }

  for (char c : renderStatusTable(*s))
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f) __builtin_trap();
  auto doc = nlohmann::json::parse(renderStatusJson(*s), nullptr, false);
  if (!doc.is_object() || doc["version"] != 1) __builtin_trap();

  TopSample first = topSample(*s, 1.0), second = topSample(*s, 2.0);
  auto rows = topRows(&first, second);
  for (const auto& r : rows)
    for (auto v : {r.rx_bps, r.tx_bps, r.rx_pps, r.tx_pps, r.drops_ps})
      if (v && !(*v >= 0)) __builtin_trap();
  for (const auto& l : layoutTop(rows, TopHeader{"00:00:00", 2, "q quits"}, 80, 24))
    if (l.size() > 80) __builtin_trap();
  if (layoutTop(rows, TopHeader{}, 80, 24).size() > 24) __builtin_trap();
  return 0;
}
