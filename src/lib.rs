//! # certmint
//!
//! certmint mints the certificates a TLS-inspecting proxy presents to its clients. Given the
//! origin server's certificate it produces a faithful clone: the same subject, subjectAltName,
//! validity, key usages, policies and other extensions, byte for byte and in the origin's order,
//! except what must change. Without an origin certificate (client-first proxies) it mints from
//! the SNI alone.
//!
//! ## What changes in a clone
//! - **Replaced:** issuer (the issuing CA's subject, byte-exact), serial (20 octets: 70 random
//!   bits, then a hash of the content), public key (a fresh leaf key of the origin's family and
//!   size), subject/authority key identifiers, CRL distribution point (always ours), AIA (ours
//!   or none), basicConstraints (always an explicit, critical CA:FALSE), and keyUsage when the
//!   leaf key's family differs.
//! - **Dropped:** SCT list, CT poison, TLS feature (must-staple), freshestCRL, issuerAltName, the
//!   origin's AIA and CDP, unique identifiers, and every CA power: a minted leaf is always
//!   CA:FALSE without keyCertSign/cRLSign, name or policy constraints, or Netscape CA bits.
//! - **Added (compatibility, each switchable in [`MintPolicy`](mint::MintPolicy)):** a subjectAltName from the
//!   host when the origin has none (Chromium ignores the CN), extendedKeyUsage serverAuth when
//!   the origin has none (Apple requires it).
//!
//! [`MintedCert::adjustments`] reports what was changed beyond the fields that always change.
//!
//! ## Getting started
//! The front door is a [`Deployment`]: your CAs (files, PEM bytes or PKCS#11 URIs; several, one
//! default, rules), the roots origins are validated against, the untrusted-origin policy, the key
//! pool and the per-site cache. Build it from the TOML configuration (feature `config`) or from a
//! [`DeploymentBuilder`]; then, per connection, [`Deployment::lookup`] gives the chain and its key.
//!
//! ```
//! use std::sync::Arc;
//! use certmint::{testing::ThrowawayCa, CaSpec, ClientKeySupport, Deployment, KeyAlgorithm};
//!
//! // A throwaway root + intermediate; in production: `CaSpec::from_files("corp", cert, key)`.
//! let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
//! let deployment = Deployment::builder()
//!     .ca(CaSpec::from_issuer("corp", Arc::new(ca.issuer()?)))
//!     .build()?;
//!
//! // Client-first: from the SNI alone. Server-first proxies pass the origin's chain, which is
//! // validated for the host before it is cloned.
//! let found = deployment.lookup(Some("www.example.com"), &[], ClientKeySupport::all())?;
//! assert_eq!(found.certified_key().cert.len(), 2); // leaf + intermediate, never the root
//! let _pkcs8 = found.key().private_key().pkcs8(); // for C servers that load the key themselves
//! # deployment.shutdown();
//! # Ok::<(), certmint::Error>(())
//! ```
//!
//! Lower down, [`Minter`] mints one leaf (a clone, or from the host alone), [`CertCache`] keeps
//! them per site, [`Resolver`] serves them to rustls, and [`CaRegistry`] holds several CAs
//! behind the [`CaStore`] trait.
//!
//! ## The data path
//! ```text
//! SNI / CONNECT host (+ the origin's chain, server-first)
//!   → Deployment::lookup / Resolver   choose the leaf key family the client accepts
//!   → CertCache                        hit: ~80 ns, no allocation; miss: one mint per site,
//!                                      concurrent handshakes for the site wait (bounded)
//!   → OriginVerifier (server-first)    the origin's chain validated for the host:
//!                                      trusted → the CA; untrusted → refused or mirrored
//!   → Minter                           clone rules over the origin's own bytes, leaf key
//!                                      from the KeyPool
//!   → Issuer + Signer                  software key, PKCS#11 token, or rotating sub-CA
//!   → Lookup                           rustls CertifiedKey (leaf + intermediates) + the
//!                                      leaf's PrivateKey (wiped on drop) + the verdict
//! ```
//!
//! ## Serving from synchronous code
//! The [`Resolver`] is rustls' [`ResolvesServerCert`](rustls::server::ResolvesServerCert): hand
//! it to a `ServerConfig` and every handshake gets a leaf for its SNI, minted on a miss inside
//! the handshake.
//!
//! ```
//! use std::sync::Arc;
//! use certmint::rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConnection};
//! use certmint::{testing::ThrowawayCa, CaSpec, Deployment, KeyAlgorithm};
//!
//! let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
//! let deployment = Deployment::builder()
//!     .ca(CaSpec::from_issuer("corp", Arc::new(ca.issuer()?)))
//!     .build()?;
//! let server_config = Arc::new(
//!     certmint::server_config_builder()?
//!         .with_no_client_auth()
//!         .with_cert_resolver(Arc::new(deployment.resolver().clone())),
//! );
//!
//! // A client that trusts only the throwaway root, over an in-memory pipe.
//! let mut roots = RootCertStore::empty();
//! roots.add(ca.root.clone())?;
//! let client_config = ClientConfig::builder_with_provider(certmint::crypto_provider())
//!     .with_safe_default_protocol_versions()?
//!     .with_root_certificates(roots)
//!     .with_no_client_auth();
//! let mut client =
//!     ClientConnection::new(Arc::new(client_config), "www.example.com".try_into()?)?;
//! let mut server = ServerConnection::new(server_config)?;
//! while client.is_handshaking() || server.is_handshaking() {
//!     let mut buf = Vec::new();
//!     client.write_tls(&mut buf)?;
//!     server.read_tls(&mut buf.as_slice())?;
//!     server.process_new_packets()?;
//!     let mut buf = Vec::new();
//!     server.write_tls(&mut buf)?;
//!     client.read_tls(&mut buf.as_slice())?;
//!     client.process_new_packets()?; // the client verifies the minted chain here
//! }
//! assert_eq!(deployment.cache_stats().mints, 1);
//! # deployment.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Serving from async code
//! A miss mints on the calling thread (tens of microseconds for EC; an HSM-backed CA without a
//! rotating sub-CA makes a token round trip), so an async server should not mint on a runtime
//! worker. Read the ClientHello first (tokio-rustls' `LazyConfigAcceptor`, or rustls'
//! `Acceptor`), then on a blocking pool call [`Resolver::prepare_server_config`] (client-first:
//! a `ServerConfig` that serves the prepared chain) or [`Deployment::lookup`] with the origin's
//! chain (server-first), and finish the handshake with the result. The README shows both as
//! complete programs. Every wait inside certmint is bounded: a concurrent mint of the same site
//! ([`cache::CacheConfig::wait_timeout`], then [`Error::Timeout`]) and an RSA key from the pool
//! ([`keys::KeyPoolConfig::rsa_wait`], then [`KeyError::PoolExhausted`]). Token round trips are
//! bounded only by the PKCS#11 module itself.
//!
//! ## Threads certmint starts
//! - `certmint-keypool`: one per [`keys::KeyPool`] with `background` on (the default), topping
//!   up pre-generated leaf keys per algorithm; it sleeps when the queues are full.
//! - `certmint-clock`: one per [`clock::SystemClock`], refreshing a coarse seconds counter every
//!   100 ms so cache hits never call the system clock.
//!
//! Both hold only weak references: dropping the [`Deployment`] (or the pool and the clock) ends
//! them, and [`Deployment::shutdown`] stops them and waits. Nothing else runs in the background:
//! rotation, cache expiry and mints happen on the threads that call certmint. After `fork()`,
//! call [`Deployment::after_fork_child`] (or [`after_fork_child`]) in the child.
//!
//! ## CA stores and rotation
//! - A CA is an [`ca::Issuer`] (its certificate and chain, checked when loaded: CA:TRUE,
//!   keyCertSign, a subjectKeyIdentifier, valid now, the key matches) and a [`ca::Signer`]:
//!   [`ca::SoftwareSigner`] (PEM/DER key files, encrypted PKCS#8, keys wiped after parsing) or
//!   `ca::Pkcs11Signer` (feature `pkcs11`; a `pkcs11:` URI per RFC 7512: SoftHSM2, an HSM).
//! - [`CaRegistry`] holds several CAs: some enabled, one default, rules that choose a CA per
//!   host or tenant; it implements [`CaStore`], the trait the resolver mints through.
//! - [`ca::RotatingIssuer`] puts a short-lived software sub-CA (7 days by default, renewed after
//!   6) between the intermediate and the leaves, so mints never wait on the HSM; the sub-CA is
//!   signed by the intermediate through its signer.
//! - [`ca::certificate_request`] (and `certmint ca csr`) makes the PKCS#10 request for an
//!   intermediate your organisation's CA signs; [`registry::check_import`] checks the result.
//! - Every minted certificate names a CRL distribution point ([`ca::IssuerOptions`]).
//!
//! ## Errors
//! One error type, [`Error`], with a variant per layer and a nested enum where a layer has
//! several reasons ([`OriginError`], [`HostError`], [`KeyError`], [`IssuerError`],
//! [`ConfigError`], ...). Errors are cheap to clone and match the same whether fresh or
//! remembered by the cache; errors about a file's contents come wrapped in [`Error::File`],
//! which names the file ([`Error::without_file`] gives the reason). Error text never holds key
//! material, passphrases or PINs.
//!
//! ## rustls provider
//! certmint signs with ring (or aws-lc-rs, feature `aws-lc-rs`). Build rustls configurations
//! with [`server_config_builder`] or `builder_with_provider(`[`crypto_provider`]`())`:
//! `ServerConfig::builder()` panics when a program links both providers without installing a
//! process default.
//!
//! ## Keys and secrets
//! Raw private key bytes that pass through certmint (files read, keys generated, PKCS#8
//! documents, passphrases) live in buffers wiped on drop ([`keys::PrivateKey`],
//! [`keys::Secret`]). The crypto backend's parsed key objects (ring's `EcdsaKeyPair`,
//! `RsaKeyPair`, `Ed25519KeyPair`, held by rustls signing keys and by
//! [`ca::SoftwareSigner`]) offer no way to wipe them: their expanded scalars stay in memory
//! until it is reused. Where that matters, keep CA keys in an HSM.
//!
//! ## Cargo features
//! - `aws-lc-rs`: use aws-lc-rs instead of ring for signing, hashing and key generation (it signs
//!   RSA-2048 about 2.3x and P-384 about 5x faster than ring); ring stays the default.
//! - `pkcs11`: CA keys in PKCS#11 tokens ([`ca::Pkcs11Signer`], `pkcs11:` URIs).
//! - `config`: the TOML deployment configuration ([`config`]).
//! - `testing`: [`testing::ThrowawayCa`], an in-memory test hierarchy.
//! - `cli`: the `certmint` command-line tool (enables `pkcs11`, `config` and `testing`; pulls in
//!   clap and tokio).

