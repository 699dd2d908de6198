// Base of the Linux integration tests: the product's own backend (host stack, jails)
// for checking kernel state, a TestNet for namespaces and links, a temp directory, and
// the state store in it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>

#include "core/state_store.h"
#include "platform/jails.h"
#include "platform/netif.h"
#include "tests/support/testnet.h"

namespace vnetd {

class BackendFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::isRoot()) << "integration tests create namespaces and need root";
    auto h = platform::openHostStack();
    ASSERT_TRUE(h) << h.error().message();
    host_ = std::move(*h);
    auto j = platform::openJails();
    ASSERT_TRUE(j) << j.error().message();
    jails_ = std::move(*j);
  }

  std::optional<platform::LinkInfo> hostLink(const std::string& name) {
    auto l = host_->link(name);
    EXPECT_TRUE(l) << l.error().message();
    return l ? *l : std::nullopt;
  }

  // The state store the tests' configurations point at: <temp dir>/state.
  State loadState() {
    auto store = StateStore::open(dir_.file("state"));
    EXPECT_TRUE(store);
    auto lock = store->lock();
    EXPECT_TRUE(lock);
    auto s = store->load(*lock);
    EXPECT_TRUE(s) << s.error().message();
    return s ? *s : State{};
  }

  testing::TestNet net_;
  testing::TempDir dir_;
  std::unique_ptr<platform::NetStack> host_;
  std::unique_ptr<platform::Jails> jails_;
};

}  // namespace vnetd
