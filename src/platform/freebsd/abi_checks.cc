// Compile-time checks that the constants vnetd's platform-neutral code relies on match
// the FreeBSD ABI. These run in CI through the Zig x86_64-freebsd cross-compile
// (scripts/check-freebsd) against FreeBSD 15 headers, and natively on FreeBSD.
#include <sys/param.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <net/if.h>

#include "core/naming.h"

static_assert(IFNAMSIZ == 16, "FreeBSD IFNAMSIZ changed: interface-name derivation assumes 16");
static_assert(vnetd::kMaxInterfaceNameLength + 1 == IFNAMSIZ,
              "generated names must fit IFNAMSIZ including the NUL");
static_assert(sizeof(struct ifreq) == 32, "struct ifreq is 32 bytes on LP64 FreeBSD");
