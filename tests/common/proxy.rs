//! A real `certmint proxy` process over loopback, TLS origins for it, and clients through it.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use certmint::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use certmint::rustls::{self, ServerConfig};
use certmint::{testing::ThrowawayCa, KeyAlgorithm};

use super::*;

// ---------------------------------------------------------------- a TLS origin

pub struct Origin {
    pub addr: SocketAddr,
    pub config: Arc<Mutex<Arc<ServerConfig>>>,
}

pub fn origin_config(
    cert: CertificateDer<'static>,
    key: &rcgen::KeyPair,
    alpn: &[&[u8]],
) -> Arc<ServerConfig> {
    let mut config = ServerConfig::builder_with_provider(certmint::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// Serves `config` on loopback: reads one request head, answers with a body naming the
/// negotiated protocol.
pub fn start_origin(config: Arc<ServerConfig>) -> Origin {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let config = Arc::new(Mutex::new(config));
    let shared = Arc::clone(&config);
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = Arc::clone(&*shared.lock().unwrap());
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let alpn = tls
                    .conn
                    .alpn_protocol()
                    .map(|p| String::from_utf8_lossy(p).into_owned());
                let body = format!(
                    "origin says hi over {}\n",
                    alpn.as_deref().unwrap_or("no-alpn")
                );
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes());
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    Origin { addr, config }
}

// ---------------------------------------------------------------- the proxy process

pub struct ProxyProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub served: HashMap<String, SocketAddr>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Drop for ProxyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ProxyProcess {
    pub fn start(dir: &Path, ca: &ThrowawayCa, resolve: &[(&str, SocketAddr)]) -> Self {
        Self::start_with(dir, ca, resolve, &[])
    }

    pub fn start_with(
        dir: &Path,
        ca: &ThrowawayCa,
        resolve: &[(&str, SocketAddr)],
        extra: &[&str],
    ) -> Self {
        Self::start_limited(dir, ca, resolve, extra, None)
    }

    /// As `start_with`, with the open-file limit (soft and hard) set to `nofile` when given,
    /// as `ulimit -n` would.
    pub fn start_limited(
        dir: &Path,
        ca: &ThrowawayCa,
        resolve: &[(&str, SocketAddr)],
        extra: &[&str],
        nofile: Option<u64>,
    ) -> Self {
        std::fs::write(
            dir.join("inter.pem"),
            test_cert_pem(ca.intermediate.as_ref()),
        )
        .unwrap();
        std::fs::write(
            dir.join("inter-key.pem"),
            test_key_pem(&ca.intermediate_key).as_bytes(),
        )
        .unwrap();
        std::fs::write(
            dir.join("public.pem"),
            test_cert_pem(public_ca().issuer.der().as_ref()),
        )
        .unwrap();
        let mut cmd = proxy_command(
            dir,
            &[
                "--ca-cert",
                "inter.pem",
                "--ca-key",
                "inter-key.pem",
                "--upstream-ca",
                "public.pem",
            ],
            resolve,
            extra,
        );
        if let Some(limit) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let rlim = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        Self::spawn(cmd)
    }

    /// Starts `cmd` (a `certmint proxy` with piped stdout and stderr) and reads its stdout up
    /// to the `listening on ADDR` line; `serving WHAT on ADDR` lines before it are kept in
    /// `served`. Its stderr is collected in `log`.
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut served = HashMap::new();
        let addr = loop {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            let line = line.trim();
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.parse().unwrap();
            }
            match line
                .strip_prefix("serving ")
                .and_then(|l| l.rsplit_once(" on "))
            {
                Some((what, addr)) => {
                    served.insert(what.to_owned(), addr.parse().unwrap());
                }
                None => {
                    let _ = child.kill();
                    std::thread::sleep(Duration::from_millis(200));
                    panic!("proxy did not start: {line:?} {:#?}", log.lock().unwrap());
                }
            }
        };
        Self {
            child,
            addr,
            served,
            log,
        }
    }

    /// A `certmint proxy --config FILE` in `dir`, with `--resolve` for each origin and `extra`
    /// flags.
    pub fn from_config(
        dir: &Path,
        config: &str,
        resolve: &[(&str, SocketAddr)],
        extra: &[&str],
    ) -> Self {
        Self::spawn(proxy_command(dir, &["--config", config], resolve, extra))
    }

    /// Where the proxy serves `what` (`"CRLs"`, `"metrics"`).
    pub fn served(&self, what: &str) -> SocketAddr {
        self.served[what]
    }

    /// Waits (briefly) for a log line containing every needle, and returns it.
    pub fn wait_for_log(&self, needles: &[&str]) -> String {
        self.wait_for_log_within(Duration::from_secs(10), needles)
    }

    /// As `wait_for_log`, waiting at most `limit`.
    pub fn wait_for_log_within(&self, limit: Duration, needles: &[&str]) -> String {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(l) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|l| needles.iter().all(|n| l.contains(n)))
            {
                return l.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no log line with {needles:?}: {:#?}",
                self.log.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log_count(&self, needle: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }
}

/// `certmint proxy --listen 127.0.0.1:0` in `dir` with the CA flags `source` (`--config FILE`,
/// or `--ca-cert`/`--ca-key`...), `--resolve` for each origin, then `extra`; info logging, stdout
/// and stderr piped.
fn proxy_command(
    dir: &Path,
    source: &[&str],
    resolve: &[(&str, SocketAddr)],
    extra: &[&str],
) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_certmint"));
    cmd.args(["proxy", "--listen", "127.0.0.1:0"])
        .args(source)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (host, addr) in resolve {
        cmd.arg("--resolve")
            .arg(format!("{host}:{}:{}", addr.port(), addr.ip()));
    }
    cmd.args(extra);
    cmd
}

