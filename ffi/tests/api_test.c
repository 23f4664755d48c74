/*
 * C tests of libcertmint, driven by ffi/tests/run.sh:
 *
 *   api_test basics  CONFIG ROOT     every export: NULLs, garbage, results, ownership
 *   api_test threads CONFIG ROOT T N H
 *                                    T threads x N lookups over H hosts, each answer verified
 *   api_test fork    CONFIG ROOT     a deployment made before fork() works in parent and child
 *
 * CONFIG is a certmint TOML file; ROOT the PEM root the CA chains to. Every minted chain is
 * checked with OpenSSL's X509_verify_cert against ROOT, for the host it was minted for.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "certmint.h"

static int failures;

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
      failures++;                                                                      \
    }                                                                                  \
  } while (0)

#define EXPECT(call, code)                                                             \
  do {                                                                                 \
    certmint_result r_ = (call);                                                       \
    if (r_ != (code)) {                                                                \
      fprintf(stderr, "%s:%d: %s returned %u, expected %u (%s): %s\n", __FILE__,       \
              __LINE__, #call, (unsigned)r_, (unsigned)(code), #code, last_error());   \
      failures++;                                                                      \
    }                                                                                  \
  } while (0)

static const char *last_error(void) {
  static _Thread_local char buf[1024];
  size_t n = 0;
  if (certmint_last_error(buf, sizeof buf, &n) != CERTMINT_OK)
    snprintf(buf, sizeof buf, "(detail does not fit)");
  return buf;
}

/* Whether a mint that needed an RSA key succeeded. Under valgrind (about 50x slower) the
 * background generator can miss the pool's wait for an RSA key: that typed refusal is reported
 * and accepted there (the ASan run checks the same call); anything else must be CERTMINT_OK. */
static int rsa_mint_ok(certmint_result r, const char *what) {
  if (r == CERTMINT_KEY_POOL_EXHAUSTED && getenv("CERTMINT_TEST_UNDER_VALGRIND")) {
    printf("%s: no RSA key within the wait under valgrind (%s)\n", what, last_error());
    return 0;
  }
  if (r != CERTMINT_OK) {
    fprintf(stderr, "%s: returned %u, expected %u (CERTMINT_OK): %s\n", what, (unsigned)r,
            (unsigned)CERTMINT_OK, last_error());
    failures++;
  }
  return r == CERTMINT_OK;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "%s: %s\n", path, strerror(errno));
    exit(2);
  }
  char *buf = NULL;
  size_t cap = 0;
  *len = 0;
  for (;;) {
    if (*len == cap) {
      cap = cap ? cap * 2 : 4096;
      buf = realloc(buf, cap + 1);
    }
    size_t got = fread(buf + *len, 1, cap - *len, f);
    if (got == 0)
      break;
    *len += got;
  }
  fclose(f);
  buf[*len] = 0;
  return buf;
}

static X509_STORE *root_store(const char *root_pem) {
  X509_STORE *store = X509_STORE_new();
  if (!store || X509_STORE_load_file(store, root_pem) != 1) {
    fprintf(stderr, "cannot load %s\n", root_pem);
    exit(2);
  }
  return store;
}

/* Verifies a minted chain for `host` against the root; checks the key matches the leaf. */
static int verify_minted(X509_STORE *store, const certmint_minted *m, const char *host) {
  int ok = 0;
  size_t n = certmint_minted_chain_len(m);
  X509 *leaf = NULL;
  STACK_OF(X509) *rest = sk_X509_new_null();
  for (size_t i = 0; i < n; i++) {
    const uint8_t *der;
    size_t len;
    if (certmint_minted_chain_der(m, i, &der, &len) != CERTMINT_OK)
      goto out;
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    if (!x)
      goto out;
    if (i == 0)
      leaf = x;
    else
      sk_X509_push(rest, x);
  }
  const uint8_t *key_der;
  size_t key_len;
  if (!leaf || certmint_minted_key_der(m, &key_der, &key_len) != CERTMINT_OK)
    goto out;
  const unsigned char *kp = key_der;
  EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &kp, (long)key_len);
  int key_ok = key && X509_check_private_key(leaf, key) == 1;
  EVP_PKEY_free(key);
  if (!key_ok)
    goto out;
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, rest);
  X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);

  X509_VERIFY_PARAM_set1_host(param, host, 0);
  ok = X509_verify_cert(ctx) == 1;
  if (!ok)
    fprintf(stderr, "verify %s: %s\n", host,
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
  X509_STORE_CTX_free(ctx);
out:
  X509_free(leaf);
  sk_X509_pop_free(rest, X509_free);
  return ok;
}

static certmint_deployment *load(const char *config) {
  certmint_deployment *d = NULL;
  certmint_result r =
      certmint_deployment_new_from_config_file((const uint8_t *)config, strlen(config), &d);
  if (r != CERTMINT_OK) {
    fprintf(stderr, "loading %s: %u: %s\n", config, (unsigned)r, last_error());
    exit(2);
  }
  return d;
}

static certmint_result lookup(const certmint_deployment *d, const char *host,
                              certmint_minted **out) {
  return certmint_deployment_lookup(d, (const uint8_t *)host, strlen(host), NULL, 0, 0, out);
}

static int destroyed;
static void destroy_counter(void *p) {
  (void)p;
  destroyed++;
}

