#include "exporters/metrics_http.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <thread>

#include "core/unique_fd.h"
#include "daemon/dispatcher.h"

namespace vnetd::exporters {
namespace {

// One HTTP/1.0 GET; the whole response ("" when the connection failed).
std::string get(uint16_t port, const std::string& path) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return "";
  std::string req = "GET " + path + " HTTP/1.0\r\n\r\n";
  if (::send(fd.get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return "";
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

// The exception boundary of the /metrics callback (libevent calls it from C): a render
// that throws is answered 500 and logged, and the next scrape is served.
TEST(MetricsHttp, AScrapeThatThrowsIsAnswered500AndTheServerGoesOn) {
  auto d = daemon::Dispatcher::create();
  ASSERT_TRUE(d) << d.error().message();
  int calls = 0;  // loop thread
  auto http = MetricsHttp::create((*d)->base(), "127.0.0.1:0", "/metrics", [&]() -> std::string {
    if (++calls == 1) throw std::runtime_error("collector failed");
    return "up 1\n";
  });
  ASSERT_TRUE(http) << http.error().message();
  std::thread loop([&] { EXPECT_TRUE((*d)->run()); });
  const uint16_t port = (*http)->port();
  std::string first = get(port, "/metrics");
  std::string second = get(port, "/metrics");
  (*d)->post([&] { (*d)->exit(); });
  loop.join();
  // (libevent answers an error as HTTP/1.1, a reply in the request's version)
  EXPECT_EQ(first.substr(0, 7) + first.substr(8, 5), "HTTP/1. 500 ") << first;
  EXPECT_EQ(second.substr(0, 7) + second.substr(8, 5), "HTTP/1. 200 ") << second;
  EXPECT_NE(second.find("\r\n\r\nup 1\n"), std::string::npos) << second;
  http->reset();
}

}  // namespace
}  // namespace vnetd::exporters
