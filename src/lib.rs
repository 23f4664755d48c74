//! # certmint
//!
//! certmint mints the certificates a TLS-inspecting proxy presents to its clients. Given the
//! origin server's certificate it produces a faithful clone: the same subject, subjectAltName,
//! validity, key usages, policies and other extensions, byte for byte and in the origin's order,
//! except what must change. Without an origin certificate (client-first proxies) it mints from
//! the SNI alone.
//!
//! ## What changes in a clone
//! - **Replaced:** issuer (the issuing CA's subject, byte-exact), serial (derived from the
//!   content, 20 octets), public key (a fresh leaf key of the origin's family and size),
//!   subject/authority key identifiers, CRL distribution point (always ours), AIA (ours or
//!   none), and keyUsage when the leaf key's family differs.
//! - **Dropped:** SCT list, CT poison, TLS feature (must-staple), freshestCRL, issuerAltName, the
//!   origin's AIA and CDP, unique identifiers, and every CA power: a minted leaf is always
//!   CA:FALSE without keyCertSign/cRLSign, name or policy constraints.
//! - **Added (compatibility, each switchable in [`MintPolicy`]):** a subjectAltName from the
//!   host when the origin has none (Chromium ignores the CN), extendedKeyUsage serverAuth when
//!   the origin has none (Apple requires it).
//!
//! [`MintedCert::adjustments`] reports what was changed beyond the fields that always change.
//!
//! ## Getting started
//! ```
//! use std::sync::Arc;
//! use certmint::{KeyAlgorithm, KeyPool, MintPolicy, MintRequest, Minter, ThrowawayCa};
//!
//! // A throwaway root + intermediate; in production load yours with `Issuer::from_files`.
//! let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
//! let minter = Minter::new(Arc::new(ca.issuer()?), Arc::new(KeyPool::default()), MintPolicy::default());
//!
//! // Client-first: from the SNI alone.
//! let minted = minter.mint(&MintRequest::for_host("www.example.com"))?;
//! // Server-first: clone what the origin presented.
//! let clone = minter.mint(&MintRequest::clone_of(minted.leaf()).with_host("www.example.com"))?;
//! let certified_key = clone.certified_key(); // serve it with rustls
//! assert_eq!(certified_key.cert.len(), 2);
//! # Ok::<(), certmint::Error>(())
//! ```
//!
//! ## Keys and secrets
//! Raw private key bytes that pass through certmint (files read, keys generated, PKCS#8
//! documents) live in [`zeroize::Zeroizing`] buffers and are wiped when dropped. The crypto
//! backend's parsed key objects (ring's `EcdsaKeyPair`, `RsaKeyPair`, `Ed25519KeyPair`, held by
//! rustls signing keys and by [`SoftwareSigner`]) offer no way to wipe them: their expanded
//! scalars stay in memory until it is reused. Where that matters, keep CA keys in an HSM.
//!
//! ## Cargo features
//! - `aws-lc-rs`: use aws-lc-rs instead of ring for signing, hashing and key generation (it signs
//!   RSA-2048 about 2.3x and P-384 about 5x faster than ring); ring stays the default.
//! - `pkcs11`: CA keys in PKCS#11 tokens (`Pkcs11Signer`, `pkcs11:` URIs).
//! - `config`: the TOML deployment configuration (module `config`).
//! - `cli`: the `certmint` command-line tool (enables `pkcs11` and `config`; pulls in clap and
//!   tokio).

#![forbid(unsafe_code, unused_must_use)]
#![deny(
    missing_docs,
    unreachable_pub,
    clippy::clone_on_ref_ptr,
    trivial_casts,
    unused_qualifications
)]

mod asn1;
mod ca;
pub mod cache;
mod cert;
mod clock;
#[cfg(feature = "config")]
pub mod config;
mod error;
mod ext;
mod host;
pub mod inspect;
mod key;
mod mint;
mod origin_trust;
mod passphrase;
mod pem;
mod provider;
mod resolver;
mod throwaway;
mod time;

pub use ca::{
    certificate_request, check_import, load_signer, parse_dn, CaHealth, CaInfo, CaRegistry,
    CaStore, DnError, Issuer, IssuerOptions, RcgenKey, RotatingIssuer, RotationPolicy,
    SelectionRule, SignatureAlgorithm, Signer, SingleCa, SoftwareSigner,
};
#[cfg(feature = "pkcs11")]
pub use ca::{
    Pkcs11Signer, Pkcs11Uri, DEFAULT_MODULE as PKCS11_DEFAULT_MODULE, PIN_ENV as PKCS11_PIN_ENV,
};
pub use cache::{CacheConfig, CacheKey, CacheStats, CertCache, Lookup, Outcome};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{
    EncodingError, Error, HostError, IssuerError, KeyError, OriginError, Pkcs11Error, RegistryError,
};
pub use host::{Host, MAX_HOST_LEN};
pub use key::{KeyAlgorithm, LeafKey};
pub use mint::{
    Adjustments, KeyPool, KeyPoolConfig, KeyPoolStats, MintPolicy, MintRequest, MintedCert, Minter,
    ValidityPolicy, DEFAULT_CRL_BASE_URL, DEFAULT_MAX_ORIGIN_LEN, MAX_LIFETIME_DAYS, SERIAL_LEN,
};
pub use origin_trust::{OriginVerifier, UntrustedPolicy};
pub use passphrase::{passphrase_from_sources, PASSPHRASE_ENV};
pub use pem::{
    encode as pem_encode, encode_private_key as pem_encode_private_key, encrypt_private_key,
    parse_certificates, PBKDF2_ITERATIONS,
};
pub use provider::crypto_provider;
pub use resolver::{ClientKeySupport, ConnectionResolver, Resolver};
pub use throwaway::ThrowawayCa;

/// Re-exported so callers use the same versions certmint does.
pub use rustls;
