#include "platform/linux/event_decode.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <charconv>
#include <string_view>

#include "platform/linux/rtnl_decode.h"

namespace vnetd::platform::lnx {

using Type = InterfaceEvent::Type;

void RtnlEventTranslator::seed(const std::vector<LinkInfo>& links) {
  links_.clear();
  for (const auto& l : links) links_[l.index] = Known{l.name, l.running};
}

void RtnlEventTranslator::translate(std::span<const std::byte> buffer, std::vector<InterfaceEvent>& out) {
  auto r = forEachMessage(buffer, [&](std::span<const std::byte> msg) {
    uint16_t type = messageType(msg);
    if (type == RTM_NEWLINK || type == RTM_DELLINK) {
      auto m = decodeLinkMessage(msg);
      if (!m) {
        ++malformed_;
        return;
      }
      const LinkInfo& l = m->info;
      // Only an AF_UNSPEC message holds the whole link (rtnl_fill_ifinfo); the bridge's
      // port messages (AF_BRIDGE, br_ifinfo_notify) share the group but say less.
      const bool whole = msg.size() >= NLMSG_HDRLEN + sizeof(ifinfomsg) &&
                         static_cast<uint8_t>(msg[NLMSG_HDRLEN]) == AF_UNSPEC;
      const std::optional<LinkInfo> carried = whole ? std::optional<LinkInfo>(l) : std::nullopt;
      auto known = links_.find(l.index);
      if (m->deleted) {
        std::string name = !l.name.empty() ? l.name : (known != links_.end() ? known->second.name : "");
        out.push_back({Type::Departed, "rtnetlink", l.index, name, "", std::nullopt, std::nullopt});
        if (known != links_.end()) links_.erase(known);
        return;
      }
      if (known == links_.end()) {
        out.push_back({Type::Arrived, "rtnetlink", l.index, l.name, "", std::nullopt, carried});
        if (l.running) out.push_back({Type::LinkUp, "rtnetlink", l.index, l.name, "", std::nullopt, carried});
        links_[l.index] = Known{l.name, l.running};
        return;
      }
      if (!l.name.empty() && l.name != known->second.name) {
        out.push_back({Type::Renamed, "rtnetlink", l.index, l.name, known->second.name, std::nullopt, carried});
        known->second.name = l.name;
      }
      if (l.running != known->second.running) {
        out.push_back({l.running ? Type::LinkUp : Type::LinkDown, "rtnetlink", l.index, known->second.name, "",
                       std::nullopt, carried});
        known->second.running = l.running;
      }
    } else if (type == RTM_NEWADDR || type == RTM_DELADDR) {
      auto m = decodeAddrMessage(msg);
      if (!m) {
        ++malformed_;
        return;
      }
      auto known = links_.find(m->address.link_index);
      out.push_back({m->deleted ? Type::AddressRemoved : Type::AddressAdded, "rtnetlink", m->address.link_index,
                     known != links_.end() ? known->second.name : "", "", m->address.cidr, std::nullopt});
    }
  });
  if (!r) ++malformed_;
}

bool decodeUevent(std::span<const std::byte> datagram, InterfaceEvent& out) {
  std::string_view all(reinterpret_cast<const char*>(datagram.data()), datagram.size());
  size_t first_end = all.find('\0');
  if (first_end == std::string_view::npos) return false;
  std::string_view header = all.substr(0, first_end);
  // Kernel messages start with "action@devpath"; udev's start with "libudev".
  if (header.find('@') == std::string_view::npos) return false;
  std::string_view action, subsystem, iface, old_devpath;
  uint32_t index = 0;
  size_t pos = first_end + 1;
  while (pos < all.size()) {
    size_t end = all.find('\0', pos);
    if (end == std::string_view::npos) end = all.size();
    std::string_view kv = all.substr(pos, end - pos);
    pos = end + 1;
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "ACTION") action = v;
    else if (k == "SUBSYSTEM") subsystem = v;
    else if (k == "INTERFACE") iface = v;
    else if (k == "DEVPATH_OLD") old_devpath = v;
    else if (k == "IFINDEX") {
      uint32_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec == std::errc() && p == v.data() + v.size()) index = n;
    }
  }
  if (subsystem != "net" || iface.empty() || iface.size() > 15) return false;
  InterfaceEvent e;
  e.source = "uevent";
  e.index = index;
  e.name = std::string(iface);
  if (action == "add") {
    e.type = Type::Arrived;
  } else if (action == "remove") {
    e.type = Type::Departed;
  } else if (action == "move") {
    e.type = Type::Renamed;
    size_t slash = old_devpath.rfind('/');
    e.old_name = std::string(slash == std::string_view::npos ? old_devpath : old_devpath.substr(slash + 1));
  } else {
    return false;
  }
  out = std::move(e);
  return true;
}

}  // namespace vnetd::platform::lnx
