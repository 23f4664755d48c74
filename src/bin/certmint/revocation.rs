//! `certmint ca revoke`, `certmint ca list-issued` and `certmint crl publish`: the record of
//! issued sub-CAs and the CRLs, from a deployment's configuration.

use std::path::{Path, PathBuf};

use certmint::config::Config;
use certmint::revocation::{RevocationReason, RevocationStore, SubCaRecord};
use certmint::rustls::pki_types::UnixTime;
use clap::{Args, Subcommand};

use crate::error::CliError;
use crate::hex;

/// What `ca revoke` revokes: exactly one of these.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub(crate) struct RevokeTarget {
    /// A sub-CA, by its subject key identifier in hex (as `ca list-issued` prints it).
    #[arg(long, value_name = "KEYID")]
    sub_ca: Option<String>,
    /// A serial number in hex, issued by the CA named with --issuer.
    #[arg(long, value_name = "HEX", requires = "issuer")]
    serial: Option<String>,
    /// A certificate file (PEM or DER): a sub-CA, or a certificate one of the configured CAs
    /// issued.
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct RevokeArgs {
    /// The deployment's configuration file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    #[command(flatten)]
    target: RevokeTarget,
    /// With --serial: the id of the configured CA that issued it.
    #[arg(long, value_name = "CA_ID")]
    issuer: Option<String>,
    /// The reason: unspecified, key-compromise, ca-compromise, affiliation-changed,
    /// superseded, cessation-of-operation, certificate-hold, privilege-withdrawn.
    #[arg(long, default_value = "unspecified", value_name = "R")]
    reason: String,
}

#[derive(Subcommand)]
pub(crate) enum CrlCommand {
    /// Write every current CRL to DIR/{key id}.crl (DER): a fresh one signed by each
    /// configured CA, and the stored CRL of every recorded sub-CA.
    Publish {
        /// The deployment's configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Where to write the CRLs (created if missing).
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
}

fn store(config: &Config) -> Result<std::sync::Arc<RevocationStore>, CliError> {
    config
        .revocation_store()?
        .ok_or(CliError::Usage("the configuration has no [revocation] dir"))
}

pub(crate) fn revoke(args: &RevokeArgs) -> Result<(), CliError> {
    let config = Config::load(&args.config)?;
    let store = store(&config)?;
    let reason: RevocationReason = args.reason.parse().map_err(certmint::Error::from)?;
    let target = &args.target;
    if let Some(key_id) = &target.sub_ca {
        let record = store.revoke_sub_ca(key_id, reason)?;
        println!(
            "revoked sub-CA {} (serial {})",
            record.key_id, record.serial
        );
    } else if let Some(serial) = &target.serial {
        let id = args.issuer.as_deref().unwrap_or_default();
        let issuer = config
            .ca_issuers()?
            .into_iter()
            .find(|(ca, _)| ca == id)
            .map(|(_, issuer)| issuer)
            .ok_or(CliError::Usage("--issuer names no configured CA"))?;
        store.revoke_serial(&hex(issuer.key_id()), serial, reason)?;
        println!("revoked serial {serial} issued by {id}");
    } else if let Some(path) = &target.cert {
        let cert = certmint::pem::read_certificates(path)?
            .into_iter()
            .next()
            .ok_or(CliError::Usage("--cert holds no certificate"))?;
        let revoked = store.revoke_certificate(&cert, reason)?;
        println!(
            "revoked serial {} ({})",
            hex(&revoked.serial),
            path.display()
        );
    }
    Ok(())
}

pub(crate) fn list_issued(config: &Path) -> Result<(), CliError> {
    let config = Config::load(config)?;
    let store = store(&config)?;
    println!(
        "{:<40} {:<40} {:>12} STATUS",
        "KEY ID", "SERIAL", "HOURS LEFT"
    );
    let now = UnixTime::now().as_secs();
    for SubCaRecord {
        key_id,
        serial,
        not_after,
        revoked,
        ..
    } in store.sub_cas()?
    {
        let status = match (&revoked, not_after.as_secs() <= now) {
            (Some(r), _) => format!("revoked ({})", r.reason.name()),
            (None, true) => "expired".to_owned(),
            (None, false) => "valid".to_owned(),
        };
        let hours = not_after.as_secs().saturating_sub(now) / 3600;
        println!("{key_id:<40} {serial:<40} {hours:>12} {status}");
    }
    Ok(())
}

pub(crate) fn run_crl(command: &CrlCommand) -> Result<(), CliError> {
    match command {
        CrlCommand::Publish { config, out_dir } => {
            let config = Config::load(config)?;
            let store = store(&config)?;
            let issuers = config.ca_issuers()?;
            let refs: Vec<_> = issuers.iter().map(|(_, i)| i.as_ref()).collect();
            for path in store.publish(&refs, out_dir)? {
                println!("{}", path.display());
            }
            Ok(())
        }
    }
}
