#include "core/control_protocol.h"

#include <gtest/gtest.h>

namespace vnetd::control {
namespace {

TEST(ControlProtocol, DecodesEveryOp) {
  auto hook = decodeRequest(R"({"v":1,"op":"hook","phase":"prestart","jail":"web"})");
  ASSERT_TRUE(hook) << hook.error().message();
  EXPECT_EQ(hook->op, Op::Hook);
  EXPECT_EQ(hook->phase, HookPhase::Prestart);
  EXPECT_EQ(hook->jail, "web");
  auto status = decodeRequest(R"({"op":"status","v":1})");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->op, Op::Status);
  EXPECT_EQ(status->jail, "");
  auto one = decodeRequest(R"({"v":1,"op":"status","jail":"db"})");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->jail, "db");
  EXPECT_TRUE(decodeRequest(R"({"v":1,"op":"ping"})"));
  EXPECT_TRUE(decodeRequest(R"({"v":1,"op":"reload"})"));
}

TEST(ControlProtocol, RoundTrip) {
  for (const Request& r : {Request{Op::Hook, HookPhase::Poststop, "a.b-c"}, Request{Op::Status, std::nullopt, ""},
                           Request{Op::Status, std::nullopt, "x"}, Request{Op::Ping, std::nullopt, ""}}) {
    auto back = decodeRequest(encodeRequest(r));
    ASSERT_TRUE(back) << encodeRequest(r) << ": " << back.error().message();
    EXPECT_EQ(*back, r);
  }
  EXPECT_EQ(encodeRequest({Op::Hook, HookPhase::Created, "web"}),
            R"({"jail":"web","op":"hook","phase":"created","v":1})");
}

TEST(ControlProtocol, GarbageGetsOneClearLine) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "request is not valid JSON"},
      {"\x01\x02garbage", "request is not valid JSON"},
      {"[1,2]", "request is not a JSON object"},
      {R"({"op":"ping"})", "request has no protocol version (\"v\": 1)"},
      {R"({"v":"1","op":"ping"})", "request has no protocol version (\"v\": 1)"},
      {R"({"v":2,"op":"ping"})", "protocol version 2 is not supported (this vnetd speaks 1)"},
      {R"({"v":1})", "request has no \"op\""},
      {R"({"v":1,"op":"rm -rf"})", "unknown op \"rm -rf\""},
      {R"({"v":1,"op":"ping","extra":1})", "unknown request field \"extra\""},
      {R"({"v":1,"op":"hook","jail":"web"})", "op hook needs \"phase\" (prestart, created, poststart, prestop or poststop)"},
      {R"({"v":1,"op":"hook","phase":"start","jail":"web"})", "unknown phase \"start\""},
      {R"({"v":1,"op":"hook","phase":"created"})", "op hook needs \"jail\""},
      {R"({"v":1,"op":"hook","phase":"created","jail":"../x"})",
       "jail name contains '/' (allowed: A-Z a-z 0-9 _ . -)"},
      {R"({"v":1,"op":"hook","phase":"created","jail":7})", "\"jail\" must be a string"},
      {R"({"v":1,"op":"ping","phase":"created"})", "op ping takes no \"phase\""},
      {R"({"v":1,"op":"reload","jail":"web"})", "op reload takes no \"jail\""},
      {std::string(kMaxRequestBytes + 1, ' '), "request larger than 65536 bytes"},
  };
  for (const auto& [line, message] : cases) {
    auto r = decodeRequest(line);
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.error().message(), message) << line;
  }
}

TEST(ControlProtocol, ErrorLine) {
  EXPECT_EQ(encodeError("no such \"jail\""), R"({"error":"no such \"jail\"","ok":false,"v":1})");
}

}  // namespace
}  // namespace vnetd::control

