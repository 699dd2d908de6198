// Traffic for bench/capture: a bounded UDP generator and a counting receiver.
//
//   capture_traffic send ADDRESS PORT SECONDS PAYLOAD [RATE]
//                                                       sendmmsg(2) batches as fast as the
//                                                       socket takes them (or RATE
//                                                       datagrams/s: batches of up to 64
//                                                       wait until they are due), for
//                                                       SECONDS; prints the datagrams sent
//   capture_traffic recv PORT SECONDS [4|6]             counts datagrams with recvmmsg(2)
//                                                       until 0.5 s pass without one (at
//                                                       most SECONDS+2 after the first,
//                                                       SECONDS+5 without any); prints the
//                                                       count
//
// Bounded in time (and so in count) by construction. Built by bench/capture itself with
// the system compiler (bench code, not part of the product). Run each side inside its
// namespace (ip netns exec).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kBatch = 64;

int usage() {
  std::fprintf(stderr, "usage: capture_traffic send ADDRESS PORT SECONDS PAYLOAD [RATE] | recv PORT SECONDS [4|6]\n");
  return 2;
}

int sendMode(const char* address, int port, double seconds, size_t payload, double rate) {
  sockaddr_storage to{};
  socklen_t to_len;
  if (std::strchr(address, ':')) {
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&to);
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET6, address, &a6->sin6_addr) != 1) return usage();
    to_len = sizeof *a6;
  } else {
    auto* a4 = reinterpret_cast<sockaddr_in*>(&to);
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, address, &a4->sin_addr) != 1) return usage();
    to_len = sizeof *a4;
  }
  int s = ::socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (::connect(s, reinterpret_cast<sockaddr*>(&to), to_len) != 0) {
    std::perror("connect");
    return 1;
  }
  std::vector<char> data(payload, 'x');
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  std::memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < kBatch; ++i) {
    iov[i] = {data.data(), data.size()};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  unsigned long long sent = 0;
  // Paced: batches about a millisecond apart (at least one datagram), so that a low rate
  // is not a few bursts of 64.
  const int batch = rate > 0 ? static_cast<int>(std::clamp(rate / 1000, 1.0, double{kBatch})) : kBatch;
  auto start = Clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < end) {
    if (rate > 0) {
      // Pacing: the next batch is due when `sent` datagrams at `rate` have taken their time.
      auto due = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(sent / rate));
      if (due >= end) break;
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(due.time_since_epoch()).count();
      timespec at{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
      ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, nullptr);
    }
    int n = ::sendmmsg(s, msgs, static_cast<unsigned>(batch), 0);
    if (n > 0) sent += static_cast<unsigned>(n);
    // ENOBUFS/EAGAIN: the qdisc-less veth is busy; try again until the time is up.
  }
  std::printf("%llu\n", sent);
  return 0;
}

int recvMode(int port, double seconds, int family) {
  int s = ::socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int big = 64 << 20;
  // Root: past net.core.rmem_max, so the receiver's buffer is not what limits delivery.
  ::setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  sockaddr_in6 addr6{};
  addr6.sin6_family = AF_INET6;
  addr6.sin6_port = htons(static_cast<uint16_t>(port));
  int bound = family == 6 ? ::bind(s, reinterpret_cast<sockaddr*>(&addr6), sizeof addr6)
                          : ::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (bound != 0) {
    std::perror("bind");
    return 1;
  }
  timeval tv{0, 100000};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  static char bufs[kBatch][2048];
  iovec iov[kBatch];
  mmsghdr msgs[kBatch];
  std::memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < kBatch; ++i) {
    iov[i] = {bufs[i], sizeof bufs[i]};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  // Ready: the script starts the sender once this line is out.
  std::fprintf(stderr, "ready\n");
  unsigned long long got = 0;
  auto end = Clock::now() + std::chrono::duration<double>(seconds + 5);
  auto last = Clock::now();
  bool first = true;
  // Until the sender has stopped (0.5 s without a datagram) — all that was delivered.
  while (Clock::now() < end && (first || Clock::now() - last < std::chrono::milliseconds(500))) {
    int n = ::recvmmsg(s, msgs, kBatch, 0, nullptr);
    if (n <= 0) continue;
    if (first) {
      end = Clock::now() + std::chrono::duration<double>(seconds + 2);
      first = false;
    }
    last = Clock::now();
    got += static_cast<unsigned>(n);
  }
  std::printf("%llu\n", got);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if ((argc == 6 || argc == 7) && std::strcmp(argv[1], "send") == 0)
    return sendMode(argv[2], std::atoi(argv[3]), std::atof(argv[4]), static_cast<size_t>(std::atol(argv[5])),
                    argc == 7 ? std::atof(argv[6]) : 0);
  if ((argc == 4 || argc == 5) && std::strcmp(argv[1], "recv") == 0)
    return recvMode(std::atoi(argv[2]), std::atof(argv[3]), argc == 5 ? std::atoi(argv[4]) : 4);
  return usage();
}
