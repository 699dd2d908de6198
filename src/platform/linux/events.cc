#include <linux/rtnetlink.h>
#include <sys/socket.h>

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

  Result<void> drain(std::vector<InterfaceEvent>& out) override {
    bool overflow = false;
    VNETD_TRY(readPendingDatagrams(rtnl_.fd(), "read rtnetlink events", overflow, [&](std::span<const std::byte> msg) {
      translator_.translate(msg, out);
    }));
    VNETD_TRY(readPendingDatagrams(uevent_.get(), "read uevents", overflow, [&](std::span<const std::byte> msg) {
      InterfaceEvent e;
      if (decodeUevent(msg, e)) out.push_back(std::move(e));
    }));
    if (overflow || resync_pending_) {
      InterfaceEvent e;
      e.type = InterfaceEvent::Type::ResyncNeeded;
      e.source = "rtnetlink";
      out.push_back(e);
      // Relearn names and link states so later renames/transitions are right again.
      reseed();
    }
    return success();
  }

 private:
  NetlinkSocket rtnl_;
  UniqueFd uevent_;
  std::unique_ptr<NetStack> lister_;
  RtnlEventTranslator translator_;
  bool resync_pending_ = false;
};

}  // namespace
}  // namespace lnx

Result<std::unique_ptr<EventSource>> openHostEvents() {
  auto rtnl = lnx::NetlinkSocket::open(NETLINK_ROUTE);
  if (!rtnl) return rtnl.error();
  for (unsigned g : {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV6_IFADDR}) VNETD_TRY(rtnl->joinGroup(g));
  rtnl->setReceiveBuffer(lnx::kEventSocketBuffer);

  UniqueFd uevent(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT));
  if (!uevent) return errnoError("open uevent socket");
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = 1;  // the kernel's own broadcasts (udev re-broadcasts on group 2)
  if (::bind(uevent.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return errnoError("bind uevent socket");
  int size = lnx::kEventSocketBuffer;
  if (::setsockopt(uevent.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0)
    ::setsockopt(uevent.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);

  auto lister = openHostStack();
  if (!lister) return lister.error();
  auto src = std::make_unique<lnx::LinuxEventSource>(std::move(*rtnl), std::move(uevent), std::move(*lister));
  // Subscribe first, then learn the table: a change in between shows up as an event
  // about a link we already know, which the translator handles.
  src->reseed();
  return std::unique_ptr<EventSource>(std::move(src));
}

}  // namespace vnetd::platform
