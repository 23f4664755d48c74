/*
 * certmint_openssl: OpenSSL 3 glue for libcertmint (see include/certmint_openssl.h).
 */
#include "certmint_openssl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>

/* What the glue keeps per SSL_CTX. */
struct glue {
  const certmint_deployment *deployment;
  certmint_openssl_log_fn log;
  void *log_arg;
};

/* What the glue keeps per SSL: the origin's chain (server-first) and how it was served. */
struct conn {
  certmint_bytes *chain;
  size_t chain_len;
  int outcome;
};

/* The parsed chain and key, attached to a certmint cache entry. */
struct parsed {
  X509 *leaf;
  STACK_OF(X509) *chain;
  EVP_PKEY *key;
};

static int ctx_index = -1;
static int ssl_index = -1;

static void free_glue(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                      void *argp) {
  (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
  free(ptr);
}

static void free_conn(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                      void *argp) {
  (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
  struct conn *c = ptr;
  if (!c)
    return;
  for (size_t i = 0; i < c->chain_len; i++)
    free((void *)c->chain[i].data);
  free(c->chain);
  free(c);
}

static void free_parsed(void *ptr) {
  struct parsed *p = ptr;
  if (!p)
    return;
  X509_free(p->leaf);
  sk_X509_pop_free(p->chain, X509_free);
  EVP_PKEY_free(p->key);
  free(p);
}

static int indices(void) {
  /* CRYPTO_get_ex_new_index is thread-safe; a race only wastes an index. */
  if (ctx_index < 0)
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_glue);
  if (ssl_index < 0)
    ssl_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_conn);
  return ctx_index >= 0 && ssl_index >= 0;
}

static void say(const struct glue *g, const char *fmt, const char *a, const char *b) {
  char line[1024];
  snprintf(line, sizeof line, fmt, a, b);
  if (g->log)
    g->log(g->log_arg, line);
  else
    fprintf(stderr, "certmint: %s\n", line);
}

/* The host_name of the server_name extension, copied into `out` (NUL-terminated). */
static int client_sni(SSL *s, char *out, size_t out_len) {
  const unsigned char *p;
  size_t len;
  if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_server_name, &p, &len) || len < 5)
    return 0;
  size_t list_len = ((size_t)p[0] << 8) | p[1];
  if (list_len + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name)
    return 0;
  size_t name_len = ((size_t)p[3] << 8) | p[4];
  if (name_len + 5 > len || name_len == 0 || name_len >= out_len)
    return 0;
  memcpy(out, p + 5, name_len);
  out[name_len] = 0;
  return 1;
}

/* The CERTMINT_KEY_SUPPORT_* bits of the client's signature_algorithms (0: not sent = any). */
static uint32_t client_key_support(SSL *s) {
  const unsigned char *p;
  size_t len;
  if (!SSL_client_hello_get0_ext(s, TLSEXT_TYPE_signature_algorithms, &p, &len) || len < 2)
    return 0;
  size_t list_len = ((size_t)p[0] << 8) | p[1];
  if (list_len + 2 > len || list_len % 2)
    return 0;
  uint16_t schemes[256];
  size_t n = 0;
  for (size_t i = 0; i < list_len && n < 256; i += 2)
    schemes[n++] = (uint16_t)((p[2 + i] << 8) | p[3 + i]);
  uint32_t support = 0;
  if (certmint_key_support_from_schemes(schemes, n, &support) != CERTMINT_OK)
    return 0;
  return support;
}

/* The parsed form of a minted chain and key, from the cache entry or parsed and attached now. */
static struct parsed *parsed_for(const certmint_minted *m) {
  struct parsed *have = certmint_minted_attachment(m);
  if (have)
    return have;
  struct parsed *p = calloc(1, sizeof *p);
  if (!p)
    return NULL;
  p->chain = sk_X509_new_null();
  size_t n = certmint_minted_chain_len(m);
  for (size_t i = 0; p->chain && i < n; i++) {
    const uint8_t *der;
    size_t len;
    if (certmint_minted_chain_der(m, i, &der, &len) != CERTMINT_OK)
      goto fail;
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    if (!x)
      goto fail;
    if (i == 0)
      p->leaf = x;
    else if (!sk_X509_push(p->chain, x)) {
      X509_free(x);
      goto fail;
    }
  }
  const uint8_t *key_der;
  size_t key_len;
  if (!p->leaf || certmint_minted_key_der(m, &key_der, &key_len) != CERTMINT_OK)
    goto fail;
  const unsigned char *q = key_der;
  p->key = d2i_AutoPrivateKey(NULL, &q, (long)key_len);
  if (!p->key)
    goto fail;
  /* Another thread may have attached its own parse meanwhile: then ours is freed and theirs
   * returned. */
  return certmint_minted_attach(m, p, free_parsed);
fail:
  free_parsed(p);
  return NULL;
}

