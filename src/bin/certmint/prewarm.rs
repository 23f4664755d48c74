//! Prewarming the cache: `[cache] prewarm = "hosts.txt"` at proxy start (in the background,
//! the listener does not wait), and `certmint prewarm --config FILE --hosts FILE`.
//!
//! Each `host[:port]` (port 443 by default) is fetched as the proxy fetches an origin: its
//! chain is validated for the host against the deployment's roots (refused, or cloned under
//! the untrusted CA, as the configuration says), then the clone is minted and cached, with the
//! leaf key a browser would get (the origin's family; never Ed25519).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use certmint::rustls::SignatureScheme;
use certmint::{ClientKeySupport, Deployment, Host};

use crate::error::CliError;
use crate::upstream::{parse_resolve, split_host_port, Upstream};

/// Origins fetched at once.
const CONCURRENCY: usize = 8;
/// Lists at least this long log their progress every 10%.
const LONG_LIST: usize = 20;

#[derive(clap::Args)]
pub(crate) struct PrewarmArgs {
    /// The proxy's configuration file.
    #[arg(long)]
    config: PathBuf,
    /// The hosts, one `host[:port]` a line, `#` comments (default: the configuration's
    /// `[cache] prewarm`).
    #[arg(long)]
    hosts: Option<PathBuf>,
    /// Connect to ADDR for HOST:PORT (like curl's --resolve), repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    resolve: Vec<(String, std::net::SocketAddr)>,
}

/// One line of a hosts file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// Reads a hosts file: one `host[:port]` a line (an IPv6 literal in brackets), blank lines and
/// `#` comments ignored. A bad line is an error naming it.
pub(crate) fn read_hosts(path: &Path) -> Result<Vec<Target>, CliError> {
    let text = std::fs::read_to_string(path).map_err(|source| certmint::Error::Io {
        path: path.to_owned(),
        source: Arc::new(source),
    })?;
    parse_hosts(&text)
        .map_err(|(line, why)| CliError::Hosts(format!("{}: line {line}: {why}", path.display())))
}

fn parse_hosts(text: &str) -> Result<Vec<Target>, (usize, String)> {
    let mut targets = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (host, port) = split_host_port(line).unwrap_or_else(|| {
            let bare = line.trim_start_matches('[').trim_end_matches(']');
            (bare.to_owned(), 443)
        });
        let host = Host::parse(&host)
            .map_err(|e| (n + 1, format!("{:?}: {e}", line)))?
            .to_string();
        if port == 0 {
            return Err((n + 1, format!("{line:?}: port 0")));
        }
        targets.push(Target { host, port });
    }
    Ok(targets)
}

/// How a run went.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub(crate) warmed: usize,
    pub(crate) failed: Vec<(String, String)>,
}

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    /// A log line every 10% (for lists of at least 20 hosts), and one at the end.
    Log,
    /// A bar redrawn on standard error (a terminal).
    Bar,
}

/// Fetches, validates, mints and caches every target, `CONCURRENCY` at a time.
pub(crate) async fn run(
    deployment: Arc<Deployment>,
    upstream: Arc<Upstream>,
    targets: Vec<Target>,
    progress: Progress,
) -> Summary {
    let total = targets.len();
    let started = Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let mut tasks = tokio::task::JoinSet::new();
    for target in targets {
        let (deployment, upstream) = (Arc::clone(&deployment), Arc::clone(&upstream));
        let limit = Arc::clone(&limit);
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let result = warm(deployment, &upstream, &target).await;
            (target, result)
        });
    }
    let mut summary = Summary::default();
    let mut shown_decile = 0;
    while let Some(joined) = tasks.join_next().await {
        let Ok((target, result)) = joined else {
            continue;
        };
        match result {
            Ok(()) => summary.warmed += 1,
            Err(why) => {
                log::warn!("prewarm: {}:{}: {why}", target.host, target.port);
                summary
                    .failed
                    .push((format!("{}:{}", target.host, target.port), why));
            }
        }
        let n = summary.warmed + summary.failed.len();
        match progress {
            Progress::Bar => draw_bar(n, total, summary.failed.len()),
            Progress::Log if total >= LONG_LIST => {
                let decile = n * 10 / total;
                if decile > shown_decile && n < total {
                    shown_decile = decile;
                    log::info!(
                        "prewarm: {n} of {total} hosts ({}%), {} failed",
                        decile * 10,
                        summary.failed.len()
                    );
                }
            }
            Progress::Log => {}
        }
    }
    if progress == Progress::Bar {
        eprintln!();
    }
    log::info!(
        "prewarm: done in {:.1} s: {} of {total} hosts warmed, {} failed",
        started.elapsed().as_secs_f64(),
        summary.warmed,
        summary.failed.len()
    );
    summary
}

