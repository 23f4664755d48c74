//! `certmint proxy`: an HTTP CONNECT proxy that intercepts TLS with minted clones.
//!
//! Per connection: read the CONNECT request; connect to the origin (502 if that fails); answer
//! 200; read the client's ClientHello; complete a TLS handshake with the origin offering the
//! client's ALPN protocols and validating the origin (rustls-webpki, the configured roots); mint
//! or fetch the clone on the blocking pool; terminate the client's TLS with it, offering only
//! the protocol the origin chose; relay bytes both ways. An origin that fails validation is
//! refused: the client's handshake is aborted, never served a trusted certificate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use certmint::cache::{OriginVerdict, Outcome};
use certmint::config::Config;
use certmint::rustls;
use certmint::rustls::pki_types::{CertificateDer, ServerName};
use certmint::{ClientKeySupport, Deployment, DeploymentBuilder, UntrustedPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::CliError;
use crate::limits::{idle_for_longer_than, AcceptBackoff, Activity, Conn, ConnectionTable};
use crate::metrics::{ProxyMetrics, Refusal};
use crate::upstream::{parse_resolve, split_host_port, Upstream};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("ca_source").required(true).args(["config", "ca_cert"])))]
pub(crate) struct ProxyArgs {
    /// Address to listen on (port 0 picks one; the address is printed).
    #[arg(long)]
    listen: SocketAddr,
    /// The deployment configuration file (TOML): CAs, rules, rotation, untrusted-origin
    /// policy, cache. Replaces --ca-cert/--ca-key and the options below it covers.
    #[arg(long, conflicts_with_all = ["ca_cert", "ca_key", "untrusted_ca_cert", "untrusted_ca_key"])]
    config: Option<PathBuf>,
    /// The issuing CA certificate, optionally followed by its chain (without --config).
    #[arg(long, requires = "ca_key")]
    ca_cert: Option<PathBuf>,
    /// The issuing CA's private key: a file or a `pkcs11:` URI (with --ca-cert).
    #[arg(long, requires = "ca_cert")]
    ca_key: Option<PathBuf>,
    /// File holding the CA key's passphrase (else CERTMINT_CA_KEY_PASS).
    #[arg(long)]
    ca_key_pass_file: Option<PathBuf>,
    /// Trust these roots (PEM) for origins instead of the Mozilla roots; repeatable.
    #[arg(long)]
    upstream_ca: Vec<PathBuf>,
    /// Connect to ADDR, an IP address (no name lookup), for HOST:PORT, like curl's --resolve;
    /// repeatable.
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    resolve: Vec<(String, SocketAddr)>,
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
    /// Most connections open at once (default: from the open-file limit, two descriptors per
    /// connection). At the cap, the connection idle the longest is closed to make room.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Seconds a client may take to send its CONNECT request, its ClientHello and finish its
    /// TLS handshake.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    handshake_timeout: u64,
    /// Seconds a relayed connection may move no byte before it is closed.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86400))]
    idle_timeout: u64,
    /// Cache size bound in MiB (1 to 1048576).
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=certmint::config::MAX_CACHE_MIB))]
    cache_mib: u64,
    /// Serve every CRL of the configuration (GET /{key id}.crl) on this address (overrides
    /// the configuration's `[crl] listen`; needs --config).
    #[arg(long, value_name = "ADDR:PORT", requires = "config")]
    crl_listen: Option<SocketAddr>,
    /// Serve Prometheus metrics (GET /metrics) on this address (overrides the configuration's
    /// `[metrics] listen`).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics_listen: Option<SocketAddr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Untrusted {
    Refuse,
    Mirror,
}

/// The deployment the flags describe: the configuration file's, or the one built from
/// `--ca-cert`/`--ca-key` and friends through the same builder.
fn deployment_builder(
    args: &ProxyArgs,
    config: Option<&Config>,
) -> Result<DeploymentBuilder, CliError> {
    let mut builder = match (config, &args.ca_cert, &args.ca_key) {
        (Some(config), _, _) => config.to_builder()?,
        (None, Some(cert), Some(key)) => {
            let mut builder = Deployment::builder().ca(crate::mint::ca_from_flags(
                "default",
                cert,
                key,
                args.ca_key_pass_file.as_deref(),
                args.crl_url.as_deref(),
            ));
            builder.cache_config_mut().max_weight = args.cache_mib.saturating_mul(1024 * 1024);
            if let (Untrusted::Mirror, Some(cert), Some(key)) = (
                args.untrusted,
                &args.untrusted_ca_cert,
                &args.untrusted_ca_key,
            ) {
                builder = builder
                    .untrusted_policy(UntrustedPolicy::MirrorDistrust)
                    .untrusted_ca(certmint::CaSpec::from_files("untrusted", cert, key));
            }
            builder
        }
        _ => return Err(CliError::Usage("give --config, or --ca-cert and --ca-key")),
    };
    for root in &args.upstream_ca {
        builder = builder.upstream_roots_file(root);
    }
    Ok(builder)
}

