// The bridge capture's kernel filter (collectors/capture_filter.h), read back from the
// kernel: without sampling the kernel must cut every frame to the snapshot length itself
// (Linux copies whole frames — offload super-frames of up to 64 KiB — into the capture
// ring otherwise); with sampling it holds the sampling program.
#include <gtest/gtest.h>
#include <linux/filter.h>
#include <pcap.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "collectors/capture_filter.h"
#include "collectors/sample_filter.h"
#include "platform/sample_selection.h"
#include "tests/support/testnet.h"

namespace vnetd::collectors {
namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

class CaptureFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::isRoot());
    bridge_ = net_.bridgeName("cf");
    ASSERT_EQ(testing::run({"ip", "link", "add", bridge_, "type", "bridge"}).status, 0);
    ASSERT_EQ(testing::run({"ip", "link", "set", bridge_, "up"}).status, 0);
    char err[PCAP_ERRBUF_SIZE] = "";
    p_.reset(pcap_create(bridge_.c_str(), err));
    ASSERT_TRUE(p_) << err;
    pcap_set_snaplen(p_.get(), 128);
    ASSERT_GE(pcap_activate(p_.get()), 0) << pcap_geterr(p_.get());
  }
  // The classic program the kernel holds for the capture's socket.
  std::vector<sock_filter> kernelProgram() {
    socklen_t n = 0;
    EXPECT_EQ(::getsockopt(pcap_fileno(p_.get()), SOL_SOCKET, SO_GET_FILTER, nullptr, &n), 0);
    std::vector<sock_filter> code(n);
    if (n) {
      EXPECT_EQ(::getsockopt(pcap_fileno(p_.get()), SOL_SOCKET, SO_GET_FILTER, code.data(), &n), 0);
    }
    return code;
  }
  testing::TestNet net_;
  std::string bridge_;
  std::unique_ptr<pcap_t, PcapCloser> p_;
};

TEST_F(CaptureFilterTest, WithoutSamplingTheKernelCutsEveryFrameToTheSnapshot) {
  ASSERT_TRUE(kernelProgram().empty()) << "libpcap attached nothing by itself (why vnetd does)";
  CaptureConfig c;
  c.snaplen = 128;
  std::string problem;
  timeval skip{1, 1};
  ASSERT_TRUE(installCaptureFilter(p_.get(), bridge_, c, problem, skip)) << problem;
  EXPECT_EQ(skip.tv_sec, 0);
  auto code = kernelProgram();
  ASSERT_EQ(code.size(), 1u);
  EXPECT_EQ(code[0].code, BPF_RET | BPF_K);
  EXPECT_EQ(code[0].k, 128u);
}

TEST_F(CaptureFilterTest, WithSamplingTheKernelHoldsTheSamplingProgram) {
  CaptureConfig c;
  c.snaplen = 128;
  c.sample = 8;
  std::string problem;
  timeval skip{};
  ASSERT_TRUE(installCaptureFilter(p_.get(), bridge_, c, problem, skip)) << problem;
  const bool random = platform::sampleSelection() == platform::SampleSelection::kKernelRandom;
  EXPECT_EQ(kernelProgram().size(), random ? sampleFilterRandom(8, 128).size() : sampleFilterHash(8, 128).size());
}

}  // namespace
}  // namespace vnetd::collectors
