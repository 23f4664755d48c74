//! Prewarming: `[cache] prewarm` fills the proxy's cache in the background at start (the
//! listener does not wait), with progress logged; `certmint prewarm` reports each failure.

mod common;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;

use certmint::KeyAlgorithm;
use common::proxy::*;
use common::*;

const CONFIG: &str = r#"
[upstream]
roots = ["public.pem"]
[cache]
prewarm = "hosts.txt"
[[ca]]
id = "corp"
cert = "corp.pem"
key = "corp-key.pem"
"#;

/// One origin answering for `hosts` (a trusted chain naming all of them).
fn origin_for(hosts: &[String]) -> Origin {
    let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let (cert, key) = origin_with_key(&params_for(&names), KeyAlgorithm::EcdsaP256);
    start_origin(origin_config(cert, &key, &[]))
}

fn self_signed_origin(host: &str) -> Origin {
    let key = origin_key(KeyAlgorithm::EcdsaP256);
    let cert = params_for(&[host]).self_signed(&key).unwrap().der().clone();
    start_origin(origin_config(cert, &key, &[]))
}

fn setup(dir: &Path) -> certmint::testing::ThrowawayCa {
    let ca = interception_ca();
    write_ca(dir, "corp", &ca, None);
    std::fs::write(
        dir.join("public.pem"),
        test_cert_pem(public_ca().issuer.der().as_ref()),
    )
    .unwrap();
    std::fs::write(dir.join("certmint.toml"), CONFIG).unwrap();
    ca
}

#[test]
fn the_proxy_prewarms_in_the_background_and_serves_warmed_hosts_from_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ca = setup(dir);
    let names: Vec<String> = (0..25).map(|i| format!("w{i}.test")).collect();
    let origin = origin_for(&names);
    let extra = origin_for(&["extra.test".to_owned()]);
    let rogue = self_signed_origin("rogue.test");
    // Accepts connections and never answers: holds one prewarm slot for the proxy's 15-second
    // handshake timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    let down: SocketAddr = "127.0.0.1:1".parse().unwrap();

    let mut hosts = String::from("# hosts to warm\n\n");
    for name in &names {
        hosts += &format!("{name}:{}   # a trusted origin\n", origin.addr.port());
    }
    hosts += &format!("rogue.test:{}\n", rogue.addr.port());
    hosts += &format!("silent.test:{}\n", silent_addr.port());
    hosts += "down.test:1\n";
    std::fs::write(dir.join("hosts.txt"), hosts).unwrap();
    let mut resolve: Vec<(&str, SocketAddr)> =
        names.iter().map(|n| (n.as_str(), origin.addr)).collect();
    resolve.extend([
        ("rogue.test", rogue.addr),
        ("silent.test", silent_addr),
        ("down.test", down),
        ("extra.test", extra.addr),
    ]);
    let proxy = ProxyProcess::from_config(dir, "certmint.toml", &resolve, &[]);

    // Clients are served while the prewarm still waits for the silent origin.
    proxy.wait_for_log(&["prewarm: 28 hosts, in the background"]);
    fetch(proxy.addr, "extra.test", extra.addr.port(), &ca.root, &[]).unwrap();
    assert_eq!(
        proxy.log_count("prewarm: done"),
        0,
        "the listener did not wait"
    );

    let done = proxy.wait_for_log_within(
        std::time::Duration::from_secs(40),
        &["prewarm: done", "25 of 28 hosts warmed, 3 failed"],
    );
    assert!(done.contains("prewarm: done in"), "{done}");
    for failed in ["rogue.test", "silent.test", "down.test"] {
        proxy.wait_for_log(&["prewarm: ", failed]);
    }
    // Progress every 10% for a list this long.
    assert_eq!(proxy.log_count(" of 28 hosts ("), 9, "10%, 20% ... 90%");
    proxy.wait_for_log(&["prewarm: 26 of 28 hosts (90%)"]);

    // Every warmed host is a cache hit now, with a chain the client trusts.
    for name in ["w0.test", "w13.test", "w24.test"] {
        fetch(proxy.addr, name, origin.addr.port(), &ca.root, &[])
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        proxy.wait_for_log(&[&format!("{name} via {name}:"), "cache hit"]);
    }
    assert_eq!(proxy.log_count("cache miss"), 1, "extra.test only");
}

#[test]
fn the_prewarm_command_reports_failures_and_refuses_bad_hosts_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let names = vec!["a.test".to_owned(), "b.test".to_owned()];
    let origin = origin_for(&names);
    let port = origin.addr.port();
    std::fs::write(
        dir.join("list.txt"),
        format!("a.test:{port}\nb.test:{port} # second\ndown.test:1\n"),
    )
    .unwrap();
    let run = |hosts: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_certmint"))
            .args(["prewarm", "--config", "certmint.toml", "--hosts", hosts])
            .args(["--resolve", &format!("a.test:{port}:127.0.0.1")])
            .args(["--resolve", &format!("b.test:{port}:127.0.0.1")])
            .args(["--resolve", "down.test:1:127.0.0.1"])
            .current_dir(dir)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = run("list.txt");
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("warmed 2 of 3 hosts (1 failed)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("failed down.test:1: cannot connect"),
        "{stdout}"
    );

    std::fs::write(
        dir.join("list.txt"),
        format!("a.test:{port}\nb.test:{port}\n"),
    )
    .unwrap();
    let (code, stdout, _) = run("list.txt");
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("warmed 2 of 2 hosts (0 failed)"),
        "{stdout}"
    );

    // On a terminal (script(1) gives it one), a progress bar is drawn.
    if let Ok(out) = Command::new("script")
        .args(["-q", "-e", "-c"])
        .arg(format!(
            "{} prewarm --config certmint.toml --hosts list.txt \
             --resolve a.test:{port}:127.0.0.1 --resolve b.test:{port}:127.0.0.1",
            env!("CARGO_BIN_EXE_certmint")
        ))
        .arg("/dev/null")
        .current_dir(dir)
        .output()
    {
        let tty = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{tty}");
        let full = format!("[{}] 2/2 (0 failed)", "#".repeat(40));
        assert!(tty.contains(&full), "{tty}");
    } else {
        assert!(!require_tools(), "script(1) is required in CI");
        eprintln!("SKIPPED: the progress bar (no script(1))");
    }

    std::fs::write(dir.join("bad.txt"), "a.test\nnot a host\n").unwrap();
    let (code, _, stderr) = run("bad.txt");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("bad.txt: line 2") && !stderr.contains("panicked"),
        "{stderr}"
    );
    let (code, _, stderr) = run("missing.txt");
    assert_eq!(code, Some(1));
    assert!(stderr.contains("missing.txt"), "{stderr}");
}