static void test_results_and_panic(void) {
  CHECK(strcmp(certmint_version(), "0.1.0") == 0);
  char buf[256];
  size_t n = 0;
  EXPECT(certmint_result_message(CERTMINT_OK, buf, sizeof buf, &n), CERTMINT_OK);
  CHECK(strcmp(buf, "success") == 0 && n == 7);
  /* Every value in every range either names a code or says it is unknown; none is empty. */
  int known = 0;
  for (unsigned code = 0; code < 10000; code++) {
    EXPECT(certmint_result_message(code, buf, sizeof buf, &n), CERTMINT_OK);
    CHECK(n > 0 && n == strlen(buf));
    if (strncmp(buf, "unknown result code", 19) != 0)
      known++;
  }
  CHECK(known > 80);
  EXPECT(certmint_result_message(CERTMINT_UNTRUSTED_ORIGIN, buf, 4, &n),
         CERTMINT_BUFFER_TOO_SMALL);
  CHECK(n > 4); /* the size needed */
  EXPECT(certmint_result_message(CERTMINT_OK, NULL, 10, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_result_message(CERTMINT_OK, buf, sizeof buf, NULL), CERTMINT_NULL_PARAMETER);
  /* A panic inside certmint comes back as a code, and the detail says so. */
  EXPECT(certmint_test_panic(), CERTMINT_PANIC);
  CHECK(strstr(last_error(), "panic") != NULL);
  EXPECT(certmint_last_error(NULL, 10, &n), CERTMINT_NULL_PARAMETER);
}

static void test_null_parameters(certmint_deployment *d, const char *cert, size_t cert_len) {
  certmint_deployment *dd = NULL;
  certmint_minted *m = NULL;
  const uint8_t *p;
  size_t n;
  uint32_t u32;
  uint64_t u64;
  char buf[64];
  certmint_cache_stats stats;
  const char *host = "null.example";
  const uint8_t *h = (const uint8_t *)host;
  size_t hl = strlen(host);

  EXPECT(certmint_deployment_new_from_config_file(NULL, 5, &dd), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_new_from_config_file((const uint8_t *)"x", 1, NULL),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_new_from_config_text(NULL, 5, &dd), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_new_from_config_text((const uint8_t *)"x", 1, NULL),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_new_from_ca(NULL, 5, (const uint8_t *)"k", 1, NULL, 0, &dd),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len, NULL, 5, NULL, 0, &dd),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len, (const uint8_t *)"k", 1,
                                         NULL, 0, NULL),
         CERTMINT_NULL_PARAMETER);
  CHECK(dd == NULL);
  EXPECT(certmint_deployment_shutdown(NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_key_support_from_schemes(NULL, 3, &u32), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_key_support_from_schemes(NULL, 0, NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_lookup(NULL, h, hl, NULL, 0, 0, &m), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_lookup(d, h, hl, NULL, 0, 0, NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_lookup(d, h, hl, NULL, 2, 0, &m), CERTMINT_NULL_PARAMETER);
  certmint_bytes bad = {NULL, 10};
  EXPECT(certmint_deployment_lookup(d, h, hl, &bad, 1, 0, &m), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_lookup(d, NULL, 0, NULL, 0, 0, NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_mint(NULL, h, hl, NULL, 0, 0, &m), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_mint(d, h, hl, NULL, 0, 0, NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_cache_stats(NULL, &stats, sizeof stats), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_cache_stats(d, NULL, sizeof stats), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_purge(NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_enable_ca(NULL, h, hl), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_enable_ca(d, NULL, 3), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_disable_ca(NULL, h, hl, NULL, 0), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_disable_ca(d, NULL, 3, NULL, 0), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_set_default_ca(NULL, h, hl), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_set_default_ca(d, NULL, 3), CERTMINT_NULL_PARAMETER);
  CHECK(m == NULL);

  EXPECT(lookup(d, host, &m), CERTMINT_OK);
  EXPECT(certmint_minted_chain_der(NULL, 0, &p, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_chain_der(m, 0, NULL, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_chain_der(m, 0, &p, NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_key_der(NULL, &p, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_key_der(m, NULL, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_key_der(m, &p, NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_chain_pem(NULL, buf, sizeof buf, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_chain_pem(m, NULL, sizeof buf, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_chain_pem(m, buf, sizeof buf, NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_key_pem(NULL, buf, sizeof buf, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_key_pem(m, NULL, sizeof buf, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_key_pem(m, buf, sizeof buf, NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_serial(NULL, &p, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_serial(m, NULL, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_serial(m, &p, NULL), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_not_after(NULL, &u64), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_minted_not_after(m, NULL), CERTMINT_NULL_PARAMETER);
  CHECK(certmint_minted_chain_len(NULL) == 0);
  CHECK(certmint_minted_verdict(NULL) == CERTMINT_VERDICT_NOT_CHECKED);
  CHECK(certmint_minted_outcome(NULL) == CERTMINT_OUTCOME_MINTED);
  CHECK(certmint_minted_attachment(NULL) == NULL);
  destroyed = 0;
  CHECK(certmint_minted_attach(NULL, &destroyed, destroy_counter) == NULL);
  CHECK(destroyed == 1); /* ownership was taken: the data was destroyed */
  certmint_minted_free(m);
  certmint_minted_free(NULL);
  certmint_deployment_free(NULL);
}

static void test_bad_inputs(certmint_deployment *d, const char *cert, size_t cert_len,
                            const char *dir) {
  certmint_deployment *dd = NULL;
  certmint_minted *m = NULL;
  static uint8_t big[1 << 20];
  for (size_t i = 0; i < sizeof big; i++)
    big[i] = (uint8_t)(i * 2654435761u >> 13);

  /* Configuration: a missing file is named; a bad line is numbered. */
  const char *missing = "/nonexistent/certmint.toml";
  EXPECT(certmint_deployment_new_from_config_file((const uint8_t *)missing, strlen(missing), &dd),
         CERTMINT_IO);
  CHECK(strstr(last_error(), missing) != NULL);
  const char *text = "[cache]\nmax_mb = 3\n";
  EXPECT(certmint_deployment_new_from_config_text((const uint8_t *)text, strlen(text), &dd),
         CERTMINT_CONFIG_SYNTAX);
  CHECK(strstr(last_error(), "line 2") != NULL);
  const char *relative = "[[ca]]\nid = \"a\"\ncert = \"ca.pem\"\nkey = \"ca-key.pem\"\n";
  EXPECT(certmint_deployment_new_from_config_text((const uint8_t *)relative, strlen(relative), &dd),
         CERTMINT_CONFIG_RELATIVE_PATH);
  EXPECT(certmint_deployment_new_from_config_text(big, sizeof big, &dd), CERTMINT_INVALID_PARAMETER);
  const uint8_t not_utf8[] = {'[', 0xff, ']'};
  EXPECT(certmint_deployment_new_from_config_text(not_utf8, sizeof not_utf8, &dd),
         CERTMINT_INVALID_PARAMETER);

  /* One CA from bytes: garbage, truncated and 1 MiB inputs; a wrong passphrase. */
  char path[4096];
  size_t key_len, enc_len;
  snprintf(path, sizeof path, "%s/intermediate-key.pem", dir);
  char *key = read_file(path, &key_len);
  snprintf(path, sizeof path, "%s/intermediate-key-enc.pem", dir);
  char *enc = read_file(path, &enc_len);
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)"garbage", 7, (const uint8_t *)key,
                                         key_len, NULL, 0, &dd),
         CERTMINT_ISSUER_MALFORMED);
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)"", 0, (const uint8_t *)key, key_len,
                                         NULL, 0, &dd),
         CERTMINT_ENCODING_NO_CERTIFICATE);
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len / 2, (const uint8_t *)key,
                                         key_len, NULL, 0, &dd),
         CERTMINT_ENCODING_PEM);
  EXPECT(certmint_deployment_new_from_ca(big, sizeof big, (const uint8_t *)key, key_len, NULL, 0,
                                         &dd),
         CERTMINT_ISSUER_MALFORMED);
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len, (const uint8_t *)key,
                                         key_len / 2, NULL, 0, &dd),
         CERTMINT_ENCODING_PEM);
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len, big, sizeof big, NULL, 0,
                                         &dd),
         CERTMINT_KEY_UNRECOGNIZED_FORMAT);
  unsetenv("CERTMINT_CA_KEY_PASS");
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len, (const uint8_t *)enc,
                                         enc_len, NULL, 0, &dd),
         CERTMINT_KEY_ENCRYPTED);
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len, (const uint8_t *)enc,
                                         enc_len, (const uint8_t *)"wrong", 5, &dd),
         CERTMINT_KEY_WRONG_PASSPHRASE);
  CHECK(strstr(last_error(), "wrong") != NULL);
  const char *uri = "pkcs11:token=nosuch;object=x?module-path=/nonexistent/module.so&pin-value=1234";
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len, (const uint8_t *)uri,
                                         strlen(uri), NULL, 0, &dd),
         CERTMINT_PKCS11_MODULE_LOAD);
  CHECK(strstr(last_error(), "1234") == NULL); /* no PIN in error text */
  CHECK(dd == NULL);
  /* The right passphrase works and the CA mints. */
  EXPECT(certmint_deployment_new_from_ca((const uint8_t *)cert, cert_len, (const uint8_t *)enc,
                                         enc_len, (const uint8_t *)"c-test-pass", 11, &dd),
         CERTMINT_OK);
  EXPECT(lookup(dd, "from-ca.example", &m), CERTMINT_OK);
  CHECK(certmint_minted_chain_len(m) >= 2);
  certmint_minted_free(m);
  m = NULL;
  EXPECT(certmint_deployment_shutdown(dd), CERTMINT_OK);
  certmint_deployment_free(dd);
  free(key);
  free(enc);

  /* Hosts and origins. */
  EXPECT(lookup(d, "bad host", &m), CERTMINT_HOST_INVALID_CHARACTER);
  EXPECT(lookup(d, "999.1.1.1", &m), CERTMINT_HOST_INVALID_IPV4);
  EXPECT(certmint_deployment_lookup(d, not_utf8, sizeof not_utf8, NULL, 0, 0, &m),
         CERTMINT_INVALID_PARAMETER);
  certmint_bytes garbage = {(const uint8_t *)"\x30\x03\x02\x01", 4};
  EXPECT(certmint_deployment_lookup(d, (const uint8_t *)"o.example", 9, &garbage, 1, 0, &m),
         CERTMINT_ORIGIN_MALFORMED);
  certmint_bytes huge = {big, sizeof big};
  EXPECT(certmint_deployment_lookup(d, (const uint8_t *)"o.example", 9, &huge, 1, 0, &m),
         CERTMINT_ORIGIN_TOO_LARGE);
  /* A 1 MiB SEQUENCE is refused for its size before it is parsed. */
  static uint8_t big_der[(1 << 20) + 5];
  big_der[0] = 0x30, big_der[1] = 0x83, big_der[2] = 0x10, big_der[3] = 0x00, big_der[4] = 0x00;
  certmint_bytes huge_der = {big_der, sizeof big_der};
  EXPECT(certmint_deployment_lookup(d, (const uint8_t *)"o.example", 9, &huge_der, 1, 0, &m),
         CERTMINT_ORIGIN_TOO_LARGE);
  certmint_bytes empty = {NULL, 0};
  EXPECT(certmint_deployment_lookup(d, (const uint8_t *)"o.example", 9, &empty, 1, 0, &m),
         CERTMINT_ORIGIN_EMPTY);
  EXPECT(certmint_deployment_mint(d, NULL, 0, garbage.data, garbage.len, 0, &m),
         CERTMINT_ORIGIN_MALFORMED);
  EXPECT(certmint_deployment_mint(d, NULL, 0, NULL, 0, 0, &m), CERTMINT_NOTHING_TO_MINT);
  EXPECT(certmint_deployment_mint(d, (const uint8_t *)"a.example", 9, NULL, 0, 77, &m),
         CERTMINT_INVALID_PARAMETER);
  EXPECT(certmint_deployment_lookup(d, (const uint8_t *)"a.example", 9, NULL, 0, 0x100, &m),
         CERTMINT_INVALID_PARAMETER);
  /* No SNI, no fallback host and no origin: nothing to mint from. */
  EXPECT(certmint_deployment_lookup(d, NULL, 0, NULL, 0, 0, &m), CERTMINT_NOTHING_TO_MINT);
  CHECK(m == NULL);

  /* Registry operations name unknown CAs. */
  EXPECT(certmint_deployment_enable_ca(d, (const uint8_t *)"nosuch", 6),
         CERTMINT_REGISTRY_UNKNOWN_CA);
  EXPECT(certmint_deployment_set_default_ca(d, (const uint8_t *)"nosuch", 6),
         CERTMINT_REGISTRY_UNKNOWN_CA);
  EXPECT(certmint_deployment_disable_ca(d, (const uint8_t *)"corp", 4, NULL, 0),
         CERTMINT_REGISTRY_DEFAULT_NEEDS_SUCCESSOR);
  EXPECT(certmint_deployment_enable_ca(d, (const uint8_t *)"corp", 4), CERTMINT_OK);
}

/* One part of the key, compared with the BIGNUM parameter `name` of OpenSSL's own decode. */
static int part_is(const certmint_minted *m, uint32_t part, const EVP_PKEY *key, const char *name) {
  const uint8_t *p;
  size_t len;
  BIGNUM *want = NULL;
  if (certmint_minted_key_part(m, part, &p, &len) != CERTMINT_OK ||
      !EVP_PKEY_get_bn_param(key, name, &want))
    return 0;
  BIGNUM *got = BN_bin2bn(p, (int)len, NULL);
  int same = got && BN_cmp(got, want) == 0 && (len == 0 || p[0] != 0);
  BN_clear_free(got);
  BN_clear_free(want);
  return same;
}

/* certmint_minted_key_algorithm and certmint_minted_key_part agree with OpenSSL's decode of the
 * PKCS#8, for every algorithm. */
static void test_key_parts(certmint_deployment *d) {
  const uint32_t algorithms[] = {CERTMINT_KEY_ALGORITHM_P256, CERTMINT_KEY_ALGORITHM_P384,
                                 CERTMINT_KEY_ALGORITHM_ED25519, CERTMINT_KEY_ALGORITHM_RSA2048};
  for (size_t i = 0; i < sizeof algorithms / sizeof *algorithms; i++) {
    certmint_minted *m = NULL;
    EXPECT(certmint_deployment_mint(d, (const uint8_t *)"parts.example", 13, NULL, 0,
                                    algorithms[i], &m),
           CERTMINT_OK);
    CHECK(certmint_minted_key_algorithm(m) == algorithms[i]);
    const uint8_t *der, *p;
    size_t der_len, len;
    EXPECT(certmint_minted_key_der(m, &der, &der_len), CERTMINT_OK);
    const unsigned char *kp = der;
    EVP_PKEY *key = d2i_AutoPrivateKey(NULL, &kp, (long)der_len);
    CHECK(key != NULL);
    if (algorithms[i] == CERTMINT_KEY_ALGORITHM_ED25519) {
      unsigned char seed[32];
      size_t seed_len = sizeof seed;
      EXPECT(certmint_minted_key_part(m, CERTMINT_KEY_PART_ED25519_SEED, &p, &len), CERTMINT_OK);
      CHECK(EVP_PKEY_get_raw_private_key(key, seed, &seed_len) == 1 && seed_len == len &&
            memcmp(seed, p, len) == 0);
    } else if (algorithms[i] == CERTMINT_KEY_ALGORITHM_RSA2048) {
      CHECK(part_is(m, CERTMINT_KEY_PART_RSA_N, key, OSSL_PKEY_PARAM_RSA_N));
      CHECK(part_is(m, CERTMINT_KEY_PART_RSA_E, key, OSSL_PKEY_PARAM_RSA_E));
      CHECK(part_is(m, CERTMINT_KEY_PART_RSA_D, key, OSSL_PKEY_PARAM_RSA_D));
      CHECK(part_is(m, CERTMINT_KEY_PART_RSA_P, key, OSSL_PKEY_PARAM_RSA_FACTOR1));
      CHECK(part_is(m, CERTMINT_KEY_PART_RSA_Q, key, OSSL_PKEY_PARAM_RSA_FACTOR2));
      CHECK(part_is(m, CERTMINT_KEY_PART_RSA_DP, key, OSSL_PKEY_PARAM_RSA_EXPONENT1));
      CHECK(part_is(m, CERTMINT_KEY_PART_RSA_DQ, key, OSSL_PKEY_PARAM_RSA_EXPONENT2));
      CHECK(part_is(m, CERTMINT_KEY_PART_RSA_QINV, key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1));
      EXPECT(certmint_minted_key_part(m, CERTMINT_KEY_PART_EC_PRIVATE, &p, &len),
             CERTMINT_INVALID_PARAMETER);
    } else {
      unsigned char point[100];
      size_t point_len = 0;
      CHECK(part_is(m, CERTMINT_KEY_PART_EC_PRIVATE, key, OSSL_PKEY_PARAM_PRIV_KEY));
      EXPECT(certmint_minted_key_part(m, CERTMINT_KEY_PART_EC_PUBLIC, &p, &len), CERTMINT_OK);
      CHECK(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                            &point_len) == 1 &&
            point_len == len && memcmp(point, p, len) == 0);
      EXPECT(certmint_minted_key_part(m, CERTMINT_KEY_PART_RSA_N, &p, &len),
             CERTMINT_INVALID_PARAMETER);
    }
    EXPECT(certmint_minted_key_part(m, 0, &p, &len), CERTMINT_INVALID_PARAMETER);
    EXPECT(certmint_minted_key_part(m, 9999, &p, &len), CERTMINT_INVALID_PARAMETER);
    EXPECT(certmint_minted_key_part(NULL, CERTMINT_KEY_PART_EC_PUBLIC, &p, &len),
           CERTMINT_NULL_PARAMETER);
    EXPECT(certmint_minted_key_part(m, CERTMINT_KEY_PART_EC_PUBLIC, NULL, &len),
           CERTMINT_NULL_PARAMETER);
    EXPECT(certmint_minted_key_part(m, CERTMINT_KEY_PART_EC_PUBLIC, &p, NULL),
           CERTMINT_NULL_PARAMETER);
    EVP_PKEY_free(key);
    certmint_minted_free(m);
  }
  CHECK(certmint_minted_key_algorithm(NULL) == CERTMINT_KEY_ALGORITHM_DEFAULT);
}