static struct conn *conn_for(SSL *ssl);

static int on_client_hello(SSL *s, int *alert, void *arg) {
  const struct glue *g = arg;
  struct conn *c = conn_for(s); /* NULL only when out of memory: then no outcome is kept */
  char host[256];
  int have_host = client_sni(s, host, sizeof host);
  uint32_t support = client_key_support(s);
  certmint_minted *m = NULL;
  certmint_result r = certmint_deployment_lookup(
      g->deployment, have_host ? (const uint8_t *)host : NULL, have_host ? strlen(host) : 0,
      c ? c->chain : NULL, c ? c->chain_len : 0, support, &m);
  if (r != CERTMINT_OK) {
    char detail[512];
    size_t n;
    if (certmint_last_error(detail, sizeof detail, &n) != CERTMINT_OK)
      strcpy(detail, "(detail too long)");
    say(g, "refused %s: %s", have_host ? host : "(no SNI)", detail);
    *alert = r == CERTMINT_UNTRUSTED_ORIGIN ? SSL_AD_ACCESS_DENIED
             : (r >= 200 && r < 300)        ? SSL_AD_UNRECOGNIZED_NAME
                                            : SSL_AD_HANDSHAKE_FAILURE;
    return SSL_CLIENT_HELLO_ERROR;
  }
  struct parsed *p = parsed_for(m);
  int outcome = (int)certmint_minted_outcome(m);
  certmint_minted_free(m); /* the SSL takes its own references below */
  if (!p || SSL_use_cert_and_key(s, p->leaf, p->key, p->chain, 1) != 1) {
    say(g, "%s: %s", have_host ? host : "(no SNI)", "could not install the minted chain");
    ERR_clear_error();
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_CLIENT_HELLO_ERROR;
  }
  if (c)
    c->outcome = outcome;
  return SSL_CLIENT_HELLO_SUCCESS;
}

int certmint_openssl_install(SSL_CTX *ctx, const certmint_deployment *deployment,
                             certmint_openssl_log_fn log, void *log_arg) {
  if (!ctx || !deployment || !indices())
    return 0;
  struct glue *g = calloc(1, sizeof *g);
  if (!g)
    return 0;
  g->deployment = deployment;
  g->log = log;
  g->log_arg = log_arg;
  if (!SSL_CTX_set_ex_data(ctx, ctx_index, g)) {
    free(g);
    return 0;
  }
  SSL_CTX_set_client_hello_cb(ctx, on_client_hello, g);
  return 1;
}

static struct conn *conn_for(SSL *ssl) {
  struct conn *c = SSL_get_ex_data(ssl, ssl_index);
  if (c)
    return c;
  c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->outcome = -1;
  if (!SSL_set_ex_data(ssl, ssl_index, c)) {
    free(c);
    return NULL;
  }
  return c;
}

int certmint_openssl_set_origin_chain(SSL *ssl, const certmint_bytes *chain, size_t chain_len) {
  if (!ssl || (!chain && chain_len) || !indices())
    return 0;
  struct conn *c = conn_for(ssl);
  if (!c)
    return 0;
  certmint_bytes *copy = calloc(chain_len ? chain_len : 1, sizeof *copy);
  if (!copy)
    return 0;
  for (size_t i = 0; i < chain_len; i++) {
    uint8_t *data = malloc(chain[i].len ? chain[i].len : 1);
    if (!data) {
      for (size_t j = 0; j < i; j++)
        free((void *)copy[j].data);
      free(copy);
      return 0;
    }
    if (chain[i].len)
      memcpy(data, chain[i].data, chain[i].len);
    copy[i].data = data;
    copy[i].len = chain[i].len;
  }
  for (size_t i = 0; i < c->chain_len; i++)
    free((void *)c->chain[i].data);
  free(c->chain);
  c->chain = copy;
  c->chain_len = chain_len;
  return 1;
}

int certmint_openssl_outcome(const SSL *ssl) {
  if (!ssl || ssl_index < 0)
    return -1;
  const struct conn *c = SSL_get_ex_data(ssl, ssl_index);
  return c ? c->outcome : -1;
}
