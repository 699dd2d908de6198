// vnetd-demo-traffic — steady, varied, bounded traffic between the jails of scripts/demo.
//
// One process per role, each run inside a jail's network stack (Linux: ip netns exec,
// FreeBSD: jexec): a server answers HTTP-like TCP requests and UDP cache lookups; a client
// sends them at a fixed rate, plus ICMP echo requests. Every run is bounded in time (and,
// through the rate cap, in packets), so a forgotten generator cannot flood a machine.
//
// The protocol is designed so that neither side has to parse numbers out of the other's
// bytes: the size of an answer is a function of the request (sizeFor), which both sides
// compute, so the client checks an answer by comparing it with the bytes it expects.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/unique_fd.h"
#include "vnetd/build_config.h"

namespace {

using vnetd::UniqueFd;
using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

constexpr const char* kUsage =
    "usage: vnetd-demo-traffic server [--tcp-port PORT] [--udp-port PORT] --duration SECONDS\n"
    "       vnetd-demo-traffic client [--http ADDR:PORT]... [--udp ADDR:PORT]... [--ping ADDR]...\n"
    "                                 [--rate N] --duration SECONDS\n";

constexpr const char* kHelp =
    "NAME\n"
    "     vnetd-demo-traffic - bounded demo traffic between jails\n"
    "\n"
    "SYNOPSIS\n"
    "     vnetd-demo-traffic server [-t PORT] [-u PORT] -d SECONDS\n"
    "     vnetd-demo-traffic client [-H ADDR:PORT]... [-U ADDR:PORT]... [-p ADDR]...\n"
    "                               [-r N] -d SECONDS\n"
    "\n"
    "DESCRIPTION\n"
    "     The traffic generator of scripts/demo. Run each role inside a jail's network\n"
    "     stack (Linux: ip netns exec JAIL ..., FreeBSD: jexec JAIL ...).\n"
    "\n"
    "     server  Answers HTTP-like requests on TCP port PORT (default 8080): a request\n"
    "             \"GET /PATH HTTP/1.0\" ending with an empty line gets a 200 response\n"
    "             of 100 to 6000 bytes (the size depends on PATH), then the server\n"
    "             closes the connection; anything else gets a 400. Answers cache\n"
    "             lookups on UDP port PORT (default 11211): a datagram \"GET KEY\" gets\n"
    "             \"VALUE KEY \" followed by 32 to 1200 bytes. At most 64 connections\n"
    "             at once; a connection idle for 5 s is closed. Prints \"ready\" on\n"
    "             standard output once both ports listen. Its summary names the\n"
    "             source addresses it served (the first 8), so a run behind NAT\n"
    "             shows what the other side saw.\n"
    "     client  N times a second (--rate, default 5, at most 50) sends one request to\n"
    "             each --http server and two lookups to each --udp server, and once a\n"
    "             second an ICMP echo request to each --ping address (raw socket: run\n"
    "             as root; FreeBSD jails need allow.raw_sockets). Paths and keys vary\n"
    "             from one request to the next, and every answer is checked byte for\n"
    "             byte. A request that fails or times out (1 s TCP, 0.3 s UDP and\n"
    "             ICMP) is counted, and the client carries on.\n"
    "\n"
    "     Both roles stop after SECONDS (1..86400) or on SIGINT/SIGTERM and print a\n"
    "     summary line on standard output.\n"
    "\n"
    "OPTIONS\n"
    "     -d, --duration SECONDS  How long to run. Required.\n"
    "     -t, --tcp-port PORT     Server: TCP port of the HTTP-like service.\n"
    "     -u, --udp-port PORT     Server: UDP port of the lookup service.\n"
    "     -H, --http ADDR:PORT    Client: an HTTP-like server (IPv4). Repeatable.\n"
    "     -U, --udp ADDR:PORT     Client: a UDP lookup server (IPv4). Repeatable.\n"
    "     -p, --ping ADDR         Client: an address to ping (IPv4). Repeatable.\n"
    "     -r, --rate N            Client: rounds per second, 1..50 (default 5).\n"
    "     -V, --version           Print the version and exit.\n"
    "     -h, --help              Print this help and exit.\n"
    "\n"
    "EXIT STATUS\n"
    "     0 when the run ended and (client) at least one exchange of every configured\n"
    "     kind succeeded; 1 otherwise (one line on standard error); 2 on usage errors.\n";

constexpr int kMaxDuration = 86400;
constexpr int kMaxRate = 50;
constexpr size_t kMaxConnections = 64;
constexpr size_t kMaxRequest = 4096;  // a request without its empty line by then is refused
constexpr size_t kMaxKey = 64;
constexpr auto kIdleTimeout = Millis(5000);
constexpr auto kTcpTimeout = Millis(1000);
constexpr auto kUdpTimeout = Millis(300);
constexpr auto kPingTimeout = Millis(300);
constexpr size_t kMaxPeersShown = 8;

volatile std::sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }

