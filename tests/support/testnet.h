// Test-network helpers for integration tests: real namespaces, bridges and veths with a
// per-run unique prefix, addresses in 198.18.0.0/15 only, and clean-up even when a test
// fails (RAII + a final sweep of everything carrying the prefix).
//
// Test code (not product code) may run ip(8)/ping(8): it plays the administrator.
#pragma once

#include <string>
#include <vector>

namespace vnetd::testing {

struct CommandResult {
  int status = -1;       // exit status, or 128+signal
  std::string out;       // stdout
  std::string err;       // stderr
};

// Runs argv (no shell), optionally feeding `input`, with a hard timeout in seconds.
CommandResult run(const std::vector<std::string>& argv, int timeout_seconds = 60);

// A short unique prefix for this process ("vt" + 4 hex chars), safe inside 15-char names.
const std::string& runPrefix();

// A temporary directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& content) const;

 private:
  std::string path_;
};

// Owns the test's network objects: every namespace and link it creates, plus a sweep of
// anything named with the run prefix at destruction (hooks create links too).
class TestNet {
 public:
  TestNet();
  ~TestNet();
  TestNet(const TestNet&) = delete;
  TestNet& operator=(const TestNet&) = delete;

  // A jail name unique to this run: "<prefix><n>_<label>" (label kept short by callers).
  std::string jailName(const std::string& label);
  std::string bridgeName(const std::string& label);
  void addNamespace(const std::string& name);   // ip netns add
  void deleteNamespace(const std::string& name);
  // Names of links in the host namespace, optionally only those starting with `prefix`.
  static std::vector<std::string> hostLinks(const std::string& prefix = "");
  // Host links whose name contains this run's prefix: what this test process (and the
  // hooks it ran) created. Other tests may run in parallel with other prefixes.
  static std::vector<std::string> ownLinks();
  // Pings from inside a namespace; true when one reply came back.
  static bool ping(const std::string& ns, const std::string& address);
  // ping() again until it answers or `seconds` have passed (a repaired path, or a machine
  // so busy that three echoes in 2 s all went unanswered): a bounded poll, not a sleep.
  static bool pingWithin(const std::string& ns, const std::string& address, int seconds);

 private:
  std::vector<std::string> namespaces_;
  unsigned counter_ = 0;
};

bool isRoot();

}  // namespace vnetd::testing
