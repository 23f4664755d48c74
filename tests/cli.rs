//! The `certmint` binary: exact command names, exit codes, file modes, all-or-nothing writes.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn certmint(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certmint"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `o` exited with `code` and its stderr holds every one of `needles`.
fn assert_fails_with(o: &Output, code: i32, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(code), "{}", stderr(o));
    for needle in needles {
        assert!(stderr(o).contains(needle), "{needle}: {}", stderr(o));
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `certmint mint` with the CA made by `ca init --dir ca`, plus `extra`.
fn mint(extra: &[&str], dir: &Path) -> Output {
    let mut args = vec![
        "mint",
        "--ca-cert",
        "ca/intermediate.pem",
        "--ca-key",
        "ca/intermediate-key.pem",
    ];
    args.extend_from_slice(extra);
    certmint(&args, dir)
}

fn certs_in(path: &Path) -> usize {
    certmint::pem::parse_certificates(&std::fs::read(path).unwrap())
        .unwrap()
        .len()
}

#[test]
fn ca_init_writes_the_hierarchy_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let o = certmint(&["ca", "init", "--dir", "ca", "--key-type", "p384"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in [
        "root.pem",
        "root-key.pem",
        "intermediate.pem",
        "intermediate-key.pem",
    ] {
        assert!(dir.join("ca").join(f).exists(), "{f}");
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&dir.join("ca/root-key.pem")), 0o600);
        assert_eq!(mode(&dir.join("ca/intermediate-key.pem")), 0o600);
    }
    let info = certmint(&["inspect", "ca/intermediate.pem"], dir);
    assert!(String::from_utf8_lossy(&info.stdout).contains("key: P-384"));
    let before = std::fs::read(dir.join("ca/root.pem")).unwrap();
    let again = certmint(&["ca", "init", "--dir", "ca"], dir);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        stderr(&again).lines().count(),
        1,
        "one line: {}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("--force"));
    assert_eq!(
        std::fs::read(dir.join("ca/root.pem")).unwrap(),
        before,
        "nothing changed"
    );
    let forced = certmint(&["ca", "init", "--dir", "ca", "--force"], dir);
    assert!(forced.status.success());
    assert_ne!(std::fs::read(dir.join("ca/root.pem")).unwrap(), before);
}

#[test]
fn mint_clones_an_origin_and_openssl_verifies_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(certmint(&["ca", "init", "--dir", "ca"], dir)
        .status
        .success());
    let origin = origin(
        &params_for(&["cli.example", "www.cli.example"]),
        certmint::KeyAlgorithm::Rsa2048,
    );
    std::fs::write(dir.join("origin.pem"), test_cert_pem(origin.as_ref())).unwrap();
    let o = mint(
        &[
            "--origin",
            "origin.pem",
            "--crl-url",
            "http://crl.corp.example/certmint",
            "--out",
            "leaf.pem",
            "--key-out",
            "leaf-key.pem",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        certs_in(&dir.join("leaf.pem")),
        2,
        "leaf + intermediate, no root"
    );
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("leaf-key.pem")), 0o600);
    let info =
        String::from_utf8_lossy(&certmint(&["inspect", "leaf.pem"], dir).stdout).into_owned();
    assert!(
        info.contains("subject_alt_names: DNS:cli.example, DNS:www.cli.example"),
        "{info}"
    );
    assert!(info.contains("key: RSA-2048"));
    if have_openssl() {
        let chain =
            certmint::pem::parse_certificates(&std::fs::read(dir.join("leaf.pem")).unwrap())
                .unwrap();
        let root =
            certmint::pem::parse_certificates(&std::fs::read(dir.join("ca/root.pem")).unwrap())
                .unwrap()
                .remove(0);
        openssl_verify(&chain, &root, "www.cli.example", dir).unwrap();
        // The key file matches the leaf.
        let leaf_pub = Command::new("openssl")
            .args(["x509", "-in", "leaf.pem", "-noout", "-pubkey"])
            .current_dir(dir)
            .output()
            .unwrap();
        let key_pub = Command::new("openssl")
            .args(["pkey", "-in", "leaf-key.pem", "-pubout"])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(key_pub.status.success());
        assert_eq!(leaf_pub.stdout, key_pub.stdout);
        let text = Command::new("openssl")
            .args(["x509", "-in", "leaf.pem", "-noout", "-text"])
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            String::from_utf8_lossy(&text.stdout).contains("URI:http://crl.corp.example/certmint/")
        );
    }
}

