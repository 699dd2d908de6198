#include "platform/freebsd/bridge_request.h"

#include <algorithm>
#include <cstring>
#include <span>

namespace vnetd::platform::fbsd {
namespace {

// ifd_cmd (unsigned long), ifd_len (size_t) and ifd_data (void*) are 8 bytes on LP64
// FreeBSD; the images are built as such whatever the build host's long is.
static_assert(sizeof(uint64_t) == 8 && sizeof(uintptr_t) <= sizeof(uint64_t));

// Copies at most IFNAMSIZ - 1 bytes so the (zeroed) field always keeps its NUL.
void putName(std::span<std::byte> field, const std::string& name) {
  size_t n = std::min(name.size(), kBridgeNameSize - 1);
  std::memcpy(field.data(), name.data(), n);
}

template <typename T>
void put(std::span<std::byte> image, size_t offset, T value) {
  std::memcpy(image.data() + offset, &value, sizeof(T));
}

}  // namespace

IfbreqImage encodeIfbreq(const std::string& member, uint32_t flags) {
  IfbreqImage image{};
  putName(std::span(image).subspan(kIfbrIfsnameOffset, kBridgeNameSize), member);
  put<uint32_t>(image, kIfbrIfsflagsOffset, flags);
  return image;
}

std::string ifbreqMember(const IfbreqImage& image) {
  const auto* chars = reinterpret_cast<const char*>(image.data() + kIfbrIfsnameOffset);
  return std::string(chars, std::find(chars, chars + kBridgeNameSize, '\0'));
}

uint32_t ifbreqFlags(const IfbreqImage& image) {
  uint32_t flags = 0;
  std::memcpy(&flags, image.data() + kIfbrIfsflagsOffset, sizeof flags);
  return flags;
}

IfdrvImage encodeIfdrv(const std::string& bridge, unsigned long cmd, size_t len, const void* data) {
  IfdrvImage image{};
  putName(std::span(image).subspan(kIfdNameOffset, kBridgeNameSize), bridge);
  put<uint64_t>(image, kIfdCmdOffset, cmd);
  put<uint64_t>(image, kIfdLenOffset, len);
  put<uint64_t>(image, kIfdDataOffset, reinterpret_cast<uintptr_t>(data));
  return image;
}

}  // namespace vnetd::platform::fbsd
