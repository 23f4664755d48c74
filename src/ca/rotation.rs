//! [`RotatingIssuer`]: a short-lived issuing sub-CA, signed by the configured intermediate
//! (often held in an HSM) and renewed on a schedule, so a mint never waits on the HSM.
//!
//! - The sub-CA's key is a software key generated in memory and never written anywhere; its
//!   PKCS#8 bytes are wiped once parsed (the parsed key object inside the crypto backend cannot
//!   be wiped).
//! - Rotation is automatic and atomic: the first mint that finds the sub-CA due for renewal
//!   makes the next one while the others keep minting with the current one; new mints use the
//!   new sub-CA as soon as it exists. Leaves minted under the old sub-CA stay valid (and stay
//!   cached, keyed by the intermediate's identity) until they or the old sub-CA expire.
//! - Leaves are clamped to their sub-CA's validity. Time comes from a [`Clock`].
//!
//! **Revocation model.** A leaf's CRL distribution point names its sub-CA's CRL
//! (`{crl base}/{sub-CA key id}.crl`): empty, signed once by the sub-CA when it is made, valid
//! until the sub-CA expires (no leaf outlives it). A sub-CA's distribution point names the
//! intermediate's CRL (`{crl base}/{intermediate key id}.crl`), which lists revoked sub-CAs and is
//! signed by the intermediate (through the HSM).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, UnixTime};

use super::{Issuer, IssuerOptions, SoftwareSigner};
use crate::clock::Clock;
use crate::error::{Error, IssuerError};
use crate::keys::{LeafKey, PrivateKey};
use crate::x509::asn1_time::{self, duration_secs, encode_validity};
use crate::x509::ext::{self, KeyUsage};
use crate::x509::{name, KeyAlgorithm};

/// Where a [`RotatingIssuer`] records the sub-CAs it makes, and learns that one was revoked
/// (implemented by [`RevocationStore`](crate::revocation::RevocationStore)).
pub trait IssuanceRecord: std::fmt::Debug + Send + Sync {
    /// Records a new sub-CA before it signs anything; an error stops the rotation (a sub-CA
    /// that cannot be revoked later is not used).
    fn record_sub_ca(&self, sub_ca: &Issuer, parent: &Issuer) -> Result<(), Error>;
    /// Whether `sub_ca` was revoked.
    fn is_revoked(&self, sub_ca: &Issuer) -> bool;
}

/// How often a [`RotatingIssuer`] with a record checks whether its sub-CA was revoked.
pub const REVOCATION_CHECK: Duration = Duration::from_secs(5);

/// How sub-CAs are made and renewed. `Default` gives the documented defaults.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RotationPolicy {
    /// Validity of each sub-CA from its creation (default 7 days).
    pub lifetime: Duration,
    /// A sub-CA is replaced this long after its creation (default 6 days).
    pub renew_after: Duration,
    /// notBefore lies this far in the past (default 1 hour).
    pub backdate: Duration,
    /// The sub-CA's key algorithm (default P-256).
    pub key_algorithm: KeyAlgorithm,
    /// CRL and AIA settings of the sub-CAs (what their leaves carry).
    pub options: IssuerOptions,
    /// After a failed rotation, wait this long before trying again (default 60 s).
    pub retry_after: Duration,
    /// Where each new sub-CA is recorded so it can be revoked later, and where revocations
    /// made by other processes are seen (checked at most every 10 s; a revoked sub-CA is
    /// replaced at once). Default: none.
    pub record: Option<Arc<dyn IssuanceRecord>>,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(7 * 86_400),
            renew_after: Duration::from_secs(6 * 86_400),
            backdate: Duration::from_secs(3600),
            key_algorithm: KeyAlgorithm::EcdsaP256,
            options: IssuerOptions::default(),
            retry_after: Duration::from_secs(60),
            record: None,
        }
    }
}

struct SubCa {
    issuer: Arc<Issuer>,
    renew_at: u64,
}

