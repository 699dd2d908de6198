#include "tests/support/daemon_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

#include "core/control_client.h"

namespace vnetd::testing {

DaemonProcess::DaemonProcess(std::string binary, std::string config_path, std::string socket_path)
    : binary_(std::move(binary)), config_(std::move(config_path)), socket_(std::move(socket_path)) {}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) stop(SIGTERM);
  if (reader_.joinable()) reader_.join();
}

void DaemonProcess::reader(int fd) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    if (n <= 0) {
      eof_ = true;
      changed_.notify_all();
      break;
    }
    log_.append(buf, static_cast<size_t>(n));
    changed_.notify_all();
  }
  ::close(fd);
}

bool DaemonProcess::start(std::string* why, int timeout_ms) {
  if (reader_.joinable()) reader_.join();
  size_t from;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    eof_ = false;
    from = log_.size();
  }
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return false;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 2);
    ::dup2(pipefd[1], 1);
    std::vector<char*> args;
    for (const auto& p : prefix_) args.push_back(const_cast<char*>(p.c_str()));
    for (const char* a : {binary_.c_str(), "--foreground", "--config", config_.c_str()})
      args.push_back(const_cast<char*>(a));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  if (pid < 0) {
    ::close(pipefd[0]);
    return false;
  }
  pid_ = pid;
  reader_ = std::thread([this, fd = pipefd[0]] { reader(fd); });
  std::unique_lock<std::mutex> lock(mutex_);
  bool up = changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return eof_ || log_.find("started:", from) != std::string::npos;
  });
  if (up && log_.find("started:", from) != std::string::npos) return true;
  if (why) *why = "vnetd did not start; its log:\n" + log_.substr(from);
  return false;
}

int DaemonProcess::stop(int sig, int timeout_ms) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, sig);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    // The reader sees EOF when the daemon's stderr closes at exit: wait on that event.
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait_for(lock, std::chrono::milliseconds(20), [&] { return eof_; });
  }
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

size_t DaemonProcess::logSize() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return log_.size();
}

bool DaemonProcess::waitForLog(const std::string& text, int timeout_ms, size_t from) {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return log_.find(text, from) != std::string::npos; });
}

std::string DaemonProcess::log() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return log_;
}

std::string DaemonProcess::request(const std::string& line, int timeout_ms) const {
  auto r = control::call(socket_, line, std::chrono::milliseconds(timeout_ms));
  return r.ok() ? r.reply : "";
}

int countOpenFds(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return -1;
  int n = 0;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

}  // namespace vnetd::testing
