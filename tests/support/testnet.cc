#include "tests/support/testnet.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

namespace vnetd::testing {

bool isRoot() { return ::geteuid() == 0; }

CommandResult run(const std::vector<std::string>& argv, int timeout_seconds) {
  CommandResult res;
  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) return res;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[4096];
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left.count())) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  for (auto& f : fds)
    if (f.fd >= 0) ::close(f.fd);
  int status = 0;
  ::waitpid(pid, &status, 0);
  res.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

const std::string& runPrefix() {
  static const std::string prefix = [] {
    std::random_device rd;
    char buf[8];
    std::snprintf(buf, sizeof buf, "vt%04x", static_cast<unsigned>(rd() & 0xffff));
    return std::string(buf);
  }();
  return prefix;
}

TempDir::TempDir() {
  char tmpl[] = "/tmp/vnetd-test-XXXXXX";
  const char* p = ::mkdtemp(tmpl);
  path_ = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

void TempDir::write(const std::string& name, const std::string& content) const {
  std::ofstream(file(name)) << content;
}

TestNet::TestNet() = default;

TestNet::~TestNet() {
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) run({"ip", "netns", "del", *it});
  // Sweep: hooks name links e<i>a_<jail> and bridges carry the prefix; anything of
  // this run still on the host goes.
  for (const auto& l : ownLinks()) run({"ip", "link", "del", l});
}

std::string TestNet::jailName(const std::string& label) {
  return runPrefix() + std::to_string(counter_++) + "_" + label;
}

std::string TestNet::bridgeName(const std::string& label) { return runPrefix() + label; }

void TestNet::addNamespace(const std::string& name) {
  auto r = run({"ip", "netns", "add", name});
  if (r.status == 0) namespaces_.push_back(name);
  else std::fprintf(stderr, "ip netns add %s failed: %s\n", name.c_str(), r.err.c_str());
}

void TestNet::deleteNamespace(const std::string& name) {
  run({"ip", "netns", "del", name});
  std::erase(namespaces_, name);
}

std::vector<std::string> TestNet::hostLinks(const std::string& prefix) {
  std::vector<std::string> out;
  DIR* d = ::opendir("/sys/class/net");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (n.rfind(prefix, 0) == 0) out.push_back(n);
  }
  ::closedir(d);
  return out;
}

std::vector<std::string> TestNet::ownLinks() {
  std::vector<std::string> out;
  for (auto& l : hostLinks())
    if (l.find(runPrefix()) != std::string::npos) out.push_back(l);
  std::sort(out.begin(), out.end());
  return out;
}

bool TestNet::ping(const std::string& ns, const std::string& address) {
  // -c 3 -W 2: a first packet may be lost to ARP resolution timing; bounded in time.
  auto r = run({"ip", "netns", "exec", ns, "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", address}, 20);
  return r.status == 0;
}

bool TestNet::pingWithin(const std::string& ns, const std::string& address, int seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  do {
    if (ping(ns, address)) return true;
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

}  // namespace vnetd::testing
