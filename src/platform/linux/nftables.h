// libnftables (the nftables project's own library, the one nft(8) and firewalld use) called
// in-process: vnetd never runs nft(8). Used for the NAT of bridges (nft_nat.cc); anyone may
// call it.
//
// libnftables calls used, per run (src/libnftables.c of nftables 1.0.6, Debian 12):
//   nft_ctx_new(NFT_CTX_DEFAULT)     a fresh context; opens the NETLINK_NETFILTER socket in
//                                    the calling thread's network namespace
//   nft_ctx_buffer_output()          output into a memory buffer instead of stdout
//   nft_ctx_buffer_error()           error records into a memory buffer instead of stderr
//   nft_ctx_output_set_flags()       NFT_CTX_OUTPUT_JSON | NFT_CTX_OUTPUT_HANDLE for listings
//   nft_run_cmd_from_buffer()        parse + evaluate + send the commands as one netlink batch:
//                                    the kernel applies all of it or none (one transaction)
//   nft_ctx_get_output_buffer()      the listing (JSON)
//   nft_ctx_get_error_buffer()       the error records, on failure
//   nft_ctx_free()                   closes the socket, frees the context (RAII below)
//
// Errors become ONE line (nft_text.h nftError): "<what>: <first non-empty line of the
// error buffer, trimmed>", e.g. "list NAT rules: Error: No such file or directory" (the
// following lines, the command and a ^^^ marker, are left out). Error::code is ENOENT when
// that line carries strerror(ENOENT) (a table, chain or rule that is not there), EPERM or
// EACCES when not permitted, otherwise EIO.
//
// Why a context per call, and one call at a time in the process:
// - nft_ctx_new opens its netlink socket at once (nft_ctx_netlink_init): a context made once
//   would stay bound to the namespace it was made in, while a fresh one always works on the
//   caller's namespace. It costs about as much as the run itself (numbers in the report of
//   issue 16; far below an nft(8) child).
// - libnftables keeps process-wide state: nft_ctx_new's one-time init (a plain static bool),
//   the interface cache every run and every free releases (iface_cache_release), the JSON
//   parser's input descriptor. So every call holds one process-wide mutex.
// - nft_ctx_new exits the process when the netlink socket cannot be opened
//   (nft_mnl_socket_open → netlink_init_error → exit): a probe socket of the same kind is
//   opened first, so that a kernel without nfnetlink is an error, not the daemon's exit.
// Known leak of text: when the cache cannot be read for lack of privilege, nft_run_cmd_from_buffer
// prints "Operation not permitted (you must be root)" to stderr itself (fprintf(stderr), not
// the error buffer); vnetd runs as root.
#pragma once

#include <string>

#include "core/result.h"

namespace vnetd::platform::lnx {

// Runs `commands` (nft syntax, newline-separated; may hold several commands) through libnftables
// in-process as ONE transaction: all or nothing. Output and errors are buffered, never printed.
// Error: one line "<what>: <libnftables' first error line>"; Error::code is ENOENT when the kernel
// said "No such file or directory" (a table/chain/rule that is not there), EPERM/EACCES when not
// permitted, otherwise EIO.
Result<void> nftRun(const std::string& commands, const std::string& what);
// Runs one list command (e.g. "list table ip vnetd", "list ruleset") and returns libnftables'
// JSON output ({"nftables": [...]}); errors as nftRun (ENOENT: no such table).
Result<std::string> nftListJson(const std::string& command, const std::string& what);

}  // namespace vnetd::platform::lnx
