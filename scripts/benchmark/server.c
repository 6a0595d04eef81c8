/*
 * The benchmark's tiny TCP service: listen on 127.0.0.1:PORT (argv[1]) and hold each connection,
 * reading and discarding, until the client closes it (like a real server: no early FIN or RST, which
 * Bun.connect-based probes may report as a failed connect). At most 64 connections are held; past that
 * the oldest is closed. Every tool runs this same program. C because it is ready in under a
 * millisecond with ~1 MB RSS, so the numbers measure the service manager, not an interpreter.
 * SIGTERM and SIGINT keep their default action (exit), which is what each tool's stop sends.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNECTIONS 64

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s PORT\n", argv[0]);
    return 2;
  }
  int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(atoi(argv[1]));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 128) < 0) {
    perror("listen");
    return 1;
  }
  struct pollfd fds[1 + MAX_CONNECTIONS] = {{.fd = s, .events = POLLIN}};
  int n = 1;
  char buf[512];
  for (;;) {
    if (poll(fds, n, -1) < 0) {
      if (errno == EINTR) continue;
      perror("poll");
      return 1;
    }
    for (int i = n - 1; i >= 1; i--) {
      if (fds[i].revents && read(fds[i].fd, buf, sizeof buf) <= 0) {
        close(fds[i].fd);
        fds[i] = fds[--n];
      }
    }
    if (fds[0].revents & POLLIN) {
      int c = accept(s, 0, 0);
      if (c < 0) continue;
      if (n == 1 + MAX_CONNECTIONS) {
        close(fds[1].fd);
        fds[1] = fds[--n];
      }
      fds[n++] = (struct pollfd){.fd = c, .events = POLLIN};
    }
  }
}