// The answer size for a request path or lookup key: FNV-1a, so it varies from request to
// request without either side parsing a number.
size_t sizeFor(std::string_view what, size_t lo, size_t hi) {
  uint32_t h = 2166136261u;
  for (char c : what) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return lo + h % (hi - lo + 1);
}

std::string httpResponse(std::string_view path) {
  size_t n = sizeFor(path, 100, 6000);
  std::string r = "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                  std::to_string(n) + "\r\n\r\n";
  r.append(n, static_cast<char>('a' + n % 26));
  return r;
}
constexpr std::string_view kBadRequest = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";

// What the server answers to the bytes of one request (everything up to and including the
// empty line). Only "GET /<visible ASCII> HTTP/1.x" is accepted.
std::string answerHttp(std::string_view request) {
  auto eol = request.find("\r\n");
  std::string_view line = request.substr(0, eol);
  if (line.substr(0, 5) != "GET /") return std::string(kBadRequest);
  auto sp = line.find(' ', 4);
  if (sp == std::string_view::npos || (line.substr(sp) != " HTTP/1.0" && line.substr(sp) != " HTTP/1.1"))
    return std::string(kBadRequest);
  std::string_view path = line.substr(4, sp - 4);
  for (char c : path)
    if (c <= ' ' || c > '~') return std::string(kBadRequest);
  return httpResponse(path);
}

std::string lookupValue(std::string_view key) {
  std::string v = "VALUE " + std::string(key) + " ";
  v.append(sizeFor(key, 32, 1200), 'v');
  return v;
}

// The server's answer to one lookup datagram, or nothing (ignored) when it is not one.
std::optional<std::string> answerLookup(std::string_view datagram) {
  if (datagram.substr(0, 4) != "GET ") return std::nullopt;
  std::string_view key = datagram.substr(4);
  if (key.empty() || key.size() > kMaxKey) return std::nullopt;
  for (char c : key)
    if (c <= ' ' || c > '~') return std::nullopt;
  return lookupValue(key);
}

bool parsePort(const char* text, uint16_t* port) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 1 || v > 65535) return false;
  *port = static_cast<uint16_t>(v);
  return true;
}

bool parseInt(const char* text, int lo, int hi, int* out) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) return false;
  *out = static_cast<int>(v);
  return true;
}

bool parseAddress(const std::string& text, sockaddr_in* out, bool with_port) {
  *out = {};
  out->sin_family = AF_INET;
  std::string host = text;
  if (with_port) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    host = text.substr(0, colon);
    uint16_t port;
    if (!parsePort(text.c_str() + colon + 1, &port)) return false;
    out->sin_port = htons(port);
  }
  return ::inet_pton(AF_INET, host.c_str(), &out->sin_addr) == 1;
}

int msLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Waits for `events` on fd until `deadline`; false on timeout, a signal asking to stop, or
// an error.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  while (!g_stop) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, msLeft(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
  return false;
}

// ---- server ---------------------------------------------------------------------------

struct Connection {
  UniqueFd fd;
  std::string in, out;
  size_t sent = 0;
  Clock::time_point last;
};

UniqueFd listenOn(int type, uint16_t port, std::string* why) {
  UniqueFd s(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) {
    *why = std::string("socket: ") + std::strerror(errno);
    return {};
  }
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      (type == SOCK_STREAM && ::listen(s.get(), 64) != 0)) {
    *why = std::string(type == SOCK_STREAM ? "TCP" : "UDP") + " port " + std::to_string(port) + ": " +
           std::strerror(errno);
    return {};
  }
  return s;
}

// The distinct source addresses a server has served, the first kMaxPeersShown of them:
// what "the outside" of scripts/demo sees of the jails behind NAT.
struct Peers {
  std::vector<std::string> shown;
  bool more = false;
  void note(const sockaddr_in& from) {
    char text[INET_ADDRSTRLEN] = "";
    if (!::inet_ntop(AF_INET, &from.sin_addr, text, sizeof text)) return;
    if (std::find(shown.begin(), shown.end(), text) != shown.end()) return;
    if (shown.size() < kMaxPeersShown) shown.emplace_back(text);
    else more = true;
  }
  std::string summary() const {
    std::string s;
    for (const auto& p : shown) s += (s.empty() ? "" : " ") + p;
    if (more) s += " ...";
    return s.empty() ? "none" : s;
  }
};

