/*
 * handshake_client: sequential full TLS 1.3 handshakes (no tickets, no resumption), each
 * followed by one HTTP/1.0 request and the whole response, against HOST:PORT.
 *
 *   handshake_client PORT COUNT distinct|same
 *
 * `distinct`: SNI hostN.bench.example, a new name on every connection; `same`: one name.
 * Prints "N handshakes in S s: R/s". The same binary measures every server, so the client's own
 * cost is the same on every side of a comparison.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int one(SSL_CTX *ctx, int port, const char *sni) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return 0;
  }
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, sni);
  int ok = SSL_connect(ssl) == 1;
  if (ok) {
    const char req[] = "GET / HTTP/1.0\r\nHost: bench\r\nConnection: close\r\n\r\n";
    ok = SSL_write(ssl, req, (int)sizeof req - 1) > 0;
    char buf[4096];
    int got = 0, n;
    while (ok && (n = SSL_read(ssl, buf, sizeof buf)) > 0)
      got += n;
    ok = ok && got > 0;
  }
  SSL_free(ssl);
  ERR_clear_error();
  close(fd);
  return ok;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: handshake_client PORT COUNT distinct|same\n");
    return 2;
  }
  int port = atoi(argv[1]), count = atoi(argv[2]);
  int distinct = strcmp(argv[3], "distinct") == 0;
  signal(SIGPIPE, SIG_IGN); /* a server closing early is a failed handshake, not a crash */
  unsigned run = (unsigned)time(NULL);
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  char sni[128];
  /* Warm-up: one connection, not counted, on a name new to the server (`same` then reuses it). */
  snprintf(sni, sizeof sni, "same%u.bench.example", run);
  if (!one(ctx, port, sni)) {
    fprintf(stderr, "handshake_client: the first handshake failed\n");
    return 1;
  }
  int failed = 0;
  double start = now();
  for (int i = 0; i < count; i++) {
    if (distinct)
      snprintf(sni, sizeof sni, "host%u-%d.bench.example", run, i);
    failed += !one(ctx, port, sni);
  }
  double secs = now() - start;
  printf("%d handshakes in %.2f s: %.0f/s (%d failed)\n", count, secs, count / secs, failed);
  SSL_CTX_free(ctx);
  return failed != 0;
}
