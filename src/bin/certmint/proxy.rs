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
use std::sync::Arc;
use std::time::Duration;

use certmint::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use certmint::rustls::{self, ClientConfig, RootCertStore};
use certmint::{OriginVerifier, Outcome, Resolver};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a client may take to send its CONNECT request and ClientHello, and the origin to
/// accept and complete its handshake.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// What every connection shares.
pub(crate) struct Proxy {
    resolver: Resolver,
    /// Mints for origins that fail validation, under a CA clients do not trust; `None`
    /// refuses such origins.
    untrusted: Option<Resolver>,
    verifier: OriginVerifier,
    upstream: Arc<ClientConfig>,
    /// `host:port` → address, like curl's `--resolve`.
    overrides: HashMap<String, SocketAddr>,
}

impl Proxy {
    /// A proxy validating origins against `roots`.
    pub(crate) fn new(
        resolver: Resolver,
        roots: RootCertStore,
        untrusted: Option<Resolver>,
        overrides: HashMap<String, SocketAddr>,
    ) -> Result<Self, certmint::Error> {
        // The upstream handshake defers chain validation (it still checks the handshake
        // signature) so the proxy can apply its untrusted-origin policy itself.
        let upstream = ClientConfig::builder_with_provider(certmint::crypto_provider())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(OriginVerifier::deferred())
            .with_no_client_auth();
        Ok(Self {
            resolver,
            untrusted,
            verifier: OriginVerifier::new(roots)?,
            upstream: Arc::new(upstream),
            overrides,
        })
    }

    pub(crate) fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Accepts connections until `shutdown` resolves.
    pub(crate) async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => {
                    log::info!("shutting down");
                    return;
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let proxy = Arc::clone(&self);
                        tokio::spawn(async move {
                            if let Err(e) = proxy.handle(stream).await {
                                log::warn!("{peer}: {e}");
                            }
                        });
                    }
                    Err(e) => log::warn!("accept: {e}"),
                }
            }
        }
    }

    async fn handle(&self, mut client: TcpStream) -> Result<(), String> {
        let target = tokio::time::timeout(STEP_TIMEOUT, read_connect(&mut client))
            .await
            .map_err(|_| "timed out reading the CONNECT request".to_owned())??;
        let (host, port) = match split_host_port(&target) {
            Some(hp) => hp,
            None => {
                let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
                return Err(format!("bad CONNECT target {target:?}"));
            }
        };
        let upstream_tcp = match self.connect_upstream(&host, port).await {
            Ok(tcp) => tcp,
            Err(e) => {
                let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
                return Err(format!("{host}:{port}: cannot connect: {e}"));
            }
        };
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;

        let acceptor =
            tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), client);
        let start = tokio::time::timeout(STEP_TIMEOUT, acceptor)
            .await
            .map_err(|_| format!("{host}: timed out waiting for the ClientHello"))?
            .map_err(|e| format!("{host}: reading the ClientHello: {e}"))?;
        let hello = start.client_hello();
        let sni = hello.server_name().map(str::to_owned);
        let schemes = hello.signature_schemes().to_vec();
        let alpn: Vec<Vec<u8>> = hello
            .alpn()
            .map(|a| a.map(<[u8]>::to_vec).collect())
            .unwrap_or_default();
        let name = sni.clone().unwrap_or_else(|| host.clone());

        // The origin, validated, offered the client's protocols.
        let mut config = (*self.upstream).clone();
        config.alpn_protocols = alpn;
        let server_name = ServerName::try_from(name.clone()).map_err(|e| format!("{name}: {e}"))?;
        let upstream = tokio::time::timeout(
            STEP_TIMEOUT,
            tokio_rustls::TlsConnector::from(Arc::new(config))
                .connect(server_name.clone(), upstream_tcp),
        )
        .await
        .map_err(|_| format!("{name}: origin handshake timed out"))?
        .map_err(|e| format!("{name}: origin refused, not intercepting: {e}"))?;
        let (_, session) = upstream.get_ref();
        let origin_chain: Vec<CertificateDer<'static>> = session
            .peer_certificates()
            .map(|c| c.to_vec())
            .unwrap_or_default();
        let chosen_alpn: Vec<Vec<u8>> = session
            .alpn_protocol()
            .map(|p| vec![p.to_vec()])
            .unwrap_or_default();
        let alpn_text = session
            .alpn_protocol()
            .map_or("-".to_owned(), |p| String::from_utf8_lossy(p).into_owned());

        let resolver = match self
            .verifier
            .verify(&origin_chain, &server_name, UnixTime::now())
        {
            Ok(()) => self.resolver.clone(),
            Err(e) => match &self.untrusted {
                Some(untrusted) => {
                    log::warn!("{name}: origin untrusted ({e}); minting with the untrusted CA");
                    untrusted.clone()
                }
                None => return Err(format!("{name}: origin refused, not intercepting: {e}")),
            },
        };
        let host_for_mint = name.clone();
        let (server_config, lookup) = tokio::task::spawn_blocking(move || {
            resolver.prepare_server_config(
                Some(&host_for_mint),
                &origin_chain,
                &schemes,
                chosen_alpn,
            )
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("{name}: {e}"))?;
        log::info!(
            "{name} via {host}:{port}: cache {}{} alpn={alpn_text}",
            match lookup.outcome {
                Outcome::Hit => "hit",
                Outcome::Minted => "miss",
                Outcome::Coalesced => "coalesced",
            },
            lookup
                .mint_time
                .map(|t| format!(", minted in {:.2} ms", t.as_secs_f64() * 1000.0))
                .unwrap_or_default(),
        );

        let mut client_tls = tokio::time::timeout(STEP_TIMEOUT, start.into_stream(server_config))
            .await
            .map_err(|_| format!("{name}: client handshake timed out"))?
            .map_err(|e| format!("{name}: client handshake: {e}"))?;
        let mut upstream = upstream;
        match tokio::io::copy_bidirectional(&mut client_tls, &mut upstream).await {
            Ok(_) => Ok(()),
            // Peers that close without close_notify are common; not worth a warning.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(()),
            Err(e) => Err(format!("{name}: relay: {e}")),
        }
    }

    async fn connect_upstream(&self, host: &str, port: u16) -> std::io::Result<TcpStream> {
        let fut = async {
            match self.overrides.get(&format!("{host}:{port}")) {
                Some(addr) => TcpStream::connect(addr).await,
                None => TcpStream::connect((host, port)).await,
            }
        };
        tokio::time::timeout(STEP_TIMEOUT, fut)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
    }
}

/// Reads the request head and returns the CONNECT target; answers 405 to anything else.
async fn read_connect(client: &mut TcpStream) -> Result<String, String> {
    let mut head = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    // Byte by byte, so nothing after the head (the ClientHello) is consumed.
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_REQUEST_HEAD {
            return Err("request head too large".into());
        }
        match client.read(&mut byte).await {
            Ok(0) => return Err("client closed before sending a request".into()),
            Ok(_) => head.push(byte[0]),
            Err(e) => return Err(e.to_string()),
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
            Err("not a CONNECT request".into())
        }
    }
}

/// `host:port` or `[v6]:port`.
fn split_host_port(target: &str) -> Option<(String, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    (!host.is_empty()).then(|| (host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split() {
        assert_eq!(
            split_host_port("a.example:443"),
            Some(("a.example".into(), 443))
        );
        assert_eq!(split_host_port("[::1]:8443"), Some(("::1".into(), 8443)));
        assert_eq!(split_host_port("a.example"), None);
        assert_eq!(split_host_port(":443"), None);
    }
}