/// The CRL endpoint the configuration or `--crl-listen` asks for, its CRLs signed now.
fn crl_server(
    args: &ProxyArgs,
    config: Option<&Config>,
) -> Result<Option<(Arc<crate::crl_server::CrlServer>, SocketAddr)>, CliError> {
    let Some(config) = config else {
        return Ok(None);
    };
    let Some(addr) = args.crl_listen.or(config.crl_listen()) else {
        return Ok(None);
    };
    let store = config
        .revocation_store()?
        .ok_or(CliError::Usage("serving CRLs needs a [revocation] dir"))?;
    let issuers = config.ca_issuers()?.into_iter().map(|(_, i)| i).collect();
    Ok(Some((
        crate::crl_server::CrlServer::new(store, issuers)?,
        addr,
    )))
}

/// Re-reads the configuration (or the flags' files) and applies it to the running
/// deployment; on failure the running configuration stays and the reason is logged.
fn reload(args: &ProxyArgs, deployment: &Deployment) {
    let reloaded = match &args.config {
        Some(path) => certmint::config::reload(deployment, path),
        None => deployment_builder(args, None)
            .map_err(|e| certmint::Error::Io {
                path: PathBuf::from("--ca-cert"),
                source: Arc::new(std::io::Error::other(e.to_string())),
            })
            .and_then(|builder| deployment.reload(builder)),
    };
    match reloaded {
        Ok(report) => log::info!("configuration reloaded: {report}"),
        Err(e) => log::error!("configuration reload failed, the running one is kept: {e}"),
    }
}

/// Reloads on every SIGHUP, one at a time, on the blocking pool.
#[cfg(unix)]
fn reload_on_hangup(args: Arc<ProxyArgs>, deployment: Arc<Deployment>) -> Result<(), CliError> {
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(CliError::Signal)?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            log::info!("SIGHUP: reloading the configuration");
            let (args, deployment) = (Arc::clone(&args), Arc::clone(&deployment));
            let _ = tokio::task::spawn_blocking(move || reload(&args, &deployment)).await;
        }
    });
    Ok(())
}

