#include "core/result.h"

#include <gtest/gtest.h>

namespace vnetd {
namespace {

Result<int> half(int v) {
  if (v % 2) return Error{EINVAL, "half of " + std::to_string(v)};
  return v / 2;
}

Result<int> quarter(int v) {
  auto h = half(v);
  VNETD_TRY(h);
  return half(*h);
}

Result<void> check(bool good) {
  if (!good) return plainError("check failed");
  return success();
}

TEST(Result, ValueAndError) {
  auto ok = half(8);
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, 4);
  auto bad = half(3);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, EINVAL);
  EXPECT_EQ(bad.error().message(), "half of 3: " + std::string(std::strerror(EINVAL)));
}

TEST(Result, TryPropagatesAndContextWraps) {
  EXPECT_EQ(*quarter(8), 2);
  auto r = quarter(6);  // 6/2 = 3 is odd
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().context, "half of 3");
  auto wrapped = quarter(6).withContext("prestart web");
  EXPECT_EQ(wrapped.error().context, "prestart web: half of 3");
  EXPECT_EQ(wrapped.error().code, EINVAL);
}

TEST(Result, Void) {
  EXPECT_TRUE(check(true));
  auto r = check(false);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "check failed");
}

}  // namespace
}  // namespace vnetd
