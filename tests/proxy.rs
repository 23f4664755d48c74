//! The real `certmint proxy` over loopback, driven by a rustls client and by curl, in front of
//! real TLS origins.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use certmint::rustls::pki_types::{CertificateDer, UnixTime};
use certmint::{testing::ThrowawayCa, KeyAlgorithm};
use common::proxy::*;
use common::*;

#[test]
fn a_rustls_client_gets_a_verified_clone_then_a_cache_hit_then_a_new_mint_after_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let (cert, key) = origin_with_key(
        &params_for(&["www.a.test", "a.test"]),
        KeyAlgorithm::EcdsaP256,
    );
    let origin = start_origin(origin_config(cert.clone(), &key, &[b"http/1.1"]));
    let proxy = ProxyProcess::start(tmp.path(), &ca, &[("www.a.test", origin.addr)]);

    let fetch_a = || {
        fetch(
            proxy.addr,
            "www.a.test",
            origin.addr.port(),
            &ca.root,
            &[b"http/1.1"],
        )
        .unwrap()
    };
    let first = fetch_a();
    assert!(
        first.response.ends_with("origin says hi over http/1.1\n"),
        "{}",
        first.response
    );
    assert_eq!(first.chain.len(), 2, "leaf + intermediate");
    webpki_verify(&first.chain, &ca.root, "www.a.test", UnixTime::now()).unwrap();
    let (_, leaf) = x509_parser::parse_x509_certificate(first.chain[0].as_ref()).unwrap();
    let (_, orig) = x509_parser::parse_x509_certificate(cert.as_ref()).unwrap();
    assert_eq!(leaf.subject().as_raw(), orig.subject().as_raw());
    let line = proxy.wait_for_log(&["www.a.test", "cache miss", "minted in"]);
    assert!(line.contains("INFO"), "{line}");

    let second = fetch_a();
    assert_eq!(second.chain[0], first.chain[0]);
    proxy.wait_for_log(&["www.a.test", "cache hit"]);

    // The origin rotates its certificate: a new mint.
    let (cert2, key2) = origin_with_key(
        &params_for(&["www.a.test", "a.test"]),
        KeyAlgorithm::EcdsaP256,
    );
    *origin.config.lock().unwrap() = origin_config(cert2, &key2, &[b"http/1.1"]);
    let third = fetch_a();
    assert_ne!(third.chain[0], first.chain[0]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.log_count("cache miss") < 2 {
        assert!(
            Instant::now() < deadline,
            "{:#?}",
            proxy.log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_untrusted_origin_is_refused_never_intercepted() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let p = params_for(&["selfsigned.test"]);
    let key = origin_key(KeyAlgorithm::EcdsaP256);
    let cert = p.self_signed(&key).unwrap().der().clone();
    let origin = start_origin(origin_config(cert, &key, &[]));
    let proxy = ProxyProcess::start(tmp.path(), &ca, &[("selfsigned.test", origin.addr)]);
    let result = fetch(
        proxy.addr,
        "selfsigned.test",
        origin.addr.port(),
        &ca.root,
        &[],
    );
    let err = result
        .err()
        .expect("the client must not get a trusted certificate");
    // Told with an alert, not a dropped connection.
    assert!(err.contains("received fatal alert"), "{err}");
    let line = proxy.wait_for_log(&["selfsigned.test", "origin refused"]);
    assert!(
        line.contains("UnknownIssuer")
            || line.contains("unknown issuer")
            || line.contains("invalid peer certificate"),
        "{line}"
    );
    assert_eq!(proxy.log_count("cache miss"), 0, "nothing was minted");
}

#[test]
fn alpn_follows_the_origin_h2_and_http11() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let (c1, k1) = origin_with_key(&params_for(&["h2.test"]), KeyAlgorithm::EcdsaP256);
    let (c2, k2) = origin_with_key(&params_for(&["h1.test"]), KeyAlgorithm::Rsa2048);
    let h2 = start_origin(origin_config(c1, &k1, &[b"h2"]));
    let h1 = start_origin(origin_config(c2, &k2, &[b"http/1.1"]));
    let proxy = ProxyProcess::start(
        tmp.path(),
        &ca,
        &[("h2.test", h2.addr), ("h1.test", h1.addr)],
    );
    let both: &[&[u8]] = &[b"h2", b"http/1.1"];
    let a = fetch(proxy.addr, "h2.test", h2.addr.port(), &ca.root, both).unwrap();
    assert_eq!(a.alpn.as_deref(), Some(&b"h2"[..]));
    assert!(a.response.ends_with("over h2\n"));
    let b = fetch(proxy.addr, "h1.test", h1.addr.port(), &ca.root, both).unwrap();
    assert_eq!(b.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert!(b.response.ends_with("over http/1.1\n"));
    // The RSA origin got an RSA clone.
    let (_, leaf) = x509_parser::parse_x509_certificate(b.chain[0].as_ref()).unwrap();
    assert_eq!(
        KeyAlgorithm::from_spki(leaf.public_key().raw),
        Some(KeyAlgorithm::Rsa2048)
    );
}

#[test]
fn an_unreachable_origin_gets_a_502() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap(); // dropped: nothing listens
    let proxy = ProxyProcess::start(tmp.path(), &ca, &[("gone.test", closed)]);
    let err = fetch(proxy.addr, "gone.test", closed.port(), &ca.root, &[])
        .err()
        .unwrap();
    assert!(err.starts_with("HTTP/1.1 502"), "{err}");
}

#[test]
fn curl_through_the_proxy() {
    let curl = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !curl {
        assert!(!require_tools(), "curl is required in CI");
        eprintln!("SKIPPED: curl not found");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let (cert, key) = origin_with_key(&params_for(&["www.curl.test"]), KeyAlgorithm::EcdsaP256);
    let origin = start_origin(origin_config(cert, &key, &[b"h2", b"http/1.1"]));
    let proxy = ProxyProcess::start(tmp.path(), &ca, &[("www.curl.test", origin.addr)]);
    std::fs::write(tmp.path().join("root.pem"), test_cert_pem(ca.root.as_ref())).unwrap();
    let url = format!("https://www.curl.test:{}/", origin.addr.port());
    let run = |extra: &[&str]| {
        Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "20",
                "-x",
                &format!("http://{}", proxy.addr),
                "--cacert",
                "root.pem",
            ])
            .args(extra)
            .arg(&url)
            .current_dir(tmp.path())
            .output()
            .unwrap()
    };
    let out = run(&["--http1.1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "origin says hi over http/1.1\n"
    );
    // Without the interception root, curl refuses the minted certificate.
    let refused = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-x",
            &format!("http://{}", proxy.addr),
            "--cacert",
            "/dev/null",
            &url,
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    proxy.wait_for_log(&["www.curl.test", "cache hit"]);
}

#[test]
#[cfg(unix)]
fn ctrl_c_shuts_the_proxy_down_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let mut proxy = ProxyProcess::start(tmp.path(), &ca, &[]);
    let pid = proxy.child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = proxy.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the proxy did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    proxy.wait_for_log(&["shutting down"]);
}

