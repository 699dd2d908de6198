// Stable 64-bit hashing for names and MACs.
//
// These values end up in interface names and MAC addresses that administrators put
// in DHCP reservations and firewall rules, so the function is frozen: FNV-1a over the
// bytes, then the splitmix64 finaliser to spread FNV's weak low bits. Never change it
// (the state store keeps what was derived, but fresh installs must derive the same).
#pragma once

#include <cstdint>
#include <string_view>

namespace vnetd {

class StableHash {
 public:
  StableHash& add(std::string_view bytes) {
    for (unsigned char c : bytes) {
      h_ ^= c;
      h_ *= 0x100000001b3ULL;
    }
    // Length-delimit fields so ("ab","c") and ("a","bc") differ.
    h_ ^= static_cast<uint64_t>(bytes.size()) + 0x9e3779b97f4a7c15ULL;
    h_ *= 0x100000001b3ULL;
    return *this;
  }
  StableHash& add(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h_ ^= (v >> (8 * i)) & 0xff;
      h_ *= 0x100000001b3ULL;
    }
    return *this;
  }
  uint64_t digest() const {
    uint64_t z = h_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

 private:
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

}  // namespace vnetd
