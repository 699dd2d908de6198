// Helpers shared by the tests that check /metrics against known traffic: running code
// inside a jail's namespace, fetching a page, reading one sample of an exposition.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/naming.h"
#include "tests/support/testnet.h"

namespace vnetd::testing {

// Runs `fn` on a thread that has entered network namespace `ns` (setns affects only the
// calling thread), and waits for it.
inline void inNamespace(const std::string& ns, const std::function<void()>& fn) {
  std::thread t([&] {
    int fd = ::open(("/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << ns;
    ASSERT_EQ(::setns(fd, CLONE_NEWNET), 0) << ns;
    ::close(fd);
    fn();
  });
  t.join();
}

// GET http://127.0.0.1:<port><path> (HTTP/1.0); the body, "" on failure. `status` gets
// the response code when given.
inline std::string httpGet(uint16_t port, const std::string& path, int* status = nullptr) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (status && resp.size() > 12) *status = std::atoi(resp.c_str() + 9);
  auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? "" : resp.substr(body + 4);
}

// Value of the sample `name{...}` whose labels contain all of `labels` (k="v" pairs);
// `absent` when there is none.
inline double sample(const std::string& text, const std::string& name, const std::vector<std::string>& labels,
                     double absent = -1) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line.rfind(name + "{", 0) != 0) continue;
    auto close = line.find('}');
    std::string set = line.substr(name.size(), close - name.size() + 1);
    bool all = true;
    for (const auto& l : labels) all = all && set.find(l) != std::string::npos;
    if (all) return std::stod(line.substr(close + 2));
  }
  return absent;
}

inline void disableIpv6(const std::string& ifname) {
  std::ofstream("/proc/sys/net/ipv6/conf/" + ifname + "/disable_ipv6") << "1\n";
}

// Inside a jail's namespace, before its hooks: no IPv6 (router solicitations, MLD), whose
// chatter would blur exact counts.
inline void disableIpv6InNamespace(const std::string& ns) {
  inNamespace(ns, [] {
    std::ofstream("/proc/sys/net/ipv6/conf/all/disable_ipv6") << "1\n";
    std::ofstream("/proc/sys/net/ipv6/conf/default/disable_ipv6") << "1\n";
  });
}

// After the jails' hooks: IPv6 off on the bridge and the host sides, and multicast off on
// the bridge and the jail sides — without IFF_MULTICAST an interface sends no IGMP reports
// (the host's bridge and the jails repeat theirs for a while after an address appears).
inline void quietenLinks(const std::string& bridge, const std::vector<std::string>& jails) {
  disableIpv6(bridge);
  for (const auto& j : jails) disableIpv6(interfaceName(j, 0, Side::A));
  auto r = run({"ip", "link", "set", bridge, "multicast", "off"});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const auto& j : jails) {
    r = run({"ip", "-n", j, "link", "set", interfaceName(j, 0, Side::B), "multicast", "off"});
    ASSERT_EQ(r.status, 0) << r.err;
  }
}

// Sends exactly `count` UDP datagrams of `payload` bytes from namespace `from` to
// `to_addr`:9999, received by a socket bound in namespace `to` (so no ICMP comes back);
// returns how many arrived (waits up to 5 s of silence).
inline int udpExchange(const std::string& from, const std::string& to, const std::string& to_addr, int count,
                       size_t payload) {
  std::atomic<int> received{0};
  std::atomic<bool> bound{false};
  std::thread receiver([&] {
    inNamespace(to, [&] {
      int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(9999);
      ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
      timeval tv{5, 0};
      ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      bound = true;
      bound.notify_all();
      char buf[2048];
      while (received < count && ::recv(s, buf, sizeof buf, 0) > 0) ++received;
      ::close(s);
    });
    bound = true;  // also when the receiver failed: never leave the sender waiting
    bound.notify_all();
  });
  bound.wait(false);
  inNamespace(from, [&] {
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(9999);
    ::inet_pton(AF_INET, to_addr.c_str(), &dst.sin_addr);
    std::string data(payload, 'x');
    for (int i = 0; i < count; ++i)
      ASSERT_EQ(::sendto(s, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst),
                static_cast<ssize_t>(payload));
    ::close(s);
  });
  receiver.join();
  return received;
}

