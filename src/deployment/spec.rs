//! [`CaSpec`]: where one CA of a deployment comes from, and how it is opened.

use std::path::PathBuf;
use std::sync::Arc;

use crate::ca::{load_signer, Issuer, IssuerOptions, RotatingIssuer, RotationPolicy, Signer};
use crate::clock::Clock;
use crate::error::Error;
use crate::keys::{KeyPool, Secret};
use crate::mint::minter::Minter;
use crate::mint::MintPolicy;

/// Where one CA's certificate and key come from.
#[derive(Clone, Debug)]
enum CaSource {
    /// A certificate file and a key file or `pkcs11:` URI.
    Files { cert: PathBuf, key: PathBuf },
    /// Certificate bytes (PEM or DER) and key bytes (PEM or DER).
    Bytes { cert: Vec<u8>, key: Secret },
    /// Certificate bytes and a key in a PKCS#11 token.
    #[cfg(feature = "pkcs11")]
    Pkcs11 { cert: Vec<u8>, uri: String },
    /// An issuer already loaded.
    Issuer(Arc<Issuer>),
}

/// Where an encrypted key's passphrase comes from.
#[derive(Clone, Debug)]
enum PassphraseSource {
    /// A file (one trailing newline stripped), else `CERTMINT_CA_KEY_PASS`.
    FileOrEnv(Option<PathBuf>),
    /// Given directly.
    Given(Secret),
}

/// Where a PKCS#11 key's PIN comes from, when the caller gives it rather than the URI.
#[cfg(feature = "pkcs11")]
#[derive(Clone, Debug)]
enum PinOverride {
    Value(Secret),
    File(PathBuf),
}

/// One CA of a deployment: where it comes from, whether it is enabled, what its certificates
/// carry (CRL and AIA URLs) and whether leaves are signed by a rotating sub-CA.
#[derive(Clone, Debug)]
pub struct CaSpec {
    id: String,
    source: CaSource,
    passphrase: PassphraseSource,
    #[cfg(feature = "pkcs11")]
    pin: Option<PinOverride>,
    enabled: bool,
    options: IssuerOptions,
    rotation: Option<RotationPolicy>,
}

impl CaSpec {
    fn new(id: &str, source: CaSource) -> Self {
        Self {
            id: id.to_owned(),
            source,
            passphrase: PassphraseSource::FileOrEnv(None),
            #[cfg(feature = "pkcs11")]
            pin: None,
            enabled: true,
            options: IssuerOptions::default(),
            rotation: None,
        }
    }

    /// A CA from a certificate file (the issuing certificate, optionally followed by its
    /// chain; PEM or DER) and a key file (PEM or DER; PKCS#8, SEC1, PKCS#1 or encrypted PKCS#8)
    /// or a `pkcs11:` URI (RFC 7512; feature `pkcs11`).
    pub fn from_files(id: &str, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self::new(
            id,
            CaSource::Files {
                cert: cert.into(),
                key: key.into(),
            },
        )
    }

    /// A CA from certificate and key bytes held in memory (PEM or DER).
    pub fn from_pem(id: &str, cert: &[u8], key: &[u8]) -> Self {
        Self::new(
            id,
            CaSource::Bytes {
                cert: cert.to_vec(),
                key: Secret::from(key.to_vec()),
            },
        )
    }

    /// A CA whose key is in a PKCS#11 token, named by a `pkcs11:` URI (the PIN from the URI's
    /// `pin-value` or `pin-source`, else `CERTMINT_PKCS11_PIN`).
    #[cfg(feature = "pkcs11")]
    pub fn from_pkcs11(id: &str, cert: &[u8], uri: &str) -> Self {
        Self::new(
            id,
            CaSource::Pkcs11 {
                cert: cert.to_vec(),
                uri: uri.to_owned(),
            },
        )
    }

    /// A CA already loaded as an [`Issuer`].
    pub fn from_issuer(id: &str, issuer: Arc<Issuer>) -> Self {
        Self::new(id, CaSource::Issuer(issuer))
    }

