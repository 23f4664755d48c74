//! Reaching origins: the upstream TLS client configuration (chain validation deferred to the
//! deployment), `--resolve` overrides, and the `host:port` forms the proxy and prewarm accept.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certmint::rustls::pki_types::{CertificateDer, ServerName};
use certmint::rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How long an origin may take to accept a connection, and to complete its handshake.
const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// How the proxy connects to origins.
pub(crate) struct Upstream {
    config: Arc<ClientConfig>,
    /// `host:port` → address, like curl's `--resolve`.
    overrides: HashMap<String, SocketAddr>,
}

impl Upstream {
    /// Connects as `overrides` say, else by name. The handshake defers chain validation (it
    /// still checks the handshake signature): `Deployment::lookup` validates the chain for the
    /// host and applies the untrusted-origin policy before anything is minted.
    pub(crate) fn new(overrides: HashMap<String, SocketAddr>) -> Result<Self, certmint::Error> {
        let config = ClientConfig::builder_with_provider(certmint::crypto_provider())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(certmint::danger::deferred_origin_verifier())
            .with_no_client_auth();
        Ok(Self {
            config: Arc::new(config),
            overrides,
        })
    }

    /// A TCP connection to `host:port`, within [`STEP_TIMEOUT`].
    pub(crate) async fn connect(&self, host: &str, port: u16) -> std::io::Result<TcpStream> {
        let fut = async {
            // `--resolve` entries are stored lower-case; `host` is normalised.
            match self.overrides.get(&format!("{host}:{port}")) {
                Some(addr) => TcpStream::connect(addr).await,
                None => TcpStream::connect((host, port)).await,
            }
        };
        tokio::time::timeout(STEP_TIMEOUT, fut)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
    }

    /// A TLS handshake with the origin on `tcp` for `name`, offering `alpn`, within
    /// [`STEP_TIMEOUT`] (the outer error: it ran out).
    pub(crate) async fn handshake(
        &self,
        name: ServerName<'static>,
        tcp: TcpStream,
        alpn: Vec<Vec<u8>>,
    ) -> Result<std::io::Result<TlsStream<TcpStream>>, tokio::time::error::Elapsed> {
        let mut config = (*self.config).clone();
        config.alpn_protocols = alpn;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        tokio::time::timeout(STEP_TIMEOUT, connector.connect(name, tcp)).await
    }

    /// The chain `host:port` presents for `host` (not validated here: the deployment's lookup
    /// validates it), within the connect and handshake timeouts.
    pub(crate) async fn origin_chain(
        &self,
        host: &str,
        port: u16,
    ) -> Result<Vec<CertificateDer<'static>>, String> {
        let tcp = self
            .connect(host, port)
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let name = ServerName::try_from(host.to_owned()).map_err(|e| e.to_string())?;
        let tls = self
            .handshake(name, tcp, Vec::new())
            .await
            .map_err(|_| "origin handshake timed out".to_owned())?
            .map_err(|e| format!("origin handshake: {e}"))?;
        Ok(tls
            .get_ref()
            .1
            .peer_certificates()
            .map(<[_]>::to_vec)
            .unwrap_or_default())
    }
}

/// `HOST:PORT:ADDR` → (`HOST:PORT`, ADDR:PORT); ADDR may be a bracketed IPv6 address.
pub(crate) fn parse_resolve(s: &str) -> Result<(String, SocketAddr), String> {
    let mut parts = s.splitn(3, ':');
    let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("{s:?} is not HOST:PORT:ADDR"));
    };
    let port: u16 = port.parse().map_err(|_| format!("bad port in {s:?}"))?;
    let ip: std::net::IpAddr = addr
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("bad address in {s:?}: ADDR must be an IP address"))?;
    let host = certmint::Host::parse(host).map_err(|e| format!("bad host in {s:?}: {e}"))?;
    Ok((format!("{host}:{port}"), SocketAddr::new(ip, port)))
}

/// `host:port` or `[v6]:port`, the host normalised (lower case, no trailing dot); `None` unless
/// the host is a valid DNS name or IP literal.
pub(crate) fn split_host_port(target: &str) -> Option<(String, u16)> {
    let (host, port) = target.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = certmint::Host::parse(host).ok()?;
    Some((host.to_string(), port))
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
        assert_eq!(
            split_host_port("WWW.Example.COM.:443"),
            Some(("www.example.com".into(), 443))
        );
        assert_eq!(split_host_port("a\x1b[31m.example:443"), None);
        assert_eq!(split_host_port("a\nb:443"), None);
        assert_eq!(
            parse_resolve("Origin.TEST:443:127.0.0.1").unwrap().0,
            "origin.test:443"
        );
    }
}
