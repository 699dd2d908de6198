/* hook_floor_server — the trivial server hook_floor_client talks to (bench/hook_latency).
 *
 * Answers every connection's first line with "ok\n" at once: no parsing, no state, one
 * connection at a time (the bench runs one client at a time). The exec floor it helps
 * measure is therefore the client's side only.
 *
 * usage: hook_floor_server SOCKET
 * Listens on SOCKET, then forks: the parent prints the server's pid and exits, so the
 * caller knows the socket accepts connections when the command returns (no polling).
 * The server runs until it gets SIGTERM.
 */
#define _GNU_SOURCE /* accept4 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: hook_floor_server SOCKET\n");
    return 2;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (strlen(argv[1]) >= sizeof addr.sun_path) {
    fprintf(stderr, "hook_floor_server: socket path %s is too long\n", argv[1]);
    return 1;
  }
  strcpy(addr.sun_path, argv[1]);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 64) != 0) {
    perror("hook_floor_server: listen");
    return 1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("hook_floor_server: fork");
    return 1;
  }
  if (pid > 0) {
    printf("%d\n", (int)pid);
    return 0;
  }
  /* The caller reads our pid through a pipe: let go of it, or it waits for us to end. */
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
  }
  for (;;) {
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    size_t got = 0;
    while (got < sizeof buf) {
      ssize_t r = read(fd, buf + got, sizeof buf - got);
      if (r <= 0) break;
      got += (size_t)r;
      if (memchr(buf, '\n', got)) {
        (void)!write(fd, "ok\n", 3);
        break;
      }
    }
    close(fd);
  }
}
