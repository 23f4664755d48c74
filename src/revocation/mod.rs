//! Revocation: RFC 5280 CRLs signed through a CA's [`Signer`](crate::ca::Signer), and the
//! durable record of the sub-CAs a deployment issued and of every revocation.
//!
//! What is published where (see the README's revocation section):
//! - each leaf names its issuing CA's CRL, `{crl_base_url}/{issuer key id}.crl`;
//! - a rotating sub-CA's CRL is empty (its leaves are never revoked one by one: they live no
//!   longer than the sub-CA), signed by the sub-CA once when it is made and kept in the
//!   [`RevocationStore`], valid until the sub-CA expires;
//! - the intermediate's CRL lists revoked sub-CAs (and serials revoked under it), lives
//!   [`CRL_LIFETIME`] (24 h) and is re-signed every 12 h by whoever holds its key. Clients that
//!   fetched it keep it until its nextUpdate: a revocation reaches them within 24 h;
//! - revoking the organisation's intermediate itself is the organisation CA's job.

mod crl;
mod ocsp;
mod store;

pub use crl::{Crl, RevocationReason, RevokedCertificate, CRL_LIFETIME};
pub use ocsp::{OcspResponder, MAX_OCSP_REQUEST, OCSP_LIFETIME};
pub use store::{RevocationStore, SubCaRecord};
