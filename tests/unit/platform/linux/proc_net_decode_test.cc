// The /proc/net socket table decoder (issue 19, doctor's "does the jail listen").
#include "platform/linux/proc_net_decode.h"

#include <gtest/gtest.h>

namespace vnetd::platform::lnx {
namespace {

// Lines as Linux 6.x prints them (tcp4_seq_show; tcp6 has 32-digit addresses; udp alike).
constexpr const char* kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 123 1 0 100 0 0 10 0\n"
    "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 456 1 0 20 4 30 10 -1\n";
constexpr const char* kUdp6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when "
    "retrnsmt   uid  timeout inode ref pointer drops\n"
    "  101: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 "
    "00:00000000 00000000     0        0 789 2 0000000000000000 0\n";

TEST(ProcNetDecode, PortsAndStates) {
  auto tcp = decodeProcNetSockets(kTcp);
  ASSERT_TRUE(tcp) << tcp.error().message();
  EXPECT_EQ(*tcp, (std::vector<ProcNetSocket>{{80, kTcpListen}, {8080, 0x01}}));
  auto udp = decodeProcNetSockets(kUdp6);
  ASSERT_TRUE(udp) << udp.error().message();
  EXPECT_EQ(*udp, (std::vector<ProcNetSocket>{{53, 0x07}}));
  // Header only: no sockets.
  auto none = decodeProcNetSockets("  sl  local_address rem_address   st tx_queue\n");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(ProcNetDecode, RefusesWhatIsNotSuchATable) {
  EXPECT_FALSE(decodeProcNetSockets(""));
  EXPECT_FALSE(decodeProcNetSockets("hello\n"));
  const std::string head = "  sl  local_address rem_address   st\n";
  EXPECT_FALSE(decodeProcNetSockets(head + "   0: 00000000:50 00000000:0000 0A\n")) << "port of 2 digits";
  EXPECT_FALSE(decodeProcNetSockets(head + "   0: 0000000:0050 00000000:0000 0A\n")) << "address of 7 digits";
  EXPECT_FALSE(decodeProcNetSockets(head + "   0: 00000000:0050 00000000:0000 A\n")) << "state of 1 digit";
  EXPECT_FALSE(decodeProcNetSockets(head + "   0: 0000000G:0050 00000000:0000 0A\n")) << "not hex";
  EXPECT_FALSE(decodeProcNetSockets(head + "   0 00000000:0050 00000000:0000 0A\n")) << "no colon after sl";
}

}  // namespace
}  // namespace vnetd::platform::lnx