#[test]
fn mint_from_sni_alone_appends_the_key_without_key_out() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(
        certmint(&["ca", "init", "--dir", "ca", "--key-type", "ed25519"], dir)
            .status
            .success()
    );
    let o = mint(&["--sni", "sni.example", "--out", "both.pem"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.join("both.pem")).unwrap();
    assert_eq!(text.matches("BEGIN CERTIFICATE").count(), 2);
    assert_eq!(text.matches("BEGIN PRIVATE KEY").count(), 1);
    #[cfg(unix)]
    assert_eq!(
        mode(&dir.join("both.pem")),
        0o600,
        "a file holding a key is private"
    );
}

#[test]
fn failures_exit_1_with_one_line_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(certmint(&["ca", "init", "--dir", "ca"], dir)
        .status
        .success());
    std::fs::write(dir.join("bad.der"), b"\x30\x03\x02\x01").unwrap();
    for (args, needle) in [
        (vec!["--origin", "bad.der"], "origin certificate"),
        (vec!["--sni", "bad host"], "host name"),
        (
            vec!["--sni", "x.example", "--key-type", "rsa1024"],
            "unknown key type",
        ),
    ] {
        let mut all = vec!["--out", "out.pem", "--key-out", "key.pem"];
        all.extend(args.iter().copied());
        let o = mint(&all, dir);
        let code = o.status.code();
        assert!(code == Some(1) || code == Some(2), "{args:?}: {code:?}");
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
        assert!(
            !dir.join("out.pem").exists() && !dir.join("key.pem").exists(),
            "{args:?}"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
    // Runtime errors are exit 1 and one line.
    let o = certmint(
        &[
            "mint",
            "--ca-cert",
            "ca/intermediate.pem",
            "--ca-key",
            "ca/root-key.pem",
            "--sni",
            "a.example",
            "--out",
            "o.pem",
        ],
        dir,
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr(&o).trim_end().lines().count(), 1);
    // The error names the key file and the certificate it does not match.
    for needle in ["does not match", "ca/root-key.pem", "CN="] {
        assert!(stderr(&o).contains(needle), "{needle}: {}", stderr(&o));
    }
    // A certificate file without a certificate is named.
    std::fs::write(dir.join("empty.pem"), b"").unwrap();
    let o = certmint(
        &[
            "mint",
            "--ca-cert",
            "empty.pem",
            "--ca-key",
            "ca/intermediate-key.pem",
            "--sni",
            "a.example",
            "--out",
            "o.pem",
        ],
        dir,
    );
    assert_fails_with(&o, 1, &["empty.pem", "no certificate"]);
    // An unwritable destination: the other file is not left behind.
    let o = mint(
        &[
            "--sni",
            "a.example",
            "--out",
            "out.pem",
            "--key-out",
            "no/such/dir/key.pem",
        ],
        dir,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(!dir.join("out.pem").exists());
}

#[test]
fn usage_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let o = certmint(
        &["mint", "--ca-cert", "a", "--ca-key", "b", "--out", "c"],
        tmp.path(),
    );
    assert_eq!(o.status.code(), Some(2), "neither --origin nor --sni");
    assert_eq!(certmint(&["frobnicate"], tmp.path()).status.code(), Some(2));
    // The proxy without a CA points to both ways of giving one.
    let o = certmint(&["proxy", "--listen", "127.0.0.1:0"], tmp.path());
    assert_fails_with(&o, 2, &["--config", "--ca-cert"]);
    // --resolve wants an IP address and says so.
    let o = certmint(
        &[
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--config",
            "x.toml",
            "--resolve",
            "a.example:443:localhost",
        ],
        tmp.path(),
    );
    assert_fails_with(&o, 2, &["IP address"]);
}

#[test]
fn inspect_prints_stable_lines_and_json() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(certmint(&["ca", "init", "--dir", "ca"], dir)
        .status
        .success());
    std::fs::write(
        dir.join("chain.pem"),
        [
            std::fs::read(dir.join("ca/intermediate.pem")).unwrap(),
            std::fs::read(dir.join("ca/root.pem")).unwrap(),
        ]
        .concat(),
    )
    .unwrap();
    let text = String::from_utf8(certmint(&["inspect", "chain.pem"], dir).stdout).unwrap();
    assert_eq!(text.matches("certificate: ").count(), 2);
    for field in [
        "subject: ",
        "issuer: ",
        "serial: ",
        "not_before: ",
        "not_after: ",
        "key: P-256",
        "basic_constraints: CA:TRUE",
        "sha256: ",
    ] {
        assert!(text.contains(field), "{field}\n{text}");
    }
    assert!(text.contains("basic_constraints: CA:TRUE, pathlen:1"));
    let json =
        String::from_utf8(certmint(&["inspect", "--json", "chain.pem"], dir).stdout).unwrap();
    assert!(json.starts_with("[{\"version\":\"v3\""), "{json}");
    assert_eq!(json.matches("\"subject\":").count(), 2);
    let missing = certmint(&["inspect", "nope.pem"], dir);
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("nope.pem"));
}

