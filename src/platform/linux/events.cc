// Interface events of the host's stack: rtnetlink multicast (RtnlEventTranslator) plus
// kernel uevents (decodeUevent).
//
// A socket the kernel overflowed (ENOBUFS: notifications were dropped) is replaced by a
// fresh one before the link table is re-read: the resync then starts from an empty queue
// subscribed before the dump, exactly like the start, instead of from a queue the kernel
// may still be refilling with the rest of the storm that overflowed it. So fds() changes
// (fdsGeneration() moves) after such a drain. When the table cannot be re-read (dumps
// interrupted by a storm), every drain tries again, and retryAt() asks for one a second
// later: a host that went quiet does not wait for its next interface change.
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>

#include "core/log.h"
#include "core/unique_fd.h"
#include "platform/events.h"
#include "platform/linux/event_decode.h"
#include "platform/linux/netlink.h"
#include "platform/netif.h"

namespace vnetd::platform {

namespace lnx {
namespace {

// Large socket buffers make overflow rare during event storms (hundreds of interfaces
// created at once); when it happens anyway, ENOBUFS turns into ResyncNeeded.
constexpr int kEventSocketBuffer = 8 << 20;
constexpr auto kReseedRetry = std::chrono::seconds(1);

Result<NetlinkSocket> openRtnetlinkEvents() {
  auto rtnl = NetlinkSocket::open(NETLINK_ROUTE);
  if (!rtnl) return withContext(rtnl.error(), "rtnetlink events");
  for (unsigned g : {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR}) VNETD_TRY(rtnl->joinGroup(g));
  rtnl->setReceiveBuffer(kEventSocketBuffer);
  return rtnl;
}

Result<UniqueFd> openUevents() {
  UniqueFd uevent(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT));
  if (!uevent) return errnoError("open uevent socket");
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = 1;  // the kernel's own broadcasts (udev re-broadcasts on group 2)
  if (::bind(uevent.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return errnoError("bind uevent socket");
  int size = kEventSocketBuffer;
  if (::setsockopt(uevent.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    ::setsockopt(uevent.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  return uevent;
}

class LinuxEventSource final : public EventSource {
 public:
  LinuxEventSource(NetlinkSocket rtnl, UniqueFd uevent, std::unique_ptr<NetStack> lister)
      : rtnl_(std::move(rtnl)), uevent_(std::move(uevent)), lister_(std::move(lister)) {}

  // Learns the link table. When the dump cannot be had (a host creating interfaces by
  // the hundred keeps interrupting it), the events are not lost: the next drain says
  // ResyncNeeded and tries again. Returns whether the table is current.
  bool reseed() {
    auto links = lister_->links();
    resync_pending_ = !links;
    if (links) translator_.seed(*links);
    return links.ok();
  }

  std::vector<int> fds() const override { return {rtnl_.fd(), uevent_.get()}; }
  uint64_t fdsGeneration() const override { return fds_generation_; }
  std::optional<Clock::time_point> retryAt() const override {
    if (!resync_pending_) return std::nullopt;
    return last_reseed_ + kReseedRetry;
  }

  Result<void> drain(std::vector<InterfaceEvent>& out) override {
    bool rtnl_overflow = false, uevent_overflow = false;
    auto rtnl_read = readPendingDatagrams(rtnl_.fd(), "read rtnetlink events", rtnl_overflow,
                                          [&](std::span<const std::byte> msg) { translator_.translate(msg, out); });
    auto uevent_read =
        readPendingDatagrams(uevent_.get(), "read uevents", uevent_overflow, [&](std::span<const std::byte> msg) {
          InterfaceEvent e;
          if (decodeUevent(msg, e)) out.push_back(std::move(e));
        });
    // Fresh sockets first (subscribed before the table is re-read, as at the start).
    if (rtnl_overflow) {
      if (auto fresh = openRtnetlinkEvents()) replace(rtnl_, std::move(*fresh), "rtnetlink");
      else warnKept("rtnetlink", fresh.error());
    }
    if (uevent_overflow) {
      if (auto fresh = openUevents()) replace(uevent_, std::move(*fresh), "uevent");
      else warnKept("uevent", fresh.error());
    }
    if (rtnl_overflow || uevent_overflow || resync_pending_) {
      InterfaceEvent e;
      e.type = InterfaceEvent::Type::ResyncNeeded;
      e.source = "rtnetlink";
      out.push_back(e);
      // Relearn names and link states so later renames/transitions are right again.
      last_reseed_ = Clock::now();
      reseed();
    }
    if (!rtnl_read) return rtnl_read;
    return uevent_read;
  }

 private:
  template <typename Socket>
  void replace(Socket& socket, Socket fresh, const char* what) {
    socket = std::move(fresh);  // the overflowed socket closes here
    ++fds_generation_;
    VNETD_LOG_WARN("%s events: the kernel dropped notifications; replaced the socket with a fresh one and "
                   "re-reading every interface",
                   what);
  }
  static void warnKept(const char* what, const Error& error) {
    VNETD_LOG_WARN("%s events: the kernel dropped notifications, and no fresh socket could be opened (%s); "
                   "keeping the old one and re-reading every interface",
                   what, error.message().c_str());
  }

  NetlinkSocket rtnl_;
  UniqueFd uevent_;
  std::unique_ptr<NetStack> lister_;
  RtnlEventTranslator translator_;
  uint64_t fds_generation_ = 0;
  bool resync_pending_ = false;
  Clock::time_point last_reseed_ = Clock::now();
};

}  // namespace
}  // namespace lnx

Result<std::unique_ptr<EventSource>> openHostEvents() {
  auto rtnl = lnx::openRtnetlinkEvents();
  if (!rtnl) return rtnl.error();
  auto uevent = lnx::openUevents();
  if (!uevent) return uevent.error();
  auto lister = openHostStack();
  if (!lister) return lister.error();
  auto src = std::make_unique<lnx::LinuxEventSource>(std::move(*rtnl), std::move(*uevent), std::move(*lister));
  // Subscribe first, then learn the table: a change in between shows up as an event
  // about a link we already know, which the translator handles.
  src->reseed();
  return std::unique_ptr<EventSource>(std::move(src));
}

}  // namespace vnetd::platform