static void test_minting(certmint_deployment *d, X509_STORE *store) {
  certmint_minted *m = NULL, *again = NULL;
  EXPECT(lookup(d, "www.example.com", &m), CERTMINT_OK);
  CHECK(certmint_minted_outcome(m) == CERTMINT_OUTCOME_MINTED);
  CHECK(certmint_minted_verdict(m) == CERTMINT_VERDICT_NOT_CHECKED);
  CHECK(verify_minted(store, m, "www.example.com"));
  /* PEM forms parse, and agree with the DER. */
  size_t need = 0;
  char small[8];
  EXPECT(certmint_minted_chain_pem(m, small, sizeof small, &need), CERTMINT_BUFFER_TOO_SMALL);
  char *pem = malloc(need);
  size_t written = 0;
  EXPECT(certmint_minted_chain_pem(m, pem, need, &written), CERTMINT_OK);
  CHECK(written + 1 == need && strlen(pem) == written);
  BIO *bio = BIO_new_mem_buf(pem, (int)written);
  X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  CHECK(leaf != NULL);
  BIO_free(bio);
  free(pem);
  char keypem[8192];
  EXPECT(certmint_minted_key_pem(m, keypem, sizeof keypem, &written), CERTMINT_OK);
  bio = BIO_new_mem_buf(keypem, (int)written);
  EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  CHECK(key != NULL && X509_check_private_key(leaf, key) == 1);
  EVP_PKEY_free(key);
  BIO_free(bio);
  memset(keypem, 0, sizeof keypem);
  /* Serial and notAfter are the leaf's. */
  const uint8_t *serial;
  size_t serial_len;
  EXPECT(certmint_minted_serial(m, &serial, &serial_len), CERTMINT_OK);
  CHECK(serial_len == 20);
  BIGNUM *a = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
  BIGNUM *b = BN_bin2bn(serial, (int)serial_len, NULL);
  CHECK(BN_cmp(a, b) == 0);
  BN_free(a);
  BN_free(b);
  uint64_t not_after = 0;
  EXPECT(certmint_minted_not_after(m, &not_after), CERTMINT_OK);
  CHECK(X509_cmp_time(X509_get0_notAfter(leaf), (time_t[]){(time_t)not_after + 1}) < 0);
  CHECK(X509_cmp_time(X509_get0_notAfter(leaf), (time_t[]){(time_t)not_after - 1}) > 0);
  X509_free(leaf);
  /* Index past the end. */
  const uint8_t *der;
  size_t der_len;
  EXPECT(certmint_minted_chain_der(m, 99, &der, &der_len), CERTMINT_INVALID_PARAMETER);

  /* Attachments: shared by lookups of one entry, destroyed once with it. */
  destroyed = 0;
  int token = 42;
  CHECK(certmint_minted_attachment(m) == NULL);
  CHECK(certmint_minted_attach(m, &token, destroy_counter) == &token);
  int other = 7;
  CHECK(certmint_minted_attach(m, &other, destroy_counter) == &token);
  CHECK(destroyed == 1); /* `other` was destroyed at once */
  EXPECT(lookup(d, "www.example.com", &again), CERTMINT_OK);
  CHECK(certmint_minted_outcome(again) == CERTMINT_OUTCOME_HIT);
  CHECK(certmint_minted_attachment(again) == &token);
  EXPECT(certmint_deployment_purge(d), CERTMINT_OK);
  certmint_minted_free(m);
  CHECK(destroyed == 1);
  certmint_minted_free(again);
  CHECK(destroyed == 2); /* gone with the entry */

  /* A direct mint: RSA-2048, not cached; nothing touches a certificate that did not come. */
  m = NULL;
  if (rsa_mint_ok(certmint_deployment_mint(d, (const uint8_t *)"rsa.example", 11, NULL, 0,
                                           CERTMINT_KEY_ALGORITHM_RSA2048, &m),
                  "RSA direct mint")) {
    CHECK(verify_minted(store, m, "rsa.example"));
    EXPECT(certmint_minted_key_der(m, &der, &der_len), CERTMINT_OK);
    const unsigned char *kp = der;
    key = d2i_AutoPrivateKey(NULL, &kp, (long)der_len);
    CHECK(key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) == 2048);
    EVP_PKEY_free(key);
  }
  certmint_minted_free(m);

  /* Key support from signature schemes: RSA-only and ECDSA-only clients. */
  uint32_t support = 0;
  const uint16_t rsa_only[] = {0x0804, 0x0401};  /* rsa_pss_rsae_sha256, rsa_pkcs1_sha256 */
  const uint16_t ec_only[] = {0x0403};           /* ecdsa_secp256r1_sha256 */
  EXPECT(certmint_key_support_from_schemes(rsa_only, 2, &support), CERTMINT_OK);
  CHECK(support == CERTMINT_KEY_SUPPORT_RSA);
  m = NULL;
  if (rsa_mint_ok(certmint_deployment_lookup(d, (const uint8_t *)"rsaclient.example", 17, NULL, 0,
                                             support, &m),
                  "RSA-only client lookup")) {
    EXPECT(certmint_minted_key_der(m, &der, &der_len), CERTMINT_OK);
    const unsigned char *rsa_der = der;
    key = d2i_AutoPrivateKey(NULL, &rsa_der, (long)der_len);
    CHECK(key && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA);
    EVP_PKEY_free(key);
    CHECK(verify_minted(store, m, "rsaclient.example"));
  }
  certmint_minted_free(m);
  EXPECT(certmint_key_support_from_schemes(ec_only, 1, &support), CERTMINT_OK);
  CHECK(support == CERTMINT_KEY_SUPPORT_P256);
  const uint16_t none[] = {0x0201}; /* rsa_pkcs1_sha1 only */
  EXPECT(certmint_key_support_from_schemes(none, 1, &support), CERTMINT_OK);
  CHECK(support == 0 || support == CERTMINT_KEY_SUPPORT_RSA);

  certmint_cache_stats stats;
  memset(&stats, 0xff, sizeof stats);
  EXPECT(certmint_deployment_cache_stats(d, &stats, sizeof stats), CERTMINT_OK);
  CHECK(stats.mints >= 1 && stats.hits >= 1 && stats.entries >= 1 && stats.weight > 0);
  /* An older, smaller struct gets the fields it has and nothing past them. */
  uint64_t two[3] = {0, 0, 0xabcdef};
  EXPECT(certmint_deployment_cache_stats(d, (certmint_cache_stats *)(void *)two, 2 * sizeof(uint64_t)),
         CERTMINT_OK);
  CHECK(two[0] == stats.hits && two[2] == 0xabcdef);
}

