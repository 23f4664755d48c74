/*
 * certmint-squid-crtd: a certificate generator for Squid's `sslcrtd_program`, a drop-in for
 * security_file_certgen. This file reads and frames Squid's requests on stdin and writes the
 * replies on stdout; libcertmint parses each request body and mints the leaf (a clone of the
 * origin with a fresh key, signed by the CA in the request).
 *
 *   sslcrtd_program /usr/local/bin/certmint-squid-crtd -s /var/spool/squid/ssl_db -M 4MB
 *   sslcrtd_program /usr/local/bin/certmint-squid-crtd --config /etc/certmint/certmint.toml
 *
 * Protocol (Squid 5.7): a request is `[ID SP] new_certificate SP LEN SP BODY \n`, a reply
 * `[ID SP] OK SP LEN SP BODY \x01` or `[ID SP] ERR SP LEN SP MESSAGE \x01`. With a channel ID
 * (sslcrtd_children ... concurrency=N) the reply echoes it. A bad request gets ERR and the
 * helper reads on; end of input ends it with status 0.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "certmint.h"

#define MAX_BODY (1024 * 1024)
#define MAX_TOKEN 64

static int debug;
static unsigned long long requests;

static void usage(FILE *to) {
  fprintf(to,
          "usage: certmint-squid-crtd [--config FILE] [-d] [-s DIR -M SIZE] [-b SIZE]\n"
          "       certmint-squid-crtd -c | -h | -v\n"
          "Squid's sslcrtd_program: mints certmint's clones of origin certificates, each with a\n"
          "fresh key, signed by the CA Squid sends. --config: a certmint configuration whose\n"
          "[mint] policy, default CA's CRL/OCSP URLs and [untrusted] policy apply. -s, -M and -b\n"
          "(security_file_certgen's database) are accepted and ignored: certificates are kept in\n"
          "memory. -d logs one line per request to stderr (Squid's cache.log).\n");
}

/* Writes `[id ]STATUS LEN BODY\x01` and flushes. */
static void reply(const char *id, const char *status, const char *body, size_t len) {
  if (id[0])
    printf("%s ", id);
  printf("%s %zu ", status, len);
  fwrite(body, 1, len, stdout);
  putchar('\x01');
  fflush(stdout);
}

static void reply_error(const char *id, const char *message) {
  if (debug)
    fprintf(stderr, "certmint-squid-crtd: request %llu: ERR %s\n", requests, message);
  reply(id, "ERR", message, strlen(message));
}

/* Skips input up to and including the next newline; 0 at end of input. */
static int skip_line(void) {
  int c;
  while ((c = getchar()) != EOF)
    if (c == '\n')
      return 1;
  return 0;
}

/* Reads a token ending at a space. Returns 1 on a token, 0 at end of input, -1 when the line
 * ends first or the token is too long (the rest of the line is then skipped). */
static int token(char *out) {
  size_t n = 0;
  int c;
  while ((c = getchar()) != EOF) {
    if (c == ' ' && n > 0) {
      out[n] = 0;
      return 1;
    }
    if (c == '\n' || c == ' ' || n + 1 >= MAX_TOKEN)
      return c == '\n' ? -1 : (skip_line() ? -1 : 0);
    out[n++] = (char)c;
  }
  return 0;
}

static int all_digits(const char *s) {
  if (!*s)
    return 0;
  for (; *s; s++)
    if (!isdigit((unsigned char)*s))
      return 0;
  return 1;
}

/* Answers one request whose body has been read. */
static void answer(certmint_squid_helper *helper, const char *id, const uint8_t *body,
                   size_t len) {
  static char small[64 * 1024];
  char *buf = small;
  size_t size = sizeof small, written = 0;
  certmint_result r = certmint_squid_helper_answer(helper, body, len, buf, size, &written);
  if (r == CERTMINT_BUFFER_TOO_SMALL && (buf = malloc(written)) != NULL) {
    size = written;
    r = certmint_squid_helper_answer(helper, body, len, buf, size, &written);
  }
  if (!buf) {
    reply_error(id, "out of memory");
    return;
  }
  if (r == CERTMINT_OK) {
    if (debug)
      fprintf(stderr, "certmint-squid-crtd: request %llu: OK\n", requests);
    reply(id, "OK", buf, written);
  } else {
    char message[1024];
    size_t n;
    if (certmint_last_error(message, sizeof message, &n) != CERTMINT_OK)
      certmint_result_message(r, message, sizeof message, &n);
    reply_error(id, message);
  }
  explicit_bzero(buf, size); /* the reply held a private key */
  if (buf != small)
    free(buf);
}

