//! The CLI's own errors: the library's, plus what only a command-line tool runs into (usage,
//! sockets, writing outputs, the demo's own verdict).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error(transparent)]
    Certmint(#[from] certmint::Error),
    #[error("{0}")]
    Usage(&'static str),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install the SIGINT handler: {0}")]
    Signal(std::io::Error),
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: already exists (use --force to replace it)", .0.display())]
    Exists(PathBuf),
    #[error("bad hosts file: {0}")]
    Hosts(String),
    #[error("{0} hosts could not be warmed (listed above)")]
    Prewarm(usize),
    #[error("demo failed: {0}")]
    Demo(String),
}
