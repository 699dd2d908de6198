#include "platform/linux/netns.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "core/log.h"
#include "core/naming.h"
#include "platform/linux/netlink.h"

namespace vnetd::platform::lnx {

// netstack.cc; `ns` is the namespace the socket lives in (empty: the caller's own).
Result<std::unique_ptr<NetStack>> makeNetStack(NetlinkSocket socket, UniqueFd ns);

namespace {

// The device number of nsfs, the kernel's one filesystem of namespace files, learnt from
// our own namespace: 0 when /proc is not there to say.
dev_t nsfsDevice() {
  static const dev_t dev = [] {
    struct stat st {};
    return ::stat("/proc/self/ns/net", &st) == 0 ? st.st_dev : dev_t{0};
  }();
  return dev;
}

// A /run/netns entry is a namespace only while the nsfs bind mount is in place; a plain
// file left behind by an interrupted `ip netns del` is not. `dir` is an open /run/netns
// (listing: one path component per entry instead of four — it runs per scrape) or AT_FDCWD.
Result<std::optional<JailInfo>> inspect(int dir, const std::string& name) {
  std::string path = dir == AT_FDCWD ? std::string(kNetnsDir) + "/" + name : name;
  struct stat st {};
  if (::fstatat(dir, path.c_str(), &st, 0) != 0) {
    if (errno == ENOENT) return std::optional<JailInfo>();
    return errnoError("stat " + std::string(kNetnsDir) + "/" + name);
  }
  bool nsfs = false;
  if (dev_t dev = nsfsDevice(); dev != 0) {
    nsfs = st.st_dev == dev;
  } else {
    struct statfs fs {};
    std::string full = std::string(kNetnsDir) + "/" + name;
    if (::statfs(full.c_str(), &fs) != 0) return errnoError("statfs " + full);
    nsfs = static_cast<unsigned long>(fs.f_type) == NSFS_MAGIC;
  }
  if (!nsfs) return std::optional<JailInfo>();
  return std::optional<JailInfo>(JailInfo{name, static_cast<int64_t>(st.st_ino), true});
}

class LinuxJails final : public Jails {
 public:
  Result<std::vector<JailInfo>> list() override {
    std::vector<JailInfo> out;
    DIR* d = ::opendir(kNetnsDir);
    if (!d) {
      if (errno == ENOENT) return out;  // no namespace was ever created
      return errnoError(std::string("open ") + kNetnsDir);
    }
    std::unique_ptr<DIR, int (*)(DIR*)> dir(d, ::closedir);
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (!isValidJailName(name)) continue;  // ".", "..", and names vnetd would refuse anyway
      auto info = inspect(::dirfd(d), name);
      if (info.ok() && info->has_value()) out.push_back(**info);
    }
    std::sort(out.begin(), out.end(), [](const JailInfo& a, const JailInfo& b) { return a.name < b.name; });
    return out;
  }

  Result<std::optional<JailInfo>> find(const std::string& name) override {
    if (!isValidJailName(name)) return plainError(jailNameProblem(name));
    return inspect(AT_FDCWD, name);
  }

  Result<std::unique_ptr<NetStack>> openStack(const JailInfo& jail) override {
    auto ns = openNamespace(jail);
    if (!ns) return ns.error();
    auto fd = createSocketInNamespace(ns->get(), AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (!fd) return std::move(fd).withContext("jail " + jail.name).error();
    auto sock = NetlinkSocket::adopt(std::move(*fd));
    if (!sock) return sock.error();
    return makeNetStack(std::move(*sock), std::move(*ns));
  }
};

}  // namespace

Result<UniqueFd> openNamespace(const JailInfo& jail) {
  std::string path = std::string(kNetnsDir) + "/" + jail.name;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return errnoError("open network namespace " + path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errnoError("stat " + path);
  if (static_cast<int64_t>(st.st_ino) != jail.id)
    return Error{ESTALE, "jail " + jail.name + " was re-created while vnetd was working on it"};
  return fd;
}

namespace {

// Runs `make` in the namespace `ns_fd`: on this thread, which enters it and comes back
// (setns(2) changes the calling thread's network namespace only; a socket keeps the
// namespace it was made in). That is two system calls; a helper thread per call was a
// clone and a join, 0.1-0.3 ms on every `created` hook. Without /proc (no handle on the
// way back) a short-lived helper thread does it instead.
template <typename Make>
Result<UniqueFd> inNamespace(int ns_fd, Make make) {
  UniqueFd home(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home) {
    Result<UniqueFd> result = plainError("namespace helper thread did not run");
    std::thread helper([&] {
      if (::setns(ns_fd, CLONE_NEWNET) != 0) {
        result = errnoError("enter network namespace");
        return;
      }
      result = make();
    });
    helper.join();
    return result;
  }
  if (::setns(ns_fd, CLONE_NEWNET) != 0) return errnoError("enter network namespace");
  // Back whatever happens (make may throw): a thread left in a jail's stack would make
  // every later socket there. Failing to return is not survivable: stop the process.
  struct Return {
    int fd;
    ~Return() {
      if (::setns(fd, CLONE_NEWNET) != 0) {
        VNETD_LOG_ERROR("cannot return to the host's network namespace: %s; stopping", std::strerror(errno));
        std::abort();
      }
    }
  } back{home.get()};
  return make();
}

}  // namespace

Result<UniqueFd> createSocketInNamespace(int ns_fd, int domain, int type, int protocol) {
  return inNamespace(ns_fd, [&]() -> Result<UniqueFd> {
    UniqueFd s(::socket(domain, type, protocol));
    if (!s) return errnoError("create socket in network namespace");
    return s;
  });
}

Result<UniqueFd> openInNamespace(int ns_fd, const std::string& path, int flags) {
  return inNamespace(ns_fd, [&]() -> Result<UniqueFd> {
    UniqueFd f(::open(path.c_str(), flags | O_CLOEXEC));
    if (!f) return errnoError("open " + path + " in network namespace");
    return f;
  });
}

Result<std::unique_ptr<Jails>> openJailsImpl() { return std::unique_ptr<Jails>(new LinuxJails()); }

}  // namespace vnetd::platform::lnx

namespace vnetd::platform {
Result<std::unique_ptr<Jails>> openJails() { return lnx::openJailsImpl(); }
}  // namespace vnetd::platform
