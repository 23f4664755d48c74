//! The `certmint` command-line tool. Exit codes: 0 success, 1 error (one line on stderr), 2 usage.

mod files;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use certmint::inspect::CertificateInfo;
use certmint::rustls::pki_types::CertificateDer;
use certmint::{
    Error, Issuer, KeyAlgorithm, KeyPool, MintPolicy, MintRequest, Minter, ThrowawayCa,
};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "certmint",
    version,
    about = "Mint TLS interception certificates"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage CAs.
    Ca {
        #[command(subcommand)]
        command: CaCommand,
    },
    /// Mint a leaf: a clone of --origin, or from --sni alone.
    Mint(MintArgs),
    /// Print every certificate in a file as `field: value` lines.
    Inspect {
        /// PEM or DER file.
        file: PathBuf,
        /// Print JSON (an array of objects) instead.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum CaCommand {
    /// Write a throwaway test hierarchy: root.pem, root-key.pem, intermediate.pem,
    /// intermediate-key.pem (keys unencrypted, mode 0600). Not for production.
    Init {
        /// Directory to write into (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// p256, p384, ed25519, rsa2048, rsa3072 or rsa4096.
        #[arg(long, default_value = "p256", value_parser = parse_key_type)]
        key_type: KeyAlgorithm,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).multiple(true).args(["origin", "sni"])))]
struct MintArgs {
    /// The issuing CA certificate, optionally followed by the rest of its chain (PEM or DER).
    #[arg(long)]
    ca_cert: PathBuf,
    /// The issuing CA's private key (PEM or DER; PKCS#8, SEC1 or PKCS#1).
    #[arg(long)]
    ca_key: PathBuf,
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
    #[arg(long, value_parser = parse_key_type)]
    key_type: Option<KeyAlgorithm>,
    /// Where to write the leaf followed by the chain (root excluded), PEM.
    #[arg(long)]
    out: PathBuf,
    /// Where to write the leaf key (PKCS#8 PEM, mode 0600); without it the key is appended to
    /// --out.
    #[arg(long)]
    key_out: Option<PathBuf>,
}

fn parse_key_type(s: &str) -> Result<KeyAlgorithm, String> {
    s.parse().map_err(|_| {
        format!("unknown key type {s:?}: use p256, p384, ed25519, rsa2048, rsa3072 or rsa4096")
    })
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ca {
            command:
                CaCommand::Init {
                    dir,
                    key_type,
                    force,
                },
        } => ca_init(&dir, key_type, force),
        Command::Mint(args) => mint(&args),
        Command::Inspect { file, json } => inspect(&file, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certmint: {e}");
            ExitCode::from(1)
        }
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn ca_init(dir: &std::path::Path, key_type: KeyAlgorithm, force: bool) -> Result<(), Error> {
    let names = [
        "root.pem",
        "root-key.pem",
        "intermediate.pem",
        "intermediate-key.pem",
    ];
    if !force {
        if let Some(existing) = names.iter().map(|n| dir.join(n)).find(|p| p.exists()) {
            return Err(Error::Io {
                path: existing,
                source: std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "already exists (use --force to overwrite)",
                ),
            });
        }
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_owned(),
        source,
    })?;
    let ca = ThrowawayCa::generate(key_type)?;
    let root = certmint::pem_encode("CERTIFICATE", ca.root.as_ref());
    let intermediate = certmint::pem_encode("CERTIFICATE", ca.intermediate.as_ref());
    let root_key = certmint::pem_encode_private_key("PRIVATE KEY", &ca.root_key);
    let intermediate_key = certmint::pem_encode_private_key("PRIVATE KEY", &ca.intermediate_key);
    files::write_all(&[
        files::Output::public(dir.join(names[0]), root.as_bytes()),
        files::Output::secret(dir.join(names[1]), root_key.as_bytes()),
        files::Output::public(dir.join(names[2]), intermediate.as_bytes()),
        files::Output::secret(dir.join(names[3]), intermediate_key.as_bytes()),
    ])?;
    println!("wrote {} ({key_type}): {}", dir.display(), names.join(", "));
    Ok(())
}

fn mint(args: &MintArgs) -> Result<(), Error> {
    let issuer = Issuer::from_files(&args.ca_cert, &args.ca_key)?;
    let mut policy = MintPolicy::default();
    if let Some(url) = &args.crl_url {
        policy.crl_base_url = url.clone();
    }
    let minter = Minter::new(Arc::new(issuer), Arc::new(KeyPool::inline()), policy);
    let origin: Option<CertificateDer<'static>> = match &args.origin {
        Some(path) => Some(
            certmint::parse_certificates(&read(path)?)?
                .into_iter()
                .next()
                .ok_or(certmint::EncodingError::NoCertificate)?,
        ),
        None => None,
    };
    let request = MintRequest {
        origin: origin.as_ref(),
        host: args.sni.as_deref(),
        key_algorithm: args.key_type,
        now: None,
    };
    let minted = minter.mint(&request)?;
    let mut chain_pem: String = minted
        .chain()
        .iter()
        .map(|c| certmint::pem_encode("CERTIFICATE", c.as_ref()))
        .collect();
    let key_pem = certmint::pem_encode_private_key(
        "PRIVATE KEY",
        minted.private_key_pkcs8().secret_pkcs8_der(),
    );
    match &args.key_out {
        Some(key_out) => files::write_all(&[
            files::Output::public(args.out.clone(), chain_pem.as_bytes()),
            files::Output::secret(key_out.clone(), key_pem.as_bytes()),
        ]),
        None => {
            // The key goes into --out too, so that file is written as a secret.
            chain_pem.push_str(&key_pem);
            let all = zeroize::Zeroizing::new(chain_pem);
            files::write_all(&[files::Output::secret(args.out.clone(), all.as_bytes())])
        }
    }
}

fn inspect(file: &std::path::Path, json: bool) -> Result<(), Error> {
    let certs = certmint::parse_certificates(&read(file)?)?;
    let infos = certs
        .iter()
        .map(|c| CertificateInfo::parse(c.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    if json {
        let items: Vec<String> = infos.iter().map(CertificateInfo::to_json).collect();
        println!("[{}]", items.join(","));
    } else {
        for (i, info) in infos.iter().enumerate() {
            if i > 0 {
                println!();
            }
            println!("certificate: {i}");
            print!("{}", info.to_text());
        }
    }
    Ok(())
}
