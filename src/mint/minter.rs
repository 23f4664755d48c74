//! [`Minter`]: an origin certificate and/or a host in, a signed leaf and its key out.

use std::borrow::Cow;
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::sign::CertifiedKey;

use super::clone;
use super::{Adjustments, MintPolicy};
use crate::ca::tbs::{self, SERIAL_LEN};
use crate::ca::{Issuer, RotatingIssuer, Signer, SoftwareSigner};
use crate::error::{Error, KeyError, OriginError};
use crate::host::Host;
use crate::keys::{KeyPool, LeafKey, PrivateKey};
use crate::x509::asn1_time::{self, Seconds};
use crate::x509::cert::ParsedCert;
use crate::x509::tlv::TlvReader;
use crate::x509::KeyAlgorithm;

/// What to mint from.
///
/// ```
/// # use certmint::MintRequest;
/// # let origin_der = rustls::pki_types::CertificateDer::from(vec![]);
/// // Server-first: clone the origin; the host fills in a missing subjectAltName.
/// let req = MintRequest::clone_of(&origin_der).with_host("www.example.com");
/// // Client-first: the SNI alone.
/// let req = MintRequest::for_host("www.example.com");
/// ```
#[derive(Clone, Copy, Debug, Default)]
#[non_exhaustive]
pub struct MintRequest<'a> {
    /// The origin's end-entity certificate.
    pub origin: Option<&'a CertificateDer<'a>>,
    /// The host: the SNI, or the CONNECT host for a client that sent none. Normalised by
    /// [`Host::parse`].
    pub host: Option<&'a str>,
    /// The leaf key's algorithm; default: the origin's (or the policy's host-only key).
    pub key_algorithm: Option<KeyAlgorithm>,
    /// The time to mint at; default: now.
    pub now: Option<UnixTime>,
    /// The leaf's notBefore is the issuing CA's (Squid's `setValidBefore`).
    pub not_before_from_issuer: bool,
    /// The leaf's notAfter is the issuing CA's (Squid's `setValidAfter`).
    pub not_after_from_issuer: bool,
    /// The leaf is signed by its own key and names itself as issuer (Squid's `signSelf`, for
    /// origins whose own certificate is self-signed): the chain is the leaf alone. Its fields
    /// are those the CA would have issued.
    pub self_signed: bool,
    /// A clone made for the host alone (Squid's `setCommonName`): the origin's subject with its
    /// commonName replaced by the host, and a subjectAltName naming only the host; the other
    /// fields are the origin's. Needs both an origin and a host; ignored without an origin.
    pub renamed: bool,
}

impl<'a> MintRequest<'a> {
    /// A clone of `origin`.
    pub fn clone_of(origin: &'a CertificateDer<'a>) -> Self {
        Self {
            origin: Some(origin),
            ..Self::default()
        }
    }

    /// A leaf for `host` alone.
    pub fn for_host(host: &'a str) -> Self {
        Self {
            host: Some(host),
            ..Self::default()
        }
    }

    /// Sets the origin's end-entity certificate.
    pub fn with_origin(mut self, origin: &'a CertificateDer<'a>) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Adds the host.
    pub fn with_host(mut self, host: &'a str) -> Self {
        self.host = Some(host);
        self
    }

    /// Asks for a leaf key of `algorithm`.
    pub fn with_key_algorithm(mut self, algorithm: KeyAlgorithm) -> Self {
        self.key_algorithm = Some(algorithm);
        self
    }

    /// Mints as if at `now`.
    pub fn at(mut self, now: UnixTime) -> Self {
        self.now = Some(now);
        self
    }

    /// Takes notBefore and/or notAfter from the issuing CA instead of the origin or the policy.
    pub fn with_issuer_validity(mut self, not_before: bool, not_after: bool) -> Self {
        self.not_before_from_issuer = not_before;
        self.not_after_from_issuer = not_after;
        self
    }

    /// Asks for a clone renamed to the host (see [`MintRequest::renamed`]).
    ///
    /// ```
    /// # use certmint::MintRequest;
    /// # let origin = rustls::pki_types::CertificateDer::from(vec![]);
    /// let req = MintRequest::clone_of(&origin).with_host("cn.example").renamed();
    /// assert!(req.renamed);
    /// ```
    pub fn renamed(mut self) -> Self {
        self.renamed = true;
        self
    }

