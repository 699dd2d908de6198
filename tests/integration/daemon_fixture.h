// Shared fixture of the daemon integration tests: on top of BackendFixture, a config whose
// control socket, pid file and state live in the temp directory, and a DaemonProcess.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/state_store.h"
#include "platform/host.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "tests/integration/backend_fixture.h"
#include "tests/support/daemon_process.h"
#include "tests/support/testnet.h"

namespace vnetd {

using Json = nlohmann::json;

class DaemonFixture : public BackendFixture {
 protected:
  void TearDown() override {
    if (daemon_ && daemon_->running()) {
      int status = daemon_->stop(SIGTERM);
      EXPECT_EQ(status, 0) << "vnetd did not stop cleanly; its log:\n" << daemon_->log();
    }
    if (HasFailure() && daemon_) std::fprintf(stderr, "---- vnetd log ----\n%s\n", daemon_->log().c_str());
  }

  std::string configPath() const { return dir_.file("vnetd.toml"); }
  std::string socketPath() const { return dir_.file("vnetd.sock"); }

  // [daemon] pointing into the temp dir, then `body` ([bridge.X], [jail...] tables).
  void writeConfig(const std::string& body, int grace = 60, int interval = 10) {
    dir_.write("vnetd.toml", "[daemon]\nstate_dir = \"" + dir_.file("state") + "\"\ncontrol_socket = \"" +
                                 socketPath() + "\"\npidfile = \"" + dir_.file("vnetd.pid") +
                                 "\"\nlog_level = \"info\"\nhost_id = \"" + hostId() + "\"\norphan_grace_seconds = " + std::to_string(grace) +
                                 "\nreconcile_interval_seconds = " + std::to_string(interval) + "\n\n" +
                                 // Tests run in parallel: never the fixed default metrics port.
                                 (body.find("[metrics]") == std::string::npos ? "[metrics]\nlisten = \"127.0.0.1:0\"\n\n"
                                                                              : "") +
                                 body);
  }

  // Each test is its own "host": other tests' pairs (ctest runs tests in parallel) never
  // carry this daemon's MACs, so its reconciler never mistakes them for its own.
  std::string hostId() const { return "vnetd-test-" + testing::runPrefix() + "-" + dir_.path(); }

  // A bridge table plus [jail_defaults] with one auto-addressed interface on it.
  std::string bridgeWithDefaults(const std::string& bridge, const std::string& gateway_cidr) {
    return "[bridge.lan]\ninterface = \"" + bridge + "\"\naddress = \"" + gateway_cidr +
           "\"\n\n[jail_defaults]\n[[jail_defaults.interface]]\nbridge = \"lan\"\naddress = \"auto\"\n";
  }

  void startDaemon() {
    daemon_ = std::make_unique<testing::DaemonProcess>(VNETD_DAEMON_BINARY, configPath(), socketPath());
    std::string why;
    ASSERT_TRUE(daemon_->start(&why)) << why;
  }

  testing::CommandResult hook(const std::string& phase, const std::string& jail) {
    return testing::run({VNETD_HOOK_BINARY, "--config", configPath(), phase, jail});
  }

  // A configured jail, running: its namespace (the Linux jail), then prestart and created.
  void startJail(const std::string& jail) {
    net_.addNamespace(jail);
    for (const char* phase : {"prestart", "created"}) {
      auto r = hook(phase, jail);
      ASSERT_EQ(r.status, 0) << phase << " " << jail << ": " << r.err;
    }
  }

  // A successful reply to `request` as JSON (test fails otherwise).
  Json call(const std::string& request) {
    std::string line = daemon_->request(request);
    Json doc = Json::parse(line, nullptr, false);
    EXPECT_TRUE(doc.is_object() && doc.value("ok", false)) << request << " -> " << line;
    return doc.is_object() ? doc : Json::object();
  }
  Json status() { return call(R"({"v":1,"op":"status"})"); }

  static const Json* findJail(const Json& status, const std::string& name) {
    for (const auto& j : status["jails"])
      if (j["name"] == name) return &j;
    return nullptr;
  }

  std::unique_ptr<testing::DaemonProcess> daemon_;
};

}  // namespace vnetd