#[test]
fn encrypted_ca_keys_round_trip_through_the_cli() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // --encrypt without a passphrase: refused, nothing written.
    let o = Command::new(env!("CARGO_BIN_EXE_certmint"))
        .args(["ca", "init", "--dir", "enc", "--encrypt"])
        .env_remove(certmint::keys::PASSPHRASE_ENV)
        .current_dir(dir)
        .output()
        .unwrap();
    assert_fails_with(&o, 1, &["CERTMINT_CA_KEY_PASS"]);
    assert!(!dir.join("enc/root.pem").exists());
    // From the environment.
    let o = Command::new(env!("CARGO_BIN_EXE_certmint"))
        .args(["ca", "init", "--dir", "ca", "--encrypt"])
        .env(certmint::keys::PASSPHRASE_ENV, "env secret")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let key = std::fs::read_to_string(dir.join("ca/intermediate-key.pem")).unwrap();
    assert!(key.contains("BEGIN ENCRYPTED PRIVATE KEY"));
    std::fs::write(dir.join("pass"), "env secret\n").unwrap();
    std::fs::write(dir.join("wrong"), "not it\n").unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "mint",
            "--ca-cert",
            "ca/intermediate.pem",
            "--ca-key",
            "ca/intermediate-key.pem",
            "--sni",
            "enc.example",
            "--out",
            "leaf.pem",
            "--key-out",
            "leaf-key.pem",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_certmint"))
            .args(&args)
            .env_remove(certmint::keys::PASSPHRASE_ENV)
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let none = run(&[]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("encrypted"), "{}", stderr(&none));
    let wrong = run(&["--ca-key-pass-file", "wrong"]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        stderr(&wrong).contains("wrong passphrase"),
        "{}",
        stderr(&wrong)
    );
    assert!(!stderr(&wrong).contains("not it") && !stderr(&wrong).contains("env secret"));
    assert!(!dir.join("leaf.pem").exists() && !dir.join("leaf-key.pem").exists());
    let ok = run(&["--ca-key-pass-file", "pass"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_eq!(certs_in(&dir.join("leaf.pem")), 2);
}

#[test]
fn an_intermediate_requested_by_csr_and_signed_by_openssl_imports_and_mints() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(certmint(&["ca", "init", "--dir", "org"], dir)
        .status
        .success());
    std::fs::write(dir.join("pass"), "s3cret\n").unwrap();
    let openssl = |args: &[&str]| String::from_utf8_lossy(&openssl_ok(dir, args)).into_owned();
    let csr = |name: &str, path_len: &str| {
        let o = certmint(
            &[
                "ca",
                "csr",
                "--subject",
                "CN=Corp Interception CA,O=Example\\, Inc.,C=US",
                "--key-out",
                &format!("{name}-key.pem"),
                "--ca-key-pass-file",
                "pass",
                "--path-len",
                path_len,
                "--out",
                &format!("{name}.csr"),
            ],
            dir,
        );
        assert!(o.status.success(), "{}", stderr(&o));
    };
    csr("inter", "1");
    let text = openssl(&["req", "-in", "inter.csr", "-noout", "-verify", "-text"]);
    assert!(
        text.contains("C = US, O = \"Example, Inc.\", CN = Corp Interception CA"),
        "{text}"
    );
    assert!(
        text.contains("CA:TRUE, pathlen:1") && text.contains("Certificate Sign, CRL Sign"),
        "{text}"
    );
    let key = std::fs::read_to_string(dir.join("inter-key.pem")).unwrap();
    assert!(key.contains("ENCRYPTED PRIVATE KEY"));
    #[cfg(unix)]
    assert_eq!(mode(&dir.join("inter-key.pem")), 0o600);
    openssl_sign_csr(dir, "inter.csr", "inter.pem", true);
    // `ca import` of a certificate signed by org/root.pem, for a key encrypted with `pass`.
    let import = |cert: &str, key: &str, extra: &[&str]| {
        let mut args = vec![
            "ca",
            "import",
            "--cert",
            cert,
            "--ca-key",
            key,
            "--chain",
            "org/root.pem",
        ];
        args.extend(["--ca-key-pass-file", "pass"]);
        args.extend_from_slice(extra);
        certmint(&args, dir)
    };
    let o = import(
        "inter.pem",
        "inter-key.pem",
        &["--rotation", "--id", "corp"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let snippet = String::from_utf8_lossy(&o.stdout);
    assert!(
        snippet.contains("[[ca]]")
            && snippet.contains("id = \"corp\"")
            && snippet.contains("[ca.rotation]"),
        "{snippet}"
    );
    // It mints leaves that openssl verifies up to the organisation's root.
    let o = mint(
        &[
            "--sni",
            "imported.example",
            "--out",
            "leaf.pem",
            "--key-out",
            "leaf-key.pem",
        ],
        dir,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "the default mint helper uses ca/, which does not exist here"
    );
    let o = certmint(
        &[
            "mint",
            "--ca-cert",
            "inter.pem",
            "--ca-key",
            "inter-key.pem",
            "--ca-key-pass-file",
            "pass",
            "--sni",
            "imported.example",
            "--out",
            "leaf.pem",
            "--key-out",
            "leaf-key.pem",
        ],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let chain =
        certmint::pem::parse_certificates(&std::fs::read(dir.join("leaf.pem")).unwrap()).unwrap();
    let root = certmint::pem::parse_certificates(&std::fs::read(dir.join("org/root.pem")).unwrap())
        .unwrap()
        .remove(0);
    openssl_verify(&chain, &root, "imported.example", dir).unwrap();

    // pathLen 0 cannot sign the rotating sub-CA: refused with --rotation.
    csr("tight", "0");
    openssl_sign_csr(dir, "tight.csr", "tight.pem", true);
    let o = import("tight.pem", "tight-key.pem", &["--rotation"]);
    assert_fails_with(&o, 1, &["pathLen"]);
    // Signed without the requested extensions: not a CA.
    openssl_sign_csr(dir, "inter.csr", "plain.pem", false);
    let o = import("plain.pem", "inter-key.pem", &[]);
    assert_fails_with(&o, 1, &["not a CA"]);
}

#[test]
fn csr_refuses_bad_input_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_certmint"))
            .args(args)
            .env_remove(certmint::keys::PASSPHRASE_ENV)
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let o = run(&[
        "ca",
        "csr",
        "--subject",
        "CN=x",
        "--key-out",
        "k.pem",
        "--out",
        "r.csr",
    ]);
    assert_fails_with(&o, 1, &["encrypted"]);
    std::fs::write(dir.join("pass"), "p").unwrap();
    for bad in ["CN", "XX=y", "C=USA", "CN=a+O=b", "CN=a,CN=b"] {
        let o = run(&[
            "ca",
            "csr",
            "--subject",
            bad,
            "--key-out",
            "k.pem",
            "--ca-key-pass-file",
            "pass",
            "--out",
            "r.csr",
        ]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(
            stderr(&o).contains("bad distinguished name"),
            "{bad}: {}",
            stderr(&o)
        );
    }
    // OpenSSL's slash form gets the RFC 4514 spelling as a hint.
    let o = run(&[
        "ca",
        "csr",
        "--subject",
        "/C=GB/O=Example/CN=Proxy CA",
        "--key-out",
        "k.pem",
        "--ca-key-pass-file",
        "pass",
        "--out",
        "r.csr",
    ]);
    assert_fails_with(&o, 1, &["CN=Proxy CA,O=Example,C=GB"]);
    assert!(!dir.join("k.pem").exists() && !dir.join("r.csr").exists());
}

#[test]
fn inspect_escapes_control_characters_in_names() {
    let tmp = tempfile::tempdir().unwrap();
    // A SAN with a newline that would otherwise print as a forged `issuer:` line, and an
    // escape sequence that would drive the terminal.
    let mut p = params_for(&["ok.example"]);
    p.subject_alt_names.push(rcgen::SanType::DnsName(
        "evil.example\nissuer: CN=Forged\x1b[31m"
            .try_into()
            .unwrap(),
    ));
    let cert = origin(&p, certmint::KeyAlgorithm::EcdsaP256);
    std::fs::write(tmp.path().join("c.pem"), test_cert_pem(cert.as_ref())).unwrap();
    let o = certmint(&["inspect", "c.pem"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        text.lines().filter(|l| l.starts_with("issuer:")).count(),
        1,
        "{text}"
    );
    assert!(!text.contains('\x1b'), "{text}");
    assert!(
        text.contains("evil.example\\x0aissuer: CN=Forged\\x1b[31m"),
        "{text}"
    );
}

#[test]
fn inspect_into_a_closed_pipe_ends_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let cert = test_cert_pem(
        origin(
            &params_for(&["pipe.example"]),
            certmint::KeyAlgorithm::EcdsaP256,
        )
        .as_ref(),
    );
    // Well over a pipe buffer of output, so the writer meets the closed pipe.
    std::fs::write(tmp.path().join("many.pem"), cert.repeat(400)).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_certmint"))
        .args(["inspect", "many.pem"])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take()); // `| head -c 16`
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

/// Files in `dir` other than those named: temporary or backup files left behind.
fn leftovers(dir: &Path, expected: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !expected.contains(&n.as_str()))
        .collect()
}

#[test]
fn no_command_replaces_a_file_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(certmint(&["ca", "init", "--dir", "ca"], dir)
        .status
        .success());
    std::fs::write(dir.join("pass"), "a good passphrase\n").unwrap();
    std::fs::write(dir.join("k.pem"), "precious key").unwrap();
    let csr = |extra: &[&str]| {
        let mut args = vec![
            "ca",
            "csr",
            "--subject",
            "CN=x",
            "--key-out",
            "k.pem",
            "--ca-key-pass-file",
            "pass",
            "--out",
            "r.csr",
        ];
        args.extend_from_slice(extra);
        certmint(&args, dir)
    };
    let o = csr(&[]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read(dir.join("k.pem")).unwrap(), b"precious key");
    assert!(!dir.join("r.csr").exists());
    // With --force it is replaced.
    assert!(csr(&["--force"]).status.success());
    assert_ne!(std::fs::read(dir.join("k.pem")).unwrap(), b"precious key");

    std::fs::write(dir.join("out.pem"), "previous output").unwrap();
    let o = mint(&["--sni", "a.example", "--out", "out.pem"], dir);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(dir.join("out.pem")).unwrap(),
        b"previous output"
    );
}