/// The configured intermediate plus its current short-lived sub-CA.
pub struct RotatingIssuer {
    parent: Arc<Issuer>,
    policy: RotationPolicy,
    clock: Arc<dyn Clock>,
    current: RwLock<Arc<SubCa>>,
    rotating: Mutex<()>,
    rotations: AtomicU64,
    /// When (Unix seconds) to next ask the record whether the current sub-CA was revoked.
    revocation_check_at: AtomicU64,
    /// Revoked sub-CAs replaced since [`RotatingIssuer::poll_revoked`] last ran.
    revoked: Mutex<Vec<CertificateDer<'static>>>,
}

impl RotatingIssuer {
    /// Makes the first sub-CA under `parent`. Fails if `parent` cannot sign a CA (pathLen 0).
    pub fn new(
        parent: Arc<Issuer>,
        policy: RotationPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        if parent.path_len() == Some(0) {
            return Err(IssuerError::PathLenTooShort.into());
        }
        let first = make_sub_ca(&parent, &policy, clock.now())?;
        Ok(Self {
            parent,
            policy,
            clock,
            current: RwLock::new(Arc::new(first)),
            rotating: Mutex::new(()),
            rotations: AtomicU64::new(1),
            revocation_check_at: AtomicU64::new(0),
            revoked: Mutex::new(Vec::new()),
        })
    }

    /// The CA that signs the sub-CAs.
    pub fn parent(&self) -> &Arc<Issuer> {
        &self.parent
    }

    /// How many sub-CAs have been made.
    pub fn rotations(&self) -> u64 {
        self.rotations.load(Ordering::Relaxed)
    }

    /// The sub-CA to sign with now, renewing it first if it is due.
    pub fn current(&self) -> Result<Arc<Issuer>, Error> {
        let now = self.clock.now();
        let current = Arc::clone(&*self.current.read().unwrap_or_else(|e| e.into_inner()));
        if let Some(revoked) = self.check_revocation(&current, now) {
            return revoked;
        }
        if now.as_secs() < current.renew_at {
            return Ok(Arc::clone(&current.issuer));
        }
        // Due. One caller rotates; the others carry on with the current sub-CA meanwhile.
        let Ok(_guard) = self.rotating.try_lock() else {
            return self.usable(&current, now);
        };
        let latest = Arc::clone(&*self.current.read().unwrap_or_else(|e| e.into_inner()));
        if now.as_secs() < latest.renew_at {
            return Ok(Arc::clone(&latest.issuer));
        }
        match make_sub_ca(&self.parent, &self.policy, now) {
            Ok(next) => {
                let issuer = Arc::clone(&next.issuer);
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
                self.rotations.fetch_add(1, Ordering::Relaxed);
                log::info!("rotated the issuing sub-CA");
                Ok(issuer)
            }
            Err(e) => {
                log::error!(
                    "rotating the issuing sub-CA failed: {e}; retrying in {:?}",
                    self.policy.retry_after
                );
                let retry = Arc::new(SubCa {
                    issuer: Arc::clone(&latest.issuer),
                    renew_at: now
                        .as_secs()
                        .saturating_add(self.policy.retry_after.as_secs()),
                });
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = retry;
                self.usable(&latest, now).map_err(|_| e)
            }
        }
    }

