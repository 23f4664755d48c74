//! The `certmint` command-line tool. Exit codes: 0 success, 1 error (one line on stderr), 2 usage.

mod demo;
mod files;
mod proxy;

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
    /// Run a self-contained interception demo on loopback.
    Demo,
    /// Run an intercepting HTTP CONNECT proxy.
    Proxy(ProxyArgs),
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
        #[arg(long, default_value = "p256", value_parser = parse_key_type)]
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
}

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("input").required(true).multiple(true).args(["origin", "sni"])))]
struct MintArgs {
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

#[derive(clap::Args)]
struct ProxyArgs {
    /// Address to listen on (port 0 picks one; the address is printed).
    #[arg(long)]
    listen: std::net::SocketAddr,
    /// The deployment configuration file (TOML): CAs, rules, rotation, untrusted-origin
    /// policy, cache. Replaces --ca-cert/--ca-key and the options below it covers.
    #[arg(long, conflicts_with_all = ["ca_cert", "ca_key", "untrusted_ca_cert", "untrusted_ca_key"])]
    config: Option<PathBuf>,
    /// The issuing CA certificate, optionally followed by its chain.
    #[arg(long, required_unless_present = "config")]
    ca_cert: Option<PathBuf>,
    /// The issuing CA's private key: a file or a `pkcs11:` URI.
    #[arg(long, required_unless_present = "config")]
    ca_key: Option<PathBuf>,
    /// File holding the CA key's passphrase (else CERTMINT_CA_KEY_PASS).
    #[arg(long)]
    ca_key_pass_file: Option<PathBuf>,
    /// Trust these roots (PEM) for origins instead of the Mozilla roots; repeatable.
    #[arg(long)]
    upstream_ca: Vec<PathBuf>,
    /// Connect to ADDR for HOST:PORT, like curl's --resolve; repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    resolve: Vec<(String, std::net::SocketAddr)>,
    /// CRL base URL for minted leaves.
    #[arg(long)]
    crl_url: Option<String>,
    /// What to do with an origin that fails validation: refuse it (abort the client's
    /// handshake), or mirror the distrust by minting with --untrusted-ca-cert/--untrusted-ca-key,
    /// a CA clients do not trust.
    #[arg(long, value_enum, default_value_t = Untrusted::Refuse)]
    untrusted: Untrusted,
    /// The untrusted CA's certificate (for --untrusted mirror).
    #[arg(long, required_if_eq("untrusted", "mirror"))]
    untrusted_ca_cert: Option<PathBuf>,
    /// The untrusted CA's key: a file or a `pkcs11:` URI (for --untrusted mirror).
    #[arg(long, required_if_eq("untrusted", "mirror"))]
    untrusted_ca_key: Option<PathBuf>,
    /// Cache size bound in MiB.
    #[arg(long, default_value_t = 64)]
    cache_mib: u64,
}

/// `HOST:PORT:ADDR` → (`HOST:PORT`, ADDR:PORT); ADDR may be a bracketed IPv6 address.
fn parse_resolve(s: &str) -> Result<(String, std::net::SocketAddr), String> {
    let mut parts = s.splitn(3, ':');
    let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{s:?} is not HOST:PORT:ADDR"));
    };
    let port: u16 = port.parse().map_err(|_| format!("bad port in {s:?}"))?;
    let ip: std::net::IpAddr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("bad address in {s:?}"))?;
    Ok((
        format!("{host}:{port}"),
        std::net::SocketAddr::new(ip, port),
    ))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Untrusted {
    Refuse,
    Mirror,
}

fn parse_key_type(s: &str) -> Result<KeyAlgorithm, String> {
    s.parse().map_err(|_| {
        format!("unknown key type {s:?}: use p256, p384, ed25519, rsa2048, rsa3072 or rsa4096")
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Proxy(_)) {
        "info"
    } else {
        "warn"
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default_level))
        .init();
    let result: Result<(), CliError> = match cli.command {
        Command::Demo => runtime().and_then(|rt| {
            rt.block_on(demo::run())
                .map_err(|e| CliError::Demo(e.to_string()))
        }),
        Command::Proxy(args) => {
            runtime().and_then(|rt| rt.block_on(run_proxy(args)).map_err(CliError::from))
        }
        command => run_command(command).map_err(CliError::from),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certmint: {e}");
            ExitCode::from(1)
        }
    }
}

