// A vnetd daemon under test: started in the foreground as a child process, its stderr
// (the log) collected by a thread, readiness known from its "started:" log line — an
// event, not a guess — and stopped (SIGTERM, then SIGKILL) on destruction.
#pragma once

#include <sys/types.h>

#include <csignal>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace vnetd::testing {

class DaemonProcess {
 public:
  DaemonProcess(std::string binary, std::string config_path, std::string socket_path);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  // Starts vnetd --foreground and waits until it logs that it is serving (or exits).
  // False with the log in `why` when it did not come up within the timeout.
  bool start(std::string* why, int timeout_ms = 20000);
  // Runs vnetd through `prefix` (e.g. {"ip", "netns", "exec", "<ns>"}: a program that
  // execs the rest of its argv in the same process, so pid() and signals stay vnetd's).
  // Applies to the next start().
  void setArgvPrefix(std::vector<std::string> prefix) { prefix_ = std::move(prefix); }
  // Sends `sig`; for SIGKILL/SIGTERM also reaps the process. Returns its exit status
  // (or 128+signal); -1 when it was not running.
  int stop(int sig = SIGTERM, int timeout_ms = 20000);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Waits until the log contains `text` at or after offset `from` (see logSize()).
  bool waitForLog(const std::string& text, int timeout_ms, size_t from = 0);
  // The log's current length: take it before an action, wait for its effect after it.
  size_t logSize() const;
  std::string log() const;

  // One control request (a JSON line); the reply line, or "" when the daemon did not answer.
  std::string request(const std::string& line, int timeout_ms = 30000) const;

 private:
  void reader(int fd);

  std::string binary_, config_, socket_;
  std::vector<std::string> prefix_;
  pid_t pid_ = -1;
  std::thread reader_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::string log_;
  bool eof_ = false;
};

// Entries of /proc/<pid>/fd.
int countOpenFds(pid_t pid);

}  // namespace vnetd::testing