namespace vnetd::control {
namespace {

TEST(ControlProtocol, HookReplyRoundTrip) {
  HookOutcome out;
  out.changed = true;
  out.jail_side_names = {"e0b_web", "e1b_web"};
  auto back = decodeHookReply(encodeHookReply(out));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_TRUE(back->changed);
  EXPECT_EQ(back->jail_side_names, out.jail_side_names);
  EXPECT_TRUE(decodeReplyStatus(encodeHookReply(out)));
}

TEST(ControlProtocol, FailedReplyCarriesTheDaemonsMessage) {
  auto r = decodeHookReply(encodeError("bridge bridge0 exists but is not a bridge"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "bridge bridge0 exists but is not a bridge");
  EXPECT_EQ(decodeReplyStatus(encodeError("nope")).error().message(), "nope");
}

TEST(ControlProtocol, MalformedRepliesAreErrors) {
  for (const char* bad : {"", "garbage", "[]", R"({"ok":true})", R"({"v":2,"ok":true})", R"({"v":1})",
                          R"({"v":1,"ok":false})", R"({"v":1,"ok":true,"changed":1,"jail_side_names":[]})",
                          R"({"v":1,"ok":true,"changed":true})",
                          R"({"v":1,"ok":true,"changed":true,"jail_side_names":["../etc"]})"}) {
    EXPECT_FALSE(decodeHookReply(bad)) << bad;
  }
}

}  // namespace
}  // namespace vnetd::control

namespace vnetd::control {
namespace {

Request captureRequest(const std::string& jail) {
  Request r;
  r.op = Op::Capture;
  r.jail = jail;
  return r;
}

TEST(ControlProtocol, CaptureRequestDecodesAndRoundTrips) {
  auto live = decodeRequest(
      R"({"v":1,"op":"capture","jail":"web","count":10,"seconds":60,"snaplen":96,"filter":"udp port 53"})");
  ASSERT_TRUE(live) << live.error().message();
  EXPECT_EQ(live->op, Op::Capture);
  EXPECT_EQ(live->jail, "web");
  EXPECT_EQ(live->count, 10u);
  EXPECT_EQ(live->seconds, 60u);
  EXPECT_EQ(live->snaplen, 96u);
  EXPECT_EQ(live->filter, "udp port 53");
  EXPECT_FALSE(live->last);
  auto last = decodeRequest(R"({"v":1,"op":"capture","jail":"db","last":true})");
  ASSERT_TRUE(last) << last.error().message();
  EXPECT_TRUE(last->last);
  EXPECT_EQ(last->count, 0u);

  Request a = captureRequest("a.b-c");
  a.count = kMaxCaptureCount;
  a.seconds = kMaxCaptureSeconds;
  a.snaplen = kMaxCaptureSnaplen;
  a.filter = std::string(kMaxCaptureFilterBytes, 'x');
  Request b = captureRequest("x");
  b.last = true;
  b.count = 5;
  Request c = captureRequest("y");
  c.seconds = 1;
  for (const Request& r : {a, b, c}) {
    auto back = decodeRequest(encodeRequest(r));
    ASSERT_TRUE(back) << encodeRequest(r) << ": " << back.error().message();
    EXPECT_EQ(*back, r);
  }
}

TEST(ControlProtocol, BadCaptureRequestsGetOneClearLine) {
  const std::pair<std::string, std::string> cases[] = {
      {R"({"v":1,"op":"capture","count":1})", "op capture needs \"jail\""},
      {R"({"v":1,"op":"capture","jail":"../x","count":1})", "jail name contains '/' (allowed: A-Z a-z 0-9 _ . -)"},
      {R"({"v":1,"op":"capture","jail":"web"})", "a live capture needs \"count\" or \"seconds\" (or both)"},
      {R"({"v":1,"op":"capture","jail":"web","count":0,"seconds":0})",
       "a live capture needs \"count\" or \"seconds\" (or both)"},
      {R"({"v":1,"op":"capture","jail":"web","count":-1})", "\"count\" must be an integer from 0 to 10000000"},
      {R"({"v":1,"op":"capture","jail":"web","count":10000001})", "\"count\" must be an integer from 0 to 10000000"},
      {R"({"v":1,"op":"capture","jail":"web","count":1.5})", "\"count\" must be an integer from 0 to 10000000"},
      {R"({"v":1,"op":"capture","jail":"web","seconds":86401})", "\"seconds\" must be an integer from 0 to 86400"},
      {R"({"v":1,"op":"capture","jail":"web","seconds":"5"})", "\"seconds\" must be an integer from 0 to 86400"},
      {R"({"v":1,"op":"capture","jail":"web","count":1,"snaplen":262145})",
       "\"snaplen\" must be an integer from 0 to 262144"},
      {R"({"v":1,"op":"capture","jail":"web","count":1,"last":1})", "\"last\" must be true or false"},
      {R"({"v":1,"op":"capture","jail":"web","last":true,"seconds":3})",
       "a flight-recorder capture (\"last\") takes no \"seconds\""},
      {R"({"v":1,"op":"capture","jail":"web","count":1,"filter":5})", "\"filter\" must be a string"},
      {R"({"v":1,"op":"capture","jail":"web","count":1,"filter":"udp\nport 53"})",
       "capture filter contains a non-printable character"},
      {R"({"v":1,"op":"capture","jail":"web","count":1,"filter":"\u00e9"})",
       "capture filter contains a non-printable character"},
      {R"({"v":1,"op":"capture","jail":"web","count":1,"filter":")" + std::string(kMaxCaptureFilterBytes + 1, 'x') +
           "\"}",
       "capture filter longer than 1024 bytes"},
      {R"({"v":1,"op":"capture","jail":"web","count":1,"phase":"created"})", "op capture takes no \"phase\""},
      {R"({"v":1,"op":"status","count":1})", "op status takes no \"count\""},
      {R"({"v":1,"op":"hook","phase":"created","jail":"web","filter":"udp"})", "op hook takes no \"filter\""},
      {R"({"v":1,"op":"ping","last":true})", "op ping takes no \"last\""},
  };
  for (const auto& [line, message] : cases) {
    auto r = decodeRequest(line);
    ASSERT_FALSE(r) << line;
    EXPECT_EQ(r.error().message(), message) << line;
  }
}

// A sampled capture's flight recorder says so in its header; an unsampled one's header is
// what it always was.
TEST(ControlProtocol, CaptureHeaderCarriesTheSampleRate) {
  CaptureHeader h{"br0", 1, 128, 64};
  EXPECT_EQ(encodeCaptureHeader(h), R"({"bridge":"br0","linktype":1,"ok":true,"sample":64,"snaplen":128,"v":1})");
  auto back = decodeCaptureHeader(encodeCaptureHeader(h));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->sample, 64u);
  auto plain = decodeCaptureHeader(R"({"v":1,"ok":true,"bridge":"br0","linktype":1,"snaplen":10})");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->sample, 1u);
}

