// Fuzzes the thin vnetd-hook's control_socket scanner (core/control_socket_scan.h) against
// the configuration loader: never a crash, and whenever the scanner answers (Found or
// Absent) for a file the loader accepts, the loader's [daemon] control_socket is that
// answer (Absent: the compiled-in default).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/control_socket_scan.h"
#include "vnetd/build_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vnetd;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto scan = scanControlSocket(text);
  if (scan.answer == ControlSocketScan::Answer::Unsure) return 0;
  if (scan.answer == ControlSocketScan::Answer::Found && (scan.path.empty() || scan.path[0] != '/')) std::abort();
  auto loaded = parseConfig(text, "fuzz.toml");
  if (!loaded.ok()) return 0;
  const std::string expected =
      scan.answer == ControlSocketScan::Answer::Found ? scan.path : std::string(build::kDefaultControlSocket);
  if (loaded.config->daemon.control_socket != expected) std::abort();
  return 0;
}