int runServer(uint16_t tcp_port, uint16_t udp_port, int duration) {
  std::string why;
  UniqueFd tcp = listenOn(SOCK_STREAM, tcp_port, &why);
  UniqueFd udp = tcp ? listenOn(SOCK_DGRAM, udp_port, &why) : UniqueFd();
  if (!tcp || !udp) {
    std::fprintf(stderr, "vnetd-demo-traffic: server: %s\n", why.c_str());
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);

  uint64_t http_answered = 0, http_bad = 0, lookups = 0;
  Peers peers;
  std::vector<Connection> conns;
  auto end = Clock::now() + std::chrono::seconds(duration);
  while (!g_stop && Clock::now() < end) {
    std::vector<pollfd> fds{{tcp.get(), static_cast<short>(conns.size() < kMaxConnections ? POLLIN : 0), 0},
                            {udp.get(), POLLIN, 0}};
    for (const auto& c : conns) fds.push_back({c.fd.get(), static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
    // Wakes at least every 200 ms: the end of the run and idle connections are noticed.
    int n = ::poll(fds.data(), fds.size(), std::min(200, msLeft(end)));
    if (n < 0 && errno != EINTR) {
      std::fprintf(stderr, "vnetd-demo-traffic: server: poll: %s\n", std::strerror(errno));
      return 1;
    }
    auto now = Clock::now();
    if (fds[0].revents & POLLIN) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      int fd = ::accept(tcp.get(), reinterpret_cast<sockaddr*>(&from), &len);
      if (fd >= 0) {
        peers.note(from);
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        conns.push_back({UniqueFd(fd), {}, {}, 0, now});
      }
    }
    if (fds[1].revents & POLLIN) {
      char buf[2048];
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t got = ::recvfrom(udp.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (got > 0) {
        if (auto reply = answerLookup(std::string_view(buf, static_cast<size_t>(got)))) {
          peers.note(from);
          ::sendto(udp.get(), reply->data(), reply->size(), 0, reinterpret_cast<sockaddr*>(&from), len);
          ++lookups;
        }
      }
    }
    // fds[2 + i] belongs to conns[i] as they were before this round's accept.
    for (size_t i = 0; i + 2 < fds.size(); ++i) {
      Connection& c = conns[i];
      bool done = false;
      if (fds[i + 2].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[2048];
        ssize_t got = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (got <= 0) {
          done = got == 0 || (errno != EAGAIN && errno != EINTR);
        } else {
          c.last = now;
          c.in.append(buf, static_cast<size_t>(got));
          auto end_of_request = c.in.find("\r\n\r\n");
          if (end_of_request != std::string::npos) {
            c.out = answerHttp(std::string_view(c.in).substr(0, end_of_request + 4));
            (c.out.compare(0, 12, "HTTP/1.0 200") == 0 ? http_answered : http_bad)++;
          } else if (c.in.size() > kMaxRequest) {
            c.out = std::string(kBadRequest);
            ++http_bad;
          }
        }
      }
      if (!done && (fds[i + 2].revents & POLLOUT) && !c.out.empty()) {
        ssize_t put = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (put > 0) {
          c.sent += static_cast<size_t>(put);
          c.last = now;
          done = c.sent == c.out.size();  // HTTP/1.0: the server closes after the answer
        } else if (errno != EAGAIN && errno != EINTR) {
          done = true;
        }
      }
      if (!done && now - c.last > kIdleTimeout) done = true;
      if (done) c.fd.reset();
    }
    std::erase_if(conns, [](const Connection& c) { return !c.fd; });
  }
  std::printf("server: %llu HTTP requests answered, %llu refused, %llu lookups answered; from %s\n",
              static_cast<unsigned long long>(http_answered), static_cast<unsigned long long>(http_bad),
              static_cast<unsigned long long>(lookups), peers.summary().c_str());
  return 0;
}

// ---- client ---------------------------------------------------------------------------

struct Tally {
  uint64_t ok = 0, failed = 0;
};

// One HTTP-like exchange; true when the answer is exactly what the server must send.
bool httpExchange(const sockaddr_in& to, const std::string& path) {
  auto deadline = Clock::now() + kTcpTimeout;
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) return false;
  if (::connect(s.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
    if (errno != EINPROGRESS || !waitFor(s.get(), POLLOUT, deadline)) return false;
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) return false;
  }
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: demo\r\nUser-Agent: vnetd-demo-traffic\r\n\r\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t put = ::send(s.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (put > 0) {
      sent += static_cast<size_t>(put);
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!waitFor(s.get(), POLLOUT, deadline)) return false;
    } else {
      return false;
    }
  }
  const std::string expected = httpResponse(path);
  std::string got;
  char buf[8192];
  while (got.size() <= expected.size()) {
    ssize_t n = ::recv(s.get(), buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!waitFor(s.get(), POLLIN, deadline)) return false;
    } else {
      return false;
    }
  }
  return got == expected;
}

