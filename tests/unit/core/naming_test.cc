#include "core/naming.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <unordered_set>

namespace vnetd {
namespace {

TEST(InterfaceName, ShortNamesFollowJibConvention) {
  EXPECT_EQ(interfaceName("web", 0, Side::A), "e0a_web");
  EXPECT_EQ(interfaceName("web", 0, Side::B), "e0b_web");
  EXPECT_EQ(interfaceName("db", 3, Side::A), "e3a_db");
  EXPECT_EQ(interfaceName("a.b_c", 1, Side::B), "e1b_a.b_c");
  // Exactly 15 characters still uses the plain form.
  EXPECT_EQ(interfaceName("abcdefghijk", 0, Side::A), "e0a_abcdefghijk");
  EXPECT_EQ(interfaceName("abcdefghij", 10, Side::A), "e10a_abcdefghij");
}

TEST(InterfaceName, LongNamesAreShortenedWithAHashSuffix) {
  std::string a = interfaceName("webserver-prod", 0, Side::A);
  std::string b = interfaceName("webserver-prod", 0, Side::B);
  EXPECT_EQ(a.size(), 15u);
  EXPECT_EQ(a.substr(0, 7), "e0a_web");
  EXPECT_EQ(b.substr(0, 7), "e0b_web");
  // Paired names differ only in the side letter.
  EXPECT_EQ(a.substr(3), b.substr(3));
  // Two names sharing the readable head still differ.
  EXPECT_NE(interfaceName("webserver-prod1", 0, Side::A), interfaceName("webserver-prod2", 0, Side::A));
  // 12 chars does not fit "e0a_" + 12 = 16.
  EXPECT_EQ(interfaceName("abcdefghijkl", 0, Side::A).size(), 15u);
}

TEST(InterfaceName, DashIsNeverCopiedAndNeverCollidesWithUnderscore) {
  std::string dash = interfaceName("my-web", 0, Side::A);
  std::string underscore = interfaceName("my_web", 0, Side::A);
  EXPECT_EQ(underscore, "e0a_my_web");
  EXPECT_EQ(dash.find('-'), std::string::npos);
  EXPECT_NE(dash, underscore);
}

TEST(InterfaceName, FrozenValues) {
  // These strings end up in administrators' pf rules and the MACs in DHCP reservations:
  // a change to these expectations is a breaking change for every installed host.
  EXPECT_EQ(interfaceName("webserver-prod", 0, Side::A), "e0a_web4b4qXuA4");
  EXPECT_EQ(interfaceName("a-very-long-jail-name-indeed", 2, Side::B), "e2b_a_vieheDxtm");
  EXPECT_EQ(interfaceName("my-web", 0, Side::A), "e0a_my_4Zu4WCwA");
  EXPECT_EQ(deriveMac("0f3c2a9e-host", "web", 0, Side::A).toString(), "02:16:f3:95:ec:f6");
  EXPECT_EQ(deriveMac("0f3c2a9e-host", "web", 0, Side::B).toString(), "02:16:f3:95:ec:f7");
}

TEST(JailName, Validation) {
  EXPECT_TRUE(isValidJailName("web"));
  EXPECT_TRUE(isValidJailName("web-01.prod_x"));
  EXPECT_EQ(jailNameProblem(""), "jail name is empty");
  EXPECT_EQ(jailNameProblem("../x"), "jail name contains '/' (allowed: A-Z a-z 0-9 _ . -)");
  EXPECT_EQ(jailNameProblem("a;rm -rf /"), "jail name contains ';' (allowed: A-Z a-z 0-9 _ . -)");
  EXPECT_EQ(jailNameProblem(std::string(200, 'a')), "jail name is 200 characters long (at most 64)");
  EXPECT_EQ(jailNameProblem("caf\xc3\xa9"), "jail name contains 0xc3 (allowed: A-Z a-z 0-9 _ . -)");
  EXPECT_EQ(jailNameProblem("-x"), "jail name must not start with '-'");
  EXPECT_EQ(jailNameProblem(".."), "jail name must not start with '.'");
  EXPECT_EQ(jailNameProblem(std::string("a\0b", 3)), "jail name contains 0x00 (allowed: A-Z a-z 0-9 _ . -)");
}

TEST(InterfaceNameValidation, Limits) {
  EXPECT_TRUE(isValidInterfaceName("bridge0"));
  EXPECT_TRUE(isValidInterfaceName("eth0.100"));
  EXPECT_FALSE(isValidInterfaceName("abcdefghijklmnop"));  // 16
  EXPECT_FALSE(isValidInterfaceName("a b"));
  EXPECT_FALSE(isValidInterfaceName("a/b"));
}

TEST(Mac, ParseAndFormat) {
  auto m = MacAddress::parse("02:AB:cd:00:11:ff");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->toString(), "02:ab:cd:00:11:ff");
  EXPECT_FALSE(MacAddress::parse("02:ab:cd:00:11"));
  EXPECT_FALSE(MacAddress::parse("02-ab-cd-00-11-ff"));
  EXPECT_FALSE(MacAddress::parse("02:ab:cd:00:11:fg"));
}

TEST(Mac, DerivedMacsAreStableLocalUnicastAndSideDistinct) {
  MacAddress a = deriveMac("host-1", "web", 0, Side::A);
  MacAddress b = deriveMac("host-1", "web", 0, Side::B);
  EXPECT_EQ(a, deriveMac("host-1", "web", 0, Side::A));
  EXPECT_NE(a, b);
  EXPECT_TRUE(a.isLocallyAdministered());
  EXPECT_FALSE(a.isMulticast());
  EXPECT_NE(a, deriveMac("host-2", "web", 0, Side::A));  // differs across hosts
  EXPECT_NE(a, deriveMac("host-1", "web", 1, Side::A));
}

// Random valid jail names over the full accepted alphabet and length range.
std::string randomJailName(std::mt19937_64& rng) {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
  std::uniform_int_distribution<size_t> len_dist(1, kMaxJailNameLength);
  std::uniform_int_distribution<size_t> char_dist(0, sizeof kChars - 2);
  std::string s;
  size_t len = len_dist(rng);
  // Bias towards short names too: they exercise the plain form.
  if (rng() % 2) len = 1 + len % 12;
  while (s.size() < len) {
    char c = kChars[char_dist(rng)];
    if (s.empty() && (c == '-' || c == '.')) continue;
    s += c;
  }
  return s;
}

TEST(Mac, BridgeMacsAreStableLocalUnicastAndNoJailsMac) {
  MacAddress m = bridgeMac("host-1", "bridge0");
  EXPECT_EQ(m, bridgeMac("host-1", "bridge0"));
  EXPECT_NE(m, bridgeMac("host-2", "bridge0"));
  EXPECT_NE(m, bridgeMac("host-1", "bridge1"));
  EXPECT_TRUE(m.isLocallyAdministered());
  EXPECT_FALSE(m.isMulticast());
  // What a jail called like the bridge would get is something else.
  EXPECT_NE(m, deriveMac("host-1", "bridge0", 0, Side::A));
}

TEST(NamingProperty, HundredThousandDistinctPairs) {
  std::mt19937_64 rng(20261129);
  std::set<std::pair<std::string, unsigned>> pairs;
  while (pairs.size() < 100000) {
    std::string name = randomJailName(rng);
    ASSERT_TRUE(isValidJailName(name)) << name;
    pairs.emplace(name, static_cast<unsigned>(rng() % kMaxInterfacesPerJail));
  }
  std::unordered_set<std::string> names;
  std::unordered_set<uint64_t> macs;
  names.reserve(pairs.size() * 2);
  macs.reserve(pairs.size() * 2);
  for (const auto& [jail, index] : pairs) {
    for (Side side : {Side::A, Side::B}) {
      std::string n = interfaceName(jail, index, side);
      ASSERT_LE(n.size(), kMaxInterfaceNameLength) << jail;
      ASSERT_EQ(n, interfaceName(jail, index, side)) << "not deterministic: " << jail;
      for (char c : n) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.';
        ASSERT_TRUE(ok) << "bad char in " << n;
      }
      ASSERT_TRUE(isValidInterfaceName(n)) << n;
      ASSERT_TRUE(names.insert(n).second) << "name collision: " << n << " for " << jail << "/" << index;

      MacAddress mac = deriveMac("0f3c2a9e-host", jail, index, side);
      ASSERT_EQ(mac, deriveMac("0f3c2a9e-host", jail, index, side));
      ASSERT_TRUE(mac.isLocallyAdministered());
      ASSERT_FALSE(mac.isMulticast());
      uint64_t key = 0;
      for (uint8_t byte : mac.bytes) key = key << 8 | byte;
      ASSERT_TRUE(macs.insert(key).second) << "MAC collision: " << mac.toString() << " for " << jail;
    }
    ASSERT_NE(deriveMac("0f3c2a9e-host", jail, index, Side::A), deriveMac("0f3c2a9e-host", jail, index, Side::B));
  }
  EXPECT_EQ(names.size(), 200000u);
  EXPECT_EQ(macs.size(), 200000u);
}

}  // namespace
}  // namespace vnetd