/// The commands that need no async runtime.
fn run_command(command: Command) -> Result<(), Error> {
    match command {
        Command::Ca {
            command:
                CaCommand::Init {
                    dir,
                    key_type,
                    force,
                    encrypt,
                    ca_key_pass_file,
                },
        } => init_passphrase(encrypt, ca_key_pass_file.as_deref())
            .and_then(|pass| ca_init(&dir, key_type, force, pass.as_deref().map(|p| &p[..]))),
        Command::Ca {
            command:
                CaCommand::Csr {
                    subject,
                    key_out,
                    key_type,
                    path_len,
                    ca_key_pass_file,
                    out,
                },
        } => ca_csr(
            &subject,
            &key_out,
            key_type,
            path_len,
            ca_key_pass_file.as_deref(),
            &out,
        ),
        Command::Ca {
            command:
                CaCommand::Import {
                    cert,
                    ca_key,
                    chain,
                    ca_key_pass_file,
                    rotation,
                    id,
                },
        } => ca_import(
            &cert,
            &ca_key,
            chain.as_deref(),
            ca_key_pass_file.as_deref(),
            rotation,
            &id,
        ),
        Command::Mint(args) => mint(&args),
        Command::Inspect { file, json } => inspect(&file, json),
        Command::Demo | Command::Proxy(_) => unreachable!("run on the async runtime"),
    }
}

/// Why a command failed: a library error, or the demo's own failure.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Certmint(#[from] Error),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("demo failed: {0}")]
    Demo(String),
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}