/// `certmint proxy`: loads every key first (blocking work, before the runtime starts), then
/// serves until SIGINT; SIGHUP reloads the configuration.
pub(crate) fn run(args: ProxyArgs) -> Result<(), CliError> {
    let nofile = crate::limits::raise_nofile_limit();
    let limits = Limits {
        max_connections: args
            .max_connections
            .unwrap_or_else(|| crate::limits::default_max_connections(nofile)),
        handshake_timeout: Duration::from_secs(args.handshake_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
    };
    log::info!(
        "open-file limit {nofile}; at most {} connections; handshake timeout {} s; idle timeout {} s",
        limits.max_connections,
        args.handshake_timeout,
        args.idle_timeout
    );
    // The configuration file is read once; SIGHUP reads it again.
    let config = args.config.as_deref().map(Config::load).transpose()?;
    // `--metrics-listen`, else the configuration's `[metrics] listen`, else nowhere.
    let metrics_addr = args
        .metrics_listen
        .or_else(|| config.as_ref().and_then(Config::metrics_listen));
    let prewarm = match config
        .as_ref()
        .map(Config::prewarm_hosts)
        .transpose()?
        .flatten()
    {
        Some(path) => crate::prewarm::read_hosts(&path)?,
        None => Vec::new(),
    };
    let deployment = Arc::new(deployment_builder(&args, config.as_ref())?.build()?);
    // After the build, which records the first rotating sub-CAs the endpoint serves CRLs for.
    let crls = crl_server(&args, config.as_ref())?;
    let overrides = args.resolve.iter().cloned().collect();
    let proxy = Arc::new(Proxy::new(Arc::clone(&deployment), overrides)?.with_limits(limits));
    let metrics = Arc::new(crate::metrics::Metrics::new(
        &proxy.metrics,
        Arc::clone(&deployment),
    ));
    let runtime = crate::runtime()?;
    let args = Arc::new(args);
    let result = runtime.block_on(async {
        if let Some((server, addr)) = crls {
            let listener = crate::http::bind(addr).await?;
            if let Ok(local) = listener.local_addr() {
                println!("serving CRLs on {local}");
            }
            tokio::spawn(crate::crl_server::serve(server, listener));
        }
        if let Some(addr) = metrics_addr {
            let listener = crate::http::bind(addr).await?;
            if let Ok(local) = listener.local_addr() {
                println!("serving metrics on {local}");
            }
            tokio::spawn(crate::metrics::serve(metrics, listener));
        }
        #[cfg(unix)]
        reload_on_hangup(Arc::clone(&args), Arc::clone(&deployment))?;
        if !prewarm.is_empty() {
            log::info!("prewarm: {} hosts, in the background", prewarm.len());
            let run = crate::prewarm::run(
                Arc::clone(&deployment),
                Arc::clone(proxy.upstream()),
                prewarm,
                crate::prewarm::Progress::Log,
            );
            tokio::spawn(run);
        }
        serve_until_interrupted(Arc::clone(&proxy), args.listen).await
    });
    proxy.deployment.shutdown();
    result
}

async fn serve_until_interrupted(proxy: Arc<Proxy>, addr: SocketAddr) -> Result<(), CliError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| CliError::Listen { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| CliError::Listen { addr, source })?;
    // Install the Ctrl-C handler before announcing the address, so a SIGINT that follows the
    // announcement always finds it (tokio's ctrl_c() registers only when first polled).
    #[cfg(unix)]
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(CliError::Signal)?;
    println!("listening on {local}");
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

const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// How many connections, and for how long.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_connections: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// What every connection shares.
pub(crate) struct Proxy {
    deployment: Arc<Deployment>,
    upstream: Arc<Upstream>,
    limits: Limits,
    connections: ConnectionTable,
    pub(crate) metrics: Arc<ProxyMetrics>,
}

impl Proxy {
    /// A proxy minting through `deployment`, which validates origins.
    pub(crate) fn new(
        deployment: Arc<Deployment>,
        overrides: HashMap<String, SocketAddr>,
    ) -> Result<Self, certmint::Error> {
        let limits = Limits::default();
        Ok(Self {
            deployment,
            upstream: Arc::new(Upstream::new(overrides)?),
            limits,
            connections: ConnectionTable::new(limits.max_connections),
            metrics: Arc::new(ProxyMetrics::default()),
        })
    }

    pub(crate) fn with_limits(mut self, limits: Limits) -> Self {
        self.connections = ConnectionTable::new(limits.max_connections);
        self.limits = limits;
        self
    }

    pub(crate) fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    pub(crate) fn upstream(&self) -> &Arc<Upstream> {
        &self.upstream
    }

    /// Accepts connections until `shutdown` resolves.
    pub(crate) async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut backoff = AcceptBackoff::default();
        loop {
            tokio::select! {
                _ = &mut shutdown => {
                    log::info!("shutting down");
                    return;
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        backoff.succeeded();
                        let (conn, evicted) = self.connections.admit();
                        self.metrics.opened();
                        for _ in 0..evicted {
                            self.metrics.refused(Refusal::ConnectionCap);
                        }
                        let proxy = Arc::clone(&self);
                        tokio::spawn(async move {
                            let client = Activity::new(stream, Arc::clone(&conn));
                            tokio::select! {
                                result = proxy.handle(client, &conn) => {
                                    if let Err(failed) = result {
                                        if let Some(why) = failed.refusal {
                                            proxy.metrics.refused(why);
                                        }
                                        log::warn!("{peer}: {}", failed.message);
                                    }
                                }
                                () = conn.closed() => {
                                    log::debug!("{peer}: closed to make room (connection cap)");
                                }
                            }
                            proxy.connections.remove(&conn);
                            proxy.metrics.closed();
                        });
                    }
                    // Out of descriptors (or memory): wait before trying again, log rarely.
                    Err(e) => backoff.failed(&e).await,
                }
            }
        }
    }

    async fn handle(&self, mut client: Activity<TcpStream>, conn: &Conn) -> Result<(), Failed> {
        use Refusal::*;
        let handshake_deadline = tokio::time::Instant::now() + self.limits.handshake_timeout;
        let target = tokio::time::timeout_at(handshake_deadline, read_connect(&mut client))
            .await
            .map_err(|_| {
                Failed::new(HandshakeTimeout, "timed out reading the CONNECT request")
            })??;
        // The target is the client's text: only a valid host name or IP literal goes any
        // further (and into the log), normalised.
        let (host, port) = match split_host_port(&target) {
            Some(hp) => hp,
            None => {
                let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                return Err(Failed::new(
                    BadSni,
                    format!("bad CONNECT target {}", target.escape_debug()),
                ));
            }
        };
        let upstream_tcp = match self.upstream.connect(&host, port).await {
            Ok(tcp) => tcp,
            Err(e) => {
                let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                return Err(Failed::new(
                    UpstreamFailure,
                    format!("{host}:{port}: cannot connect: {e}"),
                ));
            }
        };
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .map_err(|e| Failed::from(e.to_string()))?;

        let acceptor =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), client);
        let start = tokio::time::timeout_at(handshake_deadline, acceptor)
            .await
            .map_err(|_| {
                Failed::new(
                    HandshakeTimeout,
                    format!("{host}: timed out waiting for the ClientHello"),
                )
            })?
            .map_err(|e| Failed::from(format!("{host}: reading the ClientHello: {e}")))?;
        let hello = start.client_hello();
        let sni = hello.server_name().map(str::to_owned);
        let schemes = hello.signature_schemes().to_vec();
        let alpn: Vec<Vec<u8>> = hello
            .alpn()
            .map(|a| a.map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        let name = sni.clone().unwrap_or_else(|| host.clone());

        // The origin, validated, offered the client's protocols.
        let server_name = ServerName::try_from(name.clone())
            .map_err(|e| Failed::new(BadSni, format!("{}: {e}", name.escape_debug())))?;
        let upstream = self
            .upstream
            .handshake(server_name, upstream_tcp, alpn)
            .await
            .map_err(|_| {
                Failed::new(
                    UpstreamFailure,
                    format!("{name}: origin handshake timed out"),
                )
            })?
            .map_err(|e| {
                Failed::new(
                    UpstreamFailure,
                    format!("{name}: origin refused, not intercepting: {e}"),
                )
            })?;
        let (_, session) = upstream.get_ref();
        let origin_chain: Vec<CertificateDer<'static>> = session
            .peer_certificates()
            .map(|c| c.to_vec())
            .unwrap_or_default();
        let chosen_alpn: Option<Vec<u8>> = session.alpn_protocol().map(<[u8]>::to_vec);
        let alpn_text = session
            .alpn_protocol()
            .map_or("-".to_owned(), |p| String::from_utf8_lossy(p).into_owned());

        // Validate the origin for the name, apply the untrusted-origin policy, mint or fetch
        // the clone: blocking work, on the blocking pool.
        let deployment = Arc::clone(&self.deployment);
        let host_for_mint = name.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let client = ClientKeySupport::from_schemes(&schemes);
            let lookup = deployment.lookup(Some(&host_for_mint), &origin_chain, client)?;
            let config = deployment
                .resolver()
                .server_config_serving(&lookup, chosen_alpn.as_deref())?;
            Ok::<_, certmint::Error>((config, lookup))
        })
        .await
        .map_err(|e| Failed::from(e.to_string()))?;
        let (server_config, lookup) = match prepared {
            Ok(prepared) => prepared,
            Err(e) => {
                // Tell the client with a TLS alert rather than a dropped connection.
                refuse_handshake(start, self.limits.handshake_timeout).await;
                return Err(match e {
                    certmint::Error::UntrustedOrigin(why) => Failed::new(
                        UntrustedOrigin,
                        format!("{name}: origin refused, not intercepting: {why}"),
                    ),
                    certmint::Error::Host(_) => Failed::new(BadSni, format!("{name}: {e}")),
                    e => Failed::new(MintFailure, format!("{name}: {e}")),
                });
            }
        };
        let outcome = match lookup.outcome {
            Outcome::Hit => "hit",
            Outcome::Minted => "miss",
            Outcome::Coalesced => "coalesced",
            _ => "other",
        };
        let mint_ms = lookup.mint_time.map(|t| t.as_secs_f64() * 1000.0);
        let untrusted = lookup.verdict() == OriginVerdict::Untrusted;
        log::info!(
            host = name.as_str(),
            via = format!("{host}:{port}").as_str(),
            outcome = outcome,
            mint_ms:serde = mint_ms,
            untrusted = untrusted,
            alpn = alpn_text.as_str();
            "{name} via {host}:{port}: cache {outcome}{}{} alpn={alpn_text}",
            mint_ms
                .map(|ms| format!(", minted in {ms:.2} ms"))
                .unwrap_or_default(),
            if untrusted {
                ", origin untrusted: minted with the untrusted CA"
            } else {
                ""
            },
        );

        // The origin's work (connect, handshake, mint) does not count against the client's
        // handshake time; the client's own TLS handshake has the same allowance again.
        let client_deadline = tokio::time::Instant::now() + self.limits.handshake_timeout;
        let mut client_tls =
            tokio::time::timeout_at(client_deadline, start.into_stream(server_config))
                .await
                .map_err(|_| {
                    Failed::new(
                        HandshakeTimeout,
                        format!("{name}: client handshake timed out"),
                    )
                })?
                .map_err(|e| Failed::from(format!("{name}: client handshake: {e}")))?;
        let mut upstream = upstream;
        tokio::select! {
            relayed = tokio::io::copy_bidirectional(&mut client_tls, &mut upstream) => match relayed {
                Ok(_) => Ok(()),
                // Peers that close without close_notify are common; not worth a warning.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(()),
                Err(e) => Err(Failed::from(format!("{name}: relay: {e}"))),
            },
            () = idle_for_longer_than(conn, self.limits.idle_timeout) => {
                log::info!("{name}: closed after {} s without traffic", self.limits.idle_timeout.as_secs());
                Ok(())
            }
        }
    }
}

