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
      {R"({"v":1,"op":"hook","jail":"web"})", "op hook needs \"phase\" (prestart, created or poststop)"},
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