bool lookupExchange(int s, const sockaddr_in& to, const std::string& key) {
  std::string datagram = "GET " + key;
  if (::sendto(s, datagram.data(), datagram.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0)
    return false;
  const std::string expected = lookupValue(key);
  auto deadline = Clock::now() + kUdpTimeout;
  char buf[2048];
  // Answers to earlier, timed-out lookups may still arrive: skip them.
  while (waitFor(s, POLLIN, deadline)) {
    ssize_t n = ::recv(s, buf, sizeof buf, 0);
    if (n < 0) continue;
    if (std::string_view(buf, static_cast<size_t>(n)) == expected) return true;
  }
  return false;
}

uint16_t inetChecksum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

// One ICMP echo over a raw socket; true when the matching echo reply came back. A raw
// ICMP socket receives every ICMP packet of the stack, IPv4 header included: replies are
// matched by identifier and sequence number.
bool pingExchange(int s, const sockaddr_in& to, uint16_t id, uint16_t seq) {
  uint8_t pkt[64] = {8, 0, 0, 0, static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id),
                     static_cast<uint8_t>(seq >> 8), static_cast<uint8_t>(seq)};
  for (size_t i = 8; i < sizeof pkt; ++i) pkt[i] = static_cast<uint8_t>(i);
  uint16_t sum = inetChecksum(pkt, sizeof pkt);
  pkt[2] = static_cast<uint8_t>(sum >> 8);
  pkt[3] = static_cast<uint8_t>(sum);
  if (::sendto(s, pkt, sizeof pkt, 0, reinterpret_cast<const sockaddr*>(&to), sizeof to) < 0) return false;
  auto deadline = Clock::now() + kPingTimeout;
  uint8_t buf[1500];
  while (waitFor(s, POLLIN, deadline)) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 20 || from.sin_addr.s_addr != to.sin_addr.s_addr) continue;
    size_t ihl = static_cast<size_t>(buf[0] & 0x0f) * 4;
    if (ihl < 20 || static_cast<size_t>(n) < ihl + 8) continue;
    const uint8_t* icmp = buf + ihl;
    if (icmp[0] == 0 && (icmp[4] << 8 | icmp[5]) == id && (icmp[6] << 8 | icmp[7]) == seq) return true;
  }
  return false;
}

struct Target {
  std::string text;
  sockaddr_in addr;
  Tally tally;
};

int runClient(std::vector<Target>& http, std::vector<Target>& udp, std::vector<Target>& ping, int rate,
              int duration) {
  UniqueFd udp_socket, raw;
  if (!udp.empty()) udp_socket = UniqueFd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!ping.empty()) {
    raw = UniqueFd(::socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP));
    if (!raw) {
      std::fprintf(stderr, "vnetd-demo-traffic: client: raw ICMP socket: %s (pinging needs root)\n",
                   std::strerror(errno));
      return 1;
    }
  }
  const auto period = std::chrono::microseconds(1000000 / rate);
  const uint16_t id = static_cast<uint16_t>(::getpid());
  auto start = Clock::now();
  auto end = start + std::chrono::seconds(duration);
  auto next = start;
  uint64_t round = 0;
  uint16_t seq = 0;
  while (!g_stop && Clock::now() < end) {
    // Varied traffic: paths and keys walk through a few hundred names, so response sizes
    // and flows change from one round to the next.
    std::string item = std::to_string((round * 7919) % 500);
    for (auto& t : http) (httpExchange(t.addr, "/items/" + item) ? t.tally.ok : t.tally.failed)++;
    for (auto& t : udp)
      for (const char* kind : {"session:", "user:"})
        (lookupExchange(udp_socket.get(), t.addr, kind + item) ? t.tally.ok : t.tally.failed)++;
    if (round % static_cast<uint64_t>(rate) == 0) {
      ++seq;
      for (auto& t : ping) (pingExchange(raw.get(), t.addr, id, seq) ? t.tally.ok : t.tally.failed)++;
    }
    ++round;
    next += period;
    // Fixed schedule; a round that overran starts the next one at once, never a burst.
    if (next < Clock::now()) next = Clock::now();
    while (!g_stop && Clock::now() < next && Clock::now() < end) {
      int ms = std::max(1, msLeft(std::min(next, end)));
      ::poll(nullptr, 0, ms);
    }
  }
  bool every_kind_worked = true;
  std::string summary = "client:";
  for (auto* group : {&http, &udp, &ping}) {
    const char* kind = group == &http ? "http" : group == &udp ? "udp" : "ping";
    for (const auto& t : *group) {
      summary += std::string(" ") + kind + " " + t.text + " " + std::to_string(t.tally.ok) + " ok " +
                 std::to_string(t.tally.failed) + " failed;";
      if (t.tally.ok == 0) every_kind_worked = false;
    }
  }
  std::printf("%s\n", summary.c_str());
  if (!every_kind_worked) {
    std::fprintf(stderr, "vnetd-demo-traffic: client: a target never answered\n");
    return 1;
  }
  return 0;
}

