//! Encrypted PKCS#8 CA keys: read what openssl writes, write what openssl reads, typed errors,
//! passphrase sources.

mod common;

use certmint::keys::Secret;
use certmint::{
    ca::{Signer, SoftwareSigner},
    Error, KeyAlgorithm, KeyError,
};
use common::*;

fn openssl(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    openssl_ok(dir, args)
}

#[test]
fn keys_encrypted_by_openssl_are_read_and_bad_passphrases_are_typed_errors() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let secret = "correct horse battery staple";
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ec.pem",
        ],
    );
    openssl(dir, &["genrsa", "-out", "rsa.pem", "2048"]);
    let cases = [
        (
            "ec-pbkdf2.pem",
            vec!["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "ec.pem"],
            KeyAlgorithm::EcdsaP256,
        ),
        (
            "ec-scrypt.pem",
            vec!["pkcs8", "-topk8", "-scrypt", "-in", "ec.pem"],
            KeyAlgorithm::EcdsaP256,
        ),
        (
            "rsa-pbkdf2.pem",
            vec!["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "rsa.pem"],
            KeyAlgorithm::Rsa2048,
        ),
    ];
    for (file, mut args, alg) in cases {
        let pass = format!("pass:{secret}");
        args.extend(["-passout", &pass, "-out", file]);
        openssl(dir, &args);
        let pem = std::fs::read(dir.join(file)).unwrap();
        assert!(String::from_utf8_lossy(&pem).contains("ENCRYPTED PRIVATE KEY"));
        let signer = SoftwareSigner::from_key_bytes_with_passphrase(
            &pem,
            Some(&Secret::from(secret.as_bytes().to_vec())),
        )
        .unwrap();
        assert_eq!(signer.key_algorithm(), alg, "{file}");
        let expected = openssl(
            dir,
            &[
                "pkey", "-in", file, "-passin", &pass, "-pubout", "-outform", "DER",
            ],
        );
        assert_eq!(
            signer.subject_public_key_info().as_ref(),
            &expected[..],
            "{file}"
        );
        // DER works too.
        let der = openssl(
            dir,
            &[
                "pkcs8",
                "-topk8",
                "-v2",
                "aes-256-cbc",
                "-in",
                file,
                "-passin",
                &pass,
                "-passout",
                &pass,
                "-outform",
                "DER",
            ],
        );
        SoftwareSigner::from_key_bytes_with_passphrase(
            &der,
            Some(&Secret::from(secret.as_bytes().to_vec())),
        )
        .unwrap();

        let none = SoftwareSigner::from_key_bytes(&pem).unwrap_err();
        assert!(
            matches!(none, Error::Key(KeyError::Encrypted)),
            "{file}: {none:?}"
        );
        let wrong = SoftwareSigner::from_key_bytes_with_passphrase(
            &pem,
            Some(&Secret::from("Tr0ub4dor&3")),
        )
        .unwrap_err();
        assert!(
            matches!(wrong, Error::Key(KeyError::WrongPassphrase)),
            "{file}: {wrong:?}"
        );
        for err in [&none, &wrong] {
            let text = format!("{err} {err:?}");
            assert!(
                !text.contains("Tr0ub4dor") && !text.contains("horse"),
                "{text}"
            );
        }
    }
    // Legacy PRF (HMAC-SHA1): refused with its own error.
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-v2prf",
            "hmacWithSHA1",
            "-in",
            "ec.pem",
            "-passout",
            "pass:x",
            "-out",
            "sha1.pem",
        ],
    );
    let pem = std::fs::read(dir.join("sha1.pem")).unwrap();
    let err =
        SoftwareSigner::from_key_bytes_with_passphrase(&pem, Some(&Secret::from("x"))).unwrap_err();
    assert!(
        matches!(err, Error::Key(KeyError::UnsupportedEncryption)),
        "{err:?}"
    );
}

#[test]
fn corrupt_encrypted_keys_never_panic() {
    let key = certmint::keys::PrivateKey::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let pem = certmint::keys::encrypt_private_key(&key, &Secret::from("pw")).unwrap();
    let der = certmint::pem::parse_certificates(b"").err(); // keep the import list honest
    assert!(der.is_some());
    let body: String = String::from_utf8_lossy(pem.as_bytes())
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let mut bytes = base64_decode(&body);
    let len = bytes.len();
    for i in [len - 1, len - 20, len / 2, 10, 3] {
        bytes[i] ^= 0x41;
        let result =
            SoftwareSigner::from_key_bytes_with_passphrase(&bytes, Some(&Secret::from("pw")));
        assert!(matches!(result, Err(Error::Key(_))), "byte {i}: {result:?}");
        bytes[i] ^= 0x41;
    }
    for cut in [1, len / 2, len - 1] {
        assert!(SoftwareSigner::from_key_bytes_with_passphrase(
            &bytes[..cut],
            Some(&Secret::from("pw"))
        )
        .is_err());
    }
    SoftwareSigner::from_key_bytes_with_passphrase(&bytes, Some(&Secret::from("pw"))).unwrap();
}

