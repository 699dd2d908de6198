// The one listen-address rule (core/listen_address.h), read by the config loader and by the
// metrics exporter. Until issue 15 the exporter had its own looser copy (splitListen): it
// took "::1:10090" as host ::1, "[bogus]:80" and ":80" as they were. The stricter rule,
// which the loader always applied, is now the exporter's too.
#include "core/listen_address.h"

#include <gtest/gtest.h>

#include <string>

#include "exporters/metrics_http.h"

namespace vnetd {
namespace {

TEST(ParseListenAddress, HostAndPort) {
  struct Case {
    const char* text;
    const char* host;
    uint16_t port;
  };
  for (const Case& c : {Case{"127.0.0.1:10090", "127.0.0.1", 10090},
                        Case{"0.0.0.0:0", "0.0.0.0", 0},  // 0: any free port
                        Case{"[::1]:9100", "::1", 9100},
                        Case{"[2001:db8::5]:65535", "2001:db8::5", 65535},
                        Case{"localhost:80", "localhost", 80},
                        Case{"metrics-1.example.org:1", "metrics-1.example.org", 1},
                        Case{"127.0.0.1:00080", "127.0.0.1", 80}}) {
    ListenAddressParse p = parseListenAddress(c.text);
    ASSERT_TRUE(p.ok()) << c.text << ": " << p.problem;
    EXPECT_EQ(p.address.host, c.host) << c.text;
    EXPECT_EQ(p.address.port, c.port) << c.text;
  }
}

TEST(ParseListenAddress, SaysWhatIsWrong) {
  struct Case {
    const char* text;
    const char* problem;
  };
  for (const Case& c : {Case{"127.0.0.1", "has no port"},
                        Case{"", "has no port"},
                        Case{"[::1]", "has no port"},
                        Case{"[::1]9100", "has no port"},
                        Case{"[::1:9100", "has no closing ']'"},
                        Case{"[bogus]:80", "has an invalid IPv6 address"},
                        Case{"[127.0.0.1]:80", "has an invalid IPv6 address"},
                        Case{"::1:10090", "has an IPv6 address without brackets"},
                        Case{":80", "has no host"},
                        Case{"local_host:80", "has an invalid host"},
                        Case{"-host:80", "has an invalid host"},
                        Case{".host:80", "has an invalid host"},
                        Case{"198.18.0.300:80", "has an invalid host"},
                        Case{"127.0.0.1:", "has an invalid port"},
                        Case{"127.0.0.1:65536", "has an invalid port"},
                        Case{"127.0.0.1:000080", "has an invalid port"},
                        Case{"127.0.0.1:-1", "has an invalid port"},
                        Case{"127.0.0.1:+80", "has an invalid port"},
                        Case{"127.0.0.1:80k", "has an invalid port"},
                        Case{"[::1]:http", "has an invalid port"}}) {
    ListenAddressParse p = parseListenAddress(c.text);
    EXPECT_EQ(p.problem, c.problem) << c.text;
    EXPECT_FALSE(p.hint.empty()) << c.text;
  }
  EXPECT_FALSE(parseListenAddress(std::string(254, 'a') + ":80").ok());
  EXPECT_TRUE(parseListenAddress(std::string(253, 'a') + ":80").ok());
}

// The exporter splits by the same rule: what the loader refuses, it refuses too.
TEST(ParseListenAddress, MetricsExporterUsesTheSameRule) {
  auto v6 = exporters::splitListen("[::1]:9100");
  ASSERT_TRUE(v6.ok()) << v6.error().message();
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 9100);
  for (const char* bad : {"::1:10090", "[bogus]:80", ":80", "127.0.0.1:000080"}) {
    auto r = exporters::splitListen(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message(),
              "metrics listen address " + std::string(bad) + " " + parseListenAddress(bad).problem);
  }
}

}  // namespace
}  // namespace vnetd