int usageError(const std::string& what) {
  std::fprintf(stderr, "vnetd-demo-traffic: %s\n%s", what.c_str(), kUsage);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  static const option kOptions[] = {{"duration", required_argument, nullptr, 'd'},
                                    {"tcp-port", required_argument, nullptr, 't'},
                                    {"udp-port", required_argument, nullptr, 'u'},
                                    {"http", required_argument, nullptr, 'H'},
                                    {"udp", required_argument, nullptr, 'U'},
                                    {"ping", required_argument, nullptr, 'p'},
                                    {"rate", required_argument, nullptr, 'r'},
                                    {"version", no_argument, nullptr, 'V'},
                                    {"help", no_argument, nullptr, 'h'},
                                    {nullptr, 0, nullptr, 0}};
  int duration = 0, rate = 5;
  uint16_t tcp_port = 8080, udp_port = 11211;
  std::vector<Target> http, udp, ping;
  int opt;
  while ((opt = getopt_long(argc, argv, "d:t:u:H:U:p:r:Vh", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 'd':
        if (!parseInt(optarg, 1, kMaxDuration, &duration))
          return usageError("--duration must be 1.." + std::to_string(kMaxDuration) + " seconds, not '" +
                            optarg + "'");
        break;
      case 't':
      case 'u':
        if (!parsePort(optarg, opt == 't' ? &tcp_port : &udp_port))
          return usageError(std::string("bad port '") + optarg + "' (1..65535)");
        break;
      case 'H':
      case 'U':
      case 'p': {
        Target t{optarg, {}, {}};
        if (!parseAddress(t.text, &t.addr, opt != 'p'))
          return usageError(std::string("bad address '") + optarg + "' (expected " +
                            (opt == 'p' ? "an IPv4 address" : "IPV4:PORT") + ")");
        (opt == 'H' ? http : opt == 'U' ? udp : ping).push_back(t);
        break;
      }
      case 'r':
        if (!parseInt(optarg, 1, kMaxRate, &rate))
          return usageError("--rate must be 1.." + std::to_string(kMaxRate) + ", not '" + std::string(optarg) + "'");
        break;
      case 'V': std::printf("vnetd-demo-traffic %s (%s)\n", vnetd::build::kVersion, vnetd::build::kPlatform); return 0;
      case 'h': std::fputs(kHelp, stdout); return 0;
      default: std::fputs(kUsage, stderr); return 2;
    }
  }
  if (argc - optind != 1) return usageError("expected one role: server or client");
  std::string role = argv[optind];
  if (duration == 0) return usageError("--duration SECONDS is required (the run is always bounded)");
  struct sigaction sa{};
  sa.sa_handler = onSignal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  if (role == "server") {
    if (!http.empty() || !udp.empty() || !ping.empty()) return usageError("--http/--udp/--ping are client options");
    return runServer(tcp_port, udp_port, duration);
  }
  if (role == "client") {
    if (http.empty() && udp.empty() && ping.empty())
      return usageError("the client needs at least one --http, --udp or --ping target");
    return runClient(http, udp, ping, rate, duration);
  }
  return usageError("unknown role '" + role + "' (expected server or client)");
}
