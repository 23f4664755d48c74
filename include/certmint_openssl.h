/*
 * certmint_openssl: serve certmint's minted certificates from an OpenSSL 3 SSL_CTX.
 *
 * Link with libcertmint_openssl.a, libcertmint and libssl/libcrypto. Thread-safe: one SSL_CTX
 * with the glue installed may serve connections on any number of threads.
 *
 *   SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
 *   certmint_openssl_install(ctx, deployment);      // the deployment outlives ctx
 *   ... SSL *ssl = SSL_new(ctx); SSL_set_fd(ssl, fd);
 *   certmint_openssl_set_origin_chain(ssl, chain, n);  // server-first proxies only
 *   SSL_accept(ssl);
 *
 * For each handshake the glue reads the SNI and the client's signature algorithms from the
 * ClientHello, asks the deployment (certmint_deployment_lookup: cache, origin validation,
 * policy), and installs leaf + chain + key on the SSL. The parsed X509/EVP_PKEY objects are
 * attached to the certmint cache entry, so a cache hit does not decode them again. When
 * certmint refuses (bad SNI, untrusted origin, no CA), the handshake fails with an alert and the
 * reason goes to the log callback (stderr by default).
 */
#ifndef CERTMINT_OPENSSL_H
#define CERTMINT_OPENSSL_H

#include <openssl/ssl.h>

#include "certmint.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A log line from the glue (without a trailing newline). */
typedef void (*certmint_openssl_log_fn)(void *arg, const char *line);

/**
 * Hooks `ctx`'s ClientHello callback so every handshake is served by `deployment`, which must
 * outlive `ctx` (the glue borrows it). `log` (NULL: stderr) receives one line per refused
 * handshake; `log_arg` is passed to it. Returns 1 on success, 0 on failure (out of memory).
 */
int certmint_openssl_install(SSL_CTX *ctx, const certmint_deployment *deployment,
                             certmint_openssl_log_fn log, void *log_arg);

/**
 * Server-first proxies: the origin's chain for this connection (DER certificates, end-entity
 * first), given before the handshake. The glue copies it; the copy is freed with `ssl`. The
 * chain is validated for the client's SNI before it is cloned. Returns 1 on success, 0 on
 * failure.
 */
int certmint_openssl_set_origin_chain(SSL *ssl, const certmint_bytes *chain, size_t chain_len);

/**
 * How the last handshake on `ssl` was served: a CERTMINT_OUTCOME_* value, or -1 when the glue
 * did not serve it.
 */
int certmint_openssl_outcome(const SSL *ssl);

#ifdef __cplusplus
}
#endif

#endif /* CERTMINT_OPENSSL_H */