/// Each kind of untrusted origin, under both policies.
#[test]
fn untrusted_origins_are_refused_or_minted_under_the_untrusted_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let untrusted = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "untrusted").unwrap();
    std::fs::write(
        tmp.path().join("untrusted.pem"),
        test_cert_pem(untrusted.intermediate.as_ref()),
    )
    .unwrap();
    std::fs::write(
        tmp.path().join("untrusted-key.pem"),
        test_key_pem(&untrusted.intermediate_key).as_bytes(),
    )
    .unwrap();
    let now = ::time::OffsetDateTime::now_utc();
    let key = origin_key(KeyAlgorithm::EcdsaP256);
    let rogue = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "rogue").unwrap();
    let mut expired = params_for(&["expired.test"]);
    expired.not_before = now - ::time::Duration::days(30);
    expired.not_after = now - ::time::Duration::days(1);
    let cases: Vec<(&str, CertificateDer<'static>, &str)> = vec![
        (
            "selfsigned.test",
            params_for(&["selfsigned.test"])
                .self_signed(&key)
                .unwrap()
                .der()
                .clone(),
            "unknownissuer",
        ),
        (
            "rogue.test",
            issue_under(&rogue, &params_for(&["rogue.test"]), &key),
            "unknownissuer",
        ),
        (
            "expired.test",
            expired
                .signed_by(&key, &public_ca().issuer)
                .unwrap()
                .der()
                .clone(),
            "expired",
        ),
        (
            "mismatch.test",
            params_for(&["other.test"])
                .signed_by(&key, &public_ca().issuer)
                .unwrap()
                .der()
                .clone(),
            "name",
        ),
    ];
    let origins: Vec<(&str, Origin)> = cases
        .iter()
        .map(|(host, cert, _)| (*host, start_origin(origin_config(cert.clone(), &key, &[]))))
        .collect();
    let resolve: Vec<(&str, SocketAddr)> = origins.iter().map(|(h, o)| (*h, o.addr)).collect();

    // Refuse (the default): no certificate at all, and the log says why.
    let refusing = ProxyProcess::start(tmp.path(), &ca, &resolve);
    for ((host, origin), (_, _, reason)) in origins.iter().zip(&cases) {
        assert!(
            fetch(refusing.addr, host, origin.addr.port(), &ca.root, &[]).is_err(),
            "{host}"
        );
        let line = refusing.wait_for_log(&[host, "origin refused"]);
        assert!(
            line.to_lowercase().replace(' ', "").contains(reason),
            "{host}: {line}"
        );
    }
    assert_eq!(refusing.log_count("cache miss"), 0);

    // Mirror distrust: minted under the untrusted CA, so a client trusting only the
    // interception root fails, and a client trusting the untrusted root sees the origin's own
    // problem (or, for an unknown issuer, the clone).
    let mirroring = ProxyProcess::start_with(
        tmp.path(),
        &ca,
        &resolve,
        &[
            "--untrusted",
            "mirror",
            "--untrusted-ca-cert",
            "untrusted.pem",
            "--untrusted-ca-key",
            "untrusted-key.pem",
        ],
    );
    for (host, origin) in &origins {
        let err = fetch(mirroring.addr, host, origin.addr.port(), &ca.root, &[]).err();
        assert!(
            err.is_some(),
            "{host}: the interception root must not vouch for it"
        );
        mirroring.wait_for_log(&[host, "untrusted CA"]);
        let seen = fetch(
            mirroring.addr,
            host,
            origin.addr.port(),
            &untrusted.root,
            &[],
        );
        match *host {
            "selfsigned.test" | "rogue.test" => {
                let fetched = seen.unwrap_or_else(|e| panic!("{host}: {e}"));
                assert_eq!(
                    fetched.chain[1], untrusted.intermediate,
                    "{host}: issued by the untrusted CA"
                );
            }
            "expired.test" => assert!(seen.err().unwrap().contains("xpired"), "{host}"),
            _ => {
                let err = seen.err().unwrap();
                assert!(
                    err.to_lowercase().contains("not valid for name"),
                    "{host}: {err}"
                );
            }
        }
    }
}