#[test]
fn a_failed_write_puts_the_previous_files_back() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert!(certmint(&["ca", "init", "--dir", "ca"], dir)
        .status
        .success());
    std::fs::write(dir.join("out.pem"), "previous output").unwrap();
    std::fs::create_dir(dir.join("keydir")).unwrap();
    // --key-out is a directory: nothing is written, and --out is untouched even with --force.
    let o = mint(
        &[
            "--sni",
            "a.example",
            "--out",
            "out.pem",
            "--key-out",
            "keydir",
            "--force",
        ],
        dir,
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("keydir"),
        "the error names the output: {}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read(dir.join("out.pem")).unwrap(),
        b"previous output"
    );
    assert!(dir.join("keydir").is_dir());
    assert_eq!(
        leftovers(dir, &["ca", "out.pem", "keydir"]),
        Vec::<String>::new()
    );
    // A rename that fails halfway (the key's directory is read-only) restores the first file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir(dir.join("ro")).unwrap();
        std::fs::write(dir.join("ro/key.pem"), "previous key").unwrap();
        std::fs::set_permissions(dir.join("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
        let writable = std::fs::write(dir.join("ro/probe"), "").is_ok(); // root ignores modes
        if !writable {
            let o = mint(
                &[
                    "--sni",
                    "a.example",
                    "--out",
                    "out.pem",
                    "--key-out",
                    "ro/key.pem",
                    "--force",
                ],
                dir,
            );
            assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
            assert_eq!(
                std::fs::read(dir.join("out.pem")).unwrap(),
                b"previous output"
            );
            assert_eq!(
                std::fs::read(dir.join("ro/key.pem")).unwrap(),
                b"previous key"
            );
        }
        std::fs::set_permissions(dir.join("ro"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[test]
fn empty_passphrases_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for content in ["", "\n", "\r\n"] {
        std::fs::write(dir.join("pass"), content).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_certmint"))
            .args([
                "ca",
                "init",
                "--dir",
                "ca",
                "--encrypt",
                "--ca-key-pass-file",
                "pass",
            ])
            .env_remove(certmint::keys::PASSPHRASE_ENV)
            .current_dir(dir)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{content:?}");
        assert!(stderr(&o).contains("passphrase is empty"), "{}", stderr(&o));
        assert!(!dir.join("ca").join("root-key.pem").exists());
    }
    let o = Command::new(env!("CARGO_BIN_EXE_certmint"))
        .args(["ca", "init", "--dir", "ca", "--encrypt"])
        .env(certmint::keys::PASSPHRASE_ENV, "")
        .current_dir(dir)
        .output()
        .unwrap();
    assert_fails_with(&o, 1, &["passphrase is empty"]);
}

/// The README's command table lists every option each command accepts (a newcomer reads the
/// table, not `--help`).
#[test]
fn the_readme_table_lists_every_option() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // Options every command takes are listed once, above the table.
    let top = String::from_utf8(certmint(&["--help"], tmp.path()).stdout).unwrap();
    let global: Vec<&str> = top
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("--"))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|o| !["--help", "--version"].contains(o))
        .collect();
    assert!(global.contains(&"--log-format"), "{top}");
    let every = readme
        .lines()
        .find(|l| l.starts_with("Every command takes"))
        .expect("a README line listing the options every command takes");
    for option in &global {
        assert!(every.contains(option), "README lacks global {option}");
    }
    for command in [
        "ca init",
        "ca csr",
        "ca import",
        "ca revoke",
        "ca list-issued",
        "crl publish",
        "mint",
        "inspect",
        "demo",
        "proxy",
    ] {
        let mut args: Vec<&str> = command.split(' ').collect();
        args.push("--help");
        let help = String::from_utf8(certmint(&args, tmp.path()).stdout).unwrap();
        let row = readme
            .lines()
            .find(|l| {
                l.starts_with(&format!("| `certmint {command} "))
                    || l.starts_with(&format!("| `certmint {command}`"))
            })
            .unwrap_or_else(|| panic!("no README row for {command}"));
        let options: Vec<&str> = help
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with('-'))
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
            .map(|w| w.trim_end_matches(','))
            .filter(|o| *o != "--help" && !global.contains(o))
            .collect();
        assert!(
            command == "demo" || !options.is_empty(),
            "{command}: {help}"
        );
        for option in options {
            assert!(
                row.contains(option),
                "README row for `{command}` lacks {option}"
            );
        }
    }
}