    /// The encrypted key's passphrase is in this file (one trailing newline stripped).
    pub fn with_passphrase_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.passphrase = PassphraseSource::FileOrEnv(Some(path.into()));
        self
    }

    /// The encrypted key's passphrase.
    pub fn with_passphrase(mut self, passphrase: Secret) -> Self {
        self.passphrase = PassphraseSource::Given(passphrase);
        self
    }

    /// The PKCS#11 key's PIN, overriding the URI's `pin-value`/`pin-source` and
    /// `CERTMINT_PKCS11_PIN`.
    #[cfg(feature = "pkcs11")]
    pub fn with_pin(mut self, pin: Secret) -> Self {
        self.pin = Some(PinOverride::Value(pin));
        self
    }

    /// The PKCS#11 key's PIN is in this file (one trailing newline stripped), overriding the
    /// URI's `pin-value`/`pin-source` and `CERTMINT_PKCS11_PIN`.
    #[cfg(feature = "pkcs11")]
    pub fn with_pin_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.pin = Some(PinOverride::File(path.into()));
        self
    }

    /// Opens a key in a token, applying the PIN given to this spec, if any.
    #[cfg(feature = "pkcs11")]
    fn open_pkcs11(&self, uri: &str) -> Result<Arc<dyn Signer>, Error> {
        let mut uri = crate::ca::Pkcs11Uri::parse(uri)?;
        match &self.pin {
            Some(PinOverride::Value(pin)) => uri.pin_value = Some(pin.clone()),
            Some(PinOverride::File(path)) => {
                uri.pin_value = None;
                uri.pin_source = Some(path.clone());
            }
            None => {}
        }
        Ok(Arc::new(crate::ca::Pkcs11Signer::open(&uri)?))
    }

    /// CRL and AIA URLs for what this CA signs.
    pub fn with_options(mut self, options: IssuerOptions) -> Self {
        self.options = options;
        self
    }

    /// Leaves are signed by a short-lived sub-CA this CA certifies, renewed on `policy`'s
    /// schedule. The sub-CAs carry `policy`'s CRL/AIA options when set, else this CA's.
    pub fn with_rotation(mut self, policy: RotationPolicy) -> Self {
        self.rotation = Some(policy);
        self
    }

    /// Added disabled: in the deployment, but not used until enabled.
    pub fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }

    /// The CA's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn passphrase(&self) -> Result<Option<Secret>, Error> {
        match &self.passphrase {
            PassphraseSource::Given(secret) => Ok(Some(secret.clone())),
            PassphraseSource::FileOrEnv(file) => {
                Ok(crate::keys::passphrase_from_sources(file.as_deref())?)
            }
        }
    }

    /// Opens the key and reads the chain of this CA itself (not its rotating sub-CA), checking
    /// both: what signs the CA's own CRL.
    pub(crate) fn issuer(&self) -> Result<Arc<Issuer>, Error> {
        Ok(match &self.source {
            CaSource::Issuer(issuer) => Arc::clone(issuer),
            CaSource::Files { cert, key } => {
                let chain = crate::pem::read_certificates(cert)?;
                let signer: Arc<dyn Signer> = match &self.passphrase {
                    #[cfg(feature = "pkcs11")]
                    _ if is_pkcs11(key) => self.open_pkcs11(&key.to_string_lossy())?,
                    PassphraseSource::FileOrEnv(file) => load_signer(key, file.as_deref())?,
                    PassphraseSource::Given(pass) => {
                        Arc::new(crate::ca::software_signer_from_file(key, Some(pass), None)?)
                    }
                };
                Arc::new(
                    Issuer::new(chain, signer, self.options.clone())
                        .map_err(|e| crate::ca::in_issuer_files(e, cert, key))?,
                )
            }
            CaSource::Bytes { cert, key } => {
                let chain = crate::pem::parse_certificates(cert)?;
                let pass = self.passphrase()?;
                let signer = crate::ca::SoftwareSigner::from_key_bytes_with_passphrase(
                    key.as_bytes(),
                    pass.as_ref(),
                )?;
                Arc::new(Issuer::new(chain, Arc::new(signer), self.options.clone())?)
            }
            #[cfg(feature = "pkcs11")]
            CaSource::Pkcs11 { cert, uri } => {
                let chain = crate::pem::parse_certificates(cert)?;
                Arc::new(Issuer::new(
                    chain,
                    self.open_pkcs11(uri)?,
                    self.options.clone(),
                )?)
            }
        })
    }

    /// Whether the CA starts enabled.
    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// The minter for this CA once its `issuer` is open: signing directly, or through a
    /// rotating sub-CA.
    pub(super) fn minter_from(
        &self,
        issuer: Arc<Issuer>,
        keys: &Arc<KeyPool>,
        policy: &MintPolicy,
        clock: &Arc<dyn Clock>,
    ) -> Result<Minter, Error> {
        Ok(match &self.rotation {
            None => Minter::new(issuer, Arc::clone(keys), policy.clone()),
            Some(rotation) => {
                let mut rotation = rotation.clone();
                if rotation.options == IssuerOptions::default() {
                    rotation.options = self.options.clone();
                }
                let rotating = RotatingIssuer::new(issuer, rotation, Arc::clone(clock))?;
                Minter::rotating(Arc::new(rotating), Arc::clone(keys), policy.clone())
            }
        })
    }

    /// Whether a minter made from this spec and `issuer` would mint what one made from
    /// `other` and `other_issuer` mints: the same CA certificate, CRL/AIA options and rotation
    /// schedule (a reload keeps the running minter, its sub-CA and its cached leaves).
    pub(super) fn mints_like(&self, issuer: &Issuer, other: &Self, other_issuer: &Issuer) -> bool {
        let schedule = |r: &RotationPolicy| {
            (
                r.lifetime,
                r.renew_after,
                r.backdate,
                r.key_algorithm,
                r.options.clone(),
                r.retry_after,
                r.record.is_some(),
            )
        };
        issuer.fingerprint() == other_issuer.fingerprint()
            && self.options == other.options
            && self.rotation.as_ref().map(schedule) == other.rotation.as_ref().map(schedule)
    }
}

#[cfg(feature = "pkcs11")]
fn is_pkcs11(key: &std::path::Path) -> bool {
    key.to_str().is_some_and(crate::ca::is_pkcs11_uri)
}
