#include "platform/linux/netlink.h"

#include <linux/filter.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <bit>
#include <chrono>
#include <cstring>
#include <thread>

#include "platform/linux/rtnl_decode.h"

namespace vnetd::platform::lnx {
namespace {

// Large enough for any single rtnetlink reply and a good batch of dump messages (the
// kernel fills up to this much per recv; libmnl's MNL_SOCKET_DUMP_SIZE is the same).
constexpr size_t kReceiveBufferSize = 32768;

// Extended-ack text (NLMSGERR_ATTR_MSG) of an NLMSG_ERROR, if the kernel sent one.
std::string extAckMessage(std::span<const std::byte> msg) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(msg.data());
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  size_t off = NLMSG_HDRLEN + sizeof(nlmsgerr);
  // Without NLM_F_CAPPED the kernel echoes our whole request after nlmsgerr.
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
    if (msg.size() < NLMSG_HDRLEN + sizeof(nlmsgerr)) return {};
    nlmsgerr err;
    std::memcpy(&err, msg.data() + NLMSG_HDRLEN, sizeof err);
    off += NLMSG_ALIGN(err.msg.nlmsg_len) - sizeof(nlmsghdr);
  }
  while (off + sizeof(nlattr) <= msg.size()) {
    nlattr a;
    std::memcpy(&a, msg.data() + off, sizeof a);
    if (a.nla_len < sizeof(nlattr) || off + a.nla_len > msg.size()) break;
    if ((a.nla_type & NLA_TYPE_MASK) == NLMSGERR_ATTR_MSG) {
      const char* s = reinterpret_cast<const char*>(msg.data() + off + sizeof(nlattr));
      return std::string(s, strnlen(s, a.nla_len - sizeof(nlattr)));
    }
    off += NLA_ALIGN(a.nla_len);
  }
  return {};
}

Error kernelError(int err, const std::string& what, const std::string& ext) {
  // The kernel's own words ("Unknown device type") are more specific than strerror.
  return Error{err, ext.empty() ? what : what + " (" + ext + ")"};
}

}  // namespace

MessageBuilder::MessageBuilder(uint16_t type, uint16_t flags) {
  std::memset(buf_, 0, sizeof buf_);
  nlh_ = mnl_nlmsg_put_header(buf_);
  nlh_->nlmsg_type = type;
  nlh_->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | flags);
}

NetlinkSocket::NetlinkSocket(mnl_socket* s) : sock_(s), portid_(mnl_socket_get_portid(s)) {}

Result<NetlinkSocket> NetlinkSocket::open(int bus, uint32_t groups) {
  mnl_socket* s = mnl_socket_open2(bus, SOCK_CLOEXEC);
  if (!s) return errnoError("open netlink socket (bus " + std::to_string(bus) + ")");
  std::unique_ptr<mnl_socket, Closer> owned(s);
  if (mnl_socket_bind(s, groups, MNL_SOCKET_AUTOPID) < 0) return errnoError("bind netlink socket");
  int one = 1;
  // Best effort: older kernels lack extended acks; errors are still reported by errno.
  mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof one);
  mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(s, NETLINK_GET_STRICT_CHK, &one, sizeof one);  // filtered dumps
  return NetlinkSocket(owned.release());
}

Result<NetlinkSocket> NetlinkSocket::adopt(UniqueFd fd) {
  // A socket made with socket(2) elsewhere is unbound; bind it now (port id chosen by the
  // kernel) so that mnl_socket_fdopen learns the port id replies are addressed to.
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINVAL)
    return errnoError("bind adopted netlink socket");
  mnl_socket* s = mnl_socket_fdopen(fd.get());
  if (!s) return errnoError("adopt netlink socket");
  fd.release();  // now owned by the mnl_socket
  int one = 1;
  mnl_socket_setsockopt(s, NETLINK_EXT_ACK, &one, sizeof one);
  mnl_socket_setsockopt(s, NETLINK_CAP_ACK, &one, sizeof one);
  mnl_socket_setsockopt(s, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  return NetlinkSocket(s);
}

int NetlinkSocket::fd() const { return mnl_socket_get_fd(sock_.get()); }

Result<void> NetlinkSocket::joinGroup(unsigned group) {
  int g = static_cast<int>(group);
  if (mnl_socket_setsockopt(sock_.get(), NETLINK_ADD_MEMBERSHIP, &g, sizeof g) < 0)
    return errnoError("join netlink group " + std::to_string(group));
  return success();
}