/// `ca list-issued`, `ca revoke --sub-ca` and `crl publish` on a deployment whose rotating
/// sub-CA was recorded; OpenSSL sees the revocation in the published CRL. Then revocations
/// are written while the writer is killed at random moments: none acknowledged is lost, no
/// file is torn.
#[test]
fn revocation_commands_record_publish_and_survive_a_killed_writer() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    assert!(certmint(&["ca", "init", "--dir", "ca"], d).status.success());
    let config = d.join("certmint.toml");
    std::fs::write(
        &config,
        "[[ca]]\nid = \"corp\"\ncert = \"ca/intermediate.pem\"\nkey = \"ca/intermediate-key.pem\"\n\
         crl_base_url = \"http://crl.test/certmint\"\n[ca.rotation]\nlifetime_days = 7\n",
    )
    .unwrap();
    let deployment = certmint::config::load(&config).unwrap();
    let minted = deployment
        .mint(&certmint::MintRequest::for_host("www.example.com"))
        .unwrap();
    let cfg = config.to_str().unwrap();
    let listed = certmint(&["ca", "list-issued", "--config", cfg], d);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listed = String::from_utf8(listed.stdout).unwrap();
    let row = listed.lines().nth(1).expect("one sub-CA");
    assert!(row.ends_with("valid"), "{listed}");
    let key_id = row.split_whitespace().next().unwrap().to_owned();

    let publish = |out: &str| {
        let o = certmint(&["crl", "publish", "--config", cfg, "--out-dir", out], d);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8(o.stdout).unwrap()
    };
    let files = publish("crl");
    assert_eq!(files.lines().count(), 2, "{files}");
    std::fs::write(
        d.join("root.pem"),
        std::fs::read(d.join("ca/root.pem")).unwrap(),
    )
    .unwrap();
    std::fs::write(d.join("sub.pem"), test_cert_pem(minted.chain()[1].as_ref())).unwrap();
    let intermediate_key_id = {
        let ski = openssl_ok(
            d,
            &[
                "x509",
                "-in",
                "ca/intermediate.pem",
                "-noout",
                "-ext",
                "subjectKeyIdentifier",
            ],
        );
        String::from_utf8(ski)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .replace(':', "")
            .to_lowercase()
    };
    let check = |expect_ok: bool| {
        let crl = format!("crl/{intermediate_key_id}.crl");
        openssl_ok(
            d,
            &[
                "crl",
                "-inform",
                "DER",
                "-in",
                &crl,
                "-out",
                "inter-crl.pem",
            ],
        );
        let (ok, text) = run_in(
            d,
            "openssl",
            &[
                "verify",
                "-crl_check",
                "-CAfile",
                "root.pem",
                "-untrusted",
                "ca/intermediate.pem",
                "-CRLfile",
                "inter-crl.pem",
                "sub.pem",
            ],
        );
        if expect_ok {
            assert!(ok, "{text}");
        } else {
            assert!(!ok && text.contains("certificate revoked"), "{text}");
        }
    };
    check(true);
    let o = certmint(
        &[
            "ca",
            "revoke",
            "--config",
            cfg,
            "--sub-ca",
            &key_id,
            "--reason",
            "key-compromise",
        ],
        d,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let listed =
        String::from_utf8(certmint(&["ca", "list-issued", "--config", cfg], d).stdout).unwrap();
    assert!(listed.contains("revoked (key-compromise)"), "{listed}");
    publish("crl");
    check(false);
    // Bad input: a typed error, exit 1, nothing written.
    let o = certmint(&["ca", "revoke", "--config", cfg, "--sub-ca", "nothex"], d);
    assert_fails_with(&o, 1, &["not hexadecimal"]);
    let o = certmint(
        &[
            "ca", "revoke", "--config", cfg, "--sub-ca", "00", "--reason", "bored",
        ],
        d,
    );
    assert_fails_with(&o, 1, &["unknown revocation reason"]);
    let o = certmint(&["ca", "revoke", "--config", cfg], d);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // Kill the writer mid-write, in a loop.
    let store = certmint::revocation::RevocationStore::open(d.join("revocation")).unwrap();
    let mut acknowledged = Vec::new();
    for i in 0..40u32 {
        let serial = format!("{:04x}", 0x1000 + i);
        let mut child = Command::new(env!("CARGO_BIN_EXE_certmint"))
            .args([
                "ca", "revoke", "--config", cfg, "--serial", &serial, "--issuer", "corp",
            ])
            .current_dir(d)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(u64::from(i % 8) * 1500));
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        if String::from_utf8_lossy(&out.stdout).contains("revoked serial") {
            acknowledged.push(serial);
        }
    }
    let dirs: Vec<_> = std::fs::read_dir(d.join("revocation/revoked"))
        .unwrap()
        .collect();
    assert!(!dirs.is_empty());
    let inter_key: Vec<u8> = (0..intermediate_key_id.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&intermediate_key_id[i..i + 2], 16).unwrap())
        .collect();
    let revoked = store.revoked_under(&inter_key).unwrap(); // fails on any torn file
    let on_record: Vec<String> = revoked
        .iter()
        .map(|r| r.serial.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    for serial in &acknowledged {
        assert!(on_record.contains(serial), "acknowledged {serial} lost");
    }
    eprintln!(
        "killed writers: {} of 40 acknowledged, {} on record",
        acknowledged.len(),
        on_record.len()
    );
}
