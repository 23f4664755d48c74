//! Squid's certificate generator (`sslcrtd_program`): the request a helper receives and the
//! reply it gives, for `certmint-squid-crtd` (a C program over the C ABI) and any other
//! front end.
//!
//! Squid sends each request with the CA that must sign it (its `tls-cert`/`tls-key`, or the
//! untrusted CA it made at start) and the origin's certificate; the helper answers with a leaf
//! and its key. [`SquidHelper::answer`] mints certmint's clone of the origin (or a leaf for the
//! host) with a fresh leaf key, never the CA's, signed as `Sign=` asks, and caches the reply
//! under a hash of the whole request, so a trusted clone never answers a `signUntrusted`
//! request.
//!
//! What cannot work behind Squid: Squid appends its own `tls-cert` chain to `signTrusted`
//! leaves and takes no chain from the helper, so leaves must be signed by the CA Squid names (no
//! rotating sub-CA); and Squid holds the CA key in memory and sends it with every request, so
//! an HSM protects nothing there.
//!
//! ```
//! use certmint::{squid::{SquidHelper, SquidSettings}, testing::ThrowawayCa, KeyAlgorithm};
//! let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
//! let mut body = b"host=www.example.com\nSign=signTrusted\nSignHash=SHA256\n".to_vec();
//! body.extend(certmint::pem::encode_certificate(&ca.intermediate).as_bytes());
//! body.extend(ca.intermediate_key.to_pem().as_bytes());
//!
//! let helper = SquidHelper::new(SquidSettings::default());
//! let reply = helper.answer(&body)?; // leaf PEM, then its key's PEM
//! let text = std::str::from_utf8(reply.as_bytes()).unwrap();
//! assert!(text.starts_with("-----BEGIN CERTIFICATE-----") && text.contains("PRIVATE KEY"));
//! # helper.shutdown();
//! # Ok::<(), certmint::Error>(())
//! ```

mod request;

use std::sync::Arc;

use quick_cache::sync::Cache;
use rustls::pki_types::UnixTime;

pub use request::{Request, Sign, MAX_BODY_LEN};

use crate::ca::{Issuer, IssuerOptions, SignatureAlgorithm, SoftwareSigner};
use crate::error::{EncodingError, Error, SquidError};
use crate::keys::{KeyPool, KeyPoolConfig, Secret};
use crate::mint::minter::{MintRequest, Minter};
use crate::mint::MintPolicy;
use crate::x509::KeyAlgorithm;

/// How a [`SquidHelper`] mints. `Default`: the library's [`MintPolicy`] and
/// [`IssuerOptions`], untrusted origins signed by Squid's untrusted CA, 4096 cached replies.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SquidSettings {
    /// The minting policy (validity, compatibility adaptations).
    pub policy: MintPolicy,
    /// The CRL distribution point, OCSP and caIssuers URLs stamped on every leaf.
    pub issuer_options: IssuerOptions,
    /// Answer `signUntrusted` requests with an error instead of a leaf (a configuration's
    /// untrusted-origin policy `refuse`).
    pub refuse_untrusted: bool,
    /// Replies kept in memory (each a leaf and key, about 2 KB).
    pub cached_replies: usize,
}

impl Default for SquidSettings {
    fn default() -> Self {
        Self {
            policy: MintPolicy::default(),
            issuer_options: IssuerOptions::default(),
            refuse_untrusted: false,
            cached_replies: 4096,
        }
    }
}

/// A reply kept for an identical request.
struct CachedReply {
    reply: Secret,
    not_after: UnixTime,
}

/// Answers Squid's `new_certificate` requests. Thread-safe; one per helper process.
pub struct SquidHelper {
    settings: SquidSettings,
    keys: Arc<KeyPool>,
    /// Minters by the hash of the request's CA certificate and key text.
    minters: Cache<[u8; 32], Arc<Minter>>,
    /// Replies by the hash of the whole request body.
    replies: Cache<[u8; 32], Arc<CachedReply>>,
}

impl std::fmt::Debug for SquidHelper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SquidHelper")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// How many CAs a helper keeps parsed (Squid sends two: its CA and its untrusted CA).
const MINTERS: usize = 16;

impl SquidHelper {
    /// A helper with a background key pool.
    pub fn new(settings: SquidSettings) -> Self {
        Self {
            minters: Cache::new(MINTERS),
            replies: Cache::new(settings.cached_replies.max(1)),
            keys: Arc::new(KeyPool::new(KeyPoolConfig::default())),
            settings,
        }
    }

    /// Stops the key pool's thread.
    pub fn shutdown(&self) {
        self.keys.shutdown();
    }

