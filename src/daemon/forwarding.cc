#include "daemon/forwarding.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "core/file_util.h"
#include "core/log.h"
#include "core/unique_fd.h"
#include "platform/forwarding.h"

namespace vnetd::daemon {
namespace {

constexpr IpFamily kFamilies[] = {IpFamily::V4, IpFamily::V6};
const char* familyWord(IpFamily f) { return f == IpFamily::V4 ? "ipv4" : "ipv6"; }
std::optional<IpFamily> familyOf(std::string_view word) {
  if (word == "ipv4") return IpFamily::V4;
  if (word == "ipv6") return IpFamily::V6;
  return std::nullopt;
}
// A marker of a host with many interfaces: ~40 bytes a setting, two settings an interface.
constexpr size_t kMaxMarkerBytes = 1 << 20;
constexpr size_t kMaxKeyBytes = 200;

// Splits at runs of spaces/tabs.
std::vector<std::string_view> fields(std::string_view line) { return splitFields(line); }

}  // namespace

std::string encodeForwardingMarker(const ForwardingOwned& owned) {
  std::string out;
  for (IpFamily f : kFamilies)
    if (owned.of(f)) out += std::string(familyWord(f)) + "\n";
  for (IpFamily f : kFamilies)
    if (owned.of(f))
      for (const auto& [key, value] : owned.before(f))
        out += std::string(familyWord(f)) + " " + key + " " + std::to_string(value) + "\n";
  return out;
}

Result<ForwardingOwned> decodeForwardingMarker(std::string_view text) {
  ForwardingOwned owned;
  size_t line_no = 0;
  struct Setting {
    size_t line_no;
    IpFamily family;
    std::string key;
    int value;
  };
  std::vector<Setting> settings;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string line = trimWhitespace(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty()) continue;
    const std::string where = "line " + std::to_string(line_no) + " is '" + line.substr(0, 40) + "'";
    auto f = fields(line);
    auto family = familyOf(f[0]);
    if (!family || (f.size() != 1 && f.size() != 3))
      return plainError(where + ", expected ipv4, ipv6, or ipv4/ipv6 <setting> <value>");
    if (f.size() == 1) {
      owned.set(*family, true);
      continue;
    }
    if (f[1].size() > kMaxKeyBytes) return plainError(where + ": the setting's name is over 200 bytes");
    int value = 0;
    auto [end, ec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), value);
    if (ec != std::errc() || end != f[2].data() + f[2].size())
      return plainError(where + ": the value is not an integer");
    settings.push_back({line_no, *family, std::string(f[1]), value});
  }
  // Settings of a family vnetd does not own would be restored by nobody: a marker vnetd
  // did not write.
  for (const auto& s : settings) {
    if (!owned.of(s.family))
      return plainError("line " + std::to_string(s.line_no) + " is a setting of " + familyWord(s.family) +
                        ", which the marker does not own (no '" + familyWord(s.family) + "' line)");
    owned.before(s.family)[s.key] = s.value;
  }
  return owned;
}

ForwardingSettings planSettingsRestore(const ForwardingSettings& before, const ForwardingSettings& current,
                                       const ForwardingSettings& after_off,
                                       const std::function<int(const std::string&, int)>& after_on) {
  ForwardingSettings out;
  for (const auto& [key, was] : before) {
    auto now = current.find(key);
    auto off = after_off.find(key);
    if (now == current.end() || off == after_off.end()) continue;  // the interface is gone
    if (now->second != after_on(key, was)) continue;                // changed since: not vnetd's
    if (off->second != was) out[key] = was;
  }
  return out;
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
  return {platform::readForwarding,
          platform::writeForwarding,
          platform::forwardingSettingName,
          platform::readForwardingSideEffects,
          [](IpFamily f, const std::string& key, int before) {
            return platform::forwardingSideEffectAfterOn(f, key, before);
          },
          platform::writeForwardingSideEffect};
}

Forwarding::Forwarding(std::string marker_path, Switches switches)
    : marker_path_(std::move(marker_path)), switches_(std::move(switches)) {
  auto text = readSmallFile(marker_path_, kMaxMarkerBytes);
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
        // What the switch-on is about to change, so that the restore can put it back.
        auto settings = switches_.read_settings(f);
        if (!settings) {
          VNETD_LOG_ERROR("forwarding: not switching %s on, as vnetd could not record what it changes (%s): %s",
                          name.c_str(), forwardingReason(in.needs.of(f)).c_str(), settings.error().message().c_str());
          break;
        }
        // Ownership first: a crash right after the write must not leave a switch nobody owns.
        owned_.set(f, true);
        owned_.before(f) = std::move(*settings);
        if (!saveMarker()) {
          owned_.set(f, false);
          owned_.before(f).clear();
          VNETD_LOG_ERROR("forwarding: not switching %s on, as vnetd could not record that it did (%s): %s",
                          name.c_str(), forwardingReason(in.needs.of(f)).c_str(), marker_path_.c_str());
          break;
        }
        if (auto w = switches_.write(f, true); !w) {
          owned_.set(f, false);
          owned_.before(f).clear();
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
        const ForwardingSettings& before = owned_.before(f);
        ForwardingSettings current;
        if (!before.empty()) {
          auto c = switches_.read_settings(f);
          if (c) current = std::move(*c);
          else
            VNETD_LOG_WARN("forwarding: %s; what switching %s on changed along with it stays as switching it off "
                           "leaves it",
                           c.error().message().c_str(), name.c_str());
        }
        if (auto w = switches_.write(f, false); !w) {
          VNETD_LOG_ERROR("forwarding: %s; vnetd had switched it on and %s", w.error().message().c_str(), why);
          break;
        }
        VNETD_LOG_INFO("forwarding: set %s = 0 again (vnetd had switched it on; %s)", name.c_str(), why);
        if (!current.empty()) {
          auto after_off = switches_.read_settings(f);
          ForwardingSettings put_back = planSettingsRestore(
              before, current, after_off ? *after_off : ForwardingSettings{},
              [&](const std::string& key, int v) { return switches_.after_on(f, key, v); });
          std::string done;
          for (const auto& [key, value] : put_back) {
            if (auto w = switches_.write_setting(f, key, value); !w) {
              VNETD_LOG_WARN("forwarding: %s (as it was before vnetd switched %s on)", w.error().message().c_str(),
                             name.c_str());
              continue;
            }
            done += (done.empty() ? "" : ", ") + key + " = " + std::to_string(value);
          }
          if (!done.empty())
            VNETD_LOG_INFO("forwarding: put back what switching %s changed along with it: %s", name.c_str(),
                           done.c_str());
        }
        owned_.set(f, false);
        owned_.before(f).clear();
        saveMarker();
        break;
      }
      case ForwardingStep::Kind::Forget:
        // Whoever switched it off also rewrote what goes with it: theirs, not restored.
        owned_.set(f, false);
        owned_.before(f).clear();
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
