//! [`RevocationStore`]: the durable record of the sub-CAs a deployment issued and of every
//! revocation, in a directory that several processes (the proxy, `certmint ca revoke`, `crl
//! publish`) share.
//!
//! Layout (every file written atomically: temporary file, fsync, rename, fsync of the
//! directory; one file per fact, so two processes never rewrite the same file):
//!
//! | file | what |
//! |---|---|
//! | `sub-cas/{key id}.pem` | the sub-CA's certificate |
//! | `sub-cas/{key id}.crl` | its CRL (DER), signed once by the sub-CA when it was made |
//! | `sub-cas/{key id}.record` | `key=value` lines: serial, issuer key id, validity, host, pid; written last, so its presence acknowledges the record |
//! | `revoked/{issuer key id}-{serial}.revoked` | one revocation: serial, issuer key id, time, reason |

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::pki_types::{CertificateDer, UnixTime};

use super::crl::{trim_serial, Crl, RevocationReason, RevokedCertificate, CRL_LIFETIME};
use super::ocsp::{OcspResponder, OCSP_LIFETIME};
use crate::ca::{IssuanceRecord, Issuer};
use crate::error::{Error, RevocationError};
use crate::file::{read_file, write_atomic};
use crate::x509::asn1_time;
use crate::x509::cert::ParsedCert;
use crate::x509::hex;

const SUB_CAS: &str = "sub-cas";
const REVOKED: &str = "revoked";

/// One recorded sub-CA.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubCaRecord {
    /// Its subject key identifier, lower-case hex (the name of its files and of its CRL).
    pub key_id: String,
    /// Its serial number, lower-case hex.
    pub serial: String,
    /// The key identifier of the CA that issued it, lower-case hex.
    pub issuer_key_id: String,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// The host and process that made it (`host/pid`).
    pub made_by: String,
    /// Its revocation, if it was revoked.
    pub revoked: Option<RevokedCertificate>,
}

/// The record of issued sub-CAs and revocations in one directory. Cheap to clone the `Arc`;
/// safe to share between threads and processes.
#[derive(Debug)]
pub struct RevocationStore {
    dir: PathBuf,
}

