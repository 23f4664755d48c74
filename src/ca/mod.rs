//! Issuing CAs: the [`Signer`] trait (a software key, a PKCS#11 token, a rotating sub-CA), the
//! [`Issuer`] (a signer with its certificate and chain), the TBS writer every certificate goes
//! through, certificate requests for the organisation's CA, and opening a CA key from wherever a
//! deployment keeps it.

mod csr;
mod issuer;
mod load;
#[cfg(feature = "pkcs11")]
mod pkcs11;
pub(crate) mod rcgen_signer;
mod rotation;
mod signer;
mod software;
pub(crate) mod tbs;

pub use crate::x509::DistinguishedName;
pub use csr::certificate_request;
pub(crate) use issuer::in_issuer_files;
pub use issuer::{Issuer, IssuerOptions, DEFAULT_CRL_BASE_URL};
pub(crate) use load::software_signer_from_file;
pub use load::{is_pkcs11_uri, load_signer, redact_pins};
#[cfg(feature = "pkcs11")]
pub use pkcs11::{
    Pkcs11Signer, Pkcs11Uri, DEFAULT_MODULE as PKCS11_DEFAULT_MODULE, PIN_ENV as PKCS11_PIN_ENV,
};
pub use rotation::{IssuanceRecord, RotatingIssuer, RotationPolicy, REVOCATION_CHECK};
pub use signer::{SignatureAlgorithm, Signer, SignerCounters};
pub use software::SoftwareSigner;
pub use tbs::SERIAL_LEN;