fn base64_decode(text: &str) -> Vec<u8> {
    let pem = format!(
        "-----BEGIN X-----\n{}\n-----END X-----\n",
        text.as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let mut buf = vec![0u8; text.len()];
    let (_, der) = pem_rfc7468::decode(pem.as_bytes(), &mut buf).unwrap();
    der.to_vec()
}

#[test]
fn keys_certmint_encrypts_are_read_by_openssl_with_600k_pbkdf2_sha256_and_aes256() {
    if !have_openssl() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let key = certmint::keys::PrivateKey::generate(KeyAlgorithm::EcdsaP384).unwrap();
    let pem = certmint::keys::encrypt_private_key(&key, &Secret::from("s3cret phrase")).unwrap();
    std::fs::write(tmp.path().join("enc.pem"), pem.as_bytes()).unwrap();
    let text = String::from_utf8(openssl(tmp.path(), &["asn1parse", "-in", "enc.pem"])).unwrap();
    assert!(text.contains("PBES2") && text.contains("PBKDF2"), "{text}");
    assert!(
        text.contains("hmacWithSHA256") && text.contains("aes-256-cbc"),
        "{text}"
    );
    assert!(
        text.contains("INTEGER           :0927C0"),
        "600,000 = 0x0927C0 iterations: {text}"
    );
    let decrypted = openssl(
        tmp.path(),
        &[
            "pkey",
            "-in",
            "enc.pem",
            "-passin",
            "pass:s3cret phrase",
            "-outform",
            "DER",
        ],
    );
    let signer = SoftwareSigner::from_key_bytes(&decrypted).unwrap();
    let ours = SoftwareSigner::from_key_bytes_with_passphrase(
        pem.as_bytes(),
        Some(&Secret::from("s3cret phrase")),
    )
    .unwrap();
    assert_eq!(
        signer.subject_public_key_info(),
        ours.subject_public_key_info()
    );
}

#[test]
fn passphrase_file_wins_over_the_environment_and_loses_one_newline() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("pass");
    std::fs::write(&file, "from file\n\n").unwrap();
    // This binary's only reader of the variable is this test.
    std::env::set_var(certmint::keys::PASSPHRASE_ENV, "from env");
    let got = certmint::keys::passphrase_from_sources(Some(&file))
        .unwrap()
        .unwrap();
    assert_eq!(got.as_bytes(), b"from file\n");
    let env = certmint::keys::passphrase_from_sources(None)
        .unwrap()
        .unwrap();
    assert_eq!(env.as_bytes(), b"from env");
    // One rule everywhere: `Issuer::from_files` reads the variable too.
    let ca = certmint::testing::ThrowawayCa::generate(KeyAlgorithm::EcdsaP256).unwrap();
    let key = certmint::keys::encrypt_private_key(&ca.intermediate_key, &env).unwrap();
    std::fs::write(tmp.path().join("ca-key.pem"), key.as_bytes()).unwrap();
    std::fs::write(
        tmp.path().join("ca.pem"),
        test_cert_pem(ca.intermediate.as_ref()),
    )
    .unwrap();
    certmint::ca::Issuer::from_files(&tmp.path().join("ca.pem"), &tmp.path().join("ca-key.pem"))
        .unwrap();
    std::env::remove_var(certmint::keys::PASSPHRASE_ENV);
    // Without it, the error says how to give the passphrase.
    let e = certmint::ca::Issuer::from_files(
        &tmp.path().join("ca.pem"),
        &tmp.path().join("ca-key.pem"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("CERTMINT_CA_KEY_PASS"), "{e}");
    assert!(certmint::keys::passphrase_from_sources(None)
        .unwrap()
        .is_none());
    let missing =
        certmint::keys::passphrase_from_sources(Some(&tmp.path().join("nope"))).unwrap_err();
    assert!(matches!(missing, KeyError::PassphraseSource { .. }));
}

/// Found by the `keys` fuzz target: every key that loads must sign, in each format
/// (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8), for each algorithm a CA key may have.
#[test]
fn every_key_that_loads_signs() {
    use certmint::ca::{Signer, SoftwareSigner};
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/keys"));
    let pass = certmint::keys::Secret::from("fuzz passphrase");
    let mut loaded = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let empty = certmint::keys::Secret::from("");
        for passphrase in [None, Some(&pass), Some(&empty)] {
            let Ok(signer) = SoftwareSigner::from_key_bytes_with_passphrase(&bytes, passphrase)
            else {
                continue;
            };
            let signature = signer.sign(b"certmint");
            assert!(signature.is_ok(), "{}: {signature:?}", path.display());
            loaded += 1;
        }
    }
    assert!(loaded >= 10, "{loaded} keys");
}
