// Readers of libnftables' JSON listings shared by the bridges' NAT (nft_text.cc) and the
// jails' forwards (nft_expose.cc). Pure; never throw on any shape of input.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace vnetd::platform::lnx::nftjson {

using Json = nlohmann::json;

// object[key] when `object` is an object that has it; nullptr otherwise.
inline const Json* member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// Whether `v` is there and is the string `want`.
inline bool isString(const Json* v, std::string_view want) {
  return v && v->is_string() && v->get_ref<const std::string&>() == want;
}

}  // namespace vnetd::platform::lnx::nftjson