/// Why a connection ended early: the refusal to count, if it is one, and the log line.
struct Failed {
    refusal: Option<Refusal>,
    message: String,
}

impl Failed {
    fn new(refusal: Refusal, message: impl Into<String>) -> Self {
        Self {
            refusal: Some(refusal),
            message: message.into(),
        }
    }
}

impl From<String> for Failed {
    fn from(message: String) -> Self {
        Self {
            refusal: None,
            message,
        }
    }
}

/// Ends a client's handshake with a TLS alert (rustls sends `access_denied` when no certificate
/// resolves), so the client sees a refusal rather than a dropped connection.
async fn refuse_handshake<IO>(start: tokio_rustls::StartHandshake<IO>, limit: Duration)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    #[derive(Debug)]
    struct NoCertificate;
    impl rustls::server::ResolvesServerCert for NoCertificate {
        fn resolve(
            &self,
            _hello: rustls::server::ClientHello<'_>,
        ) -> Option<Arc<rustls::sign::CertifiedKey>> {
            None
        }
    }
    let Ok(builder) = certmint::server_config_builder() else {
        return;
    };
    let config = builder
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(NoCertificate));
    let _ = tokio::time::timeout(limit, start.into_stream(Arc::new(config))).await;
}

/// Reads the request head and returns the CONNECT target; answers 405 to anything else.
async fn read_connect(
    client: &mut (impl AsyncReadExt + AsyncWriteExt + Unpin),
) -> Result<String, Failed> {
    let mut head = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    // Byte by byte, so nothing after the head (the ClientHello) is consumed.
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_REQUEST_HEAD {
            return Err(Failed::new(Refusal::NotConnect, "request head too large"));
        }
        match client.read(&mut byte).await {
            Ok(0) => return Err("client closed before sending a request".to_owned().into()),
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(e.to_string().into()),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut parts = text.lines().next().unwrap_or_default().split_whitespace();
    match (parts.next(), parts.next(), parts.next()) {
        (Some("CONNECT"), Some(target), Some(version)) if version.starts_with("HTTP/1.") => {
            Ok(target.to_owned())
        }
        _ => {
            let _ = client
                .write_all(b"HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nContent-Length: 0\r\n\r\n")
                .await;
            Err(Failed::new(Refusal::NotConnect, "not a CONNECT request"))
        }
    }
}