TEST(ControlProtocol, CaptureHeaderRoundTripsAndRejectsWhatATerminalShouldNotSee) {
  CaptureHeader h{"br0,jailnet", 1, 262144};
  EXPECT_EQ(encodeCaptureHeader(h), R"({"bridge":"br0,jailnet","linktype":1,"ok":true,"snaplen":262144,"v":1})");
  auto back = decodeCaptureHeader(encodeCaptureHeader(h));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, h);
  auto refused = decodeCaptureHeader(encodeError("capture filter: syntax error"));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message(), "capture filter: syntax error");
  for (const char* bad :
       {R"({"v":1,"ok":true,"linktype":1,"snaplen":10})", R"({"v":1,"ok":true,"bridge":"br0","snaplen":10})",
        R"({"v":1,"ok":true,"bridge":"br\u001b[2J","linktype":1,"snaplen":10})",
        R"({"v":1,"ok":true,"bridge":"br0,","linktype":1,"snaplen":10})",
        R"({"v":1,"ok":true,"bridge":"br0","linktype":1,"snaplen":0})",
        R"({"v":1,"ok":true,"bridge":"br0","linktype":1,"snaplen":262145})",
        R"({"v":1,"ok":true,"bridge":"br0","linktype":-1,"snaplen":10})",
        R"({"v":1,"ok":true,"bridge":"br0","linktype":1,"snaplen":10,"sample":0})",
        R"({"v":1,"ok":true,"bridge":"br0","linktype":1,"snaplen":10,"sample":"64"})"})
    EXPECT_FALSE(decodeCaptureHeader(bad)) << bad;
}

}  // namespace
}  // namespace vnetd::control