    /// The reply body for a request body: the leaf's PEM, then its private key's PEM (PKCS#8,
    /// unencrypted: Squid reads it as such), in a buffer wiped when dropped. A repeated request
    /// gets the cached reply while its leaf is valid.
    ///
    /// Errors: [`Error::Squid`] for requests certmint refuses (no host, unknown `Sign=`, a
    /// SHA-1/MD5 or unsupported `SignHash=`, `signUntrusted` under a refusing policy);
    /// [`Error::Encoding`], [`Error::Key`], [`Error::Issuer`], [`Error::Origin`] for the CA and
    /// origin it carries.
    pub fn answer(&self, body: &[u8]) -> Result<Secret, Error> {
        let id = crate::crypto::sha256(body);
        let now = UnixTime::now();
        if let Some(hit) = self.replies.get(&id) {
            if hit.not_after.as_secs() > now.as_secs() {
                return Ok(hit.reply.clone());
            }
        }
        let request = Request::parse(body)?;
        if request.sign == Sign::Untrusted && self.settings.refuse_untrusted {
            return Err(SquidError::UntrustedRefused.into());
        }
        let minter = self.minter(request.signing, request.sign_hash)?;
        let mut mint = match (&request.common_name, &request.origin) {
            // The origin's fields, its commonName and subjectAltName replaced by the name.
            (Some(name), Some(origin)) => MintRequest::clone_of(origin).with_host(name).renamed(),
            (Some(name), None) => MintRequest::for_host(name),
            // Squid names the origin's common name as host= after peeking, which may be a
            // wildcard: a host that is not one serves nothing in a clone and is left out.
            (None, Some(origin)) => match crate::host::Host::parse(request.host) {
                Ok(_) => MintRequest::clone_of(origin).with_host(request.host),
                Err(_) => MintRequest::clone_of(origin),
            },
            (None, None) => MintRequest::for_host(request.host),
        }
        .with_issuer_validity(request.not_before_from_ca, request.not_after_from_ca);
        if request.sign == Sign::SelfSigned {
            mint = mint.self_signed();
        }
        let minted = minter.mint(&mint)?;
        let mut reply = crate::pem::encode_certificate(minted.leaf()).into_bytes();
        reply.extend_from_slice(minted.private_key().to_pem().as_bytes());
        let reply = Secret::from(reply);
        self.replies.insert(
            id,
            Arc::new(CachedReply {
                reply: reply.clone(),
                not_after: minted.not_after(),
            }),
        );
        Ok(reply)
    }

    /// The minter for the CA in `signing` (its certificate and key as PEM) signing with the
    /// digest `sign_hash` names, parsed once.
    fn minter(&self, signing: &[u8], sign_hash: &str) -> Result<Arc<Minter>, Error> {
        let digest = digest_name(sign_hash);
        let mut id_input = Vec::with_capacity(signing.len() + digest.len() + 1);
        id_input.extend_from_slice(signing);
        id_input.push(0);
        id_input.extend_from_slice(digest.as_bytes());
        let id = crate::crypto::sha256(&id_input);
        if let Some(minter) = self.minters.get(&id) {
            return Ok(minter);
        }
        let cert = crate::pem::parse_certificates(signing)?
            .into_iter()
            .next()
            .ok_or(EncodingError::NoCertificate)?;
        let signer = SoftwareSigner::from_key_bytes(signing)?;
        let algorithm = signature_algorithm(sign_hash, &digest, signer.key_algorithm())?;
        let signer = signer.with_algorithm(algorithm)?;
        let mut options = self.settings.issuer_options.clone();
        options.key_id_from_key = true;
        let issuer = Issuer::new(vec![cert], Arc::new(signer), options)?;
        let minter = Arc::new(Minter::new(
            Arc::new(issuer),
            Arc::clone(&self.keys),
            self.settings.policy.clone(),
        ));
        self.minters.insert(id, Arc::clone(&minter));
        Ok(minter)
    }
}

impl Drop for SquidHelper {
    fn drop(&mut self) {
        self.keys.shutdown();
    }
}

/// A `SignHash=` value (an OpenSSL digest name) in one spelling: lower case, no dashes.
fn digest_name(hash: &str) -> String {
    hash.chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The signature algorithm for `SignHash=` (`digest` is its [`digest_name`]) with a CA key of
/// `key`: SHA-256, SHA-384 or SHA-512 with RSA, the curve's own digest with ECDSA, and Ed25519's
/// own signature whatever is named (it has no digest choice). SHA-1 and MD5 are refused.
fn signature_algorithm(
    hash: &str,
    digest: &str,
    key: KeyAlgorithm,
) -> Result<SignatureAlgorithm, SquidError> {
    if matches!(digest, "md5" | "sha1" | "sha" | "md5sha1" | "md4") {
        return Err(SquidError::WeakSignHash {
            hash: hash.chars().take(32).collect(),
        });
    }
    let algorithm = match (key, digest) {
        (KeyAlgorithm::Ed25519, _) => Some(SignatureAlgorithm::Ed25519),
        (KeyAlgorithm::EcdsaP256, "sha256") => Some(SignatureAlgorithm::EcdsaP256Sha256),
        (KeyAlgorithm::EcdsaP384, "sha384") => Some(SignatureAlgorithm::EcdsaP384Sha384),
        (rsa, "sha256") if rsa.is_rsa() => Some(SignatureAlgorithm::RsaPkcs1Sha256),
        (rsa, "sha384") if rsa.is_rsa() => Some(SignatureAlgorithm::RsaPkcs1Sha384),
        (rsa, "sha512") if rsa.is_rsa() => Some(SignatureAlgorithm::RsaPkcs1Sha512),
        _ => None,
    };
    algorithm.ok_or_else(|| SquidError::UnsupportedSignHash {
        hash: hash.chars().take(32).collect(),
        supported: match key {
            KeyAlgorithm::EcdsaP384 => "SHA384",
            rsa if rsa.is_rsa() => "SHA256, SHA384 or SHA512",
            _ => "SHA256",
        },
    })
}
