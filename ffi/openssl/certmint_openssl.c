/*
 * certmint_openssl: OpenSSL 3 glue for libcertmint (see include/certmint_openssl.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "certmint_openssl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/tls1.h>
#include <openssl/x509.h>

/* An intermediate certificate parsed once: every leaf of a CA shares it. */
struct parsed_intermediate {
  unsigned char *der;
  size_t len;
  X509 *x509;
};

/* How many distinct intermediates the glue keeps parsed (a deployment has a few CAs; rotating
 * sub-CAs add one a rotation). Past it the oldest is replaced. */
#define INTERMEDIATES 32

/* What the glue keeps per SSL_CTX. */
struct glue {
  const certmint_deployment *deployment;
  certmint_openssl_log_fn log;
  void *log_arg;
  pthread_mutex_t lock; /* guards intermediates and next_slot */
  struct parsed_intermediate intermediates[INTERMEDIATES];
  size_t next_slot;
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
  struct glue *g = ptr;
  if (!g)
    return;
  for (size_t i = 0; i < INTERMEDIATES; i++) {
    free(g->intermediates[i].der);
    X509_free(g->intermediates[i].x509);
  }
  pthread_mutex_destroy(&g->lock);
  free(g);
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

/* The parsed intermediate with this DER, shared (a new reference for the caller). OpenSSL 3.0
 * decodes a certificate in ~80 µs; every leaf of a CA carries the same intermediates. */
static X509 *intermediate(struct glue *g, const uint8_t *der, size_t len) {
  X509 *found = NULL;
  pthread_mutex_lock(&g->lock);
  for (size_t i = 0; i < INTERMEDIATES && !found; i++) {
    struct parsed_intermediate *e = &g->intermediates[i];
    if (e->x509 && e->len == len && memcmp(e->der, der, len) == 0 && X509_up_ref(e->x509))
      found = e->x509;
  }
  pthread_mutex_unlock(&g->lock);
  if (found)
    return found;
  const unsigned char *q = der;
  X509 *x = d2i_X509(NULL, &q, (long)len);
  unsigned char *copy = x ? malloc(len) : NULL;
  if (!copy)
    return x; /* served unshared: correct, only slower */
  memcpy(copy, der, len);
  if (!X509_up_ref(x)) {
    free(copy);
    return x;
  }
  pthread_mutex_lock(&g->lock);
  struct parsed_intermediate *slot = &g->intermediates[g->next_slot];
  g->next_slot = (g->next_slot + 1) % INTERMEDIATES;
  free(slot->der);
  X509_free(slot->x509);
  slot->der = copy;
  slot->len = len;
  slot->x509 = x;
  pthread_mutex_unlock(&g->lock);
  return x;
}

/* One component of the minted leaf's key as a BIGNUM (secure heap when configured), or NULL. */
static BIGNUM *key_bn(const certmint_minted *m, uint32_t part) {
  const uint8_t *p;
  size_t len;
  if (certmint_minted_key_part(m, part, &p, &len) != CERTMINT_OK)
    return NULL;
  BIGNUM *bn = BN_secure_new();
  if (bn && !BN_bin2bn(p, (int)len, bn)) {
    BN_clear_free(bn);
    return NULL;
  }
  return bn;
}

/* The leaf key imported from its components (EVP_PKEY_fromdata, ~12 µs for P-256) rather than
 * decoded from PKCS#8 (~0.3 ms through OpenSSL 3.0's decoders). NULL when it cannot be. */
static EVP_PKEY *import_key(const certmint_minted *m) {
  uint32_t algorithm = certmint_minted_key_algorithm(m);
  const uint8_t *p;
  size_t len;
  if (algorithm == CERTMINT_KEY_ALGORITHM_ED25519)
    return certmint_minted_key_part(m, CERTMINT_KEY_PART_ED25519_SEED, &p, &len) == CERTMINT_OK
               ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, p, len)
               : NULL;
  static const uint32_t rsa_parts[] = {CERTMINT_KEY_PART_RSA_N,  CERTMINT_KEY_PART_RSA_E,
                                       CERTMINT_KEY_PART_RSA_D,  CERTMINT_KEY_PART_RSA_P,
                                       CERTMINT_KEY_PART_RSA_Q,  CERTMINT_KEY_PART_RSA_DP,
                                       CERTMINT_KEY_PART_RSA_DQ, CERTMINT_KEY_PART_RSA_QINV};
  static const char *const rsa_names[] = {
      OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,         OSSL_PKEY_PARAM_RSA_D,
      OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
      OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
  int ec = algorithm == CERTMINT_KEY_ALGORITHM_P256 || algorithm == CERTMINT_KEY_ALGORITHM_P384;
  int rsa = algorithm == CERTMINT_KEY_ALGORITHM_RSA2048 ||
            algorithm == CERTMINT_KEY_ALGORITHM_RSA3072 ||
            algorithm == CERTMINT_KEY_ALGORITHM_RSA4096;
  if (!ec && !rsa)
    return NULL; /* an algorithm this glue does not know: the caller decodes the PKCS#8 */
  size_t n = ec ? 1 : 8;
  BIGNUM *bn[8] = {0};
  EVP_PKEY *key = NULL;
  OSSL_PARAM *params = NULL;
  OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, ec ? "EC" : "RSA", NULL);
  if (!bld || !ctx)
    goto done;
  for (size_t i = 0; i < n; i++)
    if (!(bn[i] = key_bn(m, ec ? CERTMINT_KEY_PART_EC_PRIVATE : rsa_parts[i])) ||
        !OSSL_PARAM_BLD_push_BN(bld, ec ? OSSL_PKEY_PARAM_PRIV_KEY : rsa_names[i], bn[i]))
      goto done;
  if (ec && (certmint_minted_key_part(m, CERTMINT_KEY_PART_EC_PUBLIC, &p, &len) != CERTMINT_OK ||
             !OSSL_PARAM_BLD_push_utf8_string(
                 bld, OSSL_PKEY_PARAM_GROUP_NAME,
                 algorithm == CERTMINT_KEY_ALGORITHM_P256 ? "P-256" : "P-384", 0) ||
             !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, p, len)))
    goto done;
  if (!(params = OSSL_PARAM_BLD_to_param(bld)) || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_KEYPAIR, params) != 1)
    key = NULL;
