//! The `certmint` command-line tool. Exit codes: 0 success, 1 error (one line on stderr), 2 usage.
//!
//! One file per command group: `ca.rs` (init, csr, import), `mint.rs`, `proxy.rs` (the
//! intercepting proxy and its flags), `demo.rs`, `inspect.rs`; `files.rs` writes outputs
//! all-or-nothing; `error.rs` is the CLI's own error type.

mod ca;
mod crl_server;
mod demo;
mod error;
mod files;
mod http;
mod inspect;
mod limits;
mod logging;
mod metrics;
mod mint;
mod prewarm;
mod proxy;
mod revocation;
mod upstream;

use std::process::ExitCode;

use certmint::KeyAlgorithm;
use clap::{Parser, Subcommand};

use crate::error::CliError;

#[derive(Parser)]
#[command(
    name = "certmint",
    version,
    about = "Mint TLS interception certificates"
)]
struct Cli {
    /// Log lines as text, or as one JSON object a line (the same message, plus its fields).
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Manage CAs.
    Ca {
        #[command(subcommand)]
        command: ca::CaCommand,
    },
    /// Mint a leaf: a clone of --origin, or from --sni alone.
    Mint(mint::MintArgs),
    /// Run a self-contained interception demo on loopback.
    Demo,
    /// Run an intercepting HTTP CONNECT proxy.
    Proxy(proxy::ProxyArgs),
    /// Fetch, validate, clone and cache every host of a hosts file, as the proxy's
    /// `[cache] prewarm` does at start; report each failure.
    Prewarm(prewarm::PrewarmArgs),
    /// Print every certificate in a file as `field: value` lines.
    Inspect(inspect::InspectArgs),
    /// Publish CRLs.
    Crl {
        #[command(subcommand)]
        command: revocation::CrlCommand,
    },
}

/// Lower-case hex, as key ids and serials are printed and named.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// clap's parser for key algorithm names.
pub(crate) fn parse_key_type(s: &str) -> Result<KeyAlgorithm, String> {
    s.parse()
        .map_err(|e: certmint::UnknownKeyAlgorithm| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = if matches!(cli.command, Command::Proxy(_) | Command::Prewarm(_)) {
        "info"
    } else {
        "warn"
    };
    logging::init(cli.log_format, default_level);
    warn_about_pins_in_arguments();
    let result: Result<(), CliError> = match cli.command {
        Command::Ca { command } => ca::run(command),
        Command::Mint(args) => mint::run(&args),
        Command::Demo => demo::run(),
        Command::Proxy(args) => proxy::run(args),
        Command::Prewarm(args) => prewarm::command(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Crl { command } => revocation::run_crl(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certmint: {e}");
            ExitCode::from(1)
        }
    }
}

/// A PIN on the command line is visible to every user of the machine (`ps`): say so, without
/// repeating it.
fn warn_about_pins_in_arguments() {
    if std::env::args_os().any(|a| {
        a.to_string_lossy()
            .to_ascii_lowercase()
            .contains("pin-value=")
    }) {
        log::warn!(
            "a PKCS#11 PIN given on the command line (pin-value=) is visible to other users \
             in `ps`: use pin-source=file:/path in the URI, or CERTMINT_PKCS11_PIN"
        );
    }
}

/// A multi-threaded tokio runtime for the commands that serve.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
}