/* The Squid helper's C functions: NULLs, garbage, a request answered and verified, the
 * buffer-size protocol, a missing configuration file. */
static void test_squid_helper(X509_STORE *store, const char *dir) {
  certmint_squid_helper *h = NULL;
  char buf[16384];
  size_t n = 0;
  EXPECT(certmint_squid_helper_new(NULL, 0, NULL), CERTMINT_NULL_PARAMETER);
  const char *missing = "/nonexistent/certmint.toml";
  EXPECT(certmint_squid_helper_new((const uint8_t *)missing, strlen(missing), &h), CERTMINT_IO);
  CHECK(h == NULL && strstr(last_error(), missing) != NULL);
  EXPECT(certmint_squid_helper_new(NULL, 0, &h), CERTMINT_OK);
  EXPECT(certmint_squid_helper_answer(NULL, (const uint8_t *)"x", 1, buf, sizeof buf, &n),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_squid_helper_answer(h, NULL, 1, buf, sizeof buf, &n), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_squid_helper_answer(h, (const uint8_t *)"x", 1, NULL, sizeof buf, &n),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_squid_helper_answer(h, (const uint8_t *)"x", 1, buf, sizeof buf, NULL),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_squid_helper_answer(h, (const uint8_t *)"garbage", 7, buf, sizeof buf, &n),
         CERTMINT_SQUID_NO_HOST);
  EXPECT(certmint_squid_helper_answer(h, (const uint8_t *)"host=a\nSign=signAll\n", 20, buf,
                                      sizeof buf, &n),
         CERTMINT_SQUID_UNKNOWN_SIGN);
  CHECK(strstr(last_error(), "signAll") != NULL);

  /* A real request: the CA's certificate and key from the fixtures. */
  char path[4096];
  size_t cert_len, key_len;
  snprintf(path, sizeof path, "%s/intermediate.pem", dir);
  char *cert = read_file(path, &cert_len);
  snprintf(path, sizeof path, "%s/intermediate-key.pem", dir);
  char *key = read_file(path, &key_len);
  const char params[] = "host=squid.example\nSign=signTrusted\nSignHash=SHA256\n";
  size_t body_len = strlen(params) + cert_len + key_len;
  uint8_t *body = malloc(body_len);
  memcpy(body, params, strlen(params));
  memcpy(body + strlen(params), cert, cert_len);
  memcpy(body + strlen(params) + cert_len, key, key_len);
  char small[16];
  EXPECT(certmint_squid_helper_answer(h, body, body_len, small, sizeof small, &n),
         CERTMINT_BUFFER_TOO_SMALL);
  size_t need = n;
  EXPECT(certmint_squid_helper_answer(h, body, body_len, buf, sizeof buf, &n), CERTMINT_OK);
  CHECK(n + 1 == need && strlen(buf) == n);
  BIO *bio = BIO_new_mem_buf(buf, (int)n);
  X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  EVP_PKEY *leaf_key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
  BIO_free(bio);
  CHECK(leaf && leaf_key && X509_check_private_key(leaf, leaf_key) == 1);
  /* The leaf verifies under the CA (the intermediate is the fixtures' issuing CA). */
  bio = BIO_new_mem_buf(cert, (int)cert_len);
  X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  STACK_OF(X509) *chain = sk_X509_new_null();
  sk_X509_push(chain, ca);
  X509_STORE_CTX *ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, leaf, chain);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), "squid.example", 0);
  CHECK(X509_verify_cert(ctx) == 1);
  CHECK(!EVP_PKEY_eq(X509_get0_pubkey(ca), leaf_key)); /* never the CA's key */
  X509_STORE_CTX_free(ctx);
  sk_X509_pop_free(chain, X509_free);
  X509_free(leaf);
  EVP_PKEY_free(leaf_key);
  OPENSSL_cleanse(buf, sizeof buf);
  OPENSSL_cleanse(key, key_len);
  OPENSSL_cleanse(body, body_len);
  free(body);
  free(cert);
  free(key);
  certmint_squid_helper_free(h);
  certmint_squid_helper_free(NULL);
}

