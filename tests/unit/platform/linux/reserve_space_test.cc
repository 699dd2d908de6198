// platform::reserveFileSpace on Linux: blocks reserved, size unchanged (the daemon's state
// spare, core/state_store.h prepareSpare; why: platform/host.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "core/unique_fd.h"
#include "platform/host.h"

namespace vnetd::platform {
namespace {

TEST(ReserveFileSpace, ReservesBlocksWithoutChangingTheSize) {
  // The build directory: a disk filesystem like the state directory's (not tmpfs).
  std::string path = std::string(VNETD_BINARY_DIR) + "/reserve-space-XXXXXX";
  UniqueFd fd(::mkstemp(path.data()));
  ASSERT_TRUE(fd) << std::strerror(errno);
  ::unlink(path.c_str());
  constexpr uint64_t kBytes = 256 << 10;
  if (::fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 0, 4096) != 0 && errno == EOPNOTSUPP)
    GTEST_SKIP() << "the build directory's filesystem cannot reserve blocks";
  reserveFileSpace(fd.get(), kBytes);
  struct stat st {};
  ASSERT_EQ(::fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, 0) << "the size changed: a reader would see zeros as state";
  EXPECT_GE(static_cast<uint64_t>(st.st_blocks) * 512, kBytes);
  // Writing into the reserved room makes the file exactly as long as what was written.
  const std::string text = "{\"version\": 2}\n";
  ASSERT_EQ(::write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ASSERT_EQ(::fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(text.size()));
  reserveFileSpace(fd.get(), 0);  // nothing to do, no error
  reserveFileSpace(-1, kBytes);   // best effort: a bad descriptor is not a crash
}

}  // namespace
}  // namespace vnetd::platform
