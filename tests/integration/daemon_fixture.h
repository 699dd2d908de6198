// Shared fixture of the daemon integration tests: a temp directory with a config whose
// control socket, pid file and state live there, a TestNet for namespaces and links, the
// product's own backend for checks, and a DaemonProcess.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/state_store.h"
#include "platform/host.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "tests/support/daemon_process.h"
#include "tests/support/testnet.h"

namespace vnetd {

using Json = nlohmann::json;

class DaemonFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::isRoot()) << "integration tests create namespaces and need root";
    auto h = platform::openHostStack();
    ASSERT_TRUE(h) << h.error().message();
    host_ = std::move(*h);
    auto j = platform::openJails();
    ASSERT_TRUE(j) << j.error().message();
    jails_ = std::move(*j);
  }

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
                                 "\nreconcile_interval_seconds = " + std::to_string(interval) + "\n\n" + body);
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

  std::optional<platform::LinkInfo> hostLink(const std::string& name) {
    auto l = host_->link(name);
    EXPECT_TRUE(l) << l.error().message();
    return l ? *l : std::nullopt;
  }

  State loadState() {
    auto store = StateStore::open(dir_.file("state"));
    EXPECT_TRUE(store);
    auto lock = store->lock();
    EXPECT_TRUE(lock);
    auto s = store->load(*lock);
    EXPECT_TRUE(s) << s.error().message();
    return s ? *s : State{};
  }

  testing::TestNet net_;
  testing::TempDir dir_;
  std::unique_ptr<platform::NetStack> host_;
  std::unique_ptr<platform::Jails> jails_;
  std::unique_ptr<testing::DaemonProcess> daemon_;
};

}  // namespace vnetd
