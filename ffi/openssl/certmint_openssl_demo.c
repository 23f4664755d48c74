/*
 * certmint-openssl-demo: a TLS server on OpenSSL 3 whose certificates certmint mints from each
 * client's SNI (client-first), answering every request with a short HTTP/1.1 page. What a
 * HAProxy or nginx module author copies from.
 *
 *   certmint-openssl-demo --listen ADDR:PORT --config FILE
 *   certmint-openssl-demo --listen ADDR:PORT --ca-cert FILE --ca-key FILE|pkcs11:URI
 *                         [--ca-key-pass-file FILE]
 *
 * Prints "listening on ADDR:PORT" when ready (port 0 picks one), one line per connection, and
 * stops cleanly on SIGINT or SIGTERM.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "certmint.h"
#include "certmint_openssl.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void usage(void) {
  fprintf(stderr, "usage: certmint-openssl-demo --listen ADDR:PORT (--config FILE | --ca-cert FILE "
                  "--ca-key FILE|pkcs11:URI [--ca-key-pass-file FILE])\n");
  exit(2);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "certmint-openssl-demo: %s: %s\n", path, strerror(errno));
    exit(1);
  }
  size_t cap = 4096;
  char *buf = malloc(cap);
  *len = 0;
  size_t got;
  while (buf && (got = fread(buf + *len, 1, cap - *len, f)) > 0) {
    *len += got;
    if (*len == cap)
      buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf)
    exit(1);
  return buf;
}

static void fail(const char *what, certmint_result r) {
  char detail[1024], message[256];
  size_t n;
  certmint_result_message(r, message, sizeof message, &n);
  if (certmint_last_error(detail, sizeof detail, &n) != CERTMINT_OK)
    strcpy(detail, message);
  fprintf(stderr, "certmint-openssl-demo: %s: %s\n", what, detail);
  exit(1);
}

static certmint_deployment *deployment_from_args(const char *config, const char *ca_cert,
                                                 const char *ca_key, const char *pass_file) {
  certmint_deployment *d = NULL;
  certmint_result r;
  if (config) {
    r = certmint_deployment_new_from_config_file((const uint8_t *)config, strlen(config), &d);
    if (r != CERTMINT_OK)
      fail("configuration", r);
    return d;
  }
  size_t cert_len, key_len, pass_len = 0;
  char *cert = slurp(ca_cert, &cert_len);
  char *key;
  if (strncasecmp(ca_key, "pkcs11:", 7) == 0) {
    key = strdup(ca_key);
    key_len = strlen(key);
  } else {
    key = slurp(ca_key, &key_len);
  }
  char *pass = NULL;
  if (pass_file) {
    pass = slurp(pass_file, &pass_len);
    while (pass_len && (pass[pass_len - 1] == '\n' || pass[pass_len - 1] == '\r'))
      pass_len--;
  }
  r = certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len, (const uint8_t *)key,
                                      key_len, (const uint8_t *)pass, pass_len, &d);
  /* Wipe the key and passphrase copies before freeing them. */
  OPENSSL_cleanse(key, key_len);
  if (pass)
    OPENSSL_cleanse(pass, pass_len);
  free(cert);
  free(key);
  free(pass);
  if (r != CERTMINT_OK)
    fail("CA", r);
  return d;
}

static int listen_on(const char *spec, char *bound, size_t bound_len) {
  char host[256];
  const char *colon = strrchr(spec, ':');
  if (!colon || (size_t)(colon - spec) >= sizeof host)
    usage();
  memcpy(host, spec, (size_t)(colon - spec));
  host[colon - spec] = 0;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1)
    usage();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 128) != 0) {
    fprintf(stderr, "certmint-openssl-demo: %s: %s\n", spec, strerror(errno));
    exit(1);
  }
  socklen_t len = sizeof addr;
  getsockname(fd, (struct sockaddr *)&addr, &len);
  snprintf(bound, bound_len, "%s:%u", host, (unsigned)ntohs(addr.sin_port));
  return fd;
}

static void serve(SSL_CTX *ctx, int fd) {
  struct timeval timeout = {10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  if (SSL_accept(ssl) == 1) {
    char request[4096];
    int n = SSL_read(ssl, request, sizeof request - 1);
    const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    char body[512];
    int body_len = snprintf(body, sizeof body, "hello from certmint-openssl-demo: %s (%s)\n",
                            sni ? sni : "(no SNI)",
                            certmint_openssl_outcome(ssl) == CERTMINT_OUTCOME_HIT ? "cache hit"
                                                                                   : "minted");
    char response[1024];
    int len = snprintf(response, sizeof response,
                       "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                       "Connection: close\r\n\r\n%s",
                       body_len, body);
    if (n > 0)
      SSL_write(ssl, response, len);
    SSL_shutdown(ssl);
  }
  ERR_clear_error();
  SSL_free(ssl);
  close(fd);
}

int main(int argc, char **argv) {
  const char *listen_spec = NULL, *config = NULL, *ca_cert = NULL, *ca_key = NULL,
             *pass_file = NULL;
  for (int i = 1; i < argc; i++) {
    const char **slot = strcmp(argv[i], "--listen") == 0             ? &listen_spec
                        : strcmp(argv[i], "--config") == 0           ? &config
                        : strcmp(argv[i], "--ca-cert") == 0          ? &ca_cert
                        : strcmp(argv[i], "--ca-key") == 0           ? &ca_key
                        : strcmp(argv[i], "--ca-key-pass-file") == 0 ? &pass_file
                                                                     : NULL;
    if (!slot || i + 1 >= argc)
      usage();
    *slot = argv[++i];
  }
  if (!listen_spec || (!config && !(ca_cert && ca_key)) || (config && (ca_cert || ca_key)))
    usage();

  certmint_deployment *d = deployment_from_args(config, ca_cert, ca_key, pass_file);
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || !certmint_openssl_install(ctx, d, NULL, NULL)) {
    fprintf(stderr, "certmint-openssl-demo: cannot set up OpenSSL\n");
    return 1;
  }
  SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET); /* every connection a full handshake */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);

  char bound[300];
  int lfd = listen_on(listen_spec, bound, sizeof bound);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal; /* no SA_RESTART: accept() returns EINTR */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  printf("listening on %s\n", bound);
  fflush(stdout);

  while (!stopping) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR)
        continue;
      perror("certmint-openssl-demo: accept");
      nanosleep(&(struct timespec){0, 100000000}, NULL);
      continue;
    }
    serve(ctx, fd);
  }
  close(lfd);
  certmint_cache_stats stats;
  if (certmint_deployment_cache_stats(d, &stats, sizeof stats) == CERTMINT_OK)
    printf("stopped: %llu handshakes served from the cache, %llu mints\n",
           (unsigned long long)stats.hits, (unsigned long long)stats.mints);
  SSL_CTX_free(ctx);
  certmint_deployment_shutdown(d);
  certmint_deployment_free(d);
  return 0;
}