    /// Asks for a self-signed leaf (see [`MintRequest::self_signed`]).
    pub fn self_signed(mut self) -> Self {
        self.self_signed = true;
        self
    }
}

/// A minted leaf: its chain (leaf first, then the issuer's chain, never the root) and key.
#[derive(Clone)]
pub struct MintedCert {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<LeafKey>,
    serial: [u8; SERIAL_LEN],
    not_before: Seconds,
    not_after: Seconds,
    issuer_not_after: Seconds,
    adjustments: Adjustments,
}

impl MintedCert {
    /// The leaf certificate.
    pub fn leaf(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }

    /// The chain to serve: leaf, then the issuing CA and any further intermediates.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The leaf's key.
    pub fn key(&self) -> &Arc<LeafKey> {
        &self.key
    }

    /// The leaf's private key (for C users and key files).
    pub fn private_key(&self) -> &PrivateKey {
        self.key.private_key()
    }

    /// The chain and key, ready for rustls.
    pub fn certified_key(&self) -> CertifiedKey {
        CertifiedKey::new(self.chain.clone(), Arc::clone(self.key.signing_key()))
    }

    /// The serial number's content octets (always [`SERIAL_LEN`](crate::ca::SERIAL_LEN) long,
    /// positive, non-zero).
    pub fn serial(&self) -> &[u8; SERIAL_LEN] {
        &self.serial
    }

    /// The leaf's notBefore.
    pub fn not_before(&self) -> UnixTime {
        asn1_time::unix_time(self.not_before)
    }

    /// The leaf's notAfter.
    pub fn not_after(&self) -> UnixTime {
        asn1_time::unix_time(self.not_after)
    }

    /// The issuing certificate's notAfter: the chain is unusable after it, whatever the leaf
    /// says.
    pub fn issuer_not_after(&self) -> UnixTime {
        asn1_time::unix_time(self.issuer_not_after)
    }

    /// What changed relative to the origin beyond what always changes.
    pub fn adjustments(&self) -> Adjustments {
        self.adjustments
    }
}

impl MintedCert {
    /// The key as an `Arc`, for the cache.
    pub(crate) fn shared_key(&self) -> Arc<LeafKey> {
        Arc::clone(&self.key)
    }
}

impl std::fmt::Debug for MintedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintedCert")
            .field("chain_len", &self.chain.len())
            .field("key", &self.key)
            .field("adjustments", &self.adjustments)
            .finish_non_exhaustive()
    }
}

/// Where a minter's issuer comes from.
#[derive(Debug)]
enum IssuerSource {
    Fixed(Arc<Issuer>),
    Rotating(Arc<RotatingIssuer>),
}

/// Mints leaves under one issuer (fixed, or a rotating sub-CA). `Send + Sync`; share it behind
/// an `Arc`.
///
/// Most proxies mint through a [`Deployment`](crate::Deployment), which adds the cache and
/// origin validation; a `Minter` alone mints every time it is asked.
///
/// ```
/// use std::sync::Arc;
/// use certmint::{keys::KeyPool, mint::MintPolicy, testing::ThrowawayCa};
/// use certmint::{KeyAlgorithm, MintRequest, Minter};
///
/// let ca = ThrowawayCa::generate(KeyAlgorithm::EcdsaP256)?;
/// let minter = Minter::new(Arc::new(ca.issuer()?), Arc::new(KeyPool::default()), MintPolicy::default());
///
/// // Client-first: from the host alone.
/// let leaf = minter.mint(&MintRequest::for_host("www.example.com"))?;
/// assert_eq!(leaf.chain().len(), 2); // leaf + intermediate
///
/// // Server-first: a clone of the origin's certificate (here, the first leaf stands in).
/// let origin = leaf.leaf().clone();
/// let clone = minter.mint(&MintRequest::clone_of(&origin).with_host("www.example.com"))?;
/// assert_ne!(clone.serial(), leaf.serial());
/// println!("changed beyond the usual: {:?}", clone.adjustments());
/// # Ok::<(), certmint::Error>(())
/// ```
pub struct Minter {
    source: IssuerSource,
    keys: Arc<KeyPool>,
    policy: MintPolicy,
}

