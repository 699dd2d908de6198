#include "platform/freebsd/jail_child.h"

#include <sys/param.h>
#include <sys/types.h>
#include <sys/jail.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace vnetd::platform::fbsd {
namespace {

// First record on the socketpair; SCM_RIGHTS rides on it, `length` bytes of data follow.
struct ReplyHeader {
  int32_t error = 0;       // errno of the failure, or 0
  uint32_t fd_count = 0;   // descriptors attached to this record
  uint64_t length = 0;     // data bytes after the header
  uint8_t failed = 0;      // 1 when the child reports a failure (error may be 0)
  char message[199] = {};  // failure context, NUL-terminated
};

bool sendAll(int fd, const void* data, size_t size) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool recvAll(int fd, void* data, size_t size) {
  auto* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::recv(fd, p, size, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (n == 0) {
      errno = ECONNRESET;  // the helper went away mid-reply
      return false;
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

[[noreturn]] void childMain(int sock, int jid, const JailChildWork& work) {
  ReplyHeader header;
  std::vector<std::byte> data;
  std::vector<int> fds;
  auto fail = [&](const Error& e) {
    header.failed = 1;
    header.error = e.code;
    std::string text = e.context.substr(0, sizeof header.message - 1);
    std::memcpy(header.message, text.data(), text.size());
    fds.clear();
    data.clear();
  };
  if (::jail_attach(jid) != 0) {
    fail(errnoError("jail_attach"));
  } else {
    auto r = work(data, fds);
    if (!r) fail(r.error());
    if (fds.size() > kMaxJailChildFds)
      fail(plainError("jail helper produced too many descriptors"));
  }
  header.fd_count = static_cast<uint32_t>(fds.size());
  header.length = data.size();

  struct iovec iov = {&header, sizeof header};
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxJailChildFds)];
  if (!fds.empty()) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(cm), fds.data(), sizeof(int) * fds.size());
  }
  ssize_t sent;
  do {
    sent = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent != static_cast<ssize_t>(sizeof header)) ::_exit(2);
  if (!data.empty() && !sendAll(sock, data.data(), data.size())) ::_exit(3);
  ::_exit(0);
}

}  // namespace

Result<JailChildReply> runInJail(int jid, const std::string& jail_name, const JailChildWork& work) {
  const std::string what = "jail " + jail_name + " (jid " + std::to_string(jid) + ")";
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
    return errnoError("socketpair for the helper of " + what);
  UniqueFd parent_end(pair[0]);
  UniqueFd child_end(pair[1]);

  pid_t pid = ::fork();
  if (pid < 0) return errnoError("fork a helper for " + what);
  if (pid == 0) {
    parent_end.release();  // the child never touches it; its copy goes away at _exit
    childMain(child_end.get(), jid, work);
  }
  child_end.reset();

  // Reap the child however this function returns. Our end of the socketpair is closed
  // first: a child still blocked sending data we no longer read then fails and exits
  // instead of waiting for us forever.
  struct Reaper {
    pid_t pid;
    UniqueFd* sock;
    int status = 0;
    bool reaped = false;
    void wait() {
      if (reaped) return;
      reaped = true;
      sock->reset();
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
    }
    ~Reaper() { wait(); }
  } reaper{pid, &parent_end};

  ReplyHeader header;
  struct iovec iov = {&header, sizeof header};
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxJailChildFds)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(parent_end.get(), &msg, MSG_CMSG_CLOEXEC | MSG_WAITALL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errnoError("read the reply of the helper in " + what);

  // Take ownership of whatever descriptors arrived before looking at anything else, so
  // that no error path leaks them.
  JailChildReply reply;
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(&msg); cm != nullptr; cm = CMSG_NXTHDR(&msg, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
      reply.fds.emplace_back(fd);
    }
  }
  if (static_cast<size_t>(n) < sizeof header &&
      (n == 0 ||
       !recvAll(parent_end.get(), reinterpret_cast<char*>(&header) + n, sizeof header - n))) {
    reaper.wait();
    if (WIFSIGNALED(reaper.status))
      return plainError("the helper attached to " + what + " was killed by signal " +
                        std::to_string(WTERMSIG(reaper.status)));
    return plainError("the helper attached to " + what + " exited without a reply");
  }
  if (msg.msg_flags & MSG_CTRUNC)
    return plainError("descriptors from the helper in " + what + " were truncated");
  if (header.failed) {
    header.message[sizeof header.message - 1] = '\0';
    return Error{header.error, what + ": " + header.message};
  }
  if (reply.fds.size() != header.fd_count)
    return plainError("the helper in " + what + " sent " + std::to_string(reply.fds.size()) +
                      " descriptors, announced " + std::to_string(header.fd_count));
  // The helper's data is a snapshot of one stack's interfaces; anything near this size
  // is a bug, not a big host.
  constexpr uint64_t kMaxReply = 64u << 20;
  if (header.length > kMaxReply)
    return plainError("reply of the helper in " + what + " is implausibly large");
  reply.data.resize(static_cast<size_t>(header.length));
  if (!reply.data.empty() && !recvAll(parent_end.get(), reply.data.data(), reply.data.size()))
    return errnoError("read the data of the helper in " + what);
  reaper.wait();
  if (!WIFEXITED(reaper.status) || WEXITSTATUS(reaper.status) != 0)
    return plainError("the helper attached to " + what + " failed after replying");
  return reply;
}

}  // namespace vnetd::platform::fbsd