impl RevocationStore {
    /// Opens (creating when missing) the store in `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Arc<Self>, Error> {
        let dir = dir.into();
        for sub in [SUB_CAS, REVOKED] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
        Ok(Arc::new(Self { dir }))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records a new sub-CA issued by `parent`: its certificate, and its CRL (empty, signed
    /// now by the sub-CA itself, valid until the sub-CA's notAfter: no leaf under it outlives
    /// it), so that both stay available after the process holding its key is gone.
    pub fn record_sub_ca(&self, sub_ca: &Issuer, parent: &Issuer) -> Result<SubCaRecord, Error> {
        let cert = ParsedCert::parse(sub_ca.certificate().as_ref())?;
        let key_id = hex(sub_ca.key_id());
        let now = SystemTime::now();
        let not_after = asn1_time::unix_time(cert.not_after);
        let until = SystemTime::UNIX_EPOCH + Duration::from_secs(not_after.as_secs());
        let crl = Crl::sign(sub_ca, now, until.max(now + Duration::from_secs(1)), &[])?;
        let record = SubCaRecord {
            key_id: key_id.clone(),
            serial: hex(trim_serial(cert.serial)),
            issuer_key_id: hex(parent.key_id()),
            not_before: asn1_time::unix_time(cert.not_before),
            not_after,
            made_by: format!("{}/{}", host_name(), std::process::id()),
            revoked: None,
        };
        let base = self.dir.join(SUB_CAS);
        write_atomic(
            &base.join(format!("{key_id}.pem")),
            crate::pem::encode_certificate(sub_ca.certificate()).as_bytes(),
        )?;
        write_atomic(&base.join(format!("{key_id}.crl")), crl.der())?;
        let text = format!(
            "serial={}\nissuer_key_id={}\nnot_before={}\nnot_after={}\nmade_by={}\n",
            record.serial,
            record.issuer_key_id,
            record.not_before.as_secs(),
            record.not_after.as_secs(),
            record.made_by
        );
        write_atomic(&base.join(format!("{key_id}.record")), text.as_bytes())?;
        Ok(record)
    }

    /// Every recorded sub-CA with its status, oldest first.
    pub fn sub_cas(&self) -> Result<Vec<SubCaRecord>, Error> {
        let mut out = Vec::new();
        for (path, key_id) in self.files(SUB_CAS, ".record")? {
            let record = Record::read(&path)?;
            let issuer_key_id = record.field("issuer_key_id")?.to_owned();
            let serial = record.field("serial")?.to_owned();
            let revoked = self.revocation(&issuer_key_id, &serial)?;
            out.push(SubCaRecord {
                key_id,
                serial,
                issuer_key_id,
                not_before: record.time("not_before")?,
                not_after: record.time("not_after")?,
                made_by: record.field("made_by")?.to_owned(),
                revoked,
            });
        }
        out.sort_by_key(|r| (r.not_before.as_secs(), r.key_id.clone()));
        Ok(out)
    }

    /// Revokes the recorded sub-CA with key identifier `key_id` (hex). Revoking it twice keeps
    /// the first revocation.
    pub fn revoke_sub_ca(
        &self,
        key_id: &str,
        reason: RevocationReason,
    ) -> Result<SubCaRecord, Error> {
        let key_id = normalise_hex("key id", key_id, false)?;
        let mut record = self
            .sub_cas()?
            .into_iter()
            .find(|r| r.key_id == key_id)
            .ok_or_else(|| RevocationError::UnknownSubCa(key_id.clone()))?;
        if record.revoked.is_none() {
            record.revoked =
                Some(self.revoke_serial(&record.issuer_key_id, &record.serial, reason)?);
        }
        Ok(record)
    }

    /// Records the revocation of serial `serial` (hex) issued by the CA with key identifier
    /// `issuer_key_id` (hex). Refused for leaves of a recorded sub-CA
    /// ([`RevocationError::SubCaKeyGone`]). Idempotent: an existing revocation is returned.
    pub fn revoke_serial(
        &self,
        issuer_key_id: &str,
        serial: &str,
        reason: RevocationReason,
    ) -> Result<RevokedCertificate, Error> {
        let issuer_key_id = normalise_hex("issuer key id", issuer_key_id, false)?;
        let serial = normalise_hex("serial", serial, true)?;
        let sub_ca_path = self
            .dir
            .join(SUB_CAS)
            .join(format!("{issuer_key_id}.record"));
        if sub_ca_path.exists() {
            return Err(RevocationError::SubCaKeyGone(issuer_key_id).into());
        }
        if let Some(existing) = self.revocation(&issuer_key_id, &serial)? {
            return Ok(existing);
        }
        let now = UnixTime::now();
        let text = format!(
            "serial={serial}\nissuer_key_id={issuer_key_id}\nrevoked_at={}\nreason={}\n",
            now.as_secs(),
            reason.name()
        );
        write_atomic(
            &self.revocation_path(&issuer_key_id, &serial),
            text.as_bytes(),
        )?;
        Ok(RevokedCertificate::new(from_hex(&serial), now, reason))
    }

    /// Revokes the certificate `cert`: a recorded sub-CA, or any certificate whose
    /// authorityKeyIdentifier names the issuing CA (leaves of recorded sub-CAs are refused).
    pub fn revoke_certificate(
        &self,
        cert: &CertificateDer<'_>,
        reason: RevocationReason,
    ) -> Result<RevokedCertificate, Error> {
        let parsed = ParsedCert::parse(cert.as_ref())?;
        let aki = parsed
            .authority_key_id()
            .ok_or_else(|| RevocationError::UnknownSubCa("(no authorityKeyIdentifier)".into()))?;
        self.revoke_serial(&hex(aki), &hex(trim_serial(parsed.serial)), reason)
    }

    /// Whether the certificate with `serial` issued by the CA with `issuer_key_id` was revoked.
    pub fn is_revoked(&self, issuer_key_id: &[u8], serial: &[u8]) -> bool {
        self.revocation_path(&hex(issuer_key_id), &hex(trim_serial(serial)))
            .exists()
    }

    /// The revocations of certificates issued by the CA with key identifier `issuer_key_id`.
    pub fn revoked_under(&self, issuer_key_id: &[u8]) -> Result<Vec<RevokedCertificate>, Error> {
        let prefix = format!("{}-", hex(issuer_key_id));
        let mut out = Vec::new();
        for (path, name) in self.files(REVOKED, ".revoked")? {
            if let Some(serial) = name.strip_prefix(&prefix) {
                out.push(read_revocation(&path, serial)?);
            }
        }
        out.sort_by_key(|r| (r.revoked_at.as_secs(), r.serial.clone()));
        Ok(out)
    }

    /// A fresh CRL for `issuer` (an intermediate): every certificate it issued that was
    /// revoked (its sub-CAs), valid for [`CRL_LIFETIME`] from now, signed by its signer.
    pub fn crl_for(&self, issuer: &Issuer) -> Result<Crl, Error> {
        let now = SystemTime::now();
        Crl::sign(
            issuer,
            now,
            now + CRL_LIFETIME,
            &self.revoked_under(issuer.key_id())?,
        )
    }

    /// Pre-signed OCSP responses for every recorded sub-CA `issuer` issued (`good`, or
    /// `revoked`), valid for [`OCSP_LIFETIME`] from now.
    pub fn ocsp_responder(&self, issuer: &Issuer) -> Result<OcspResponder, Error> {
        let issuer_key_id = hex(issuer.key_id());
        let mut sub_cas = Vec::new();
        for record in self.sub_cas()? {
            if record.issuer_key_id != issuer_key_id {
                continue;
            }
            let path = self
                .dir
                .join(SUB_CAS)
                .join(format!("{}.pem", record.key_id));
            let cert = crate::pem::parse_certificates(&read_file(&path)?)?
                .into_iter()
                .next()
                .ok_or_else(|| bad(&path, "no certificate"))?;
            sub_cas.push((cert, record.revoked));
        }
        let now = SystemTime::now();
        OcspResponder::sign(issuer, &sub_cas, now, now + OCSP_LIFETIME)
    }

    /// The stored CRLs of every recorded sub-CA: `(key id, DER)`.
    pub fn sub_ca_crls(&self) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut out = Vec::new();
        for (path, key_id) in self.files(SUB_CAS, ".crl")? {
            out.push((key_id, read_file(&path)?));
        }
        Ok(out)
    }

