#include "exporters/metrics_http.h"
#include "tests/support/gunzip.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <zlib.h>

#include "core/unique_fd.h"
#include "daemon/dispatcher.h"

namespace vnetd::exporters {
namespace {

// One HTTP/1.0 GET with `headers` (each "Name: value\r\n"); the whole response ("" when
// the connection failed).
std::string get(uint16_t port, const std::string& path, const std::string& headers = "") {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  timeval tv{5, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) return "";
  std::string req = "GET " + path + " HTTP/1.0\r\n" + headers + "\r\n";
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

// A response split into its header block (lower-cased, for lookups) and its body.
struct Response {
  std::string head;
  std::string body;
};
Response split(const std::string& raw) {
  size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos) return {};
  Response r{raw.substr(0, end + 2), raw.substr(end + 4)};
  for (char& c : r.head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return r;
}

using vnetd::testing::gunzip;

// Accept-Encoding: gzip (what Prometheus sends) gets the page gzipped, saying so in
// Content-Encoding; a client that does not ask for gzip, or refuses it, gets the text.
TEST(MetricsHttp, GzipOnlyForAClientThatAcceptsIt) {
  auto d = daemon::Dispatcher::create();
  ASSERT_TRUE(d) << d.error().message();
  // A page of many similar lines, larger than one socket buffer and one evbuffer chain.
  std::string page;
  for (int i = 0; i < 20000; ++i)
    page += "vnetd_jail_up{jail=\"j" + std::to_string(i) + "\"} " + std::to_string(i % 2) + "\n";
  auto http = MetricsHttp::create((*d)->base(), "127.0.0.1:0", "/metrics", [&] { return page; });
  ASSERT_TRUE(http) << http.error().message();
  std::thread loop([&] { EXPECT_TRUE((*d)->run()); });
  const uint16_t port = (*http)->port();
  Response gz = split(get(port, "/metrics", "Accept-Encoding: gzip\r\n"));
  Response twoHeaders = split(get(port, "/metrics", "Accept-Encoding: identity\r\nAccept-Encoding: gzip\r\n"));
  Response plain = split(get(port, "/metrics"));
  Response refused = split(get(port, "/metrics", "Accept-Encoding: gzip;q=0, identity\r\n"));
  Response other = split(get(port, "/metrics", "Accept-Encoding: br\r\n"));
  Response landing = split(get(port, "/", "Accept-Encoding: gzip\r\n"));
  (*d)->post([&] { (*d)->exit(); });
  loop.join();
  http->reset();

  ASSERT_NE(gz.head.find(" 200 "), std::string::npos) << gz.head;
  EXPECT_NE(gz.head.find("\r\ncontent-encoding: gzip\r\n"), std::string::npos) << gz.head;
  EXPECT_NE(gz.head.find("\r\nvary: accept-encoding\r\n"), std::string::npos) << gz.head;
  EXPECT_LT(gz.body.size() * 4, page.size());
  EXPECT_EQ(gunzip(gz.body), page);
  EXPECT_NE(twoHeaders.head.find("\r\ncontent-encoding: gzip\r\n"), std::string::npos) << twoHeaders.head;
  EXPECT_EQ(gunzip(twoHeaders.body), page);

  for (const Response* r : {&plain, &refused, &other}) {
    ASSERT_NE(r->head.find(" 200 "), std::string::npos) << r->head;
    EXPECT_EQ(r->head.find("content-encoding"), std::string::npos) << r->head;
    EXPECT_NE(r->head.find("\r\nvary: accept-encoding\r\n"), std::string::npos) << r->head;
    EXPECT_EQ(r->body, page);
  }
  // Only the metrics page is compressed (the landing page is a few hundred bytes).
  EXPECT_EQ(landing.head.find("content-encoding"), std::string::npos) << landing.head;
  EXPECT_NE(landing.body.find("<a href=\"/metrics\">"), std::string::npos) << landing.body;
}

}  // namespace
}  // namespace vnetd::exporters
