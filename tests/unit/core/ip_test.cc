#include "core/ip.h"

#include <gtest/gtest.h>

namespace vnetd {
namespace {

TEST(IpAddress, ParsesStrictForms) {
  auto v4 = IpAddress::parse("198.18.0.1");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->family, IpFamily::V4);
  EXPECT_EQ(v4->v4HostOrder(), 0xC6120001u);
  EXPECT_EQ(v4->toString(), "198.18.0.1");
  auto v6 = IpAddress::parse("2001:DB8::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->family, IpFamily::V6);
  EXPECT_EQ(v6->toString(), "2001:db8::1");
  for (const char* bad : {"", "198.18.0", "198.18.0.256", "198.18.0.1/24", "fe80::1%lo", " 1.2.3.4",
                          "2001:db8:::1", "x"})
    EXPECT_FALSE(IpAddress::parse(bad)) << bad;
  EXPECT_FALSE(IpAddress::parse(std::string_view("198.18.0.1\0junk", 15)));
}

TEST(Cidr, ParseNetworkContains) {
  auto c = Cidr::parse("198.18.0.1/24");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->toString(), "198.18.0.1/24");
  EXPECT_EQ(c->network().toString(), "198.18.0.0");
  EXPECT_TRUE(c->contains(*IpAddress::parse("198.18.0.200")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("198.18.1.1")));
  EXPECT_FALSE(c->contains(*IpAddress::parse("2001:db8::1")));
  auto odd = Cidr::parse("198.18.3.77/19");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->network().toString(), "198.18.0.0");
  auto v6 = Cidr::parse("2001:db8:0:1::1/64");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->network().toString(), "2001:db8:0:1::");
  EXPECT_TRUE(v6->contains(*IpAddress::parse("2001:db8:0:1::ffff")));
  for (const char* bad : {"198.18.0.1", "198.18.0.1/33", "198.18.0.1/", "198.18.0.1/-1", "198.18.0.1/2x",
                          "2001:db8::/129", "/24", "198.18.0.1/0024"})
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
}

TEST(Cidr, Overlaps) {
  EXPECT_TRUE(Cidr::parse("198.18.0.1/24")->overlaps(*Cidr::parse("198.18.0.0/16")));
  EXPECT_FALSE(Cidr::parse("198.18.0.1/24")->overlaps(*Cidr::parse("198.18.1.1/24")));
  EXPECT_FALSE(Cidr::parse("198.18.0.1/24")->overlaps(*Cidr::parse("2001:db8::1/64")));
}

}  // namespace
}  // namespace vnetd