    /// The current CRL (DER) named `{key_id}.crl`: a fresh one when `key_id` (hex) is one of
    /// `issuers`, else the stored CRL of that recorded sub-CA. Errors:
    /// [`RevocationError::UnknownSubCa`] when neither has it.
    pub fn current_crl(&self, issuers: &[&Issuer], key_id: &str) -> Result<Vec<u8>, Error> {
        let key_id = normalise_hex("key id", key_id, false)?;
        if let Some(issuer) = issuers.iter().find(|i| hex(i.key_id()) == key_id) {
            return Ok(self.crl_for(issuer)?.der().to_vec());
        }
        let path = self.dir.join(SUB_CAS).join(format!("{key_id}.crl"));
        if !path.exists() {
            return Err(RevocationError::UnknownSubCa(key_id).into());
        }
        read_file(&path)
    }

    /// Writes every current CRL to `out_dir/{key id}.crl` (DER, atomically): a fresh one for
    /// each of `issuers`, and the stored CRL of every recorded sub-CA. Returns the files.
    pub fn publish(&self, issuers: &[&Issuer], out_dir: &Path) -> Result<Vec<PathBuf>, Error> {
        std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
        let mut written = Vec::new();
        for issuer in issuers {
            let crl = self.crl_for(issuer)?;
            let path = out_dir.join(format!("{}.crl", hex(issuer.key_id())));
            write_atomic(&path, crl.der())?;
            written.push(path);
        }
        for (key_id, der) in self.sub_ca_crls()? {
            let path = out_dir.join(format!("{key_id}.crl"));
            write_atomic(&path, &der)?;
            written.push(path);
        }
        Ok(written)
    }