// A free TCP port on loopback (bound, read, released: a race with other programs is
// possible but harmless here — the server that wanted it fails to start and says so).
inline uint16_t freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Percent-encoding of a URL query parameter value.
inline std::string urlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// A real Prometheus server (Debian's package) scraping one target on loopback every
// `scrape_seconds`, listening on a free loopback port, with its configuration, TSDB and log
// in a temp directory of its own. The destructor stops it (SIGTERM, SIGKILL after 10 s) and
// removes the directory, also when the test failed half-way.
class PrometheusServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/prometheus";

  explicit PrometheusServer(uint16_t target_port, int scrape_seconds = 1, std::string job = "vnetd")
      : target_port_(target_port), scrape_seconds_(scrape_seconds), job_(std::move(job)) {}
  ~PrometheusServer() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);;) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      if (std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // no child-exit fd to wait on here
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  // A rule file for the server to load (prometheus.yml rule_files); before start().
  void addRuleFile(const std::string& path) { rule_files_.push_back(path); }

  // Starts the server and waits (polling /-/ready, bounded) until it serves queries;
  // false with the reason and its log in `why`.
  bool start(std::string* why, int timeout_seconds = 20) {
    if (::access(kBinary, X_OK) != 0) {
      *why = std::string(kBinary) + " is missing (scripts/test installs the prometheus package)";
      return false;
    }
    port_ = freeLoopbackPort();
    const std::string interval = std::to_string(scrape_seconds_) + "s";
    std::string rules;
    for (const auto& f : rule_files_) rules += (rules.empty() ? "rule_files:\n" : "") + std::string("  - '") + f + "'\n";
    dir_.write("prometheus.yml", "global:\n  scrape_interval: " + interval + "\n  evaluation_interval: " + interval +
                                     "\n" + rules + "scrape_configs:\n  - job_name: " + job_ +
                                     "\n    static_configs:\n      - targets: ['" + target() + "']\n");
    std::string cfg = "--config.file=" + dir_.file("prometheus.yml");
    std::string data = "--storage.tsdb.path=" + dir_.file("data");
    std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
    std::string log_path = dir_.file("prometheus.log");
    pid_ = ::fork();
    if (pid_ == 0) {
      int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execl(kBinary, "prometheus", cfg.c_str(), data.c_str(), listen.c_str(), nullptr);
      ::_exit(127);
    }
    if (pid_ < 0) {
      *why = "fork failed";
      return false;
    }
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
         std::chrono::steady_clock::now() < deadline;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *why = "prometheus exited with status " + std::to_string(status) + "; its log:\n" + log();
        return false;
      }
      int code = 0;
      (void)get("/-/ready", &code);
      if (code == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // readiness has no push: poll, bounded
    }
    *why = "prometheus not ready after " + std::to_string(timeout_seconds) + " s; its log:\n" + log();
    return false;
  }

  uint16_t port() const { return port_; }
  const std::string& job() const { return job_; }
  int scrapeSeconds() const { return scrape_seconds_; }
  // The instance label Prometheus gives the target.
  std::string target() const { return "127.0.0.1:" + std::to_string(target_port_); }
  std::string log() const {
    std::ifstream in(dir_.file("prometheus.log"));
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string get(const std::string& path, int* status = nullptr) const { return httpGet(port_, path, status); }

  // An instant query (at `time`, Unix seconds; now when 0) or a range query through the
  // HTTP API: the parsed answer, a discarded value when it was not JSON.
  nlohmann::json query(const std::string& promql, double time = 0) const {
    std::string path = "/api/v1/query?query=" + urlEncode(promql);
    if (time > 0) path += "&time=" + std::to_string(time);
    return nlohmann::json::parse(get(path), nullptr, false);
  }
  nlohmann::json queryRange(const std::string& promql, double start, double end, double step) const {
    return nlohmann::json::parse(get("/api/v1/query_range?query=" + urlEncode(promql) +
                                     "&start=" + std::to_string(start) + "&end=" + std::to_string(end) +
                                     "&step=" + std::to_string(step)),
                                 nullptr, false);
  }

  // The samples of an instant query's answer (empty on errors).
  static std::vector<double> values(const nlohmann::json& answer) {
    std::vector<double> out;
    if (!answer.is_object() || answer.value("status", "") != "success") return out;
    for (const auto& r : answer["data"]["result"])
      if (r.contains("value")) out.push_back(std::stod(r["value"][1].get<std::string>()));
    return out;
  }

  // Polls `promql` (every 100 ms: the API has no push) until it returns at least one sample
  // for which `ok` holds, or `timeout_seconds` pass.
  bool waitFor(const std::string& promql, int timeout_seconds,
               const std::function<bool(double)>& ok = [](double) { return true; }) const {
    for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
         std::chrono::steady_clock::now() < deadline;) {
      for (double v : values(query(promql)))
        if (ok(v)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  uint16_t target_port_;
  int scrape_seconds_;
  std::string job_;
  std::vector<std::string> rule_files_;
  TempDir dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// `bytes` over TCP from namespace `from` to `to_addr`:`port`, accepted in namespace `to`;
// both ends close (SYN, data, FIN each way). Returns the bytes the server received.
inline size_t tcpTransfer(const std::string& from, const std::string& to, const std::string& to_addr, uint16_t port,
                        size_t bytes) {
  std::atomic<bool> listening{false};
  std::atomic<size_t> got{0};
  std::thread server([&] {
    inNamespace(to, [&] {
      int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      int one = 1;
      ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_port = htons(port);
      bool ok = ::bind(l, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(l, 1) == 0;
      timeval tv{5, 0};
      ::setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      listening = true;
      listening.notify_all();
      ASSERT_TRUE(ok);
      int c = ::accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
      ::close(l);
      ASSERT_GE(c, 0);
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      char buf[65536];
      ssize_t n;
      while ((n = ::read(c, buf, sizeof buf)) > 0) got += static_cast<size_t>(n);
      ::close(c);
    });
    listening = true;  // also when the server failed: never leave the client waiting
    listening.notify_all();
  });
  listening.wait(false);
  inNamespace(from, [&] {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port);
    ::inet_pton(AF_INET, to_addr.c_str(), &dst.sin_addr);
    ASSERT_EQ(::connect(s, reinterpret_cast<sockaddr*>(&dst), sizeof dst), 0);
    std::string data(bytes, 'y');
    for (size_t sent = 0; sent < data.size();) {
      ssize_t n = ::write(s, data.data() + sent, data.size() - sent);
      ASSERT_GT(n, 0);
      sent += static_cast<size_t>(n);
    }
    ::shutdown(s, SHUT_WR);
    char c;
    (void)!::read(s, &c, 1);  // until the server's FIN
    ::close(s);
  });
  server.join();
  return got;
}


}  // namespace vnetd::testing