/// A response through the proxy.
pub struct Fetched {
    pub response: String,
    pub chain: Vec<CertificateDer<'static>>,
    pub alpn: Option<Vec<u8>>,
}

/// A TLS session through the proxy, its handshake complete.
pub type Tunnel = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// CONNECTs to `host:port` through the proxy and completes a TLS handshake with a rustls
/// client trusting only `root`.
pub fn tunnel(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    root: &CertificateDer<'static>,
    alpn: &[&[u8]],
) -> Result<Tunnel, String> {
    let mut tcp = TcpStream::connect(proxy).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).map_err(|e| e.to_string())? == 0 {
            return Err("proxy closed".into());
        }
        head.push(byte[0]);
    }
    let status = String::from_utf8_lossy(&head).into_owned();
    if !status.starts_with("HTTP/1.1 200") {
        return Err(status);
    }
    let config = client_config(root, None, alpn);
    let conn =
        rustls::ClientConnection::new(config, ServerName::try_from(host.to_owned()).unwrap())
            .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn
            .complete_io(&mut tls.sock)
            .map_err(|e| e.to_string())?;
    }
    Ok(tls)
}

/// Sends one GET over `tls` and reads the response to the end.
pub fn get_over(mut tls: Tunnel, host: &str) -> Result<Fetched, String> {
    write!(
        tls,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    match tls.read_to_end(&mut response) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    Ok(Fetched {
        response: String::from_utf8_lossy(&response).into_owned(),
        chain: tls
            .conn
            .peer_certificates()
            .map(|c| c.to_vec())
            .unwrap_or_default(),
        alpn: tls.conn.alpn_protocol().map(<[u8]>::to_vec),
    })
}

/// CONNECTs to `host:port` through the proxy and sends one GET with a rustls client trusting
/// only `root`.
pub fn fetch(
    proxy: SocketAddr,
    host: &str,
    port: u16,
    root: &CertificateDer<'static>,
    alpn: &[&[u8]],
) -> Result<Fetched, String> {
    get_over(tunnel(proxy, host, port, root, alpn)?, host)
}

pub fn interception_ca() -> ThrowawayCa {
    ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "proxy test interception").unwrap()
}

pub fn write_ca(dir: &Path, name: &str, ca: &ThrowawayCa, passphrase: Option<&str>) {
    std::fs::write(
        dir.join(format!("{name}.pem")),
        test_cert_pem(ca.intermediate.as_ref()),
    )
    .unwrap();
    let key = match passphrase {
        Some(p) => String::from_utf8(
            certmint::keys::encrypt_private_key(
                &ca.intermediate_key,
                &certmint::keys::Secret::from(p.as_bytes().to_vec()),
            )
            .unwrap()
            .as_bytes()
            .to_vec(),
        )
        .unwrap(),
        None => test_key_pem(&ca.intermediate_key),
    };
    std::fs::write(dir.join(format!("{name}-key.pem")), key.as_bytes()).unwrap();
}

/// A plain HTTP/1.1 GET; returns (status line and headers, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (String, Vec<u8>) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: crl.test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    (
        String::from_utf8_lossy(&raw[..split]).into_owned(),
        raw[split + 4..].to_vec(),
    )
}
