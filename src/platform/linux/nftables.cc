// TEMPORARY stand-in (issue16-fwd): the real implementation is helper nft's
// (issue16-nft, src/platform/linux/nftables.cc); this file and its CMake lines are dropped
// at merge. Same contract (nftables.h, copied unchanged), minimal body.
#include "platform/linux/nftables.h"

#include <nftables/libnftables.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace vnetd::platform::lnx {
namespace {

struct ContextFree {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

Error toError(const std::string& what, const char* buffer) {
  std::string text = buffer ? buffer : "";
  std::string line;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line.find_first_not_of(" \t") != std::string::npos) break;
    line.clear();
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  int code = EIO;
  if (line.find(std::strerror(ENOENT)) != std::string::npos) code = ENOENT;
  else if (line.find(std::strerror(EPERM)) != std::string::npos) code = EPERM;
  else if (line.find(std::strerror(EACCES)) != std::string::npos) code = EACCES;
  return Error{code, what + ": " + (line.empty() ? "libnftables failed" : line)};
}

Result<std::string> run(const std::string& commands, bool json, const std::string& what) {
  static std::mutex m;
  std::lock_guard<std::mutex> lock(m);
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0) return errnoError(what + ": cannot open a netfilter netlink socket");
  ::close(fd);
  std::unique_ptr<nft_ctx, ContextFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error{ENOMEM, what + ": nft_ctx_new failed"};
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0)
    return Error{ENOMEM, what + ": libnftables cannot buffer its output"};
  nft_ctx_output_set_flags(ctx.get(), json ? NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE : 0);
  if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0)
    return toError(what, nft_ctx_get_error_buffer(ctx.get()));
  return std::string(nft_ctx_get_output_buffer(ctx.get()));
}

}  // namespace

Result<void> nftRun(const std::string& commands, const std::string& what) {
  auto out = run(commands, false, what);
  if (!out) return out.error();
  return success();
}

Result<std::string> nftListJson(const std::string& command, const std::string& what) {
  return run(command, true, what);
}

}  // namespace vnetd::platform::lnx
