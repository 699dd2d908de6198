// Jails through jail_get(2) (raw iovecs, no libjail), and NetStacks inside them through
// sockets created by a child attached to the jail (jail_child.h).
#include <sys/param.h>
#include <sys/types.h>
#include <sys/jail.h>
#include <sys/uio.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "core/naming.h"
#include "platform/freebsd/interfaces.h"
#include "platform/freebsd/jail_child.h"
#include "platform/freebsd/lltable_read.h"
#include "platform/freebsd/stack.h"
#include "platform/jails.h"

namespace vnetd::platform {
namespace fbsd {
namespace {

// jail names may be as long as a hostname; the kernel refuses to copy a parameter out
// into a buffer that is too small for it.
constexpr size_t kNameBuffer = MAXHOSTNAMELEN;
constexpr size_t kErrmsgBuffer = 256;

// Name/value iovec pairs for jail_get(2). Names include their NUL.
class JailParams {
 public:
  void add(const char* name, void* value, size_t size) {
    iov_.push_back({const_cast<char*>(name), std::strlen(name) + 1});
    iov_.push_back({value, size});
  }
  // jail_get(2): the jid, or -1 with errno (and the kernel's text in an "errmsg" param).
  int get(int flags) { return ::jail_get(iov_.data(), static_cast<unsigned>(iov_.size()), flags); }

 private:
  std::vector<struct iovec> iov_;
};

struct Lookup {
  int jid = -1;  // -1: failed, see err/errmsg
  int err = 0;
  std::string errmsg;
  std::string name;
  int vnet = 0;  // JAIL_SYS_NEW / JAIL_SYS_INHERIT; 0 when not asked
};

// One jail_get call. Exactly one of `lastjid`, `jid`, `name` selects the jail.
Lookup jailGet(const int* lastjid, const int* jid, const std::string* name, bool ask_vnet) {
  Lookup out;
  int lastjid_value = lastjid ? *lastjid : 0;
  int jid_value = jid ? *jid : 0;
  char name_buf[kNameBuffer] = {};
  char errmsg[kErrmsgBuffer] = {};
  if (name) std::memcpy(name_buf, name->data(), std::min(name->size(), sizeof name_buf - 1));
  JailParams p;
  if (lastjid) p.add("lastjid", &lastjid_value, sizeof lastjid_value);
  if (jid) p.add("jid", &jid_value, sizeof jid_value);
  // In for a lookup by name, out otherwise; the whole buffer is passed so the kernel
  // finds the NUL inside it either way.
  p.add("name", name_buf, sizeof name_buf);
  if (ask_vnet) p.add("vnet", &out.vnet, sizeof out.vnet);
  p.add("errmsg", errmsg, sizeof errmsg);
  out.jid = p.get(0);
  if (out.jid < 0) {
    out.err = errno;
    out.errmsg = std::string(errmsg, strnlen(errmsg, sizeof errmsg));
    return out;
  }
  out.name = std::string(name_buf, strnlen(name_buf, sizeof name_buf));
  return out;
}

// A kernel without VIMAGE has no "vnet" parameter; jail_get then fails with EINVAL and
// "unknown parameter: vnet".
bool vnetUnknown(const Lookup& l) {
  return l.err == EINVAL && l.errmsg.find("vnet") != std::string::npos;
}

Error lookupError(const Lookup& l, const std::string& what) {
  return Error{l.err, what + (l.errmsg.empty() ? std::string() : " (" + l.errmsg + ")")};
}

// Runs in the jail child: the stack's sockets, created inside the jail's vnet. data[0]
// says whether an AF_INET / AF_INET6 socket follows the local and routing ones.
Result<void> createSocketsInJail(std::vector<std::byte>& data, std::vector<int>& fds) {
  auto s = openStackSockets();
  if (!s) return s.error();
  data.push_back(std::byte{static_cast<uint8_t>((s->inet ? 1 : 0) | (s->inet6 ? 2 : 0))});
  fds.push_back(s->local.release());
  fds.push_back(s->route.release());
  if (s->inet) fds.push_back(s->inet.release());
  if (s->inet6) fds.push_back(s->inet6.release());
  return success();
}

Result<void> readInterfacesInJail(std::vector<std::byte>& data, std::vector<int>&) {
  auto entries = readInterfaces();
  if (!entries) return entries.error();
  data = encodeEntries(*entries);
  return success();
}

// The jail's neighbour-cache dump, raw: the parent decodes it (lltable_decode.h).
Result<void> readNeighboursInJail(std::vector<std::byte>& data, std::vector<int>&) {
  auto dump = readNeighbourDump();
  if (!dump) return dump.error();
  data = std::move(*dump);
  return success();
}

class FreeBsdJails final : public Jails {
 public:
  Result<std::vector<JailInfo>> list() override {
    std::vector<JailInfo> out;
    int lastjid = 0;
    for (;;) {
      Lookup l = jailGet(&lastjid, nullptr, nullptr, vnet_param_);
      if (l.jid < 0 && vnetUnknown(l) && vnet_param_) {
        vnet_param_ = false;
        continue;
      }
      if (l.jid < 0) {
        if (l.err == ENOENT) break;  // "no jail after N": the end of the list
        return lookupError(l, "list jails (jail_get)");
      }
      lastjid = l.jid;
      // Jails vnetd could not manage by name are left out, as on Linux.
      if (!isValidJailName(l.name)) continue;
      out.push_back(JailInfo{l.name, l.jid, l.vnet == JAIL_SYS_NEW});
    }
    std::sort(out.begin(), out.end(),
              [](const JailInfo& a, const JailInfo& b) { return a.name < b.name; });
    return out;
  }