/* CRLs over the C ABI: NULLs, bad key ids, publishing, and a fetched CRL that OpenSSL
 * verifies with the intermediate's key. */
static void test_crls(const char *config, const char *dir) {
  size_t n = 0;
  size_t clen = strlen(config);
  char out[4096];
  snprintf(out, sizeof out, "%s/crl-out", dir);
  EXPECT(certmint_crl_publish(NULL, 5, (const uint8_t *)out, strlen(out), &n),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_crl_publish((const uint8_t *)config, clen, (const uint8_t *)out, strlen(out),
                              NULL),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_crl_publish((const uint8_t *)"/nonexistent.toml", 17, (const uint8_t *)out,
                              strlen(out), &n),
         CERTMINT_IO);
  EXPECT(certmint_crl_publish((const uint8_t *)config, clen, (const uint8_t *)out, strlen(out),
                              &n),
         CERTMINT_OK);
  CHECK(n >= 1);

  char path[4096];
  size_t cert_len;
  snprintf(path, sizeof path, "%s/intermediate.pem", dir);
  char *cert = read_file(path, &cert_len);
  BIO *bio = BIO_new_mem_buf(cert, (int)cert_len);
  X509 *ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  CHECK(ca != NULL);
  const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
  CHECK(ski != NULL);
  char key_id[129] = {0};
  for (int i = 0; i < ASN1_STRING_length(ski) && i < 64; i++)
    snprintf(key_id + 2 * i, 3, "%02x", ASN1_STRING_get0_data(ski)[i]);
  static char buf[65536];
  size_t written = 0;
  EXPECT(certmint_crl_fetch((const uint8_t *)config, clen, (const uint8_t *)key_id,
                            strlen(key_id), buf, 8, &written),
         CERTMINT_BUFFER_TOO_SMALL);
  CHECK(written > 8);
  EXPECT(certmint_crl_fetch((const uint8_t *)config, clen, (const uint8_t *)key_id,
                            strlen(key_id), buf, sizeof buf, &written),
         CERTMINT_OK);
  const unsigned char *p = (const unsigned char *)buf;
  X509_CRL *crl = d2i_X509_CRL(NULL, &p, (long)written);
  CHECK(crl != NULL);
  CHECK(crl != NULL && X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1);
  CHECK(crl != NULL && X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) == 0);
  /* The published file is the same CRL (same issuer, verifies too). */
  snprintf(path, sizeof path, "%s/%s.crl", out, key_id);
  size_t file_len;
  char *file = read_file(path, &file_len);
  p = (const unsigned char *)file;
  X509_CRL *published = d2i_X509_CRL(NULL, &p, (long)file_len);
  CHECK(published != NULL && X509_CRL_verify(published, X509_get0_pubkey(ca)) == 1);
  EXPECT(certmint_crl_fetch((const uint8_t *)config, clen, (const uint8_t *)"00ff", 4, buf,
                            sizeof buf, &written),
         CERTMINT_REVOCATION_UNKNOWN_SUB_CA);
  EXPECT(certmint_crl_fetch((const uint8_t *)config, clen, (const uint8_t *)"zz", 2, buf,
                            sizeof buf, &written),
         CERTMINT_REVOCATION_NOT_HEX);
  EXPECT(certmint_crl_fetch((const uint8_t *)config, clen, NULL, 4, buf, sizeof buf, &written),
         CERTMINT_NULL_PARAMETER);
  X509_CRL_free(published);
  X509_CRL_free(crl);
  X509_free(ca);
  free(file);
  free(cert);
}

