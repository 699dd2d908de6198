/* hook_floor_client — the exec floor of bench/hook_latency.
 *
 * The least a hook process can be: start, connect to a unix socket, send one line, read
 * one line back, exit. Nothing but libc, linked statically where the toolchain can (no
 * dynamic loader, no relocations at start), so that timing its start from a shell is the
 * cost of fork + exec + one request/reply on this machine — what any hook pays at least.
 *
 * usage: hook_floor_client SOCKET LINE     exit 0 when the reply starts with "ok"
 */
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int fail(const char *what) {
  /* One line, no stdio: the error path must not pull in anything the happy path lacks. */
  static const char prefix[] = "hook_floor_client: ";
  (void)!write(2, prefix, sizeof prefix - 1);
  (void)!write(2, what, strlen(what));
  (void)!write(2, "\n", 1);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) return fail("usage: hook_floor_client SOCKET LINE");
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  size_t len = strlen(argv[1]);
  if (len >= sizeof addr.sun_path) return fail("socket path too long");
  memcpy(addr.sun_path, argv[1], len);

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail("socket() failed");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) return fail("cannot connect (is hook_floor_server running?)");

  /* The request: the line and its newline in one write, as one segment. */
  char out[512];
  size_t n = strlen(argv[2]);
  if (n + 1 > sizeof out) return fail("line too long");
  memcpy(out, argv[2], n);
  out[n++] = '\n';
  if (write(fd, out, n) != (ssize_t)n) return fail("write failed");

  char in[64];
  size_t got = 0;
  while (got < sizeof in) {
    ssize_t r = read(fd, in + got, sizeof in - got);
    if (r <= 0) break;
    got += (size_t)r;
    if (memchr(in, '\n', got)) break;
  }
  if (got < 2 || in[0] != 'o' || in[1] != 'k') return fail("no \"ok\" reply");
  return 0;
}
