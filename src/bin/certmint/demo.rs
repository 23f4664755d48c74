//! `certmint demo`: a self-contained interception on loopback.
//!
//! It makes a "public" CA and an origin HTTPS server whose certificate has rich fields (several
//! SANs, a policy, an SCT list, must-staple, its own AIA and CDP); an interception root and
//! intermediate; the intercepting proxy; and a rustls client that trusts only the interception
//! root. It sends one HTTPS request through the proxy, then prints the origin's and the minted
//! certificate's fields side by side, and the response.

use std::collections::HashMap;
use std::sync::Arc;

use certmint::inspect::CertificateInfo;
use certmint::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use certmint::rustls::{self, RootCertStore};
use certmint::testing::ThrowawayCa;
use certmint::{CaSpec, Deployment, KeyAlgorithm};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType, IsCa, KeyPair,
    KeyUsagePurpose, SanType,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::error::CliError;
use crate::proxy::Proxy;

const ORIGIN_HOST: &str = "www.demo.test";
const BODY: &str = "hello from the origin, through certmint\n";

type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// `certmint demo`: exit 0 only on a verified round trip.
pub(crate) fn run() -> Result<(), CliError> {
    let runtime = crate::runtime()?;
    runtime
        .block_on(demo())
        .map_err(|e| CliError::Demo(e.to_string()))
}

async fn demo() -> DemoResult<()> {
    // A stand-in for a public CA (built with rcgen, independent of certmint), and the
    // interception hierarchy.
    let public = public_ca()?;
    let public_root = public.der().clone();
    let interception =
        ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "certmint demo interception")?;

    // The origin and its server.
    let origin_key = KeyPair::generate()?;
    let origin_cert = origin_params()?
        .signed_by(&origin_key, &public)?
        .der()
        .clone();
    let origin_listener = TcpListener::bind("127.0.0.1:0").await?;
    let origin_addr = origin_listener.local_addr()?;
    let mut origin_config =
        rustls::ServerConfig::builder_with_provider(certmint::crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(
                vec![origin_cert.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(origin_key.serialize_der())),
            )?;
    origin_config.alpn_protocols = vec![b"http/1.1".to_vec()];
    tokio::spawn(serve_origin(origin_listener, Arc::new(origin_config)));

    // The proxy: the interception CA, origins validated against the public root.
    let mut roots = RootCertStore::empty();
    roots.add(public_root)?;
    let deployment = Deployment::builder()
        .ca(CaSpec::from_issuer(
            "demo",
            Arc::new(interception.issuer()?),
        ))
        .upstream_roots(roots)
        .build()?;
    let proxy = Arc::new(Proxy::new(
        Arc::new(deployment),
        HashMap::from([(format!("{ORIGIN_HOST}:{}", origin_addr.port()), origin_addr)]),
    )?);
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy_addr = proxy_listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let proxy_task = tokio::spawn(Arc::clone(&proxy).serve(proxy_listener, async {
        let _ = stopped.await;
    }));

    // The client: CONNECT through the proxy, then TLS trusting only the interception root.
    let mut tcp = TcpStream::connect(proxy_addr).await?;
    let target = format!("{ORIGIN_HOST}:{}", origin_addr.port());
    tcp.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await?;
    let status = read_head(&mut tcp).await?;
    if !status.starts_with("HTTP/1.1 200") {
        return Err(format!("proxy answered {status:?}").into());
    }
    let mut trust = RootCertStore::empty();
    trust.add(interception.root.clone())?;
    let mut client_config =
        rustls::ClientConfig::builder_with_provider(certmint::crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(trust)
            .with_no_client_auth();
    client_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(client_config))
        .connect(ServerName::try_from(ORIGIN_HOST)?, tcp)
        .await?;
    tls.write_all(
        format!("GET / HTTP/1.1\r\nHost: {ORIGIN_HOST}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await?;
    let mut response = Vec::new();
    let _ = tls.read_to_end(&mut response).await;
    let (_, session) = tls.get_ref();
    let served: Vec<CertificateDer<'static>> = session
        .peer_certificates()
        .map(|c| c.to_vec())
        .unwrap_or_default();
    let alpn = session
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
    let response = String::from_utf8_lossy(&response).into_owned();

    report(&origin_cert, &served, alpn.as_deref(), &response, &proxy)?;
    let _ = stop.send(());
    let _ = proxy_task.await;
    proxy.deployment().shutdown();
    if response.starts_with("HTTP/1.1 200") && response.ends_with(BODY) {
        println!("\nresult: OK — the client trusted only the interception root and got the origin's response");
        Ok(())
    } else {
        Err("the round trip did not return the origin's response".into())
    }
}

fn public_ca() -> DemoResult<CertifiedIssuer<'static, KeyPair>> {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CountryName, "ZZ");
    p.distinguished_name
        .push(DnType::OrganizationName, "certmint demo public CA");
    p.distinguished_name
        .push(DnType::CommonName, "certmint demo public root");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(CertifiedIssuer::self_signed(p, KeyPair::generate()?)?)
}

fn origin_params() -> DemoResult<CertificateParams> {
    let mut p = CertificateParams::new(vec![
        ORIGIN_HOST.to_owned(),
        "demo.test".to_owned(),
        "api.demo.test".to_owned(),
    ])?;
    p.subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse()?));
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(DnType::CountryName, "ZZ");
    p.distinguished_name
        .push(DnType::OrganizationName, "Demo Origin Ltd");
    p.distinguished_name.push(DnType::CommonName, ORIGIN_HOST);
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::minutes(30);
    p.not_after = now + time::Duration::days(90);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p.crl_distribution_points = vec![rcgen::CrlDistributionPoint {
        uris: vec!["http://crl.public-ca.demo.test/ca.crl".into()],
    }];
    let der = |tag: u8, content: &[u8]| {
        let mut out = vec![tag, content.len() as u8];
        out.extend_from_slice(content);
        out
    };
    // certificatePolicies: CA/B Forum organisation-validated.
    let policy = der(
        0x30,
        &der(0x30, &der(0x06, &[0x67, 0x81, 0x0c, 0x01, 0x02, 0x02])),
    );
    p.custom_extensions
        .push(CustomExtension::from_oid_content(&[2, 5, 29, 32], policy));
    // authorityInfoAccess: the public CA's OCSP responder.
    let ocsp = [
        der(0x06, &[0x2b, 6, 1, 5, 5, 7, 0x30, 1]),
        der(0x86, b"http://ocsp.public-ca.demo.test"),
    ]
    .concat();
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 1],
        der(0x30, &der(0x30, &ocsp)),
    ));
    // An SCT list (opaque here) and must-staple (TLS feature status_request).
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 11129, 2, 4, 2],
        der(0x04, &[0x00, 0x04, 0x00, 0x02, 0xde, 0xad]),
    ));
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 5, 5, 7, 1, 24],
        der(0x30, &[2, 1, 5]),
    ));
    Ok(p)
}

