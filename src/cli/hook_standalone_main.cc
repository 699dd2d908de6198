// vnetd-hook-standalone — the full implementation of vnetd-hook (the jail.conf exec.prestart /
// created / poststart / prestop / poststop helper): loads the configuration, hands the work
// to the daemon when it runs, else does it itself. The thin vnetd-hook (hook_main.cc)
// executes it, with its own arguments, whenever it cannot finish the invocation with one
// request to the daemon; see hook_cli.h for the manual page they share.
#include <getopt.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/control_client.h"
#include "core/control_protocol.h"
#include "core/hook_call.h"
#include "cli/hook_cli.h"
#include "core/jail_network.h"
#include "core/log.h"
#include "core/naming.h"
#include "core/state_store.h"
#include "platform/host.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "platform/policy.h"
#include "vnetd/build_config.h"

namespace {

// Standalone mode: the same JailNetwork the daemon uses, in this process. `fallback` is
// the warning of a hook that meant to use the daemon and could not reach it: printed once
// the work is done, or folded into the failure line — a failing hook prints one line.
int runStandalone(const vnetd::Config& config, vnetd::HookPhase phase, const std::string& jail,
                  const std::string& fallback = {}) {
  using namespace vnetd;
  auto fail = [&](const Error& e) {
    std::fprintf(stderr, "vnetd-hook: %s %s: %s%s\n", hookPhaseName(phase), jail.c_str(), e.message().c_str(),
                 fallback.empty() ? "" : (" (done without the daemon: " + fallback + ")").c_str());
    return 1;
  };
  std::string host_id = config.daemon.host_id;
  if (host_id.empty()) {
    auto id = platform::readHostId();
    if (!id) return fail(id.error());
    host_id = *id;
  }
  auto store = StateStore::open(config.daemon.state_dir);
  if (!store) return fail(store.error());
  auto host = platform::openHostStack();
  if (!host) return fail(host.error());
  auto jails = platform::openJails();
  if (!jails) return fail(jails.error());

  auto policy = platform::openPolicy();
  JailNetwork network(config, *store, **host, **jails, *policy, host_id);
  auto outcome = network.run(phase, jail);
  if (!outcome) return fail(outcome.error());
  if (!fallback.empty()) std::fprintf(stderr, "vnetd-hook: warning: %s\n", fallback.c_str());
  if (phase == HookPhase::Prestart)
    for (const auto& name : outcome->jail_side_names) std::printf("%s\n", name.c_str());
  return 0;
}

// Daemon mode. Returns the exit status, or nullopt when the daemon could not answer and
// the caller must fall back (`fallback` then says why, for runStandalone to print).
// A give-up (sent, no answer) returns its status directly: it is not a failure for the
// caller's warn-only conversion, which would print a second line.
std::optional<int> runThroughDaemon(const std::string& socket, vnetd::HookPhase phase, const std::string& jail,
                                    std::chrono::milliseconds timeout, bool after_lost, bool& gave_up,
                                    std::string& fallback) {
  using namespace vnetd;
  auto call = callDaemonForHook(socket, phase, jail, timeout, after_lost);
  const HookCallVerdict& verdict = call.verdict;
  switch (verdict.action) {
    case HookCallVerdict::Action::Standalone:
      fallback = verdict.message.rfind("warning: ", 0) == 0 ? verdict.message.substr(9) : verdict.message;
      return std::nullopt;
    case HookCallVerdict::Action::GiveUp:
      std::fprintf(stderr, "vnetd-hook: %s\n", verdict.message.c_str());
      gave_up = true;
      return verdict.exit_status;
    case HookCallVerdict::Action::Retry:  // never returned
    case HookCallVerdict::Action::UseReply: break;
  }
  auto outcome = control::decodeHookReply(call.reply);
  if (!outcome) {
    std::fprintf(stderr, "vnetd-hook: %s %s: %s\n", hookPhaseName(phase), jail.c_str(),
                 outcome.error().message().c_str());
    return 1;
  }
  if (phase == HookPhase::Prestart)
    for (const auto& name : outcome->jail_side_names) std::printf("%s\n", name.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace vnetd;
  log::init(log::Sink::Stderr, log::Level::Warning, "vnetd-hook");
  int exit_status = 0;
  auto args = hook_cli::parseHookArgs(argc, argv, &exit_status);
  if (!args) return exit_status;
  const std::string config_path = args->config_path.value_or(build::kDefaultConfigPath);
  const std::optional<std::string>& socket = args->socket;
  const bool standalone = args->standalone;
  const std::chrono::milliseconds timeout = args->timeout;
  const HookPhase phase = args->phase;
  const std::string& jail = args->jail;
  auto fail = [&](int status) { return hook_cli::warnOnly(phase, jail.c_str(), status); };

  ConfigLoadResult loaded = loadConfigFile(config_path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::fprintf(stderr, "vnetd-hook: %s\n", e.toString().c_str());
    return fail(1);
  }
  const Config& config = *loaded.config;
  log::setLevel(config.daemon.log_level < log::Level::Warning ? config.daemon.log_level
                                                              : log::Level::Warning);
  if (!standalone) {
    // The thin hook lost the daemon before it executed us: our fallback says so.
    const char* lost = std::getenv(hook_cli::kAfterLostEnv);
    const bool after_lost = lost && std::string_view(lost) == "1";
    // stdout must carry exactly what the daemon path printed (nothing, on fallback).
    bool gave_up = false;
    std::string fallback;
    if (auto status = runThroughDaemon(socket.value_or(config.daemon.control_socket), phase, jail, timeout,
                                       after_lost, gave_up, fallback))
      return gave_up ? *status : fail(*status);
    return fail(runStandalone(config, phase, jail, fallback));
  }
  return fail(runStandalone(config, phase, jail));
}
