// The expose grammar (core/expose.h) and the loader's use of it: every accepted form, every
// malformed form with its message and offset, overlap across jails, and FILE:LINE:COL.
#include "core/expose.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/config.h"

namespace vnetd {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

IpAddress ip(const char* text) { return IpAddress::parse(text).value(); }

ExposeRule ok(const char* text) {
  ExposeParse p = parseExpose(text);
  EXPECT_TRUE(p.rule.has_value()) << text << ": " << p.problem;
  EXPECT_TRUE(p.problem.empty());
  return p.rule.value_or(ExposeRule{});
}

TEST(ExposeParseTest, AcceptedForms) {
  ExposeRule r = ok("tcp/8080:80");
  EXPECT_EQ(r.proto, ExposeProto::Tcp);
  EXPECT_FALSE(r.address);
  EXPECT_EQ(r.external, (PortRange{8080, 8080}));
  EXPECT_EQ(r.jail, (PortRange{80, 80}));

  r = ok("udp/53");
  EXPECT_EQ(r.proto, ExposeProto::Udp);
  EXPECT_EQ(r.external, (PortRange{53, 53}));
  EXPECT_EQ(r.jail, (PortRange{53, 53}));

  r = ok("tcp/[2001:db8::10]:443:443");
  EXPECT_EQ(r.address, ip("2001:db8::10"));
  EXPECT_EQ(r.external, (PortRange{443, 443}));

  r = ok("tcp/198.18.170.1:8000-8010:8000-8010");
  EXPECT_EQ(r.address, ip("198.18.170.1"));
  EXPECT_EQ(r.external, (PortRange{8000, 8010}));
  EXPECT_EQ(r.jail, (PortRange{8000, 8010}));

  r = ok("udp/198.18.170.1:5353");
  EXPECT_EQ(r.address, ip("198.18.170.1"));
  EXPECT_EQ(r.jail, (PortRange{5353, 5353}));

  r = ok("tcp/[2001:db8::10]:8443");
  EXPECT_EQ(r.jail, (PortRange{8443, 8443}));

  r = ok("tcp/1-65535");
  EXPECT_EQ(r.external, (PortRange{1, 65535}));
}

TEST(ExposeParseTest, StringIsCanonicalAndParsesBack) {
  for (const char* text : {"tcp/8080:80", "udp/53", "tcp/[2001:db8::10]:443", "tcp/198.18.170.1:8000-8010",
                           "udp/1-3"}) {
    ExposeRule r = ok(text);
    EXPECT_EQ(exposeString(r), text);
    EXPECT_EQ(ok(exposeString(r).c_str()), r);
  }
  EXPECT_EQ(exposeString(ok("tcp/[2001:db8::10]:443:443")), "tcp/[2001:db8::10]:443");
  EXPECT_EQ(exposeString(ok("tcp/80:80")), "tcp/80");
}

struct Bad {
  const char* text;
  const char* problem;
  size_t offset;
};

TEST(ExposeParseTest, MalformedFormsSayWhatAndWhere) {
  const Bad cases[] = {
      {"", "is empty", 0},
      {"8080", "has no protocol", 0},
      {"tcp 80", "contains a space", 3},
      {"sctp/80", "has unknown protocol 'sctp'", 0},
      {"TCP/80", "has protocol 'TCP'", 0},
      {"udp/", "has no port", 4},
      {"tcp/0", "has external port 0", 4},
      {"tcp/80:0", "has jail port 0", 7},
      {"tcp/65536", "external port 65536 is above 65535", 4},
      {"tcp/99999999999999999999", "external port 99999999999999999999 is above 65535", 4},
      {"tcp/http", "external port 'http' is not a number", 4},
      {"tcp/80:8o", "jail port '8o' is not a number", 8},
      {"tcp/80:", "has no jail port", 7},
      {"tcp/:80", "has no external port", 4},
      {"tcp/8010-8000", "external port range 8010-8000 ends before it starts", 4},
      {"tcp/80-", "has no external port", 7},
      {"tcp/8000-8010:80", "maps 11 external ports onto 1 jail ports", 14},
      {"tcp/80:9000-9001", "maps 1 external ports onto 2 jail ports", 7},
      {"tcp/8000-8010:9000-9010", "moves the port range 8000-8010 to other jail ports", 14},
      {"tcp/198.18.170.1:80:80:80", "has more than two port parts", 22},
      {"tcp/198.18.170.300:80", "has '198.18.170.300', not an IPv4 address", 4},
      {"tcp/198.18.170.1", "has no port after the address", 16},
      {"tcp/2001:db8::10:443", "has an IPv6 address without brackets", 4},
      {"tcp/[2001:db8::10]", "has no port after the address", 18},
      {"tcp/[2001:db8::10]443", "has no port after the address", 18},
      {"tcp/[2001:db8::10:443", "has '[' without ']'", 4},
      {"tcp/[198.18.170.1]:80", "has '198.18.170.1' in brackets, not an IPv6 address", 5},
      {"tcp/0.0.0.0:80", "has the unspecified address 0.0.0.0", 4},
      {"tcp/[::]:80", "has the unspecified address ::", 4},
      {"udp/224.0.0.1:53", "has the multicast address 224.0.0.1", 4},
      {"udp/[ff02::1]:53", "has the multicast address ff02::1", 4},
  };
  for (const Bad& c : cases) {
    ExposeParse p = parseExpose(c.text);
    EXPECT_FALSE(p.rule) << c.text;
    EXPECT_EQ(p.problem, c.problem) << c.text;
    EXPECT_EQ(p.offset, c.offset) << c.text;
    EXPECT_FALSE(p.hint.empty()) << c.text;
  }
}

ExposeRule fam(const char* text, bool v4, bool v6) {
  ExposeRule r = ok(text);
  r.v4 = v4;
  r.v6 = v6;
  return r;
}

TEST(ExposeOverlapTest, SameProtoPortFamilyAndAddress) {
  EXPECT_TRUE(exposeOverlaps(fam("tcp/80", true, false), fam("tcp/80:8080", true, false)));
  EXPECT_FALSE(exposeOverlaps(fam("tcp/80", true, false), fam("udp/80", true, false)));
  EXPECT_FALSE(exposeOverlaps(fam("tcp/80", true, false), fam("tcp/81", true, false)));
  EXPECT_TRUE(exposeOverlaps(fam("tcp/8000-8010", true, false), fam("tcp/8010-8020", true, false)));
  EXPECT_FALSE(exposeOverlaps(fam("tcp/8000-8010", true, false), fam("tcp/8011-8020", true, false)));
  EXPECT_FALSE(exposeOverlaps(fam("tcp/80", true, false), fam("tcp/80", false, true)));
  EXPECT_TRUE(exposeOverlaps(fam("tcp/80", true, true), fam("tcp/80", false, true)));
  // A default address may be any address of its family.
  EXPECT_TRUE(exposeOverlaps(fam("tcp/80", true, false), fam("tcp/198.18.170.1:80", true, false)));
  EXPECT_FALSE(exposeOverlaps(fam("tcp/198.18.170.2:80", true, false), fam("tcp/198.18.170.1:80", true, false)));
  EXPECT_TRUE(exposeOverlaps(fam("tcp/198.18.170.1:80", true, false), fam("tcp/198.18.170.1:80", true, false)));
}

// --- the loader ---

std::vector<std::string> errorsOf(const std::string& text) {
  ConfigLoadResult result = parseConfig(text, "vnetd.toml");
  EXPECT_EQ(result.ok(), result.errors.empty());
  std::vector<std::string> out;
  for (const ConfigError& e : result.errors) out.push_back(e.toString());
  return out;
}

// Line 4 starts the jail.
constexpr const char* kBridge = R"([bridge.jailnet]
address = "198.18.170.1/24"
address6 = "2001:db8:170::1/64"
)";