async fn run_proxy(args: ProxyArgs) -> Result<(), Error> {
    let (resolver, untrusted, root_files) = match &args.config {
        Some(path) => {
            let deployment = certmint::config::Config::load(path)?.build()?;
            let untrusted = match (deployment.untrusted_policy, deployment.untrusted_ca) {
                (certmint::UntrustedPolicy::MirrorDistrust, Some(minter)) => Some(
                    certmint::Resolver::new(minter, Arc::clone(&deployment.cache)),
                ),
                _ => None,
            };
            let resolver = certmint::Resolver::with_store(deployment.registry, deployment.cache);
            let mut roots = deployment.upstream_roots;
            roots.extend(args.upstream_ca.iter().cloned());
            (resolver, untrusted, roots)
        }
        None => {
            let (Some(cert), Some(key)) = (&args.ca_cert, &args.ca_key) else {
                unreachable!("clap requires --ca-cert and --ca-key without --config")
            };
            let issuer = with_crl_url(
                load_issuer(cert, key, args.ca_key_pass_file.as_deref())?,
                args.crl_url.as_deref(),
            );
            // One key pool (one background generator) for the trusted and untrusted CAs.
            let keys = Arc::new(KeyPool::default());
            let minter = Minter::new(Arc::new(issuer), Arc::clone(&keys), MintPolicy::default());
            let cache = Arc::new(certmint::CertCache::new(certmint::CacheConfig {
                max_weight: args.cache_mib * 1024 * 1024,
                ..certmint::CacheConfig::default()
            }));
            let untrusted = match (
                args.untrusted,
                &args.untrusted_ca_cert,
                &args.untrusted_ca_key,
            ) {
                (Untrusted::Mirror, Some(cert), Some(key)) => {
                    let issuer = load_issuer(cert, key, None)?;
                    let minter = Minter::new(Arc::new(issuer), keys, MintPolicy::default());
                    Some(certmint::Resolver::new(
                        Arc::new(minter),
                        Arc::clone(&cache),
                    ))
                }
                _ => None,
            };
            (
                certmint::Resolver::new(Arc::new(minter), cache),
                untrusted,
                args.upstream_ca.clone(),
            )
        }
    };
    let mut roots = certmint::rustls::RootCertStore::empty();
    if root_files.is_empty() {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for path in &root_files {
        for cert in certmint::parse_certificates(&read(path)?)? {
            roots.add(cert)?;
        }
    }
    let overrides = args.resolve.into_iter().collect();
    let proxy = Arc::new(proxy::Proxy::new(resolver, roots, untrusted, overrides)?);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| Error::Io {
            path: PathBuf::from(args.listen.to_string()),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Io {
        path: PathBuf::from(args.listen.to_string()),
        source,
    })?;
    // Install the Ctrl-C handler before announcing the address, so a SIGINT that follows the
    // announcement always finds it (tokio's ctrl_c() registers only when first polled).
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|source| Error::Io {
        path: PathBuf::from("SIGINT handler"),
        source,
    })?;
    println!("listening on {addr}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    proxy
        .serve(listener, async move {
            #[cfg(unix)]
            interrupt.recv().await;
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(())
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// The passphrase `ca init --encrypt` encrypts with; an error when there is none.
fn init_passphrase(
    encrypt: bool,
    file: Option<&std::path::Path>,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, Error> {
    if !encrypt {
        return Ok(None);
    }
    match certmint::passphrase_from_sources(file)? {
        Some(pass) => Ok(Some(pass)),
        None => Err(certmint::KeyError::PassphraseSource(
            "--encrypt needs --ca-key-pass-file or CERTMINT_CA_KEY_PASS".into(),
        )
        .into()),
    }
}

/// Sets the CRL base URL leaves will name, when given.
fn with_crl_url(issuer: Issuer, crl_url: Option<&str>) -> Issuer {
    match crl_url {
        Some(url) => issuer.with_options(certmint::IssuerOptions {
            crl_base_url: url.to_owned(),
            ..certmint::IssuerOptions::default()
        }),
        None => issuer,
    }
}

/// The CA issuer from a certificate file and a key: a file that may be encrypted, or a
/// `pkcs11:` URI.
fn load_issuer(
    cert: &std::path::Path,
    key: &std::path::Path,
    pass_file: Option<&std::path::Path>,
) -> Result<Issuer, Error> {
    let chain = certmint::parse_certificates(&read(cert)?)?;
    let signer = certmint::load_signer(key, pass_file)?;
    Issuer::new(chain, signer, certmint::IssuerOptions::default())
}

fn ca_init(
    dir: &std::path::Path,
    key_type: KeyAlgorithm,
    force: bool,
    passphrase: Option<&[u8]>,
) -> Result<(), Error> {
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
    let key_pem = |der: &[u8]| match passphrase {
        Some(pass) => certmint::encrypt_private_key(der, pass),
        None => Ok(certmint::pem_encode_private_key("PRIVATE KEY", der)),
    };
    let root_key = key_pem(&ca.root_key)?;
    let intermediate_key = key_pem(&ca.intermediate_key)?;
    files::write_all(&[
        files::Output::public(dir.join(names[0]), root.as_bytes()),
        files::Output::secret(dir.join(names[1]), root_key.as_bytes()),
        files::Output::public(dir.join(names[2]), intermediate.as_bytes()),
        files::Output::secret(dir.join(names[3]), intermediate_key.as_bytes()),
    ])?;
    println!("wrote {} ({key_type}): {}", dir.display(), names.join(", "));
    Ok(())
}

fn ca_csr(
    subject: &str,
    key_out: &str,
    key_type: KeyAlgorithm,
    path_len: u8,
    pass_file: Option<&std::path::Path>,
    out: &std::path::Path,
) -> Result<(), Error> {
    if key_type == KeyAlgorithm::Ed25519 {
        return Err(certmint::KeyError::Unsupported.into());
    }
    let subject = certmint::parse_dn(subject)?;
    if certmint::Pkcs11Uri::is_uri(key_out) {
        let signer =
            certmint::Pkcs11Signer::generate(&certmint::Pkcs11Uri::parse(key_out)?, key_type)?;
        let csr = certmint::certificate_request(&signer, subject, path_len)?;
        files::write_all(&[files::Output::public(out.to_owned(), csr.as_bytes())])?;
        println!(
            "key generated in the token; request written to {}",
            out.display()
        );
        return Ok(());
    }
    let pass = certmint::passphrase_from_sources(pass_file)?.ok_or_else(|| {
        certmint::KeyError::PassphraseSource(
            "the key is written encrypted: give --ca-key-pass-file or CERTMINT_CA_KEY_PASS".into(),
        )
    })?;
    let pkcs8 = key_type.generate_pkcs8()?;
    let signer = certmint::SoftwareSigner::from_key_bytes(&pkcs8)?;
    let csr = certmint::certificate_request(&signer, subject, path_len)?;
    let key_pem = certmint::encrypt_private_key(&pkcs8, &pass)?;
    files::write_all(&[
        files::Output::secret(PathBuf::from(key_out), key_pem.as_bytes()),
        files::Output::public(out.to_owned(), csr.as_bytes()),
    ])?;
    println!("wrote {key_out} (encrypted) and {}", out.display());
    Ok(())
}

fn ca_import(
    cert: &std::path::Path,
    key: &std::path::Path,
    chain: Option<&std::path::Path>,
    pass_file: Option<&std::path::Path>,
    rotation: bool,
    id: &str,
) -> Result<(), Error> {
    let mut certs = certmint::parse_certificates(&read(cert)?)?;
    if let Some(chain) = chain {
        certs.extend(certmint::parse_certificates(&read(chain)?)?);
    }
    let signer = certmint::load_signer(key, pass_file)?;
    let issuer = certmint::check_import(certs, signer, rotation)?;
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
    println!("key = {:?}", key.display().to_string());
    if let Some(pass) = pass_file {
        println!("key_pass_file = {:?}", pass.display().to_string());
    }
    println!("enabled = true");
    if rotation {
        println!("[ca.rotation]\nlifetime_days = 7\nrenew_after_days = 6");
    }
    let _ = issuer;
    Ok(())
}

fn mint(args: &MintArgs) -> Result<(), Error> {
    let issuer = with_crl_url(
        load_issuer(
            &args.ca_cert,
            &args.ca_key,
            args.ca_key_pass_file.as_deref(),
        )?,
        args.crl_url.as_deref(),
    );
    let policy = MintPolicy::default();
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
