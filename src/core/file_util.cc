#include "core/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/unique_fd.h"

namespace vnetd {

Result<std::string> readSmallFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errnoError("open " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errnoError("stat " + path);
  if (!S_ISREG(st.st_mode)) return plainError(path + " is not a regular file");
  return readSmallFile(fd.get(), path, max_bytes);
}

Result<std::string> readSmallFile(int fd, const std::string& path, size_t max_bytes) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoError("read " + path);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes)
      return Error{EFBIG, "read " + path + " (larger than " + std::to_string(max_bytes) + " bytes)"};
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string trimWhitespace(std::string_view text) {
  const char* ws = " \t\r\n\f\v";
  size_t b = text.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = text.find_last_not_of(ws);
  return std::string(text.substr(b, e - b + 1));
}

std::vector<std::string_view> splitFields(std::string_view line, std::string_view separators) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && separators.find(line[i]) != std::string_view::npos) ++i;
    size_t start = i;
    while (i < line.size() && separators.find(line[i]) == std::string_view::npos) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

}  // namespace vnetd
