// Helpers shared by the tests that check /metrics against known traffic: running code
// inside a jail's namespace, fetching a page, reading one sample of an exposition.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
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

}  // namespace vnetd::testing