static void test_operations(const char *config, const char *dir) {
  certmint_deployment *d = load(config);
  certmint_minted *m = NULL;
  EXPECT(lookup(d, "ops.example", &m), CERTMINT_OK);
  certmint_minted_free(m);
  m = NULL;
  certmint_stats s;
  memset(&s, 0, sizeof s);
  EXPECT(certmint_deployment_stats(d, &s, sizeof s), CERTMINT_OK);
  CHECK(s.cache.misses == 1 && s.cache.mints == 1);
  uint64_t in_buckets = 0;
  for (size_t i = 0; i < CERTMINT_MINT_LATENCY_BUCKETS; i++) in_buckets += s.mint_latency[i];
  CHECK(in_buckets == s.cache.mints);
  CHECK(s.mint_latency_total_us > 0);
  CHECK(certmint_mint_latency_bound_us(0) == 100);
  CHECK(certmint_mint_latency_bound_us(CERTMINT_MINT_LATENCY_BUCKETS - 1) == UINT64_MAX);
  CHECK(s.cas == 1 && s.reloads == 0 && s.reload_failures == 0 && s.hsm_signatures == 0);
  certmint_ca_stats ca;
  EXPECT(certmint_deployment_ca_stats(d, 0, &ca, sizeof ca), CERTMINT_OK);
  CHECK(strcmp((const char *)ca.id, "corp") == 0);
  CHECK(ca.enabled == 1 && ca.is_default == 1 && ca.untrusted == 0 && ca.hsm == 0);
  CHECK(ca.not_after > (uint64_t)time(NULL) && ca.issuing_not_after == ca.not_after);
  EXPECT(certmint_deployment_ca_stats(d, 1, &ca, sizeof ca), CERTMINT_REGISTRY_UNKNOWN_CA);
  EXPECT(certmint_deployment_ca_stats(d, 0, NULL, sizeof ca), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_stats(NULL, &s, sizeof s), CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_reload_config_file(NULL, (const uint8_t *)config, strlen(config)),
         CERTMINT_NULL_PARAMETER);
  EXPECT(certmint_deployment_reload_config_text(d, NULL, 3), CERTMINT_NULL_PARAMETER);

  /* A configuration that does not load: refused, counted, the running one still serves. */
  const char *bad = "[[ca]]\nid = \"corp\"\ncert = \"/nonexistent/ca.pem\"\nkey = \"/nonexistent/k.pem\"\n";
  CHECK(certmint_deployment_reload_config_text(d, (const uint8_t *)bad, strlen(bad)) != CERTMINT_OK);
  CHECK(strstr(last_error(), "/nonexistent/ca.pem") != NULL);
  EXPECT(lookup(d, "ops.example", &m), CERTMINT_OK);
  certmint_minted_free(m);
  m = NULL;
  EXPECT(certmint_deployment_stats(d, &s, sizeof s), CERTMINT_OK);
  CHECK(s.reload_failures == 1 && s.reloads == 0 && s.cache.hits == 1);

  /* The same file again: the CA is kept, and so is its cached leaf. */
  EXPECT(certmint_deployment_reload_config_file(d, (const uint8_t *)config, strlen(config)),
         CERTMINT_OK);
  EXPECT(lookup(d, "ops.example", &m), CERTMINT_OK);
  certmint_minted_free(m);
  m = NULL;
  EXPECT(certmint_deployment_stats(d, &s, sizeof s), CERTMINT_OK);
  CHECK(s.reloads == 1 && s.cache.hits == 2);

  /* corp disabled, the root made a second CA and the default: corp's leaf is gone. */
  char text[8192];
  snprintf(text, sizeof text,
           "default_ca = \"other\"\n"
           "[[ca]]\nid = \"corp\"\ncert = \"%s/intermediate.pem\"\nkey = \"%s/intermediate-key.pem\"\nenabled = false\n"
           "[[ca]]\nid = \"other\"\ncert = \"%s/root.pem\"\nkey = \"%s/root-key.pem\"\n",
           dir, dir, dir, dir);
  EXPECT(certmint_deployment_reload_config_text(d, (const uint8_t *)text, strlen(text)),
         CERTMINT_OK);
  EXPECT(lookup(d, "ops.example", &m), CERTMINT_OK);
  EXPECT(certmint_deployment_stats(d, &s, sizeof s), CERTMINT_OK);
  CHECK(s.reloads == 2 && s.cas == 2 && s.cache.misses == 2);
  EXPECT(certmint_deployment_ca_stats(d, 0, &ca, sizeof ca), CERTMINT_OK);
  CHECK(strcmp((const char *)ca.id, "corp") == 0 && ca.enabled == 0 && ca.is_default == 0);
  EXPECT(certmint_deployment_ca_stats(d, 1, &ca, sizeof ca), CERTMINT_OK);
  CHECK(strcmp((const char *)ca.id, "other") == 0 && ca.enabled == 1 && ca.is_default == 1);
  /* An older, smaller struct gets the fields it has. */
  uint64_t two[2] = {0, 0};
  EXPECT(certmint_deployment_stats(d, (certmint_stats *)(void *)two, sizeof two), CERTMINT_OK);
  CHECK(two[0] == s.cache.hits && two[1] == s.cache.misses);
  certmint_minted_free(m);
  EXPECT(certmint_deployment_shutdown(d), CERTMINT_OK);
  certmint_deployment_free(d);
}

