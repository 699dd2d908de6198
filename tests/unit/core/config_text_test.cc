// The loader's wording helpers (core/config_text.h): every message stays one line.
#include "core/config_text.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace vnetd::config_text {
namespace {

TEST(ConfigText, ShowEscapesControlBytesAndCutsOnACharacterBoundary) {
  EXPECT_EQ(show("a\nb\x7f"), "a\\x0ab\\x7f");
  EXPECT_EQ(show("say \"hi\"", true), "say \\\"hi\\\"");
  EXPECT_EQ(show(std::string(70, 'x')), std::string(64, 'x') + "...");
  // "é" is two bytes: a cut through it backs off to the character's start.
  std::string text = std::string(63, 'x') + "\xc3\xa9" + "yyy";
  EXPECT_EQ(show(text), std::string(63, 'x') + "...");
  EXPECT_EQ(quoted("a'b"), "'a'b'");
}

TEST(ConfigText, TomlKeyQuotesOnlyWhatABareKeyCannotSay) {
  EXPECT_EQ(tomlKey("web-1_a"), "web-1_a");
  EXPECT_EQ(tomlKey("my bridge"), "\"my bridge\"");
  EXPECT_EQ(tomlKey("a.b"), "\"a.b\"");
  EXPECT_EQ(tomlKey(""), "\"\"");
}

TEST(ConfigText, SuggestsOnlyCloseWords) {
  constexpr std::string_view kKeys[] = {"snaplen", "max_flows", "enabled"};
  EXPECT_EQ(closest("snaplenn", kKeys), "snaplen");
  EXPECT_EQ(closest("max_flow", kKeys), "max_flows");
  EXPECT_EQ(closest("portnumber", kKeys), std::nullopt);
  // A two-letter word is within distance 2 of too much to be a hint.
  constexpr std::string_view kShort[] = {"ab"};
  EXPECT_EQ(closest("xy", kShort), std::nullopt);
  EXPECT_EQ(keySuggestion("port", kKeys), "valid keys: snaplen, max_flows, enabled");
  std::vector<std::string> names(10, "n");
  EXPECT_EQ(definedNames(names), "n, n, n, n, n, n, n, n, ...");
}

TEST(ConfigText, SizeStringUsesTheLargestExactSuffix) {
  EXPECT_EQ(sizeString(int64_t{64} << 10), "64K");
  EXPECT_EQ(sizeString(int64_t{1} << 30), "1G");
  EXPECT_EQ(sizeString(int64_t{3} << 20), "3M");
  EXPECT_EQ(sizeString(1000), "1000");
}

}  // namespace
}  // namespace vnetd::config_text