async fn serve_origin(listener: TcpListener, config: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    while let Ok((tcp, _)) = listener.accept().await {
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            if read_head(&mut tls).await.is_ok() {
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
                    BODY.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        });
    }
}

/// Reads up to the end of an HTTP head, byte by byte, and returns its first line.
async fn read_head(stream: &mut (impl AsyncReadExt + Unpin)) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned())
}

fn report(
    origin: &CertificateDer<'_>,
    served: &[CertificateDer<'_>],
    alpn: Option<&str>,
    response: &str,
    proxy: &Proxy,
) -> DemoResult<()> {
    let leaf = served.first().ok_or("the proxy served no certificate")?;
    let o = CertificateInfo::parse(origin.as_ref())?;
    let m = CertificateInfo::parse(leaf.as_ref())?;
    println!("certmint demo: {ORIGIN_HOST} through an intercepting proxy on loopback\n");
    let row = |field: &str, a: &str, b: &str| {
        let mark = if a == b { "same   " } else { "changed" };
        println!("{field:<20} {mark}  origin: {a}\n{:<29} minted: {b}", "");
    };
    let list = |v: &Option<Vec<String>>| v.as_ref().map_or("-".to_owned(), |v| v.join(", "));
    row("subject", &o.subject, &m.subject);
    row(
        "subject alt names",
        &o.subject_alt_names.join(", "),
        &m.subject_alt_names.join(", "),
    );
    row("not before", &o.not_before, &m.not_before);
    row("not after", &o.not_after, &m.not_after);
    row("key usage", &list(&o.key_usage), &list(&m.key_usage));
    row(
        "extended key usage",
        &list(&o.extended_key_usage),
        &list(&m.extended_key_usage),
    );
    row("issuer", &o.issuer, &m.issuer);
    row("serial", &o.serial, &m.serial);
    row("key", &o.key, &m.key);
    row(
        "subject key id",
        o.subject_key_id.as_deref().unwrap_or("-"),
        m.subject_key_id.as_deref().unwrap_or("-"),
    );
    row(
        "authority key id",
        o.authority_key_id.as_deref().unwrap_or("-"),
        m.authority_key_id.as_deref().unwrap_or("-"),
    );
    let names = |v: &[String]| {
        v.iter()
            .map(|e| e.split(' ').nth(1).unwrap_or(e).to_owned())
            .collect::<Vec<_>>()
    };
    let (on, mn) = (names(&o.extensions), names(&m.extensions));
    let dropped: Vec<_> = on.iter().filter(|e| !mn.contains(e)).cloned().collect();
    let added: Vec<_> = mn.iter().filter(|e| !on.contains(e)).cloned().collect();
    println!("{:<20} origin: {}", "extensions", on.join(", "));
    println!("{:<20} minted: {}", "", mn.join(", "));
    println!(
        "{:<20} {}",
        "dropped",
        if dropped.is_empty() {
            "-".into()
        } else {
            dropped.join(", ")
        }
    );
    println!(
        "{:<20} {}",
        "added",
        if added.is_empty() {
            "-".into()
        } else {
            added.join(", ")
        }
    );
    println!(
        "{:<20} {} certificates (leaf + intermediate; the root is never sent)",
        "chain served",
        served.len()
    );
    println!("{:<20} {}", "ALPN", alpn.unwrap_or("-"));
    let s = proxy.deployment().cache_stats();
    println!(
        "{:<20} {} mint(s), {:.2} ms",
        "cache",
        s.mints,
        s.mint_avg.as_secs_f64() * 1000.0
    );
    println!("\nresponse through the proxy:\n{}", response.trim_end());
    Ok(())
}