static int basics(const char *config, const char *root, const char *dir) {
  X509_STORE *store = root_store(root);
  char path[4096];
  size_t cert_len;
  snprintf(path, sizeof path, "%s/intermediate.pem", dir);
  char *cert = read_file(path, &cert_len);
  certmint_deployment *d = load(config);
  test_results_and_panic();
  test_null_parameters(d, cert, cert_len);
  test_bad_inputs(d, cert, cert_len, dir);
  test_minting(d, store);
  test_key_parts(d);
  test_squid_helper(store, dir);
  test_crls(config, dir);
  test_operations(config, dir);
  EXPECT(certmint_deployment_shutdown(d), CERTMINT_OK);
  certmint_deployment_free(d);
  X509_STORE_free(store);
  free(cert);
  return failures != 0;
}

struct worker {
  const certmint_deployment *d;
  X509_STORE *store;
  int index, lookups, hosts, bad;
};

static void *work(void *arg) {
  struct worker *w = arg;
  unsigned seed = (unsigned)w->index * 7919u + 1;
  for (int i = 0; i < w->lookups; i++) {
    seed = seed * 1103515245u + 12345u;
    char host[64];
    snprintf(host, sizeof host, "host%u.example", (seed >> 8) % (unsigned)w->hosts);
    certmint_minted *m = NULL;
    if (lookup(w->d, host, &m) != CERTMINT_OK || !verify_minted(w->store, m, host))
      w->bad++;
    certmint_minted_free(m);
  }
  return NULL;
}

