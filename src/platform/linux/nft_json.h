// Readers of libnftables' JSON listings shared by the bridges' NAT (nft_text.cc) and the
// jails' forwards (nft_expose.cc). Pure; never throw on any shape of input.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

#include "core/result.h"

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

// The "nftables" array of a JSON listing as libnftables prints it (`nft -j list ...`), or the
// one-line error for text larger than `max_bytes`, not JSON, or without that array.
inline Result<Json> listingItems(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes)
    return plainError("nftables listing larger than " + std::to_string(max_bytes) + " bytes");
  Json doc = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return plainError("nftables listing is not JSON");
  const Json* items = member(doc, "nftables");
  if (!items || !items->is_array()) return plainError("nftables listing has no \"nftables\" array");
  return Json(std::move(doc["nftables"]));
}

}  // namespace vnetd::platform::lnx::nftjson