TEST(ExposeConfigTest, LoadsForwardsWithTheirFamilies) {
  ConfigLoadResult r = parseConfig(std::string(kBridge) + R"([[jail.web.interface]]
bridge = "jailnet"
address = "198.18.170.10/24"
address6 = "2001:db8:170::10/64"
expose = ["tcp/8080:80", "udp/53", "tcp/[2001:db8:170::1]:443"]
[[jail.db.interface]]
bridge = "jailnet"
address = "auto"
expose = ["tcp/5432"]
)",
                                   "vnetd.toml");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].toString());
  const auto& web = r.config->jails.at("web").interfaces.at(0).expose;
  ASSERT_EQ(web.size(), 3u);
  EXPECT_EQ(exposeString(web[0]), "tcp/8080:80");
  EXPECT_TRUE(web[0].v4 && web[0].v6);
  EXPECT_TRUE(web[1].v4 && web[1].v6);
  EXPECT_TRUE(!web[2].v4 && web[2].v6);
  const auto& db = r.config->jails.at("db").interfaces.at(0).expose;
  ASSERT_EQ(db.size(), 1u);
  EXPECT_TRUE(db[0].v4 && !db[0].v6);
}

TEST(ExposeConfigTest, MalformedForwardPointsIntoTheString) {
  // Column 21 is the opening quote of the second element, 26 its '0' port.
  EXPECT_THAT(errorsOf(std::string(kBridge) + "[[jail.web.interface]]\nbridge = \"jailnet\"\naddress = \"auto\"\n"
                                              "expose = [\"tcp/80\", \"tcp/0\"]\n"),
              ElementsAre("vnetd.toml:7:26: [jail.web] interface 0 expose[1] 'tcp/0' has external port 0 "
                          "(ports are 1..65535)"));
  // With an escape in the string the column of the string itself is all that is known.
  EXPECT_THAT(errorsOf(std::string(kBridge) + "[[jail.web.interface]]\nbridge = \"jailnet\"\naddress = \"auto\"\n"
                                              "expose = [\"\\u0074cp/0\"]\n"),
              ElementsAre("vnetd.toml:7:11: [jail.web] interface 0 expose[0] 'tcp/0' has external port 0 "
                          "(ports are 1..65535)"));
  EXPECT_THAT(errorsOf(std::string(kBridge) + "[[jail.web.interface]]\nbridge = \"jailnet\"\naddress = \"auto\"\n"
                                              "expose = \"tcp/80\"\n"),
              ElementsAre("vnetd.toml:7:10: expected an array of strings for [jail.web] interface 0 expose, got a "
                          "string (e.g. expose = [\"tcp/8080:80\"])"));
  EXPECT_THAT(errorsOf(std::string(kBridge) + "[[jail.web.interface]]\nbridge = \"jailnet\"\naddress = \"auto\"\n"
                                              "expose = [80]\n"),
              ElementsAre("vnetd.toml:7:11: expected a string for [jail.web] interface 0 expose[0], got an integer "
                          "(e.g. \"tcp/8080:80\")"));
}