static int threads(const char *config, const char *root, int n_threads, int lookups, int hosts) {
  X509_STORE *store = root_store(root);
  certmint_deployment *d = load(config);
  pthread_t tids[64];
  struct worker workers[64];
  if (n_threads > 64)
    n_threads = 64;
  for (int t = 0; t < n_threads; t++) {
    workers[t] = (struct worker){d, store, t, lookups, hosts, 0};
    pthread_create(&tids[t], NULL, work, &workers[t]);
  }
  int bad = 0;
  for (int t = 0; t < n_threads; t++) {
    pthread_join(tids[t], NULL);
    bad += workers[t].bad;
  }
  certmint_cache_stats s;
  EXPECT(certmint_deployment_cache_stats(d, &s, sizeof s), CERTMINT_OK);
  uint64_t total = (uint64_t)n_threads * (uint64_t)lookups;
  printf("threads: %d x %d lookups over %d hosts: %d bad; hits %llu, misses %llu, coalesced %llu, "
         "mints %llu, entries %llu\n",
         n_threads, lookups, hosts, bad, (unsigned long long)s.hits, (unsigned long long)s.misses,
         (unsigned long long)s.coalesced, (unsigned long long)s.mints,
         (unsigned long long)s.entries);
  CHECK(bad == 0);
  CHECK(s.hits + s.misses + s.coalesced == total);
  CHECK(s.mints == s.misses && s.mint_errors == 0);
  CHECK(s.mints >= (uint64_t)(hosts < lookups ? 1 : 1) && s.mints <= (uint64_t)hosts);
  CHECK(s.entries == s.mints);
  EXPECT(certmint_deployment_shutdown(d), CERTMINT_OK);
  certmint_deployment_free(d);
  X509_STORE_free(store);
  return failures != 0;
}

static int fork_test(const char *config, const char *root) {
  X509_STORE *store = root_store(root);
  certmint_deployment *d = load(config);
  certmint_minted *m = NULL;
  EXPECT(lookup(d, "before-fork.example", &m), CERTMINT_OK);
  CHECK(verify_minted(store, m, "before-fork.example"));
  certmint_minted_free(m);
  /* The child reports through a pipe; its exit status is checked too, except under valgrind:
   * there a child's leak check counts the bookkeeping of the parent's background threads,
   * which do not exist in the child (unreachable, about 20 KiB per deployment per fork). */
  int report[2];
  CHECK(pipe(report) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(report[0]);
    int ok = 1;
    for (int i = 0; i < 20 && ok; i++) {
      char host[64];
      snprintf(host, sizeof host, "child%d.example", i);
      m = NULL;
      ok = lookup(d, host, &m) == CERTMINT_OK && verify_minted(store, m, host);
      if (!ok)
        fprintf(stderr, "child: %s: %s\n", host, last_error());
      certmint_minted_free(m);
    }
    m = NULL;
    ok = ok && lookup(d, "before-fork.example", &m) == CERTMINT_OK &&
         certmint_minted_outcome(m) == CERTMINT_OUTCOME_HIT;
    certmint_minted_free(m);
    /* Clean up as the parent does, so a leak checker following the fork sees no leak. */
    certmint_deployment_shutdown(d);
    certmint_deployment_free(d);
    X509_STORE_free(store);
    CHECK(write(report[1], ok ? "ok" : "no", 2) == 2);
    _exit(ok ? 0 : 1);
  }
  CHECK(pid > 0);
  for (int i = 0; i < 20; i++) {
    char host[64];
    snprintf(host, sizeof host, "parent%d.example", i);
    m = NULL;
    EXPECT(lookup(d, host, &m), CERTMINT_OK);
    CHECK(verify_minted(store, m, host));
    certmint_minted_free(m);
  }
  close(report[1]);
  char said[3] = {0};
  CHECK(read(report[0], said, 2) == 2 && strcmp(said, "ok") == 0);
  close(report[0]);
  int status = 0;
  CHECK(waitpid(pid, &status, 0) == pid);
  CHECK(WIFEXITED(status));
  if (!getenv("CERTMINT_TEST_UNDER_VALGRIND"))
    CHECK(WEXITSTATUS(status) == 0);
  printf("fork: parent and child minted and verified (%s)\n", config);
  EXPECT(certmint_deployment_shutdown(d), CERTMINT_OK);
  certmint_deployment_free(d);
  X509_STORE_free(store);
  return failures != 0;
}

int main(int argc, char **argv) {
  if (argc >= 5 && strcmp(argv[1], "basics") == 0)
    return basics(argv[2], argv[3], argv[4]);
  if (argc >= 7 && strcmp(argv[1], "threads") == 0)
    return threads(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]));
  if (argc >= 4 && strcmp(argv[1], "fork") == 0)
    return fork_test(argv[2], argv[3]);
  fprintf(stderr,
          "usage: api_test basics CONFIG ROOT CA_DIR | threads CONFIG ROOT T N H | fork CONFIG "
          "ROOT\n");
  return 2;
}