#[test]
fn the_proxy_runs_from_a_configuration_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let corp = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "corp").unwrap();
    let bank = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "bank").unwrap();
    let untrusted = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "untrusted").unwrap();
    write_ca(dir, "corp", &corp, Some("corp secret"));
    write_ca(dir, "bank", &bank, None);
    write_ca(dir, "untrusted", &untrusted, None);
    std::fs::write(dir.join("corp-pass"), "corp secret\n").unwrap();
    std::fs::write(
        dir.join("public.pem"),
        test_cert_pem(public_ca().issuer.der().as_ref()),
    )
    .unwrap();
    std::fs::write(
        dir.join("certmint.toml"),
        r#"
default_ca = "corp"
[cache]
max_mib = 16
[untrusted]
policy = "mirror"
ca = "untrusted"
[upstream]
roots = ["public.pem"]

[[ca]]
id = "corp"
cert = "corp.pem"
key = "corp-key.pem"
key_pass_file = "corp-pass"
crl_base_url = "http://crl.corp.test"
[ca.rotation]
lifetime_days = 7
renew_after_days = 6

[[ca]]
id = "bank"
cert = "bank.pem"
key = "bank-key.pem"

[[ca]]
id = "untrusted"
cert = "untrusted.pem"
key = "untrusted-key.pem"

[[rule]]
host = "*.bank.test"
ca = "bank"
"#,
    )
    .unwrap();
    let key = origin_key(KeyAlgorithm::EcdsaP256);
    let shop = start_origin(origin_config(
        params_for(&["www.shop.test"])
            .signed_by(&key, &public_ca().issuer)
            .unwrap()
            .der()
            .clone(),
        &key,
        &[],
    ));
    let bank_origin = start_origin(origin_config(
        params_for(&["www.bank.test"])
            .signed_by(&key, &public_ca().issuer)
            .unwrap()
            .der()
            .clone(),
        &key,
        &[],
    ));
    let rogue = start_origin(origin_config(
        params_for(&["rogue.test"])
            .self_signed(&key)
            .unwrap()
            .der()
            .clone(),
        &key,
        &[],
    ));
    let proxy = ProxyProcess::from_config(
        dir,
        "certmint.toml",
        &[
            ("www.shop.test", shop.addr),
            ("www.bank.test", bank_origin.addr),
            ("rogue.test", rogue.addr),
        ],
        &[],
    );

    // The default CA, through its rotating sub-CA: leaf, sub-CA, corp intermediate.
    let shop_fetch = fetch(
        proxy.addr,
        "www.shop.test",
        shop.addr.port(),
        &corp.root,
        &[],
    )
    .unwrap();
    assert_eq!(shop_fetch.chain.len(), 3);
    assert_eq!(shop_fetch.chain[2], corp.intermediate);
    // The rule picks the bank CA.
    let bank_fetch = fetch(
        proxy.addr,
        "www.bank.test",
        bank_origin.addr.port(),
        &bank.root,
        &[],
    )
    .unwrap();
    assert_eq!(bank_fetch.chain[1], bank.intermediate);
    // Mirror distrust with the untrusted CA.
    assert!(fetch(proxy.addr, "rogue.test", rogue.addr.port(), &corp.root, &[]).is_err());
    let mirrored = fetch(
        proxy.addr,
        "rogue.test",
        rogue.addr.port(),
        &untrusted.root,
        &[],
    )
    .unwrap();
    assert_eq!(mirrored.chain[1], untrusted.intermediate);

    // A bad file: exit 1, and the message names the line.
    std::fs::write(
        dir.join("bad.toml"),
        "[cache]\nmax_mib = 16\nmax_entries = 3\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certmint"))
        .args(["proxy", "--listen", "127.0.0.1:0", "--config", "bad.toml"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3") && err.contains("max_entries"),
        "{err}"
    );
}

