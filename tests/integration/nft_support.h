// Integration-test helper for vnetd's nftables tables (Linux): what rules a table holds, by
// their comments, read through libnftables as the product reads it.
#pragma once

#include <cerrno>
#include <map>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "platform/linux/nftables.h"

namespace vnetd::testing {

// Comments of the rules in nftables table `table` ("ip vnetd", "inet vnetd"), each with its
// count ("" for a rule without one); empty when the table does not exist.
inline std::map<std::string, int> nftRuleComments(const std::string& table) {
  std::map<std::string, int> out;
  auto listing = platform::lnx::nftListJson("list table " + table, "test: list table " + table);
  if (!listing) {
    EXPECT_EQ(listing.error().code, ENOENT) << listing.error().message();
    return out;
  }
  nlohmann::json doc = nlohmann::json::parse(*listing, nullptr, false);
  for (const nlohmann::json& item : doc.value("nftables", nlohmann::json::array()))
    if (item.contains("rule")) ++out[item["rule"].value("comment", "")];
  return out;
}

}  // namespace vnetd::testing