Result<void> readPendingDatagrams(int fd, const char* what, bool& overflow,
                                  const std::function<void(std::span<const std::byte>)>& handle) {
  static thread_local std::unique_ptr<std::byte[]> slots;  // default-initialised: not zeroed
  if (!slots) slots.reset(new std::byte[size_t{kDatagramsPerCall} * kDatagramSlotBytes]);
  iovec iov[kDatagramsPerCall];
  mmsghdr msgs[kDatagramsPerCall];
  for (;;) {
    for (unsigned i = 0; i < kDatagramsPerCall; ++i) {
      iov[i] = iovec{slots.get() + size_t{i} * kDatagramSlotBytes, kDatagramSlotBytes};
      msgs[i] = mmsghdr{};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(fd, msgs, kDatagramsPerCall, MSG_DONTWAIT, nullptr);
    if (n > 0) {
      for (int i = 0; i < n; ++i) {
        if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
          overflow = true;
          continue;
        }
        handle(std::span<const std::byte>(slots.get() + size_t(i) * kDatagramSlotBytes, msgs[i].msg_len));
      }
      continue;
    }
    if (n == 0) return success();
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return success();
    if (errno != ENOBUFS) return errnoError(what);
    overflow = true;
  }
}

Result<void> NetlinkSocket::dropBridgePortNotifications() {
  // nlmsg_type is in host byte order and a classic BPF half-word load reads network order,
  // so each byte of the type is loaded by itself: the low one at offset 4 on a little-endian
  // host, 5 on a big-endian one. ifi_family is the first byte after the 16-byte header.
  constexpr uint32_t kTypeLow = std::endian::native == std::endian::little ? 4 : 5;
  constexpr uint32_t kTypeHigh = std::endian::native == std::endian::little ? 5 : 4;
  static_assert(RTM_NEWLINK < 256 && RTM_DELLINK < 256, "the type's high byte is 0");
  sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kTypeLow),                  // 0
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RTM_NEWLINK, 2, 0),       // 1 -> 4
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, RTM_DELLINK, 1, 0),       // 2 -> 4
      BPF_STMT(BPF_RET | BPF_K, 0xffffffff),                        // 3 keep
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kTypeHigh),                 // 4
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),                 // 5 -> 6, else 8
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, NLMSG_HDRLEN),              // 6 ifi_family
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_BRIDGE, 1, 0),         // 7 -> 9
      BPF_STMT(BPF_RET | BPF_K, 0xffffffff),                        // 8 keep
      BPF_STMT(BPF_RET | BPF_K, 0),                                 // 9 drop
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  if (::setsockopt(fd(), SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) != 0)
    return errnoError("attach the bridge-port filter to a link notification socket");
  return success();
}