    /// Every [`REVOCATION_CHECK`] at most: whether the current sub-CA was revoked (by another
    /// process, through the record); if so, a new sub-CA replaces it at once, or the error
    /// says why none could be made (a revoked sub-CA is never used again).
    fn check_revocation(
        &self,
        current: &SubCa,
        now: UnixTime,
    ) -> Option<Result<Arc<Issuer>, Error>> {
        let record = self.policy.record.as_ref()?;
        let due = self.revocation_check_at.load(Ordering::Relaxed);
        if now.as_secs() < due
            || self
                .revocation_check_at
                .compare_exchange(
                    due,
                    now.as_secs() + REVOCATION_CHECK.as_secs(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_err()
            || !record.is_revoked(&current.issuer)
        {
            return None;
        }
        log::warn!("the issuing sub-CA was revoked; replacing it now");
        self.revoked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(current.issuer.certificate().clone());
        Some(self.rotate_now())
    }

    /// The certificates of revoked sub-CAs this issuer replaced since the last call (checking
    /// the record first when a check is due), so that a cache can evict the leaves they
    /// signed. Cheap when nothing is due.
    pub fn poll_revoked(&self) -> Vec<CertificateDer<'static>> {
        if self.policy.record.is_none() {
            return Vec::new();
        }
        let now = self.clock.now();
        if now.as_secs() >= self.revocation_check_at.load(Ordering::Relaxed) {
            let current = Arc::clone(&*self.current.read().unwrap_or_else(|e| e.into_inner()));
            if let Some(Err(e)) = self.check_revocation(&current, now) {
                log::error!("replacing the revoked issuing sub-CA failed: {e}");
            }
        }
        std::mem::take(&mut *self.revoked.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Renews the sub-CA now, whatever its age.
    pub fn rotate_now(&self) -> Result<Arc<Issuer>, Error> {
        let _guard = self.rotating.lock().unwrap_or_else(|e| e.into_inner());
        let next = make_sub_ca(&self.parent, &self.policy, self.clock.now())?;
        let issuer = Arc::clone(&next.issuer);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        self.rotations.fetch_add(1, Ordering::Relaxed);
        Ok(issuer)
    }

    /// The current sub-CA while it is still valid.
    fn usable(&self, current: &SubCa, now: UnixTime) -> Result<Arc<Issuer>, Error> {
        if asn1_time::seconds(now) < current.issuer.validity().1 {
            Ok(Arc::clone(&current.issuer))
        } else {
            Err(IssuerError::Expired {
                not_after: current.issuer.not_after(),
            }
            .into())
        }
    }
}

impl std::fmt::Debug for RotatingIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RotatingIssuer")
            .field("parent", &self.parent)
            .field("policy", &self.policy)
            .field("rotations", &self.rotations())
            .finish_non_exhaustive()
    }
}

/// Generates a key in memory and has `parent` certify it as a pathLen-0 CA.
fn make_sub_ca(parent: &Issuer, policy: &RotationPolicy, now: UnixTime) -> Result<SubCa, Error> {
    let t = asn1_time::seconds(now);
    let key = LeafKey::new(PrivateKey::generate(policy.key_algorithm)?)?;
    let signer = SoftwareSigner::from_private_key(key.private_key())?;
    let spki = key.spki().to_vec();
    let mut extensions = ext::basic_constraints_ca(0);
    ext::key_usage(
        &mut extensions,
        KeyUsage(KeyUsage::KEY_CERT_SIGN | KeyUsage::CRL_SIGN | KeyUsage::DIGITAL_SIGNATURE),
        true,
    );
    ext::subject_key_id(&mut extensions, key.key_id());
    parent.issued().append_to(&mut extensions);
    let (not_before, not_after) = parent.clamp(
        t.saturating_sub(duration_secs(policy.backdate)),
        t.saturating_add(duration_secs(policy.lifetime)),
    );
    // The key id makes the name unique: workers rotating in the same second must not make two
    // sub-CAs with one name and different keys.
    let subject = name::name_with_common_name(&format!(
        "certmint issuing CA {} {}",
        asn1_time::rfc3339(t),
        crate::x509::hex(&key.key_id()[..8])
    ));
    let (cert, _) = super::tbs::sign_certificate(
        parent,
        &subject,
        &encode_validity(not_before, not_after),
        &spki,
        &extensions,
    )?;
    drop(key); // wipes the PKCS#8 copy; the signer keeps the parsed key
    let mut chain = vec![cert];
    chain.extend(parent.chain().iter().cloned());
    let issuer = Issuer::new_at(chain, Arc::new(signer), policy.options.clone(), now)?;
    if let Some(record) = &policy.record {
        record.record_sub_ca(&issuer, parent)?;
    }
    Ok(SubCa {
        issuer: Arc::new(issuer),
        renew_at: u64::try_from(t.saturating_add(duration_secs(policy.renew_after))).unwrap_or(0),
    })
}
