// The daemon keeps hearing interface events when its event source replaces a socket
// (the Linux source does after the kernel overflowed one; the FreeBSD source when devd
// restarts). The overflow is made for real: the daemon is stopped, its rtnetlink event
// socket's buffer shrunk (through a pidfd_getfd duplicate of it, as an administrator's
// tool could), and a burst of interface changes made while it cannot read.
#include <signal.h>
#include <sys/syscall.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/integration/daemon_fixture.h"

namespace vnetd {
namespace {

using testing::TestNet;

// Descriptors of `pid`'s rtnetlink event sockets (those listening to address changes),
// from /proc/<pid>/net/netlink and /proc/<pid>/fd.
std::vector<int> rtnetlinkEventFds(pid_t pid) {
  std::set<unsigned long> inodes;
  std::ifstream table("/proc/" + std::to_string(pid) + "/net/netlink");
  std::string line;
  std::getline(table, line);  // header: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
  while (std::getline(table, line)) {
    std::istringstream in(line);
    std::string sk, groups;
    int eth = -1;
    unsigned long port = 0, rmem = 0, wmem = 0, dump = 0, locks = 0, drops = 0, inode = 0;
    in >> sk >> eth >> port >> groups >> rmem >> wmem >> dump >> locks >> drops >> inode;
    // Groups is the first word of the multicast mask: bit n-1 for group n. The event
    // socket is the one in RTNLGRP_IPV4_IFADDR (status's link poller joins RTNLGRP_LINK only).
    if (in && eth == 0 /* NETLINK_ROUTE */ && (std::stoul(groups, nullptr, 16) & (1u << (RTNLGRP_IPV4_IFADDR - 1))))
      inodes.insert(inode);
  }
  std::vector<int> fds;
  for (int fd = 0; fd < 1024; ++fd) {
    char target[64] = {};
    std::string link = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    unsigned long inode = 0;
    if (n > 0 && std::sscanf(target, "socket:[%lu]", &inode) == 1 && inodes.count(inode)) fds.push_back(fd);
  }
  return fds;
}

// Continues a stopped daemon whatever happens to the test.
struct Continue {
  pid_t pid;
  ~Continue() { ::kill(pid, SIGCONT); }
};

TEST_F(DaemonFixture, EventsStillArriveAfterTheSourceReplacedAnOverflowedSocket) {
  std::string br = net_.bridgeName("br");
  // Only events can trigger a repair within the test: the timer's pass is an hour away.
  writeConfig("[bridge.lan]\ninterface = \"" + br + "\"\naddress = \"198.18.237.1/24\"\n", 60, 3600);
  {
    // Debug: the end of every reconcile pass is logged.
    std::ifstream in(configPath());
    std::stringstream text;
    text << in.rdbuf();
    std::string config = text.str();
    auto at = config.find("log_level = \"info\"");
    ASSERT_NE(at, std::string::npos);
    config.replace(at, 18, "log_level = \"debug\"");
    dir_.write("vnetd.toml", config);
  }
  startDaemon();
  ASSERT_TRUE(hostLink(br)) << "the start pass creates the bridge";
  pid_t pid = daemon_->pid();

  std::vector<int> event_fds = rtnetlinkEventFds(pid);
  ASSERT_EQ(event_fds.size(), 1u) << "expected exactly one rtnetlink socket with multicast groups in vnetd";
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  Continue resume{pid};
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(pid), &info, WSTOPPED | WNOWAIT), 0);
  {
    // Raw system calls: glibc's <sys/pidfd.h> declarations lack C linkage in some versions.
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    ASSERT_GE(pidfd, 0) << std::strerror(errno);
    int dup = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, event_fds[0], 0));
    ASSERT_GE(dup, 0) << std::strerror(errno);
    int tiny = 1024;  // the kernel's minimum: a message or two
    EXPECT_EQ(::setsockopt(dup, SOL_SOCKET, SO_RCVBUFFORCE, &tiny, sizeof tiny), 0);
    ::close(dup);
    ::close(pidfd);
  }
  // A burst while vnetd cannot read: far more than fits.
  for (int i = 0; i < 6; ++i) {
    std::string name = net_.bridgeName("o" + std::to_string(i));
    ASSERT_TRUE(host_->createBridge(name, std::nullopt));
    ASSERT_TRUE(host_->destroyLink(name));
  }
  size_t mark = daemon_->logSize();
  ASSERT_EQ(::kill(pid, SIGCONT), 0);
  ASSERT_TRUE(daemon_->waitForLog("rtnetlink events: the kernel dropped notifications; replaced the socket", 5000,
                                  mark))
      << daemon_->log();
  // The resync that follows the overflow re-reads everything; wait until it is over, so
  // that what follows can only be noticed through an event.
  ASSERT_TRUE(daemon_->waitForLog("reconcile (the kernel dropped interface events) took", 5000, mark))
      << daemon_->log();
  std::vector<int> now_fds = rtnetlinkEventFds(pid);
  ASSERT_EQ(now_fds.size(), 1u);

  // An address removed by hand is an rtnetlink message only (no uevent): the daemon can
  // hear it through the fresh socket alone, and repairs the bridge at once.
  mark = daemon_->logSize();
  ASSERT_EQ(testing::run({"ip", "addr", "del", "198.18.237.1/24", "dev", br}).status, 0);
  EXPECT_TRUE(daemon_->waitForLog("repaired: bridge " + br + " lacks its address 198.18.237.1/24; fixed", 5000,
                                  mark))
      << "the event never reached the daemon; its log:\n"
      << daemon_->log();
  auto bridge = hostLink(br);
  ASSERT_TRUE(bridge);
  auto addrs = host_->addresses(bridge->index);
  ASSERT_TRUE(addrs);
  bool has_gateway = false;
  for (const auto& a : *addrs) has_gateway |= a.cidr.toString() == "198.18.237.1/24";
  EXPECT_TRUE(has_gateway);
  // The control socket still answers (a number the old socket left must not be stale).
  Json st = status();
  EXPECT_GE(st["counters"].value("resyncs", 0), 1);
}

}  // namespace
}  // namespace vnetd
