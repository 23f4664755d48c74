//! Importing an intermediate the organisation's CA signed: the checks that make it usable.

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use crate::ca::{Issuer, IssuerOptions, RotatingIssuer, RotationPolicy, Signer};
use crate::clock::ManualClock;
use crate::error::{ChainError, Error, IssuerError};
use crate::keys::KeyPool;
use crate::mint::minter::{MintRequest, Minter};
use crate::mint::MintPolicy;
use crate::x509::cert::ParsedCert;

/// Checks a certificate the organisation's CA signed for `signer`'s key: usable as an issuing
/// CA (see [`Issuer::new`]), its pathLen allows the rotating sub-CA when `rotation` is on, and
/// its chain (`chain`: the certificate, its intermediates, ending at a self-signed root)
/// verifies: a probe leaf minted with it (through a real rotating sub-CA when `rotation` is on,
/// so every pathLen constraint above is checked against the chain leaves will have) validates
/// with rustls-webpki up to that root.
pub fn check_import(
    chain: Vec<CertificateDer<'static>>,
    signer: Arc<dyn Signer>,
    rotation: bool,
) -> Result<Arc<Issuer>, Error> {
    let root = chain
        .last()
        .filter(|c| ParsedCert::parse(c.as_ref()).is_ok_and(|p| p.is_self_issued()))
        .cloned()
        .ok_or(IssuerError::NoRoot)?;
    let issuer = Issuer::new(chain, signer, IssuerOptions::default())?;
    if rotation && issuer.path_len() == Some(0) {
        return Err(IssuerError::PathLenTooShort.into());
    }
    let issuer = Arc::new(issuer);
    let keys = Arc::new(KeyPool::inline());
    // With rotation, the probe goes through a real rotating sub-CA, so the pathLen of every
    // certificate above is checked against the chain leaves will really have.
    let minter = if rotation {
        let rotating = RotatingIssuer::new(
            Arc::clone(&issuer),
            RotationPolicy::default(),
            Arc::new(ManualClock::starting_now()),
        )?;
        Minter::rotating(Arc::new(rotating), keys, MintPolicy::default())
    } else {
        Minter::new(Arc::clone(&issuer), keys, MintPolicy::default())
    };
    let probe = minter.mint(&MintRequest::for_host(PROBE_HOST))?;
    let anchor = webpki::anchor_from_trusted_cert(&root)
        .map_err(|_| IssuerError::ChainInvalid(ChainError::BadRoot))?;
    let ee = webpki::EndEntityCert::try_from(probe.leaf()).map_err(chain_error)?;
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &probe.chain()[1..],
        UnixTime::now(),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(chain_error)?;
    let name = ServerName::try_from(PROBE_HOST)
        .map_err(|_| IssuerError::ChainInvalid(ChainError::NameMismatch))?;
    ee.verify_is_valid_for_subject_name(&name)
        .map_err(chain_error)?;
    Ok(issuer)
}

const PROBE_HOST: &str = "import-probe.certmint.invalid";

/// rustls-webpki's verdict as a [`ChainError`].
fn chain_error(e: webpki::Error) -> IssuerError {
    use webpki::Error as W;
    IssuerError::ChainInvalid(match e {
        W::UnknownIssuer => ChainError::UnknownIssuer,
        W::CertExpired { .. } => ChainError::Expired,
        W::CertNotValidYet { .. } => ChainError::NotValidYet,
        W::PathLenConstraintViolated => ChainError::PathLenConstraintViolated,
        W::InvalidSignatureForPublicKey => ChainError::BadSignature,
        W::CertNotValidForName(_) | W::NameConstraintViolation => ChainError::NameMismatch,
        _ => ChainError::Other("rejected by rustls-webpki"),
    })
}