TEST(ExposeConfigTest, OverlapAcrossJailsIsRefused) {
  EXPECT_THAT(errorsOf(std::string(kBridge) + R"([[jail.a.interface]]
bridge = "jailnet"
address = "198.18.170.10/24"
expose = ["tcp/8000-8010"]
[[jail.b.interface]]
bridge = "jailnet"
address = "198.18.170.11/24"
expose = ["udp/8005", "tcp/8010"]
)"),
              ElementsAre("vnetd.toml:11:23: expose 'tcp/8010' of jail 'b' interface 0 overlaps expose "
                          "'tcp/8000-8010' of jail 'a' interface 0 (give each forward its own external port "
                          "or address)"));
  // Different external addresses do not overlap; the default does with every address.
  EXPECT_THAT(errorsOf(std::string(kBridge) + R"([[jail.a.interface]]
bridge = "jailnet"
address = "198.18.170.10/24"
expose = ["tcp/198.18.170.1:80", "tcp/198.18.170.2:80", "tcp/80"]
)"),
              ElementsAre("vnetd.toml:7:57: expose 'tcp/80' of jail 'a' interface 0 overlaps expose "
                          "'tcp/198.18.170.1:80' of jail 'a' interface 0 (give each forward its own external port "
                          "or address)"));
}

TEST(ExposeConfigTest, ForwardNeedsAnAddressOfItsFamily) {
  EXPECT_THAT(errorsOf(std::string(kBridge) + R"([[jail.a.interface]]
bridge = "jailnet"
address = "198.18.170.10/24"
expose = ["tcp/[2001:db8:170::1]:80"]
[[jail.b.interface]]
bridge = "jailnet"
address6 = "2001:db8:170::11/64"
expose = ["tcp/198.18.170.1:80"]
[[jail.c.interface]]
bridge = "jailnet"
expose = ["tcp/81"]
)"),
              ElementsAre("vnetd.toml:7:11: expose 'tcp/[2001:db8:170::1]:80' of jail 'a' interface 0 needs an IPv6 "
                          "address6 on the interface (set a static address6 on the interface to forward to)",
                          "vnetd.toml:11:11: expose 'tcp/198.18.170.1:80' of jail 'b' interface 0 needs an IPv4 "
                          "address on the interface (set address (static or \"auto\") on the interface to forward to)",
                          "vnetd.toml:14:11: expose 'tcp/81' of jail 'c' interface 0 needs an address on the "
                          "interface to forward to (set address (static or \"auto\") or a static address6 on the "
                          "interface)"));
}

// An interface on SLAAC has no IPv6 address of its own to forward to (it forms one from the
// router advertisements once the jail runs): an IPv6 forward is refused, and a forward
// without an address is IPv4 only.
TEST(ExposeConfigTest, ASlaacInterfaceHasNoIpv6AddressToForwardTo) {
  EXPECT_THAT(errorsOf(std::string(kBridge) + R"([[jail.a.interface]]
bridge = "jailnet"
address = "198.18.170.10/24"
address6 = "slaac"
expose = ["tcp/[2001:db8:170::1]:80"]
)"),
              ElementsAre("vnetd.toml:8:11: expose 'tcp/[2001:db8:170::1]:80' of jail 'a' interface 0 needs an IPv6 "
                          "address6 on the interface (set a static address6 on the interface to forward to)"));
  ConfigLoadResult r = parseConfig(std::string(kBridge) + R"([[jail.a.interface]]
bridge = "jailnet"
address = "198.18.170.10/24"
address6 = "slaac"
expose = ["tcp/8080:80"]
)",
                                   "vnetd.toml");
  ASSERT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].toString());
  const auto& rule = r.config->jails.at("a").interfaces.at(0).expose.at(0);
  EXPECT_TRUE(rule.v4);
  EXPECT_FALSE(rule.v6);
}

TEST(ExposeConfigTest, JailDefaultsCannotExpose) {
  EXPECT_THAT(errorsOf(std::string(kBridge) + "[[jail_defaults.interface]]\nbridge = \"jailnet\"\naddress = \"auto\"\n"
                                              "expose = [\"tcp/80\"]\n"),
              ElementsAre("vnetd.toml:7:10: [jail_defaults] interface 0 expose would give every jail the same "
                          "external ports (set expose in each [jail.<name>] instead)"));
}

}  // namespace
}  // namespace vnetd