    fn revocation(
        &self,
        issuer_key_id: &str,
        serial: &str,
    ) -> Result<Option<RevokedCertificate>, Error> {
        let path = self.revocation_path(issuer_key_id, serial);
        if !path.exists() {
            return Ok(None);
        }
        read_revocation(&path, serial).map(Some)
    }

    fn revocation_path(&self, issuer_key_id: &str, serial: &str) -> PathBuf {
        self.dir
            .join(REVOKED)
            .join(format!("{issuer_key_id}-{serial}.revoked"))
    }

    /// The files in `sub` ending in `suffix` (temporary files skipped), with their stems.
    fn files(&self, sub: &str, suffix: &str) -> Result<Vec<(PathBuf, String)>, Error> {
        let dir = self.dir.join(sub);
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if let Some(stem) = name.strip_suffix(suffix) {
                out.push((entry.path(), stem.to_owned()));
            }
        }
        out.sort();
        Ok(out)
    }
}

impl IssuanceRecord for RevocationStore {
    fn record_sub_ca(&self, sub_ca: &Issuer, parent: &Issuer) -> Result<(), Error> {
        RevocationStore::record_sub_ca(self, sub_ca, parent).map(|_| ())
    }

    fn is_revoked(&self, sub_ca: &Issuer) -> bool {
        let Ok(cert) = ParsedCert::parse(sub_ca.certificate().as_ref()) else {
            return false;
        };
        let Some(aki) = cert.authority_key_id() else {
            return false;
        };
        RevocationStore::is_revoked(self, aki, cert.serial)
    }
}

fn read_revocation(path: &Path, serial: &str) -> Result<RevokedCertificate, Error> {
    let record = Record::read(path)?;
    let reason = record
        .field("reason")?
        .parse()
        .map_err(|_| bad(path, "bad reason"))?;
    Ok(RevokedCertificate::new(
        from_hex(serial),
        record.time("revoked_at")?,
        reason,
    ))
}

/// A record file: `key=value` lines.
struct Record<'p> {
    path: &'p Path,
    text: String,
}

impl<'p> Record<'p> {
    fn read(path: &'p Path) -> Result<Self, Error> {
        let text = String::from_utf8(read_file(path)?).map_err(|_| bad(path, "not UTF-8"))?;
        Ok(Self { path, text })
    }

    fn field(&self, name: &str) -> Result<&str, Error> {
        self.text
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
            .ok_or_else(|| bad(self.path, &format!("no {name}")))
    }

    /// A field holding Unix seconds.
    fn time(&self, name: &str) -> Result<UnixTime, Error> {
        let secs = self
            .field(name)?
            .parse()
            .map_err(|_| bad(self.path, &format!("bad {name}")))?;
        Ok(UnixTime::since_unix_epoch(Duration::from_secs(secs)))
    }
}

fn bad(path: &Path, reason: &str) -> Error {
    RevocationError::BadRecord {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
    .into()
}

/// Lower-case hex without separators (and, for a serial, without a leading sign octet), or a
/// typed error.
fn normalise_hex(what: &'static str, text: &str, serial: bool) -> Result<String, Error> {
    let digits: String = text
        .chars()
        .filter(|c| !matches!(c, ':' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let digits = digits.strip_prefix("0x").unwrap_or(&digits).to_owned();
    if digits.is_empty()
        || !digits.len().is_multiple_of(2)
        || !digits.chars().all(|c| c.is_ascii_hexdigit())
    {
        return Err(RevocationError::NotHex {
            what,
            given: text.chars().take(80).collect(),
        }
        .into());
    }
    let bytes = from_hex(&digits);
    Ok(hex(if serial { trim_serial(&bytes) } else { &bytes }))
}

/// Bytes of validated lower-case hex.
fn from_hex(digits: &str) -> Vec<u8> {
    digits
        .as_bytes()
        .chunks(2)
        .filter_map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}
