#include "platform/linux/nftables.h"

#include <nftables/libnftables.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <string>

#include "platform/linux/nft_text.h"

namespace vnetd::platform::lnx {
namespace {

struct ContextFree {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};
using Context = std::unique_ptr<nft_ctx, ContextFree>;

// See nftables.h: libnftables' process-wide state allows one call at a time.
std::mutex& libnftablesMutex() {
  static std::mutex m;
  return m;
}

// nft_ctx_new would exit() the process if this failed inside it (see nftables.h). The probe
// also stands in for the descriptor number libnftables' socket gets next (the lowest free
// one): libnftables 1.0.6 waits for the kernel's answer with select() and FD_SET
// (src/mnl.c mnl_batch_talk), which must not see a descriptor >= FD_SETSIZE.
Result<void> probeNetfilterSocket(const std::string& what) {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (fd < 0)
    return errnoError(what + ": cannot open a netfilter netlink socket (kernel without nf_tables/nfnetlink?)");
  ::close(fd);
  if (fd >= FD_SETSIZE)
    return Error{EMFILE, what + ": " + std::to_string(fd) + " descriptors are open; libnftables needs one below " +
                             std::to_string(FD_SETSIZE) + " (it waits with select())"};
  return success();
}

Result<std::string> run(const std::string& commands, bool json, const std::string& what) {
  if (commands.find('\0') != std::string::npos) return plainError(what + ": nftables commands hold a NUL byte");
  std::lock_guard<std::mutex> lock(libnftablesMutex());
  VNETD_TRY(probeNetfilterSocket(what));
  Context ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return Error{ENOMEM, what + ": nft_ctx_new failed"};
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0)
    return Error{ENOMEM, what + ": libnftables cannot buffer its output"};
  nft_ctx_output_set_flags(ctx.get(), json ? NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE : 0);
  int rc = nft_run_cmd_from_buffer(ctx.get(), commands.c_str());
  // Both buffers belong to the context: copied before it is freed.
  if (rc != 0) return nftError(what, nft_ctx_get_error_buffer(ctx.get()));
  return std::string(nft_ctx_get_output_buffer(ctx.get()));
}

}  // namespace

Result<void> nftRun(const std::string& commands, const std::string& what) {
  auto out = run(commands, /*json=*/false, what);
  if (!out) return out.error();
  return success();
}

Result<std::string> nftListJson(const std::string& command, const std::string& what) {
  return run(command, /*json=*/true, what);
}

}  // namespace vnetd::platform::lnx
