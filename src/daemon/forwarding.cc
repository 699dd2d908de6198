#include "daemon/forwarding.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/file_util.h"
#include "core/log.h"
#include "core/unique_fd.h"
#include "platform/forwarding.h"

namespace vnetd::daemon {
namespace {

constexpr IpFamily kFamilies[] = {IpFamily::V4, IpFamily::V6};
const char* familyWord(IpFamily f) { return f == IpFamily::V4 ? "ipv4" : "ipv6"; }

}  // namespace

std::string encodeForwardingMarker(const ForwardingOwned& owned) {
  std::string out;
  for (IpFamily f : kFamilies)
    if (owned.of(f)) out += std::string(familyWord(f)) + "\n";
  return out;
}

Result<ForwardingOwned> decodeForwardingMarker(std::string_view text) {
  ForwardingOwned owned;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string line = trimWhitespace(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    if (line == "ipv4") owned.ipv4 = true;
    else if (line == "ipv6") owned.ipv6 = true;
    else
      return plainError("line " + std::to_string(line_no) + " is '" + line.substr(0, 40) +
                        "', expected ipv4 or ipv6");
  }
  return owned;
}

std::vector<ForwardingStep> planForwarding(const ForwardingInput& in) {
  std::vector<ForwardingStep> out;
  for (IpFamily f : kFamilies) {
    const std::optional<bool>& on = f == IpFamily::V4 ? in.ipv4_on : in.ipv6_on;
    if (!on) continue;  // cannot tell: touching it blind could undo someone's change
    if (in.manage && !in.exiting) {
      if (in.needs.of(f).needed() && !*on) out.push_back({f, ForwardingStep::Kind::Enable});
      continue;
    }
    if (in.owned.of(f))
      out.push_back({f, *on ? ForwardingStep::Kind::Restore : ForwardingStep::Kind::Forget});
  }
  return out;
}

std::string forwardingReason(const ForwardingNeed& need) {
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : "; ") + part; };
  std::string list;
  for (const auto& key : need.nat) list += (list.empty() ? "" : ", ") + std::string("bridge ") + key;
  if (!list.empty()) add("NAT on " + list);
  list.clear();
  for (const auto& [key, g] : need.gateways)
    list += (list.empty() ? "" : ", ") + std::string("bridge ") + key + " (" + g.toString() + ")";
  if (!list.empty()) add("jails route via " + list);
  return out;
}

Forwarding::Switches Forwarding::platformSwitches() {
  return {platform::readForwarding, platform::writeForwarding, platform::forwardingSettingName};
}

Forwarding::Forwarding(std::string marker_path, Switches switches)
    : marker_path_(std::move(marker_path)), switches_(std::move(switches)) {
  auto text = readSmallFile(marker_path_, 4096);
  if (!text) {
    if (text.error().code != ENOENT)
      VNETD_LOG_WARN("forwarding: cannot read %s: %s; vnetd will not switch off forwarding an earlier vnetd "
                     "switched on (check it by hand)",
                     marker_path_.c_str(), text.error().message().c_str());
    return;
  }
  auto owned = decodeForwardingMarker(*text);
  if (!owned) {
    VNETD_LOG_WARN("forwarding: %s: %s; ignoring it (vnetd wrote it: remove it if you edited it)", marker_path_.c_str(),
                   owned.error().message().c_str());
    return;
  }
  owned_ = *owned;
  for (IpFamily f : kFamilies)
    if (owned_.of(f))
      VNETD_LOG_INFO("forwarding: %s was switched on by an earlier vnetd (%s); it is switched back off when vnetd "
                     "stops",
                     switches_.name(f).c_str(), marker_path_.c_str());
}

void Forwarding::apply(const Config& config) {
  ForwardingInput in;
  in.manage = config.daemon.manage_forwarding;
  in.needs = forwardingNeeds(config);
  run(in);
}

void Forwarding::restore() {
  if (!owned_.any()) return;
  ForwardingInput in;
  in.exiting = true;
  run(in);
}