fn draw_bar(done: usize, total: usize, failed: usize) {
    const WIDTH: usize = 40;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r[{}{}] {done}/{total} ({failed} failed)",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    );
    let _ = err.flush();
}

/// What a browser verifies: ECDSA (P-256, P-384) and RSA, not Ed25519.
fn browser_keys() -> ClientKeySupport {
    use SignatureScheme as S;
    ClientKeySupport::from_schemes(&[
        S::ECDSA_NISTP256_SHA256,
        S::ECDSA_NISTP384_SHA384,
        S::RSA_PSS_SHA256,
        S::RSA_PKCS1_SHA256,
    ])
}

/// One target: the origin's chain, then the lookup (validate, mint, cache) on the blocking
/// pool.
async fn warm(
    deployment: Arc<Deployment>,
    upstream: &Upstream,
    target: &Target,
) -> Result<(), String> {
    let chain = upstream.origin_chain(&target.host, target.port).await?;
    let host = target.host.clone();
    tokio::task::spawn_blocking(move || {
        deployment
            .lookup(Some(&host), &chain, browser_keys())
            .map(drop)
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

/// `certmint prewarm`: warms a deployment's cache from a hosts file and reports; exit status 1
/// when any host failed. (The cache is this process's: the command checks what the proxy's
/// `[cache] prewarm` will do, and how long it takes.)
pub(crate) fn command(args: &PrewarmArgs) -> Result<(), CliError> {
    let config = certmint::config::Config::load(&args.config)?;
    let hosts = match (&args.hosts, config.prewarm_hosts()?) {
        (Some(path), _) => path.clone(),
        (None, Some(path)) => path,
        (None, None) => {
            return Err(CliError::Usage(
                "give --hosts, or set [cache] prewarm in the configuration",
            ))
        }
    };
    let targets = read_hosts(&hosts)?;
    let deployment = Arc::new(config.into_builder()?.build()?);
    let upstream = Arc::new(Upstream::new(args.resolve.iter().cloned().collect())?);
    let progress = if std::io::stderr().is_terminal() {
        Progress::Bar
    } else {
        Progress::Log
    };
    let total = targets.len();
    let summary =
        crate::runtime()?.block_on(run(Arc::clone(&deployment), upstream, targets, progress));
    deployment.shutdown();
    println!(
        "warmed {} of {total} hosts ({} failed)",
        summary.warmed,
        summary.failed.len()
    );
    for (target, why) in &summary.failed {
        println!("failed {target}: {why}");
    }
    if summary.failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::Prewarm(summary.failed.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_files_parse_with_ports_comments_and_line_numbers() {
        let text = "# warm these\nexample.com\nshop.example:8443  # a comment\n\n[::1]:444\n10.0.0.1\n[2001:db8::1]\n";
        let t = parse_hosts(text).unwrap();
        let got: Vec<_> = t.iter().map(|t| (t.host.as_str(), t.port)).collect();
        assert_eq!(
            got,
            [
                ("example.com", 443),
                ("shop.example", 8443),
                ("::1", 444),
                ("10.0.0.1", 443),
                ("2001:db8::1", 443)
            ]
        );
        assert_eq!(parse_hosts("ok.example\nbad host\n").unwrap_err().0, 2);
        assert_eq!(parse_hosts("a.example:0\n").unwrap_err().0, 1);
        assert_eq!(parse_hosts("a.example:99999\n").unwrap_err().0, 1);
    }
}