void NetlinkSocket::setReceiveBuffer(int bytes) {
  if (mnl_socket_setsockopt(sock_.get(), SO_RCVBUFFORCE, &bytes, sizeof bytes) < 0)
    ::setsockopt(fd(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

Result<void> NetlinkSocket::send(nlmsghdr* nlh, const std::string& what) {
  for (;;) {
    if (mnl_socket_sendto(sock_.get(), nlh, nlh->nlmsg_len) >= 0) return success();
    if (errno != EINTR) return errnoError(what + ": send");
  }
}

Result<void> NetlinkSocket::exchange(MessageBuilder& msg, const std::string& what, const ReplyHandler& on_reply) {
  if (!msg.ok()) return Error{EMSGSIZE, what + ": request does not fit a netlink message"};
  nlmsghdr* nlh = msg.message();
  nlh->nlmsg_seq = ++seq_;
  VNETD_TRY(send(nlh, what));
  alignas(8) char buf[kReceiveBufferSize];
  bool done = false;
  while (!done) {
    ssize_t n = mnl_socket_recvfrom(sock_.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoError(what + ": receive");
    }
    auto r = forEachMessage(std::as_bytes(std::span(buf, static_cast<size_t>(n))),
                            [&](std::span<const std::byte> m) {
                              const auto* h = reinterpret_cast<const nlmsghdr*>(m.data());
                              // Replies to an earlier, abandoned request are not ours.
                              if (done || h->nlmsg_seq != seq_ || h->nlmsg_pid != portid_) return;
                              done = on_reply(m);
                            });
    if (!r) return r.error();
  }
  return success();
}

Error NetlinkSocket::errorReply(std::span<const std::byte> m, const std::string& what) {
  nlmsgerr err{};
  if (m.size() < NLMSG_HDRLEN + sizeof err) return Error{EBADMSG, what + ": truncated error reply"};
  std::memcpy(&err, m.data() + NLMSG_HDRLEN, sizeof err);
  if (err.error == 0) return Error{};
  return kernelError(-err.error, what, extAckMessage(m));
}

Result<void> NetlinkSocket::request(MessageBuilder& msg, const std::string& what) {
  msg.message()->nlmsg_flags |= NLM_F_ACK;
  Error failure;
  VNETD_TRY(exchange(msg, what, [&](std::span<const std::byte> m) {
    if (messageType(m) != NLMSG_ERROR) return false;
    failure = errorReply(m, what);
    return true;
  }));
  if (failure.code != 0) return failure;
  return success();
}

Result<void> NetlinkSocket::requestBatch(std::span<const Batched> batch) {
  if (batch.empty()) return success();
  if (batch.size() == 1) return request(*batch[0].message, batch[0].what);
  std::vector<char> out;
  const uint32_t first = seq_ + 1;
  for (size_t i = 0; i < batch.size(); ++i) {
    MessageBuilder& m = *batch[i].message;
    if (!m.ok()) return Error{EMSGSIZE, batch[i].what + ": request does not fit a netlink message"};
    nlmsghdr* nlh = m.message();
    nlh->nlmsg_seq = ++seq_;
    if (i + 1 == batch.size()) nlh->nlmsg_flags |= NLM_F_ACK;
    const char* bytes = reinterpret_cast<const char*>(nlh);
    out.insert(out.end(), bytes, bytes + NLMSG_ALIGN(nlh->nlmsg_len));
  }
  const uint32_t last = seq_;
  for (;;) {
    if (mnl_socket_sendto(sock_.get(), out.data(), out.size()) >= 0) break;
    if (errno != EINTR) return errnoError(batch[0].what + ": send");
  }
  alignas(8) char buf[kReceiveBufferSize];
  Error failure;
  bool done = false;
  while (!done) {
    ssize_t n = mnl_socket_recvfrom(sock_.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoError(batch.back().what + ": receive");
    }
    auto r = forEachMessage(std::as_bytes(std::span(buf, static_cast<size_t>(n))),
                            [&](std::span<const std::byte> m) {
                              const auto* h = reinterpret_cast<const nlmsghdr*>(m.data());
                              if (done || h->nlmsg_pid != portid_ || h->nlmsg_seq < first || h->nlmsg_seq > last ||
                                  h->nlmsg_type != NLMSG_ERROR)
                                return;
                              Error e = errorReply(m, batch[h->nlmsg_seq - first].what);
                              if (e.code != 0 && failure.code == 0) failure = std::move(e);
                              done = h->nlmsg_seq == last;
                            });
    if (!r) return r.error();
  }
  if (failure.code != 0) return failure;
  return success();
}

Result<std::vector<std::byte>> NetlinkSocket::query(MessageBuilder& msg, const std::string& what) {
  std::vector<std::byte> reply;
  Error failure;
  VNETD_TRY(exchange(msg, what, [&](std::span<const std::byte> m) {
    if (messageType(m) == NLMSG_ERROR) failure = errorReply(m, what);
    else reply.assign(m.begin(), m.end());
    return true;
  }));
  if (failure.code != 0) return failure;
  return reply;
}

Result<void> NetlinkSocket::dump(MessageBuilder& msg, const std::string& what,
                                 const std::function<void(std::span<const std::byte>)>& on_message) {
  msg.message()->nlmsg_flags |= NLM_F_DUMP;
  // A dump that races with changes is flagged NLM_F_DUMP_INTR; its content may be
  // inconsistent, so collect everything first and deliver only a clean dump. On a host
  // where interfaces are being created by the hundred (a jail manager starting many
  // jails), back-to-back retries keep losing the race: back off a little between them
  // (1, 2, 4 ... 64 ms; at most ~0.25 s in all) before giving up.
  constexpr int kAttempts = 9;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1 << (attempt - 1)));
    std::vector<std::byte> collected;
    std::vector<std::pair<size_t, size_t>> spans;
    bool interrupted = false;
    Error failure;
    VNETD_TRY(exchange(msg, what, [&](std::span<const std::byte> m) {
      const auto* h = reinterpret_cast<const nlmsghdr*>(m.data());
      if (h->nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
      if (h->nlmsg_type == NLMSG_DONE) {
        // A dump callback that fails reports its negative errno in NLMSG_DONE's payload,
        // not as NLMSG_ERROR: a truncated dump must not pass as a complete one.
        int32_t status = 0;
        if (m.size() >= NLMSG_HDRLEN + sizeof status) std::memcpy(&status, m.data() + NLMSG_HDRLEN, sizeof status);
        if (status < 0) failure = kernelError(-status, what, "");
        return true;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        failure = errorReply(m, what);
        if (failure.code == 0) failure = Error{EBADMSG, what + ": dump ended with an empty error"};
        return true;
      }
      spans.emplace_back(collected.size(), m.size());
      collected.insert(collected.end(), m.begin(), m.end());
      return false;
    }));
    if (failure.code != 0) return failure;
    if (interrupted) continue;
    for (auto [off, len] : spans) on_message(std::span<const std::byte>(collected).subspan(off, len));
    return success();
  }
  return Error{EAGAIN, what + ": dump kept being interrupted by concurrent changes"};
}

}  // namespace vnetd::platform::lnx