void Forwarding::run(const ForwardingInput& base) {
  ForwardingInput in = base;
  in.owned = owned_;
  for (IpFamily f : kFamilies) {
    // Read only what a step could be about.
    bool relevant = owned_.of(f) || (in.manage && !in.exiting && in.needs.of(f).needed());
    if (!relevant) continue;
    auto on = switches_.read(f);
    if (!on) {
      VNETD_LOG_WARN("forwarding: %s; leaving %s as it is", on.error().message().c_str(), switches_.name(f).c_str());
      continue;
    }
    (f == IpFamily::V4 ? in.ipv4_on : in.ipv6_on) = *on;
  }
  for (const auto& step : planForwarding(in)) {
    const IpFamily f = step.family;
    const std::string name = switches_.name(f);
    switch (step.kind) {
      case ForwardingStep::Kind::Enable: {
        // Ownership first: a crash right after the write must not leave a switch nobody owns.
        owned_.set(f, true);
        if (!saveMarker()) {
          owned_.set(f, false);
          VNETD_LOG_ERROR("forwarding: not switching %s on, as vnetd could not record that it did (%s): %s",
                          name.c_str(), forwardingReason(in.needs.of(f)).c_str(), marker_path_.c_str());
          break;
        }
        if (auto w = switches_.write(f, true); !w) {
          owned_.set(f, false);
          saveMarker();
          VNETD_LOG_ERROR("forwarding: %s (needed by %s); jails reach only the host and each other",
                          w.error().message().c_str(), forwardingReason(in.needs.of(f)).c_str());
          break;
        }
        VNETD_LOG_INFO("forwarding: set %s = 1 for %s ([daemon] manage_forwarding; set back to 0 when vnetd stops)",
                       name.c_str(), forwardingReason(in.needs.of(f)).c_str());
        break;
      }
      case ForwardingStep::Kind::Restore: {
        const char* why = in.exiting ? "vnetd stops" : "[daemon] manage_forwarding is off";
        if (auto w = switches_.write(f, false); !w) {
          VNETD_LOG_ERROR("forwarding: %s; vnetd had switched it on and %s", w.error().message().c_str(), why);
          break;
        }
        owned_.set(f, false);
        saveMarker();
        VNETD_LOG_INFO("forwarding: set %s = 0 again (vnetd had switched it on; %s)", name.c_str(), why);
        break;
      }
      case ForwardingStep::Kind::Forget:
        owned_.set(f, false);
        saveMarker();
        VNETD_LOG_INFO("forwarding: %s was switched off by someone else meanwhile; nothing to restore", name.c_str());
        break;
    }
  }
}

bool Forwarding::saveMarker() {
  if (!owned_.any()) {
    if (::unlink(marker_path_.c_str()) != 0 && errno != ENOENT) {
      VNETD_LOG_WARN("forwarding: cannot remove %s: %s", marker_path_.c_str(), std::strerror(errno));
      return false;
    }
    return true;
  }
  // temp + rename: a crash leaves the old marker or the new one, never half of one. No
  // fsync: what it records (a sysctl) does not survive a power loss either.
  const std::string tmp = marker_path_ + ".tmp";
  const std::string text = encodeForwardingMarker(owned_);
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  bool ok = static_cast<bool>(fd);
  int err = errno;
  if (ok) {
    ssize_t n;
    do n = ::write(fd.get(), text.data(), text.size());
    while (n < 0 && errno == EINTR);
    ok = n == static_cast<ssize_t>(text.size());
    err = n < 0 ? errno : ENOSPC;
  }
  fd = UniqueFd();
  if (ok && ::rename(tmp.c_str(), marker_path_.c_str()) != 0) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    VNETD_LOG_ERROR("forwarding: cannot write %s: %s", marker_path_.c_str(), std::strerror(err));
    ::unlink(tmp.c_str());
  }
  return ok;
}

}  // namespace vnetd::daemon
