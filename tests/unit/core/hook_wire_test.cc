// The thin hook's two protocol lines against the JSON implementation of the protocol
// (control_protocol.cc): the request is byte for byte the same, and the reply decoder gives
// the same answer — value or message — for every line here; tests/fuzz/fuzz_hook_wire.cc
// does the same for arbitrary lines.
#include "core/hook_wire.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/control_protocol.h"

namespace vnetd::control {
namespace {

const HookPhase kAll[] = {HookPhase::Prestart, HookPhase::Created, HookPhase::Poststart, HookPhase::Prestop,
                          HookPhase::Poststop};

TEST(HookWire, RequestIsTheProtocolsRequest) {
  for (HookPhase p : kAll)
    for (const char* jail : {"web", "a", "my-jail.example_01", "x234567890123456789012345678901234567890"}) {
      Request r{Op::Hook, p, jail};
      EXPECT_EQ(encodeHookRequestLine(p, jail), encodeRequest(r)) << hookPhaseName(p) << " " << jail;
      auto back = decodeRequest(encodeHookRequestLine(p, jail));
      ASSERT_TRUE(back) << back.error().message();
      EXPECT_EQ(*back, r);
    }
}

// Both decoders on one line: the same success (names, changed) or the same message.
void expectSame(const std::string& line) {
  SCOPED_TRACE(line);
  auto thin = decodeHookReplyLine(line);
  auto full = decodeHookReply(line);
  ASSERT_EQ(thin.ok(), full.ok()) << (thin ? full.error().message() : thin.error().message());
  if (full) {
    EXPECT_EQ(thin->changed, full->changed);
    EXPECT_EQ(thin->jail_side_names, full->jail_side_names);
  } else {
    EXPECT_EQ(thin.error().message(), full.error().message());
  }
}

TEST(HookWire, ReplyAsTheDaemonWritesIt) {
  HookOutcome o;
  o.changed = true;
  o.jail_side_names = {"e0b_web", "e1b_web"};
  auto thin = decodeHookReplyLine(encodeHookReply(o));
  ASSERT_TRUE(thin) << thin.error().message();
  EXPECT_TRUE(thin->changed);
  EXPECT_EQ(thin->jail_side_names, o.jail_side_names);
  o.changed = false;
  o.jail_side_names.clear();
  thin = decodeHookReplyLine(encodeHookReply(o));
  ASSERT_TRUE(thin);
  EXPECT_FALSE(thin->changed);
  EXPECT_TRUE(thin->jail_side_names.empty());
  auto err = decodeHookReplyLine(encodeError("prestart web: bridge br0: \"quoted\"\ttab \xc3\xa9 \xf0\x9f\x98\x80"));
  ASSERT_FALSE(err);
  EXPECT_EQ(err.error().message(), "prestart web: bridge br0: \"quoted\"\ttab \xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(HookWire, AgreesWithTheJsonDecoder) {
  const std::vector<std::string> lines = {
      // well-formed
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":["e0b_web"]})",
      R"( { "jail_side_names" : [ ] , "changed" : false , "ok" : true , "v" : 1 } )",
      "\xEF\xBB\xBF{\"v\":1,\"ok\":true,\"changed\":true,\"jail_side_names\":[]}",  // byte order mark
      "\xEF\xBB{\"v\":1,\"ok\":true,\"changed\":true,\"jail_side_names\":[]}",      // half of one
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":[],"extra":{"a":[1,2,{"b":null}],"c":-1.5e+3}})",
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":["e\u0030b_web"]})",
      // duplicates: the last one counts
      R"({"v":2,"v":1,"ok":false,"ok":true,"changed":true,"jail_side_names":[1],"jail_side_names":["a"]})",
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":["a"],"jail_side_names":7})",
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":["x1"],"jail_side_names":["y2"]})",
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":[2],"jail_side_names":["y2"]})",
      R"({"v":1,"ok":true,"changed":false,"changed":true,"jail_side_names":[]})",
      R"({"v":1,"ok":false,"error":"first","error":"second"})",
      R"({"v":1,"ok":false,"error":"x","error":3})",
      // version
      R"({"ok":true})", R"({"v":"1","ok":true})", R"({"v":1.0,"ok":true})", R"({"v":1e0,"ok":true})",
      R"({"v":-1,"ok":true})", R"({"v":01,"ok":true})", R"({"v":10,"ok":true})", R"({"v":-0,"ok":true})",
      R"({"v":18446744073709551617,"ok":true})", R"({"v":[1],"ok":true})",
      // ok / error
      R"({"v":1})", R"({"v":1,"ok":"true"})", R"({"v":1,"ok":null})", R"({"v":1,"ok":false})",
      R"({"v":1,"ok":false,"error":null})", R"({"v":1,"ok":false,"error":"a\nb \u00e9 \ud83d\ude00 \/ \b\f\r"})",
      R"({"v":1,"ok":false,"error":"lone \ud800"})", R"({"v":1,"ok":false,"error":"lone \udc00"})",
      R"({"v":1,"ok":false,"error":"bad \ud800\u0041"})", R"({"v":1,"ok":false,"error":"bad \x"})",
      R"({"v":1,"ok":false,"error":"short \u12"})", "{\"v\":1,\"ok\":false,\"error\":\"tab\tin\"}",
      "{\"v\":1,\"ok\":false,\"error\":\"overlong \xc0\xaf\"}", "{\"v\":1,\"ok\":false,\"error\":\"surr \xed\xa0\x80\"}",
      "{\"v\":1,\"ok\":false,\"error\":\"big \xf4\x90\x80\x80\"}", "{\"v\":1,\"ok\":false,\"error\":\"cut \xe2\x82\"}",
      "{\"v\":1,\"ok\":false,\"error\":\"ok \xe2\x82\xac \xf4\x8f\xbf\xbf\"}",
      // hook fields
      R"({"v":1,"ok":true})", R"({"v":1,"ok":true,"changed":1,"jail_side_names":[]})",
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":{}})",
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":["-bad"]})",
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":["this_name_is_too_long"]})",
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":["ok0",null]})",
      R"({"v":1,"ok":true,"changed":true,"jail_side_names":["e0b\u001b[31m"]})",
      // not JSON, not an object, trailing bytes
      "", " ", "[]", "1", "\"s\"", "null", "{", "}", R"({"v":1,})", R"({"v" 1})", R"({"v":1}x)", R"({"v":1} {})",
      R"({"v":1,"ok":true,"changed":tru,"jail_side_names":[]})", R"({"a":[1,]})", R"({"a":[,1]})",
      R"({"a":{"b":1,}})", R"({"a":-})", R"({"a":1.})", R"({"a":.5})", R"({"a":+1})", R"({"a":1e})",
      R"({"a":[[[[[[[[[[]]]]]]]]]],"v":1})", R"({"a":[[[[[[[[[[]]]]]]]]],"v":1})", R"({'v':1})",
      std::string("{\"v\":1,\"ok\":true\0}", 17),
      // After the object a NUL ends the input for nlohmann: the rest is never read (fuzzer).
      std::string("\xEF\xBB\xBF{\"=\":46}\0\0\0", 14), std::string("{\"v\":1,\"ok\":false,\"error\":\"e\"} \0x]", 34), "{\"v\":1}\r\n", "{\"v\":1,\"ok\":false,\"error\":\"a\"}\t\n ",
      std::string(100000, '[') + std::string(100000, ']'),
      // A number whose value overflows a double is an error for nlohmann (parser, error 406
      // "number overflow"), wherever it is; underflow to zero and huge integers that still
      // fit a double are not (fuzzer).
      R"({"v":1,"ok":true,"changed":false,"jail_side_names":[],"x":[-2.5e311]})",
      R"({"v":1,"ok":true,"changed":false,"jail_side_names":[],"x":1e309})",
      R"({"v":1,"ok":true,"changed":false,"jail_side_names":[],"x":1e308})",
      R"({"v":1,"ok":true,"changed":false,"jail_side_names":[],"x":1e-400})",
      R"({"v":1,"ok":true,"changed":false,"jail_side_names":[],"x":-0.0e99999})",
      R"({"v":1e400,"ok":true,"changed":false,"jail_side_names":[]})",
      R"({"v":1,"ok":true,"changed":false,"jail_side_names":[],"x":)" + std::string(320, '9') + "}",
      R"({"v":1,"ok":true,"changed":false,"jail_side_names":[],"x":)" + std::string(300, '9') + "}",
  };
  for (const auto& line : lines) expectSame(line);
}

TEST(HookWire, DeepNestingNeedsNoStack) {
  // A million levels: the thin decoder must not recurse (nlohmann does not either).
  std::string deep = R"({"v":1,"x":)" + std::string(1000000, '[') + std::string(1000000, ']') + "}";
  auto r = decodeHookReplyLine(deep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "vnetd sent a reply without \"ok\"");
}

}  // namespace
}  // namespace vnetd::control
