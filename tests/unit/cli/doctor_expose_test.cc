// doctor's expose:<jail>:<forward> verdict (issue 19): the first broken hop, with its fix,
// on both platforms.
#include <gtest/gtest.h>

#include "cli/vnetctl/doctor_checks.h"

namespace vnetd::cli::doctor {
namespace {

ExposeCheckFacts facts() {
  ExposeCheckFacts e;
  e.jail = "web";
  e.target.rule = *parseExpose("tcp/8080:80").rule;
  e.target.jail_v4 = IpAddress::parse("198.18.0.10");
  e.active = true;
  e.bound = std::vector<platform::BoundPort>{{ExposeProto::Tcp, 80}};
  return e;
}

platform::HostSupport forwarding(bool v4, bool v6) {
  platform::HostSupport h;
  h.ipv4_forwarding = v4;
  h.ipv6_forwarding = v6;
  return h;
}

TEST(DoctorExpose, HealthyForwardIsOk) {
  auto h = forwarding(true, false);
  Verdict v = judgeExpose(Platform::Linux, &h, facts());
  EXPECT_EQ(v.check, "expose:web:tcp/8080:80");
  EXPECT_EQ(v.status, Status::Ok);
  EXPECT_EQ(v.message, "forward tcp/8080:80 of jail web: rules loaded, host forwards, the jail listens on tcp port 80");
}

TEST(DoctorExpose, SaysWhichHopIsBroken) {
  auto h = forwarding(true, true);
  ExposeCheckFacts e = facts();
  e.active = false;
  Verdict v = judgeExpose(Platform::Linux, &h, e);
  EXPECT_EQ(v.status, Status::Fail);
  EXPECT_EQ(v.message, "forward tcp/8080:80 of jail web: its rules are not loaded");

  e = facts();
  e.hooked = false;
  v = judgeExpose(Platform::FreeBSD, &h, e);
  EXPECT_EQ(v.status, Status::Fail);
  EXPECT_NE(v.fix.find("rdr-anchor \"vnetd/*\""), std::string::npos) << v.fix;

  auto off = forwarding(false, true);
  v = judgeExpose(Platform::Linux, &off, facts());
  EXPECT_EQ(v.status, Status::Fail);
  EXPECT_EQ(v.fix, "sysctl -w net.ipv4.ip_forward=1");
  v = judgeExpose(Platform::FreeBSD, &off, facts());
  EXPECT_EQ(v.fix, "sysctl net.inet.ip.forwarding=1 && sysrc gateway_enable=YES");
  // An IPv4-only forward does not need IPv6 forwarding.
  auto v6off = forwarding(true, false);
  EXPECT_EQ(judgeExpose(Platform::Linux, &v6off, facts()).status, Status::Ok);

  e = facts();
  e.bound = std::vector<platform::BoundPort>{{ExposeProto::Udp, 80}, {ExposeProto::Tcp, 8080}};
  v = judgeExpose(Platform::Linux, &h, e);
  EXPECT_EQ(v.status, Status::Warn);
  EXPECT_EQ(v.message,
            "forward tcp/8080:80 of jail web: nothing in the jail listens on tcp port 80 (connections are refused or "
            "dropped there)");
  EXPECT_EQ(v.fix, "start the service in the jail; ip netns exec web ss -ltnu");

  e = facts();
  e.active.reset();
  e.rule_error = "list nftables table inet vnetd: Operation not permitted";
  v = judgeExpose(Platform::Linux, &h, e);
  EXPECT_EQ(v.status, Status::Warn);
  EXPECT_EQ(v.fix, "nft list table inet vnetd");

  e = facts();
  e.bound.reset();
  e.bound_error = "list the sockets of jail web: jail web (jid 3): jail_attach: Operation not permitted";
  v = judgeExpose(Platform::FreeBSD, &h, e);
  EXPECT_EQ(v.status, Status::Ok);
  EXPECT_NE(v.message.find("sockstat -4 -6 -l -j web"), std::string::npos) << v.message;
}

}  // namespace
}  // namespace vnetd::cli::doctor