#![forbid(unsafe_code, unused_must_use)]
#![deny(
    missing_docs,
    unreachable_pub,
    clippy::clone_on_ref_ptr,
    trivial_casts,
    unused_qualifications
)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

// Floor 0: the error vocabulary and X.509 plumbing.
mod error;
mod x509;
// Floor 1: primitives every layer above uses.
pub mod clock;
mod crypto;
mod file;
mod host;
pub mod pem;
// Floor 2: keys.
pub mod keys;
// Floor 3: CA signing.
pub mod ca;
// Floor 4: minting.
pub mod mint;
// Floor 5: serving.
pub mod cache;
mod origin_trust;
pub mod registry;
mod resolver;
pub mod revocation;
pub mod squid;
pub mod stats;
// Floor 6: configuration and the front door.
#[cfg(feature = "config")]
pub mod config;
mod deployment;
// Beside the floors: describing certificates, dangerous options, test support.
pub mod danger;
pub mod inspect;
#[cfg(feature = "testing")]
pub mod testing;

pub use cache::store::CertCache;
pub use crypto::crypto_provider;
pub use deployment::{after_fork_child, CaSpec, Deployment, DeploymentBuilder, Reloaded};
pub use error::{
    ChainError, ConfigError, ConfigErrorKind, DnError, EncodingError, Error, HostError,
    IssuerError, KeyError, OriginError, OtherError, Pkcs11Error, RegistryError, RevocationError,
    SquidError, Wait,
};
pub use host::{Host, MAX_HOST_LEN};
pub use mint::minter::{MintRequest, MintedCert, Minter};
pub use origin_trust::{OriginVerifier, UntrustedPolicy};
pub use registry::store::{CaRegistry, CaStore};
pub use resolver::{server_config_builder, ClientKeySupport, ConnectionResolver, Resolver};
pub use x509::{KeyAlgorithm, UnknownKeyAlgorithm};

/// Re-exported so callers use the same versions certmint does.
pub use rustls;

/// The README's Rust examples, compiled as doctests so they cannot drift from the API.
#[cfg(all(doctest, feature = "config"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
