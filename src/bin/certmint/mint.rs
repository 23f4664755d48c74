//! `certmint mint`: one leaf, a clone of `--origin` or from `--sni` alone, written as PEM.

use std::path::PathBuf;

use certmint::ca::IssuerOptions;
use certmint::keys::{KeyPoolConfig, Secret};
use certmint::{CaSpec, Deployment, KeyAlgorithm, MintRequest};

use crate::error::CliError;
use crate::files::{self, Output};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).multiple(true).args(["origin", "sni"])))]
pub(crate) struct MintArgs {
    /// The issuing CA certificate, optionally followed by the rest of its chain (PEM or DER).
    #[arg(long)]
    ca_cert: PathBuf,
    /// The issuing CA's private key (PEM or DER; PKCS#8, encrypted PKCS#8, SEC1 or PKCS#1), or
    /// a `pkcs11:` URI (RFC 7512) naming a key in a token.
    #[arg(long)]
    ca_key: PathBuf,
    /// File holding the CA key's passphrase (else CERTMINT_CA_KEY_PASS).
    #[arg(long)]
    ca_key_pass_file: Option<PathBuf>,
    /// The origin certificate to clone (PEM or DER; the first certificate of a chain).
    #[arg(long)]
    origin: Option<PathBuf>,
    /// The host (SNI): the leaf's name for host-only mints, and its subjectAltName when the
    /// origin has none.
    #[arg(long)]
    sni: Option<String>,
    /// CRL base URL: the leaf's CRL distribution point is URL/<issuer key id hex>.crl.
    #[arg(long)]
    crl_url: Option<String>,
    /// Leaf key algorithm (default: the origin's, or p256 for host-only mints).
    #[arg(long, value_parser = crate::parse_key_type)]
    key_type: Option<KeyAlgorithm>,
    /// Where to write the leaf followed by the chain (root excluded), PEM.
    #[arg(long)]
    out: PathBuf,
    /// Where to write the leaf key (PKCS#8 PEM, mode 0600); without it the key is appended to
    /// --out.
    #[arg(long)]
    key_out: Option<PathBuf>,
    /// Replace existing output files.
    #[arg(long)]
    force: bool,
}

/// The CA given by `--ca-cert`/`--ca-key`/`--ca-key-pass-file`/`--crl-url`, as the
/// configuration file would describe it.
pub(crate) fn ca_from_flags(
    id: &str,
    cert: &std::path::Path,
    key: &std::path::Path,
    pass_file: Option<&std::path::Path>,
    crl_url: Option<&str>,
) -> CaSpec {
    let mut spec = CaSpec::from_files(id, cert, key);
    if let Some(pass) = pass_file {
        spec = spec.with_passphrase_file(pass);
    }
    if let Some(url) = crl_url {
        spec = spec.with_options(IssuerOptions::default().with_crl_base_url(url));
    }
    spec
}

pub(crate) fn run(args: &MintArgs) -> Result<(), CliError> {
    let mut outputs = vec![args.out.as_path()];
    outputs.extend(args.key_out.as_deref());
    files::check_outputs(&outputs, args.force)?;
    let mut keys = KeyPoolConfig::default();
    keys.background = false;
    let deployment = Deployment::builder()
        .ca(ca_from_flags(
            "cli",
            &args.ca_cert,
            &args.ca_key,
            args.ca_key_pass_file.as_deref(),
            args.crl_url.as_deref(),
        ))
        .key_pool_config(keys)
        .build()?;
    let origin = match &args.origin {
        Some(path) => Some(
            crate::ca::read_certificates(path)?
                .into_iter()
                .next()
                .ok_or(certmint::Error::from(
                    certmint::EncodingError::NoCertificate,
                ))?,
        ),
        None => None,
    };
    let mut request = MintRequest::default();
    if let Some(origin) = &origin {
        request = request.with_origin(origin);
    }
    if let Some(host) = &args.sni {
        request = request.with_host(host);
    }
    if let Some(alg) = args.key_type {
        request = request.with_key_algorithm(alg);
    }
    let minted = deployment.mint(&request)?;
    let chain_pem = certmint::pem::encode_chain(minted.chain());
    let key_pem = minted.private_key().to_pem();
    match &args.key_out {
        Some(key_out) => files::write_all(
            &[
                Output::public(args.out.clone(), chain_pem.as_bytes()),
                Output::secret(key_out.clone(), key_pem.as_bytes()),
            ],
            args.force,
        ),
        None => {
            // The key goes into --out too, so that file is written as a secret.
            let mut all = chain_pem.into_bytes();
            all.extend_from_slice(key_pem.as_bytes());
            let all = Secret::from(all);
            files::write_all(
                &[Output::secret(args.out.clone(), all.as_bytes())],
                args.force,
            )
        }
    }
}