#[test]
fn a_connect_host_with_control_characters_is_refused_and_never_logged_raw() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let proxy = ProxyProcess::start(tmp.path(), &ca, &[]);
    let mut tcp = TcpStream::connect(proxy.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(b"CONNECT evil\x1b[31m.example:443 HTTP/1.1\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:?}");
    let line = proxy.wait_for_log(&["bad CONNECT target"]);
    assert!(!line.contains('\x1b'), "{line:?}");
    assert!(line.contains("\\u{1b}"), "{line:?}");
}

#[test]
fn resolve_overrides_match_hosts_in_any_case() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let (cert, key) = origin_with_key(&params_for(&["mixed.test"]), KeyAlgorithm::EcdsaP256);
    let origin = start_origin(origin_config(cert, &key, &[]));
    // Given in upper case; the client asks in lower case.
    let proxy = ProxyProcess::start(tmp.path(), &ca, &[("MIXED.Test", origin.addr)]);
    let fetched = fetch(proxy.addr, "mixed.test", origin.addr.port(), &ca.root, &[]).unwrap();
    assert!(
        fetched.response.starts_with("HTTP/1.1 200"),
        "{}",
        fetched.response
    );
}

/// CPU time (user + system) a process has used, in clock ticks (Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn a_flood_of_idle_connections_under_a_low_descriptor_limit_neither_spins_nor_stops_service() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let (cert, key) = origin_with_key(&params_for(&["flood.test"]), KeyAlgorithm::EcdsaP256);
    let origin = start_origin(origin_config(cert, &key, &[]));
    let proxy = ProxyProcess::start_limited(
        tmp.path(),
        &ca,
        &[("flood.test", origin.addr)],
        &[],
        Some(64),
    );
    let cap = proxy.wait_for_log(&["at most", "connections"]);
    assert!(cap.contains("at most 16 connections"), "{cap}");
    let before = cpu_ticks(proxy.child.id());
    // 80 connections that never send a byte.
    let idle: Vec<TcpStream> = (0..80)
        .map(|_| TcpStream::connect(proxy.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(proxy.child.id()) - before;
    // The old accept loop spun: ~100% of a core, 300 ticks in 3 s.
    assert!(used < 100, "{used} ticks of CPU in 3 s");
    let accept_errors = proxy.log_count("accept:");
    assert!(accept_errors <= 5, "{accept_errors} accept error lines");
    assert!(proxy.log_count("connection cap") >= 1);
    // Still serving, with the idle connections still open.
    let fetched = fetch(proxy.addr, "flood.test", origin.addr.port(), &ca.root, &[]).unwrap();
    assert!(
        fetched.response.starts_with("HTTP/1.1 200"),
        "{}",
        fetched.response
    );
    drop(idle);
}

#[test]
fn a_client_that_never_finishes_its_handshake_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let ca = interception_ca();
    let proxy = ProxyProcess::start_with(tmp.path(), &ca, &[], &["--handshake-timeout", "1"]);
    let mut slow = TcpStream::connect(proxy.addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    slow.write_all(b"CONNECT slow").unwrap(); // and nothing more
    let mut buf = [0u8; 16];
    // The proxy closes the connection after the handshake timeout (read returns 0).
    assert_eq!(slow.read(&mut buf).unwrap(), 0);
    proxy.wait_for_log(&["timed out reading the CONNECT request"]);
}

/// The CRL distribution point URL's path in `cert`.
fn cdp_path(cert: &CertificateDer<'_>) -> String {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).unwrap();
    for ext in parsed.extensions() {
        if let x509_parser::extensions::ParsedExtension::CRLDistributionPoints(points) =
            ext.parsed_extension()
        {
            for point in points.iter() {
                if let Some(x509_parser::extensions::DistributionPointName::FullName(names)) =
                    &point.distribution_point
                {
                    for name in names {
                        if let x509_parser::extensions::GeneralName::URI(uri) = name {
                            let path = uri.splitn(4, '/').nth(3).unwrap_or_default();
                            return format!("/{}", path.rsplit('/').next().unwrap());
                        }
                    }
                }
            }
        }
    }
    panic!("no CRL distribution point");
}

/// `openssl crl` verifies `der` with `issuer`'s key; returns its text.
fn openssl_crl_text(dir: &Path, der: &[u8], issuer: &CertificateDer<'_>) -> String {
    std::fs::write(dir.join("fetched.crl"), der).unwrap();
    std::fs::write(dir.join("crl-issuer.pem"), test_cert_pem(issuer.as_ref())).unwrap();
    let (_, text) = run_in(
        dir,
        "openssl",
        &[
            "crl",
            "-inform",
            "DER",
            "-in",
            "fetched.crl",
            "-CAfile",
            "crl-issuer.pem",
            "-noout",
            "-text",
        ],
    );
    assert!(text.contains("verify OK"), "{text}");
    text
}

#[test]
fn the_crl_and_ocsp_endpoint_serves_every_cdp_and_a_revoked_sub_ca_is_replaced() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let corp = ThrowawayCa::generate_named(KeyAlgorithm::EcdsaP256, "corp").unwrap();
    write_ca(dir, "corp", &corp, None);
    std::fs::write(
        dir.join("public.pem"),
        test_cert_pem(public_ca().issuer.der().as_ref()),
    )
    .unwrap();
    std::fs::write(
        dir.join("certmint.toml"),
        "[upstream]\nroots = [\"public.pem\"]\n[[ca]]\nid = \"corp\"\ncert = \"corp.pem\"\n\
         key = \"corp-key.pem\"\ncrl_base_url = \"http://crl.corp.test/certmint\"\n\
         ocsp_urls = [\"http://ocsp.corp.test/ocsp\"]\n[ca.rotation]\nlifetime_days = 7\n",
    )
    .unwrap();
    let key = origin_key(KeyAlgorithm::EcdsaP256);
    let shop = start_origin(origin_config(
        params_for(&["www.shop.test"])
            .signed_by(&key, &public_ca().issuer)
            .unwrap()
            .der()
            .clone(),
        &key,
        &[],
    ));
    let proxy = ProxyProcess::from_config(
        dir,
        "certmint.toml",
        &[("www.shop.test", shop.addr)],
        &["--crl-listen", "127.0.0.1:0"],
    );
    let crl_addr = proxy.served("CRLs");
    let first = fetch(
        proxy.addr,
        "www.shop.test",
        shop.addr.port(),
        &corp.root,
        &[],
    )
    .unwrap();
    assert_eq!(first.chain.len(), 3, "leaf, sub-CA, intermediate");
    // Every CDP answers, with the headers, and each CRL verifies under its certificate's
    // issuer.
    for (cert, issuer) in [
        (&first.chain[0], &first.chain[1]),
        (&first.chain[1], &corp.intermediate),
    ] {
        let (head, body) = http_get(crl_addr, &cdp_path(cert));
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        for header in [
            "application/pkix-crl",
            "etag:",
            "last-modified:",
            "max-age=",
        ] {
            assert!(
                head.to_ascii_lowercase().contains(header),
                "{header}: {head}"
            );
        }
        openssl_crl_text(dir, &body, issuer);
    }
    // The sub-CA names the configured OCSP URL; the responder on the same listener says good.
    let (_, parsed) = x509_parser::parse_x509_certificate(first.chain[1].as_ref()).unwrap();
    assert!(
        format!("{:?}", parsed.extensions()).contains("http://ocsp.corp.test/ocsp"),
        "no OCSP URL in the sub-CA's AIA"
    );
    std::fs::write(dir.join("sub.pem"), test_cert_pem(first.chain[1].as_ref())).unwrap();
    std::fs::write(dir.join("root.pem"), test_cert_pem(corp.root.as_ref())).unwrap();
    let ocsp = || {
        let url = format!("http://{crl_addr}/ocsp");
        run_in(
            dir,
            "openssl",
            &[
                "ocsp",
                "-issuer",
                "corp.pem",
                "-cert",
                "sub.pem",
                "-url",
                &url,
                "-CAfile",
                "root.pem",
                "-no_nonce",
            ],
        )
        .1
    };
    let text = ocsp();
    assert!(
        text.contains("Response verify OK") && text.contains("sub.pem: good"),
        "{text}"
    );

    // Bad requests: 404 or 400, and the server keeps serving.
    for (path, code) in [
        ("/nothere.crl", "404"),
        ("/0000.crl", "404"),
        ("/../../etc/passwd", "404"),
        (&format!("/{}", "a".repeat(300)), "400"),
    ] {
        let (head, _) = http_get(crl_addr, path);
        assert!(
            head.starts_with(&format!("HTTP/1.1 {code}")),
            "{path}: {head}"
        );
    }

    // The request rate is bounded: a burst beyond 200 a second (4 clients at once) gets 503
    // with Retry-After, and the next second is served again.
    let busy = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let busy = Arc::clone(&busy);
            std::thread::spawn(move || {
                for _ in 0..500 {
                    if busy.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                    let (head, _) = http_get(crl_addr, "/nothere.crl");
                    if head.starts_with("HTTP/1.1 503") {
                        assert!(
                            head.to_ascii_lowercase().contains("retry-after: 1"),
                            "{head}"
                        );
                        busy.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    assert!(
        busy.load(std::sync::atomic::Ordering::Relaxed),
        "no 503 in a burst"
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert!(http_get(crl_addr, "/nothere.crl")
        .0
        .starts_with("HTTP/1.1 404"));

    // Revoke the running sub-CA from another process.
    let sub_ca_crl = cdp_path(&first.chain[1]);
    let key_id = {
        let (_, parsed) = x509_parser::parse_x509_certificate(first.chain[1].as_ref()).unwrap();
        let ski = parsed
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(k) => Some(k.0),
                _ => None,
            })
            .unwrap();
        ski.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let out = Command::new(env!("CARGO_BIN_EXE_certmint"))
        .args([
            "ca",
            "revoke",
            "--config",
            "certmint.toml",
            "--sub-ca",
            &key_id,
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Within 10 s: the endpoint lists it, and new connections get a leaf under a new sub-CA.
    let deadline = Instant::now() + Duration::from_secs(12);
    let (mut listed, mut replaced, mut ocsp_revoked) = (false, false, false);
    while Instant::now() < deadline && !(listed && replaced && ocsp_revoked) {
        std::thread::sleep(Duration::from_millis(500));
        ocsp_revoked = ocsp().contains("sub.pem: revoked");
        let (_, body) = http_get(crl_addr, &sub_ca_crl);
        listed = openssl_crl_text(dir, &body, &corp.intermediate).contains("Serial Number");
        let again = fetch(
            proxy.addr,
            "www.shop.test",
            shop.addr.port(),
            &corp.root,
            &[],
        )
        .unwrap();
        replaced = again.chain[1] != first.chain[1];
    }
    assert!(
        listed,
        "the intermediate's CRL does not list the revoked sub-CA after 12 s"
    );
    assert!(
        replaced,
        "the proxy still serves the revoked sub-CA's leaves after 12 s"
    );
}
