// A netlink socket (libmnl) with request/ack and dump helpers, and a message builder.
//
// Used by the Linux NetStack (NETLINK_ROUTE) and the event source. One NetlinkSocket is
// used by one thread at a time. Replies are matched by sequence number; a stale reply
// (e.g. from an earlier request that timed out) is skipped, never mistaken for ours.
#pragma once

#include <libmnl/libmnl.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/result.h"
#include "core/unique_fd.h"

namespace vnetd::platform::lnx {

// Builds one netlink message in a fixed, aligned buffer. Attribute puts that would not
// fit fail loudly (ok() == false) rather than truncating.
class MessageBuilder {
 public:
  MessageBuilder(uint16_t type, uint16_t flags);
  template <typename T>
  T* putHeader() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)));
  }
  void putString(uint16_t type, const std::string& s) { ok_ &= mnl_attr_put_strz_check(nlh_, sizeof buf_, type, s.c_str()); }
  void putU8(uint16_t type, uint8_t v) { ok_ &= mnl_attr_put_u8_check(nlh_, sizeof buf_, type, v); }
  void putU32(uint16_t type, uint32_t v) { ok_ &= mnl_attr_put_u32_check(nlh_, sizeof buf_, type, v); }
  void putBytes(uint16_t type, const void* data, size_t len) {
    ok_ &= mnl_attr_put_check(nlh_, sizeof buf_, type, len, data);
  }
  nlattr* nestStart(uint16_t type) {
    nlattr* a = mnl_attr_nest_start_check(nlh_, sizeof buf_, type);
    ok_ &= a != nullptr;
    return a;
  }
  void nestEnd(nlattr* a) {
    if (a) mnl_attr_nest_end(nlh_, a);
  }
  // Reserves room for a fixed header inside a nest (e.g. the ifinfomsg of a veth peer).
  template <typename T>
  T* putRaw() {
    size_t len = MNL_ALIGN(sizeof(T));
    if (nlh_->nlmsg_len + len > sizeof buf_) {
      ok_ = false;
      return nullptr;
    }
    T* p = reinterpret_cast<T*>(reinterpret_cast<char*>(nlh_) + nlh_->nlmsg_len);
    std::memset(p, 0, len);
    nlh_->nlmsg_len += static_cast<uint32_t>(len);
    return p;
  }
  bool ok() const { return ok_; }
  nlmsghdr* message() { return nlh_; }

 private:
  alignas(8) char buf_[4096];
  nlmsghdr* nlh_;
  bool ok_ = true;
};

class NetlinkSocket {
 public:
  // A new socket on `bus` (NETLINK_ROUTE, NETLINK_KOBJECT_UEVENT), bound to `groups`
  // (multicast bitmask for the legacy groups). Close-on-exec.
  static Result<NetlinkSocket> open(int bus, uint32_t groups = 0);
  // Wraps an already created netlink socket (e.g. one made inside another namespace).
  static Result<NetlinkSocket> adopt(UniqueFd fd);

  NetlinkSocket(NetlinkSocket&&) noexcept = default;
  NetlinkSocket& operator=(NetlinkSocket&&) noexcept = default;

  // Sends `msg` with NLM_F_ACK and waits for the kernel's answer. A negative ack becomes
  // an Error with the kernel's errno and `what` as context.
  Result<void> request(MessageBuilder& msg, const std::string& what);
  // Sends every message of `batch` in one sendmsg, NLM_F_ACK on the last only, and waits
  // for the last one's answer. The kernel handles them in order and answers a failing one
  // with an error whether or not it asked for an ack, then goes on with the next
  // (net/netlink/af_netlink.c netlink_rcv_skb), so one receive usually completes the
  // batch; the first failure is returned, with the `what` of its message. Later messages
  // have run anyway: batch only steps whose failure fails the whole operation.
  struct Batched {
    MessageBuilder* message;
    std::string what;
  };
  Result<void> requestBatch(std::span<const Batched> batch);
  // Sends a get request (no dump) and returns the kernel's one reply message.
  Result<std::vector<std::byte>> query(MessageBuilder& msg, const std::string& what);
  // Sends a dump request (NLM_F_DUMP) and calls `on_message` with each reply message
  // until NLMSG_DONE. Dumps interrupted by concurrent changes (NLM_F_DUMP_INTR) are
  // retried with a short back-off; EAGAIN when they never come out clean.
  Result<void> dump(MessageBuilder& msg, const std::string& what,
                    const std::function<void(std::span<const std::byte>)>& on_message);

  // Joins a multicast group by number (RTNLGRP_*), for event sockets.
  Result<void> joinGroup(unsigned group);
  // For a socket in RTNLGRP_LINK that keeps a table of whole links (link_table.h): the
  // kernel drops the bridge's port notifications (RTM_NEWLINK/RTM_DELLINK with ifi_family
  // AF_BRIDGE, net/bridge/br_netlink.c br_ifinfo_notify) before they are queued — a third
  // or more of the link group's traffic on a host whose bridges change ports, every one
  // of which LinkTable::apply reads and ignores. A classic BPF socket filter (SO_ATTACH_FILTER:
  // netlink's broadcast runs each listener's sk_filter, net/netlink/af_netlink.c
  // do_one_broadcast); every other message passes.
  Result<void> dropBridgePortNotifications();
  // Enlarges the receive buffer (SO_RCVBUFFORCE when root, else SO_RCVBUF).
  void setReceiveBuffer(int bytes);
  int fd() const;

 private:
  // Called with each reply message to the current request; returns true when the
  // exchange is complete.
  using ReplyHandler = std::function<bool(std::span<const std::byte>)>;
  // Sends `msg` with a fresh sequence number and feeds the replies to `on_reply`.
  Result<void> exchange(MessageBuilder& msg, const std::string& what, const ReplyHandler& on_reply);
  // The error carried by an NLMSG_ERROR reply; code 0 for a positive ack.
  static Error errorReply(std::span<const std::byte> m, const std::string& what);

  struct Closer {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
  };
  explicit NetlinkSocket(mnl_socket* s);
  Result<void> send(nlmsghdr* nlh, const std::string& what);
  std::unique_ptr<mnl_socket, Closer> sock_;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
};

// Reads every datagram queued on a notification socket `fd` without blocking and hands
// each to `handle`. ENOBUFS (the kernel dropped notifications) sets `overflow`; the socket
// stays usable, so reading goes on. Other errors carry `what`.
//
// Up to kDatagramsPerCall datagrams per system call (recvmmsg): a jail start through the
// daemon queues a dozen link notifications or more, and another process's changes on a
// busy host dozens, which one recv each made as many system calls. The loop goes on until a
// call finds nothing: an error that ended a call after some datagrams (ENOBUFS included)
// is kept by the kernel and reported by the next call (net/socket.c do_recvmmsg). A
// datagram longer than a slot (64 KiB, as the single buffer before) arrives cut (MSG_TRUNC):
// that counts as `overflow`, the caller's cue to re-read what it keeps.
//
// The slots are one heap block per calling thread, allocated at its first call and never
// zeroed (only the pages datagrams land in become resident): a thread-local array would be
// part of every thread's static TLS block, which the C library zeroes at every
// pthread_create and every process start (the standalone hook's too).
inline constexpr unsigned kDatagramsPerCall = 8;
inline constexpr size_t kDatagramSlotBytes = 65536;

Result<void> readPendingDatagrams(int fd, const char* what, bool& overflow,
                                  const std::function<void(std::span<const std::byte>)>& handle);

}  // namespace vnetd::platform::lnx
