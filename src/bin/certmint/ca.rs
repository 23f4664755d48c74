//! `certmint ca`: a throwaway test hierarchy (`init`), a key and request for the organisation's
//! CA (`csr`), and checking what it signed (`import`).

use std::path::{Path, PathBuf};

use certmint::ca::{certificate_request, load_signer, DistinguishedName, SoftwareSigner};
use certmint::keys::{encrypt_private_key, passphrase_from_sources, PrivateKey, Secret};
use certmint::testing::ThrowawayCa;
use certmint::KeyAlgorithm;
use clap::Subcommand;

use crate::error::CliError;
use crate::files::{self, Output};

#[derive(Subcommand)]
pub(crate) enum CaCommand {
    /// Write a throwaway test hierarchy: root.pem, root-key.pem, intermediate.pem,
    /// intermediate-key.pem (mode 0600; keys unencrypted unless --encrypt). Not for production.
    Init {
        /// Directory to write into (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// p256, p384, ed25519, rsa2048, rsa3072 or rsa4096.
        #[arg(long, default_value = "p256", value_parser = crate::parse_key_type)]
        key_type: KeyAlgorithm,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
        /// Encrypt both keys (PBKDF2-HMAC-SHA256, 600,000 iterations, AES-256-CBC) with the
        /// passphrase from --ca-key-pass-file or CERTMINT_CA_KEY_PASS.
        #[arg(long)]
        encrypt: bool,
        /// File holding the passphrase (one trailing newline stripped).
        #[arg(long)]
        ca_key_pass_file: Option<PathBuf>,
    },
    /// Generate an intermediate's key (encrypted file, or inside a PKCS#11 token) and a PKCS#10
    /// request for the organisation's CA to sign.
    Csr {
        /// The subject, RFC 4514 (`CN=...,O=...,C=..`, most significant last).
        #[arg(long)]
        subject: String,
        /// Where to write the key: a file (PKCS#8, encrypted with --ca-key-pass-file or
        /// CERTMINT_CA_KEY_PASS) or a `pkcs11:` URI (generated in the token under its object
        /// label).
        #[arg(long)]
        key_out: String,
        /// p256, p384, rsa2048, rsa3072 or rsa4096.
        #[arg(long, default_value = "p256", value_parser = crate::parse_key_type)]
        key_type: KeyAlgorithm,
        /// basicConstraints pathLen to request (1 leaves room for the rotating sub-CA).
        #[arg(long, default_value_t = 1)]
        path_len: u8,
        /// File holding the passphrase that encrypts a key file.
        #[arg(long)]
        ca_key_pass_file: Option<PathBuf>,
        /// Where to write the request (PEM).
        #[arg(long)]
        out: PathBuf,
        /// Replace existing output files (never a key already in a token).
        #[arg(long)]
        force: bool,
    },
    /// Check a certificate the organisation's CA signed, and print the configuration snippet
    /// that adds it. Exit 0 only if it is usable as an issuing CA with that key.
    Import {
        /// The signed certificate.
        #[arg(long)]
        cert: PathBuf,
        /// Its key: a file or a `pkcs11:` URI.
        #[arg(long)]
        ca_key: PathBuf,
        /// The rest of the chain up to and including the root (PEM).
        #[arg(long)]
        chain: Option<PathBuf>,
        /// File holding the key's passphrase.
        #[arg(long)]
        ca_key_pass_file: Option<PathBuf>,
        /// Refuse a certificate whose pathLen forbids the rotating sub-CA.
        #[arg(long)]
        rotation: bool,
        /// The id to use in the printed snippet.
        #[arg(long, default_value = "imported")]
        id: String,
    },
    /// Revoke a recorded sub-CA (or a serial a configured CA issued). A running proxy stops
    /// using a revoked sub-CA within 10 seconds; clients see it when they next fetch the CRL.
    Revoke(crate::revocation::RevokeArgs),
    /// List the recorded sub-CAs and their status.
    ListIssued {
        /// The deployment's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

pub(crate) fn run(command: CaCommand) -> Result<(), CliError> {
    match command {
        CaCommand::Init {
            dir,
            key_type,
            force,
            encrypt,
            ca_key_pass_file,
        } => {
            let pass = match encrypt {
                true => Some(required_passphrase(ca_key_pass_file.as_deref())?),
                false => None,
            };
            init(&dir, key_type, force, pass.as_ref())
        }
        CaCommand::Csr {
            subject,
            key_out,
            key_type,
            path_len,
            ca_key_pass_file,
            out,
            force,
        } => csr(
            &subject,
            &key_out,
            key_type,
            path_len,
            ca_key_pass_file.as_deref(),
            &out,
            force,
        ),
        CaCommand::Import {
            cert,
            ca_key,
            chain,
            ca_key_pass_file,
            rotation,
            id,
        } => import(
            &cert,
            &ca_key,
            chain.as_deref(),
            ca_key_pass_file.as_deref(),
            rotation,
            &id,
        ),
        CaCommand::Revoke(args) => crate::revocation::revoke(&args),
        CaCommand::ListIssued { config } => crate::revocation::list_issued(&config),
    }
}

/// The passphrase from `file` or the environment; an error when there is none.
fn required_passphrase(file: Option<&Path>) -> Result<Secret, CliError> {
    passphrase_from_sources(file)
        .map_err(certmint::Error::from)?
        .ok_or(CliError::Certmint(certmint::KeyError::NoPassphrase.into()))
}

fn init(
    dir: &Path,
    key_type: KeyAlgorithm,
    force: bool,
    passphrase: Option<&Secret>,
) -> Result<(), CliError> {
    let names = [
        "root.pem",
        "root-key.pem",
        "intermediate.pem",
        "intermediate-key.pem",
    ];
    let paths: Vec<PathBuf> = names.iter().map(|n| dir.join(n)).collect();
    files::check_outputs(
        &paths.iter().map(PathBuf::as_path).collect::<Vec<_>>(),
        force,
    )?;
    std::fs::create_dir_all(dir).map_err(|source| CliError::File {
        path: dir.to_owned(),
        source,
    })?;
    let ca = ThrowawayCa::generate(key_type)?;
    let root = certmint::pem::encode_certificate(&ca.root);
    let intermediate = certmint::pem::encode_certificate(&ca.intermediate);
    let key_pem = |key: &PrivateKey| match passphrase {
        Some(pass) => encrypt_private_key(key, pass),
        None => Ok(key.to_pem()),
    };
    let root_key = key_pem(&ca.root_key).map_err(certmint::Error::from)?;
    let intermediate_key = key_pem(&ca.intermediate_key).map_err(certmint::Error::from)?;
    files::write_all(
        &[
            Output::public(dir.join(names[0]), root.as_bytes()),
            Output::secret(dir.join(names[1]), root_key.as_bytes()),
            Output::public(dir.join(names[2]), intermediate.as_bytes()),
            Output::secret(dir.join(names[3]), intermediate_key.as_bytes()),
        ],
        force,
    )?;
    println!("wrote {} ({key_type}): {}", dir.display(), names.join(", "));
    Ok(())
}

fn csr(
    subject: &str,
    key_out: &str,
    key_type: KeyAlgorithm,
    path_len: u8,
    pass_file: Option<&Path>,
    out: &Path,
    force: bool,
) -> Result<(), CliError> {
    let subject = DistinguishedName::parse(subject).map_err(certmint::Error::from)?;
    if key_type == KeyAlgorithm::Ed25519 {
        return Err(certmint::Error::from(certmint::KeyError::Unsupported).into());
    }
    if certmint::ca::is_pkcs11_uri(key_out) {
        files::check_outputs(&[out], force)?;
        let uri = certmint::ca::Pkcs11Uri::parse(key_out).map_err(certmint::Error::from)?;
        let signer = certmint::ca::Pkcs11Signer::generate(&uri, key_type)?;
        let csr = certificate_request(&signer, &subject, path_len)?;
        files::write_all(&[Output::public(out.to_owned(), csr.as_bytes())], force)?;
        println!(
            "key generated in the token; request written to {}",
            out.display()
        );
        return Ok(());
    }
    files::check_outputs(&[Path::new(key_out), out], force)?;
    let pass = required_passphrase(pass_file)?;
    let key = PrivateKey::generate(key_type).map_err(certmint::Error::from)?;
    let signer = SoftwareSigner::from_private_key(&key)?;
    let csr = certificate_request(&signer, &subject, path_len)?;
    let key_pem = encrypt_private_key(&key, &pass).map_err(certmint::Error::from)?;
    files::write_all(
        &[
            Output::secret(PathBuf::from(key_out), key_pem.as_bytes()),
            Output::public(out.to_owned(), csr.as_bytes()),
        ],
        force,
    )?;
    println!("wrote {key_out} (encrypted) and {}", out.display());
    Ok(())
}

fn import(
    cert: &Path,
    key: &Path,
    chain: Option<&Path>,
    pass_file: Option<&Path>,
    rotation: bool,
    id: &str,
) -> Result<(), CliError> {
    let mut certs = read_certificates(cert)?;
    if let Some(chain) = chain {
        certs.extend(read_certificates(chain)?);
    }
    let signer = load_signer(key, pass_file)?;
    certmint::registry::check_import(certs, signer, rotation).map_err(|e| match e {
        certmint::Error::Issuer(certmint::IssuerError::KeyMismatch { .. }) => e.in_file(key),
        e => e,
    })?;
    println!(
        "# {} is usable as an issuing CA. Add to the configuration file:",
        cert.display()
    );
    println!("[[ca]]");
    println!("id = {id:?}");
    println!(
        "cert = {:?}  # followed by its intermediates, if any",
        cert.display().to_string()
    );
    let key_text = key.display().to_string();
    println!("key = {:?}", certmint::ca::redact_pins(&key_text));
    if key_text.to_ascii_lowercase().contains("pin-value=") {
        println!("# give the PIN with pin-source=file:... in the URI, or CERTMINT_PKCS11_PIN");
    }
    if let Some(pass) = pass_file {
        println!("key_pass_file = {:?}", pass.display().to_string());
    }
    println!("enabled = true");
    if rotation {
        println!("[ca.rotation]\nlifetime_days = 7\nrenew_after_days = 6");
    }
    Ok(())
}

/// Every certificate in a PEM or DER file.
pub(crate) fn read_certificates(
    path: &Path,
) -> Result<Vec<certmint::rustls::pki_types::CertificateDer<'static>>, CliError> {
    Ok(certmint::pem::read_certificates(path)?)
}