int main(int argc, char **argv) {
  const char *config = NULL;
  int ignored = 0;
  static const struct option longs[] = {{"config", required_argument, NULL, 'C'},
                                        {"help", no_argument, NULL, 'h'},
                                        {"version", no_argument, NULL, 'v'},
                                        {NULL, 0, NULL, 0}};
  int opt;
  while ((opt = getopt_long(argc, argv, "dchvs:M:b:", longs, NULL)) != -1) {
    switch (opt) {
    case 'C':
      config = optarg;
      break;
    case 'd':
      debug = 1;
      break;
    case 'c':
      puts("certmint-squid-crtd keeps its certificates in memory: there is no database to "
           "create.");
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    case 'v':
      printf("certmint-squid-crtd (certmint %s)\n", certmint_version());
      return 0;
    case 's':
    case 'M':
    case 'b':
      ignored = 1;
      break;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (optind < argc) {
    usage(stderr);
    return 2;
  }
  if (ignored)
    fprintf(stderr, "certmint-squid-crtd: -s, -M and -b are ignored: certmint keeps its "
                    "certificates in memory, not in a database\n");

  certmint_squid_helper *helper = NULL;
  certmint_result r = certmint_squid_helper_new(
      (const uint8_t *)config, config ? strlen(config) : 0, &helper);
  if (r != CERTMINT_OK) {
    char message[1024];
    size_t n;
    if (certmint_last_error(message, sizeof message, &n) != CERTMINT_OK)
      certmint_result_message(r, message, sizeof message, &n);
    fprintf(stderr, "certmint-squid-crtd: %s\n", message);
    return 1;
  }

  for (;;) {
    char first[MAX_TOKEN], code[MAX_TOKEN], len_text[MAX_TOKEN], id[MAX_TOKEN] = "";
    int c;
    /* Whitespace between requests is skipped, as the stock helper does. */
    while ((c = getchar()) == '\n' || c == '\r' || c == ' ' || c == '\t')
      ;
    if (c == EOF)
      break;
    ungetc(c, stdin);
    int got = token(first);
    if (got == 0)
      break;
    if (got > 0 && all_digits(first)) {
      strcpy(id, first);
      got = token(code);
    } else {
      strcpy(code, first);
    }
    if (got > 0)
      got = token(len_text);
    requests++;
    if (got == 0)
      break;
    if (got < 0 || !all_digits(len_text)) {
      if (got > 0 && !skip_line())
        break;
      reply_error(id, "malformed request: expected [ID] CODE LENGTH BODY");
      continue;
    }
    unsigned long long len = strtoull(len_text, NULL, 10);
    if (len > MAX_BODY) {
      /* Skip the declared body (as far as input goes), then the rest of its line. */
      for (unsigned long long i = 0; i < len && getchar() != EOF; i++)
        ;
      reply_error(id, "request body larger than 1 MiB");
      if (!skip_line())
        break;
      continue;
    }
    uint8_t *body = malloc(len ? len : 1);
    if (!body) {
      reply_error(id, "out of memory");
      if (!skip_line())
        break;
      continue;
    }
    size_t have = fread(body, 1, len, stdin);
    if (have < len) { /* end of input inside a body: Squid is gone */
      explicit_bzero(body, have);
      free(body);
      break;
    }
    c = getchar();
    if (c != '\n') {
      reply_error(id, "the request body does not end where its length says");
      explicit_bzero(body, len);
      free(body);
      if (c == EOF || !skip_line())
        break;
      continue;
    }
    if (strcmp(code, "new_certificate") != 0)
      reply_error(id, "unknown request code (only new_certificate is known)");
    else
      answer(helper, id, body, len);
    explicit_bzero(body, len); /* the body held the CA's private key */
    free(body);
  }
  certmint_squid_helper_free(helper);
  return 0;
}