impl Minter {
    /// A minter for `issuer`, taking leaf keys from `keys`.
    pub fn new(issuer: Arc<Issuer>, keys: Arc<KeyPool>, policy: MintPolicy) -> Self {
        Self {
            source: IssuerSource::Fixed(issuer),
            keys,
            policy,
        }
    }

    /// A minter whose leaves are signed by a short-lived sub-CA that `rotating` renews on
    /// schedule.
    pub fn rotating(rotating: Arc<RotatingIssuer>, keys: Arc<KeyPool>, policy: MintPolicy) -> Self {
        Self {
            source: IssuerSource::Rotating(rotating),
            keys,
            policy,
        }
    }

    /// Revoked sub-CAs a rotating source replaced since the last call (see
    /// [`RotatingIssuer::poll_revoked`]); always empty for a fixed issuer.
    pub fn poll_revoked(&self) -> Vec<CertificateDer<'static>> {
        match &self.source {
            IssuerSource::Fixed(_) => Vec::new(),
            IssuerSource::Rotating(rotating) => rotating.poll_revoked(),
        }
    }

    /// The issuer signing now (for a rotating source, the current sub-CA, renewed first if
    /// due).
    pub fn issuer(&self) -> Result<Arc<Issuer>, Error> {
        match &self.source {
            IssuerSource::Fixed(issuer) => Ok(Arc::clone(issuer)),
            IssuerSource::Rotating(r) => r.current(),
        }
    }

    /// A stable identity for caching: the fixed issuer's fingerprint, or the fingerprint of the
    /// CA that signs the rotating sub-CAs (so leaves minted before a rotation stay cached).
    pub fn issuer_id(&self) -> &[u8; 32] {
        match &self.source {
            IssuerSource::Fixed(issuer) => issuer.fingerprint(),
            IssuerSource::Rotating(r) => r.parent().fingerprint(),
        }
    }

    /// The issuer whose chain (and roots) clients see above every leaf: the fixed issuer, or
    /// the CA that signs the rotating sub-CAs.
    pub(crate) fn anchor_issuer(&self) -> &Arc<Issuer> {
        match &self.source {
            IssuerSource::Fixed(issuer) => issuer,
            IssuerSource::Rotating(r) => r.parent(),
        }
    }

    /// Restores every signer this minter uses in a child process after `fork()`.
    pub(crate) fn after_fork_child(&self) {
        match &self.source {
            IssuerSource::Fixed(issuer) => issuer.signer().after_fork_child(),
            IssuerSource::Rotating(r) => {
                r.parent().signer().after_fork_child();
                if let Ok(current) = r.current() {
                    current.signer().after_fork_child();
                }
            }
        }
    }

    /// The key pool.
    pub fn key_pool(&self) -> &Arc<KeyPool> {
        &self.keys
    }

    /// The policy.
    pub fn policy(&self) -> &MintPolicy {
        &self.policy
    }

    /// Mints a leaf.
    ///
    /// With an origin: a faithful clone (see the `clone` rules in the crate docs). Without: a
    /// host-only leaf. Errors: [`Error::NothingToMint`], [`Error::Origin`] for an unusable
    /// origin, [`Error::Host`] for a bad host, [`Error::Key`] when no key could be had,
    /// [`Error::Signing`] when the CA's signer fails. An expired origin is not an error: it
    /// gives an expired leaf.
    pub fn mint(&self, request: &MintRequest<'_>) -> Result<MintedCert, Error> {
        self.mint_inner(request, None)
    }

    /// As [`Minter::mint`], with a leaf key the caller supplies (from its own pool, or reused
    /// deliberately) instead of one from the key pool. `request.key_algorithm` is ignored.
    pub fn mint_with_key(
        &self,
        request: &MintRequest<'_>,
        key: Arc<LeafKey>,
    ) -> Result<MintedCert, Error> {
        self.mint_inner(request, Some(key))
    }

    fn mint_inner(
        &self,
        request: &MintRequest<'_>,
        key: Option<Arc<LeafKey>>,
    ) -> Result<MintedCert, Error> {
        let now = asn1_time::seconds(request.now.unwrap_or_else(UnixTime::now));
        let host = request.host.map(Host::parse).transpose()?;
        let issuer = self.issuer()?;
        let (key, mut fields) = match (request.origin, &host) {
            (Some(origin), _) => {
                let der = origin.as_ref();
                if der.len() > self.policy.max_origin_len {
                    return Err(OriginError::TooLarge {
                        len: der.len(),
                        max: self.policy.max_origin_len,
                    }
                    .into());
                }
                let parsed = ParsedCert::parse(der)?;
                let origin_key = KeyAlgorithm::from_spki(parsed.spki);
                let wanted = request
                    .key_algorithm
                    .or(origin_key)
                    .unwrap_or(self.policy.fallback_key);
                let key = self.leaf_key(&issuer, key, wanted)?;
                let mut fields = clone::clone_fields(
                    &parsed,
                    host.as_ref(),
                    &key,
                    origin_key,
                    &issuer,
                    &self.policy,
                    now,
                );
                if origin_key.is_none() {
                    fields.adjustments |= Adjustments::FALLBACK_KEY;
                }
                if let (true, Some(host)) = (request.renamed, &host) {
                    clone::rename_to(&mut fields, host);
                }
                (key, fields)
            }
            (None, Some(host)) => {
                let wanted = request.key_algorithm.unwrap_or(self.policy.host_only_key);
                let key = self.leaf_key(&issuer, key, wanted)?;
                let fields = clone::host_only_fields(host, &key, &issuer, &self.policy, now);
                (key, fields)
            }
            (None, None) => return Err(Error::NothingToMint),
        };
        if request.not_before_from_issuer || request.not_after_from_issuer {
            let (issuer_not_before, issuer_not_after) = issuer.validity();
            if request.not_before_from_issuer {
                fields.not_before = issuer_not_before;
            }
            if request.not_after_from_issuer {
                fields.not_after = issuer_not_after;
            }
            fields.validity = Cow::Owned(asn1_time::encode_validity(
                fields.not_before,
                fields.not_after,
            ));
        }
        let (leaf, serial) = if request.self_signed {
            // Its own issuer: the CA's key identifier, CRL and AIA would point elsewhere.
            fields.extensions = without_issuer_links(&fields.extensions, &issuer);
            let signer = SoftwareSigner::from_private_key(key.private_key())?;
            tbs::sign_certificate_by(
                &fields.subject,
                &signer.algorithm().algorithm_identifier(),
                &signer,
                &fields.subject,
                &fields.validity,
                key.spki(),
                &fields.extensions,
            )?
        } else {
            tbs::sign_certificate(
                &issuer,
                &fields.subject,
                &fields.validity,
                key.spki(),
                &fields.extensions,
            )?
        };
        let mut chain = Vec::with_capacity(issuer.chain().len() + 1);
        chain.push(leaf);
        if !request.self_signed {
            chain.extend(issuer.chain().iter().cloned());
        }
        Ok(MintedCert {
            chain,
            key,
            serial,
            not_before: fields.not_before,
            not_after: fields.not_after,
            issuer_not_after: issuer.validity().1,
            adjustments: fields.adjustments,
        })
    }

    /// The caller's key, or one of `algorithm` from the pool.
    fn leaf_key(
        &self,
        issuer: &Issuer,
        given: Option<Arc<LeafKey>>,
        algorithm: KeyAlgorithm,
    ) -> Result<Arc<LeafKey>, Error> {
        let key = match given {
            Some(key) => key,
            None => self.keys.take_for(self.issuer_id(), algorithm)?,
        };
        // Defence in depth: a leaf must never carry the CA's own key.
        if key.spki() == issuer.signer().subject_public_key_info().as_ref() {
            return Err(KeyError::Unsupported.into());
        }
        Ok(key)
    }
}

/// `extensions` without the issuer's authority key identifier, CRL distribution point and
/// authority information access.
fn without_issuer_links(extensions: &[u8], issuer: &Issuer) -> Vec<u8> {
    let issued = issuer.issued();
    let mut out = Vec::with_capacity(extensions.len());
    let Ok(mut reader) = TlvReader::new(extensions) else {
        return extensions.to_vec();
    };
    while let Ok(ext) = reader.next_tlv() {
        let ours = ext.raw == issued.authority_key_id.as_slice()
            || ext.raw == issued.crl_distribution_points.as_slice()
            || issued.authority_info_access.as_deref() == Some(ext.raw);
        if !ours {
            out.extend_from_slice(ext.raw);
        }
    }
    out
}

impl std::fmt::Debug for Minter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minter")
            .field("issuer", &self.source)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}