  Result<std::optional<JailInfo>> find(const std::string& name) override {
    if (!isValidJailName(name)) return plainError(jailNameProblem(name));
    for (;;) {
      Lookup l = jailGet(nullptr, nullptr, &name, vnet_param_);
      if (l.jid < 0 && vnetUnknown(l) && vnet_param_) {
        vnet_param_ = false;
        continue;
      }
      if (l.jid < 0) {
        if (l.err == ENOENT) return std::optional<JailInfo>();  // not running (or dying)
        return lookupError(l, "look up jail " + name + " (jail_get)");
      }
      return std::optional<JailInfo>(JailInfo{name, l.jid, l.vnet == JAIL_SYS_NEW});
    }
  }

  Result<std::unique_ptr<NetStack>> openStack(const JailInfo& jail) override {
    if (!jail.own_stack)
      return plainError("jail " + jail.name +
                        " has no own network stack (add `vnet;` to its jail.conf)");
    if (jail.id <= 0 || jail.id > INT_MAX) return plainError("jail " + jail.name + ": invalid jid");
    const int jid = static_cast<int>(jail.id);
    // Jail ids are not reused while a jail lives, but the jail resolved earlier may have
    // been stopped and another started with that id since: check the name.
    Lookup l = jailGet(nullptr, &jid, nullptr, false);
    if (l.jid < 0) {
      if (l.err == ENOENT)
        return Error{ENOENT,
                     "jail " + jail.name + " (jid " + std::to_string(jid) + ") is not running"};
      return lookupError(l, "look up jail " + jail.name);
    }
    if (l.name != jail.name)
      return Error{ESTALE, "jail " + jail.name + " was re-created while vnetd was working on it"};

    auto reply = runInJail(jid, jail.name, createSocketsInJail);
    if (!reply)
      return std::move(reply).withContext("open the network stack of jail " + jail.name).error();
    if (reply->data.size() != 1 || reply->fds.size() < 2)
      return plainError("open the network stack of jail " + jail.name + ": malformed helper reply");
    const auto present = std::to_integer<unsigned>(reply->data[0]);
    const size_t expected = 2 + ((present & 1) ? 1 : 0) + ((present & 2) ? 1 : 0);
    if (reply->fds.size() != expected)
      return plainError("open the network stack of jail " + jail.name +
                        ": helper sent the wrong sockets");
    StackSockets s;
    size_t i = 0;
    s.local = std::move(reply->fds[i++]);
    s.route = std::move(reply->fds[i++]);
    if (present & 1) s.inet = std::move(reply->fds[i++]);
    if (present & 2) s.inet6 = std::move(reply->fds[i++]);

    std::string name = jail.name;
    InterfaceReader reader = [jid, name]() -> Result<std::vector<IfEntry>> {
      auto r = runInJail(jid, name, readInterfacesInJail);
      if (!r) return std::move(r).withContext("list interfaces of jail " + name).error();
      return decodeEntries(r->data);
    };
    NeighbourReader neighbours = [jid, name]() -> Result<std::vector<std::byte>> {
      auto r = runInJail(jid, name, readNeighboursInJail);
      if (!r) return std::move(r).withContext("list neighbours of jail " + name).error();
      return std::move(r->data);
    };
    // A child attached to the jail sends it: the raw socket must be the jail's vnet's, and a
    // socket's vnet is the creating credential's prison's for its whole life
    // (sys/kern/uipc_socket.c socreate -> soalloc(CRED_TO_VNET(cred)) sets so_vnet).
    RouterSolicitor solicitor = [jid, name](const std::string& ifname) -> Result<void> {
      auto r = runInJail(jid, name, [&ifname](std::vector<std::byte>&, std::vector<int>&) {
        return solicitRoutersHere(ifname);
      });
      if (!r) return r.error();  // runInJail names the jail
      return success();
    };
    return makeNetStack(std::move(s), std::move(reader), std::move(neighbours),
                        std::move(solicitor), "jail " + jail.name);
  }

 private:
  bool vnet_param_ = true;
};

}  // namespace
}  // namespace fbsd

Result<std::unique_ptr<Jails>> openJails() {
  return std::unique_ptr<Jails>(new fbsd::FreeBsdJails());
}

}  // namespace vnetd::platform