done:
  OSSL_PARAM_free(params); /* cleared: the builder allocates private BIGNUMs securely */
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  for (size_t i = 0; i < 8; i++)
    BN_clear_free(bn[i]);
  return key;
}

/* The parsed form of a minted chain and key, from the cache entry or parsed and attached now. */
static struct parsed *parsed_for(struct glue *g, const certmint_minted *m) {
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
    X509 *x = i == 0 ? d2i_X509(NULL, &q, (long)len) : intermediate(g, der, len);
    if (!x)
      goto fail;
    if (i == 0)
      p->leaf = x;
    else if (!sk_X509_push(p->chain, x)) {
      X509_free(x);
      goto fail;
    }
  }
  if (!p->leaf)
    goto fail;
  p->key = import_key(m);
  if (!p->key) {
    /* A key certmint cannot split (none today): decode its PKCS#8. */
    const uint8_t *key_der;
    size_t key_len;
    if (certmint_minted_key_der(m, &key_der, &key_len) != CERTMINT_OK)
      goto fail;
    const unsigned char *q = key_der;
    p->key = d2i_AutoPrivateKey(NULL, &q, (long)key_len);
    ERR_clear_error();
    if (!p->key)
      goto fail;
  }
  /* Another thread may have attached its own parse meanwhile: then ours is freed and theirs
   * returned. */
  return certmint_minted_attach(m, p, free_parsed);
fail:
  free_parsed(p);
  return NULL;
}

static struct conn *conn_for(SSL *ssl);

static int on_client_hello(SSL *s, int *alert, void *arg) {
  struct glue *g = arg;
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
  struct parsed *p = parsed_for(g, m);
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
  if (pthread_mutex_init(&g->lock, NULL) != 0) {
    free(g);
    return 0;
  }
  g->deployment = deployment;
  g->log = log;
  g->log_arg = log_arg;
  if (!SSL_CTX_set_ex_data(ctx, ctx_index, g)) {
    pthread_mutex_destroy(&g->lock);
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
