//! Shared test helpers: an independent "public" CA that signs origin certificates (built with
//! rcgen, not with certmint), raw DER surgery for origins rcgen cannot express, and the
//! independent verifiers (rustls-webpki and `openssl verify`).
#![allow(dead_code)]

pub mod clone_check;
pub mod proxy;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use certmint::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use certmint::{keys::KeyPool, mint::MintPolicy, testing::ThrowawayCa, KeyAlgorithm, Minter};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
    KeyUsagePurpose,
};

// ---------------------------------------------------------------- the public (origin) CA

/// The CA that signs origin certificates, as a public CA would.
pub struct PublicCa {
    pub issuer: CertifiedIssuer<'static, KeyPair>,
}

pub fn public_ca() -> &'static PublicCa {
    static CA: OnceLock<PublicCa> = OnceLock::new();
    CA.get_or_init(|| {
        let mut p = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "ZZ");
        dn.push(DnType::OrganizationName, "Public Test CA");
        dn.push(DnType::CommonName, "Public Test Root");
        p.distinguished_name = dn;
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        PublicCa {
            issuer: CertifiedIssuer::self_signed(p, key).unwrap(),
        }
    })
}

/// An origin key of the given algorithm (RSA keys are cached per size: they are slow to make).
pub fn origin_key(alg: KeyAlgorithm) -> KeyPair {
    static RSA: OnceLock<Mutex<HashMap<KeyAlgorithm, Vec<u8>>>> = OnceLock::new();
    let rcgen_alg = match alg {
        KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
        _ => &rcgen::PKCS_RSA_SHA256,
    };
    if !alg.is_rsa() {
        return KeyPair::generate_for(rcgen_alg).unwrap();
    }
    let der = RSA
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(alg)
        .or_insert_with(|| alg.generate_test_key())
        .clone();
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der), rcgen_alg).unwrap()
}

/// Signs `params` as an origin certificate under the public CA.
pub fn origin(params: &CertificateParams, alg: KeyAlgorithm) -> CertificateDer<'static> {
    origin_with_key(params, alg).0
}

/// As [`origin`], also returning the origin's key.
pub fn origin_with_key(
    params: &CertificateParams,
    alg: KeyAlgorithm,
) -> (CertificateDer<'static>, KeyPair) {
    let key = origin_key(alg);
    let cert = params.signed_by(&key, &public_ca().issuer).unwrap();
    (cert.der().clone(), key)
}

/// A typical origin's parameters for `hosts`, valid from yesterday for 90 days.
pub fn params_for(hosts: &[&str]) -> CertificateParams {
    let mut p =
        CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name = DistinguishedName::new();
    p.distinguished_name.push(DnType::CommonName, hosts[0]);
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(1);
    p.not_after = now + time::Duration::days(90);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    p
}

// ---------------------------------------------------------------- raw DER surgery

/// Reads one TLV header: (tag, header length, content length).
pub fn header(b: &[u8]) -> (u8, usize, usize) {
    let tag = b[0];
    if b[1] < 0x80 {
        (tag, 2, b[1] as usize)
    } else {
        let n = (b[1] & 0x7f) as usize;
        let len = b[2..2 + n].iter().fold(0usize, |a, x| a << 8 | *x as usize);
        (tag, 2 + n, len)
    }
}

/// Splits a run of TLVs into the complete encodings.
pub fn split(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let (_, h, l) = header(b);
        out.push(b[..h + l].to_vec());
        b = &b[h + l..];
    }
    out
}

pub fn content(tlv: &[u8]) -> &[u8] {
    let (_, h, l) = header(tlv);
    &tlv[h..h + l]
}

pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// Rewrites an origin's TBS fields and re-signs it with the public CA's key. `edit` gets the
/// TBS fields in order: [version?], serial, signature, issuer, validity, subject, spki, ...
pub fn resign(der: &[u8], edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> CertificateDer<'static> {
    use rcgen::SigningKey;
    let cert = split(content(der));
    let mut fields = split(content(&cert[0]));
    edit(&mut fields);
    let tbs = tlv(0x30, &fields.concat());
    let sig = public_ca().issuer.key().sign(&tbs).unwrap();
    let mut bits = vec![0];
    bits.extend(sig);
    let body = [tbs, cert[1].clone(), tlv(0x03, &bits)].concat();
    CertificateDer::from(tlv(0x30, &body))
}

/// An RDN SET holding several AttributeTypeAndValues (a multi-valued RDN).
pub fn multi_valued_rdn(atvs: &[(&[u8], u8, &[u8])]) -> Vec<u8> {
    let body: Vec<u8> = atvs
        .iter()
        .flat_map(|(oid, tag, value)| tlv(0x30, &[tlv(0x06, oid), tlv(*tag, value)].concat()))
        .collect();
    tlv(0x31, &body)
}

// ---------------------------------------------------------------- the interception side

/// The interception hierarchy and a minter under its intermediate.
pub struct Interception {
    pub ca: ThrowawayCa,
    pub minter: Minter,
}

pub fn interception(alg: KeyAlgorithm) -> &'static Interception {
    static ALL: OnceLock<Mutex<HashMap<KeyAlgorithm, &'static Interception>>> = OnceLock::new();
    ALL.get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(alg)
        .or_insert_with(|| {
            let ca = ThrowawayCa::generate(alg).unwrap();
            // RSA-4096 keys can take many seconds to generate in a debug build under load:
            // wait for them rather than fail.
            let pool = KeyPool::new({
                let mut v = certmint::keys::KeyPoolConfig::default();
                v.rsa_wait = std::time::Duration::from_secs(300);
                v
            });
            let minter = Minter::new(
                Arc::new(ca.issuer().unwrap()),
                Arc::new(pool),
                MintPolicy::default(),
            );
            Box::leak(Box::new(Interception { ca, minter }))
        })
}

// ---------------------------------------------------------------- independent verifiers

/// Verifies `chain` (leaf first) for `host` as a TLS server with rustls-webpki.
pub fn webpki_verify(
    chain: &[CertificateDer<'_>],
    root: &CertificateDer<'_>,
    host: &str,
    now: UnixTime,
) -> Result<(), webpki::Error> {
    let anchor = webpki::anchor_from_trusted_cert(root)?;
    let ee = webpki::EndEntityCert::try_from(&chain[0])?;
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &chain[1..],
        now,
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )?;
    let name = ServerName::try_from(host).map_err(|_| webpki::Error::MalformedDnsIdentifier)?;
    ee.verify_is_valid_for_subject_name(&name)
}

/// Runs `tool` in `dir`; returns whether it succeeded and its standard output followed by its
/// standard error.
pub fn run_in(dir: &Path, tool: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(tool)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs openssl in `dir`, asserting success; returns its standard output.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Has openssl sign `csr` with `org/root.pem` (as `certmint ca init --dir org` writes it) into
/// `out`, copying the requested extensions when `copy_extensions`.
pub fn openssl_sign_csr(dir: &Path, csr: &str, out: &str, copy_extensions: bool) {
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        csr,
        "-CA",
        "org/root.pem",
        "-CAkey",
        "org/root-key.pem",
    ];
    if copy_extensions {
        args.extend(["-copy_extensions", "copyall"]);
    }
    args.extend(["-days", "30", "-out", out]);
    openssl_ok(dir, &args);
}

/// Parameters of a CA certificate: keyCertSign + cRLSign, SKI and AKI, valid from an hour ago
/// for 30 days.
pub fn ca_params(cn: &str, path_len: Option<u8>) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p.key_identifier_method = rcgen::KeyIdMethod::Sha256;
    p.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::hours(1);
    p.not_after = now + time::Duration::days(30);
    p
}

pub fn openssl_available() -> bool {
    Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether tests whose tools are missing must fail rather than skip (set in CI).
pub fn require_tools() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("CERTMINT_REQUIRE_TOOLS").is_some()
}

/// Returns false (and prints why) when openssl is missing outside CI; panics in CI.
pub fn have_openssl() -> bool {
    if openssl_available() {
        return true;
    }
    assert!(
        !require_tools(),
        "openssl is required in CI but was not found"
    );
    eprintln!("SKIPPED: openssl not found (install it; CI requires it)");
    false
}

/// `openssl verify -x509_strict -purpose sslserver` with hostname or IP checking. Returns
/// Ok(()) on "OK", Err(output) otherwise.
pub fn openssl_verify(
    chain: &[CertificateDer<'_>],
    root: &CertificateDer<'_>,
    host: &str,
    dir: &Path,
) -> Result<(), String> {
    let pem = |certs: &[CertificateDer<'_>]| -> String {
        certs.iter().map(|c| test_cert_pem(c.as_ref())).collect()
    };
    std::fs::write(dir.join("root.pem"), pem(std::slice::from_ref(root))).unwrap();
    std::fs::write(dir.join("untrusted.pem"), pem(&chain[1..])).unwrap();
    std::fs::write(dir.join("leaf.pem"), pem(&chain[..1])).unwrap();
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    let out = Command::new("openssl")
        .arg("verify")
        .args(["-x509_strict", "-purpose", "sslserver"])
        .args([
            if is_ip {
                "-verify_ip"
            } else {
                "-verify_hostname"
            },
            host,
        ])
        .arg("-CAfile")
        .arg(dir.join("root.pem"))
        .arg("-untrusted")
        .arg(dir.join("untrusted.pem"))
        .arg(dir.join("leaf.pem"))
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains(": OK") {
        Ok(())
    } else {
        Err(text)
    }
}

// ---------------------------------------------------------------- TLS in memory

/// A rustls client trusting only `root`, offering `schemes` (all when `None`) and `alpn`.
pub fn client_config(
    root: &CertificateDer<'static>,
    schemes: Option<Vec<certmint::rustls::SignatureScheme>>,
    alpn: &[&[u8]],
) -> Arc<certmint::rustls::ClientConfig> {
    use certmint::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let mut provider = (*certmint::crypto_provider()).clone();
    if let Some(schemes) = schemes {
        provider.signature_verification_algorithms =
            restrict(provider.signature_verification_algorithms, schemes);
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

fn restrict(
    algs: certmint::rustls::crypto::WebPkiSupportedAlgorithms,
    schemes: Vec<certmint::rustls::SignatureScheme>,
) -> certmint::rustls::crypto::WebPkiSupportedAlgorithms {
    let mapping: Vec<_> = algs
        .mapping
        .iter()
        .filter(|(s, _)| schemes.contains(s))
        .copied()
        .collect();
    certmint::rustls::crypto::WebPkiSupportedAlgorithms {
        all: algs.all,
        mapping: Box::leak(mapping.into_boxed_slice()),
    }
}

/// Runs a TLS handshake between the two configs in memory; returns the client connection.
pub fn handshake(
    client: Arc<certmint::rustls::ClientConfig>,
    server: Arc<certmint::rustls::ServerConfig>,
    server_name: &str,
) -> Result<certmint::rustls::ClientConnection, certmint::rustls::Error> {
    use certmint::rustls;
    let name = ServerName::try_from(server_name.to_owned()).unwrap();
    let mut c = rustls::ClientConnection::new(client, name)?;
    let mut s = rustls::ServerConnection::new(server)?;
    let mut buf = Vec::new();
    for _ in 0..20 {
        buf.clear();
        while c.wants_write() {
            c.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            s.read_tls(&mut &buf[..]).unwrap();
            s.process_new_packets()?;
        }
        buf.clear();
        while s.wants_write() {
            s.write_tls(&mut buf).unwrap();
        }
        if !buf.is_empty() {
            c.read_tls(&mut &buf[..]).unwrap();
            c.process_new_packets()?;
        }
        if !c.is_handshaking() && !s.is_handshaking() {
            return Ok(c);
        }
    }
    panic!("handshake did not finish");
}

/// A server config around any certificate resolver.
pub fn server_config(
    resolver: Arc<dyn certmint::rustls::server::ResolvesServerCert>,
) -> Arc<certmint::rustls::ServerConfig> {
    Arc::new(
        certmint::rustls::ServerConfig::builder_with_provider(certmint::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(resolver),
    )
}

/// A signer that wraps a real one, counts its calls, and fails while `fail` is set.
#[derive(Debug)]
pub struct FlakySigner {
    pub inner: certmint::ca::SoftwareSigner,
    pub calls: std::sync::atomic::AtomicU64,
    pub fail: std::sync::atomic::AtomicBool,
    pub delay: std::time::Duration,
}

impl certmint::ca::Signer for FlakySigner {
    fn algorithm(&self) -> certmint::ca::SignatureAlgorithm {
        self.inner.algorithm()
    }
    fn subject_public_key_info(&self) -> certmint::rustls::pki_types::SubjectPublicKeyInfoDer<'_> {
        self.inner.subject_public_key_info()
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, certmint::Error> {
        use std::sync::atomic::Ordering::SeqCst;
        self.calls.fetch_add(1, SeqCst);
        std::thread::sleep(self.delay);
        if self.fail.load(SeqCst) {
            return Err(certmint::Error::Signing(certmint::OtherError::new(
                std::io::Error::other("token unavailable"),
            )));
        }
        self.inner.sign(message)
    }
}

/// A minter under `ca`'s intermediate whose signer is a [`FlakySigner`].
pub fn flaky_minter(
    ca: &ThrowawayCa,
    delay: std::time::Duration,
) -> (Arc<Minter>, Arc<FlakySigner>) {
    let signer = Arc::new(FlakySigner {
        inner: certmint::ca::SoftwareSigner::from_private_key(&ca.intermediate_key).unwrap(),
        calls: Default::default(),
        fail: Default::default(),
        delay,
    });
    let issuer = certmint::ca::Issuer::new(
        vec![ca.intermediate.clone()],
        Arc::clone(&signer) as Arc<dyn certmint::ca::Signer>,
        certmint::ca::IssuerOptions::default(),
    )
    .unwrap();
    let minter = Minter::new(
        Arc::new(issuer),
        Arc::new(KeyPool::default()),
        MintPolicy::default(),
    );
    (Arc::new(minter), signer)
}

// ---------------------------------------------------------------- PEM and keys for fixtures

/// A certificate as PEM.
pub fn test_cert_pem(der: &[u8]) -> String {
    certmint::pem::encode_certificate(&CertificateDer::from(der.to_vec()))
}

/// Something holding a PKCS#8 key.
pub trait KeyBytes {
    fn key_bytes(&self) -> Vec<u8>;
}

impl KeyBytes for certmint::keys::PrivateKey {
    fn key_bytes(&self) -> Vec<u8> {
        self.pkcs8().secret_pkcs8_der().to_vec()
    }
}

impl KeyBytes for Vec<u8> {
    fn key_bytes(&self) -> Vec<u8> {
        self.clone()
    }
}

impl KeyBytes for [u8] {
    fn key_bytes(&self) -> Vec<u8> {
        self.to_vec()
    }
}

/// An unencrypted PKCS#8 key as PEM (`PRIVATE KEY`).
pub fn test_key_pem<K: KeyBytes + ?Sized>(key: &K) -> String {
    let der = key.key_bytes();
    pem_rfc7468::encode_string("PRIVATE KEY", pem_rfc7468::LineEnding::LF, &der).unwrap()
}

/// Generating PKCS#8 test keys.
pub trait GenerateTestKey {
    fn generate_test_key(self) -> Vec<u8>;
}

impl GenerateTestKey for KeyAlgorithm {
    fn generate_test_key(self) -> Vec<u8> {
        certmint::keys::PrivateKey::generate(self)
            .unwrap()
            .key_bytes()
    }
}

/// The rcgen key of a certmint private key.
pub fn rcgen_key_of(key: &certmint::keys::PrivateKey) -> KeyPair {
    let alg = match key.algorithm() {
        KeyAlgorithm::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyAlgorithm::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyAlgorithm::Ed25519 => &rcgen::PKCS_ED25519,
        _ => &rcgen::PKCS_RSA_SHA256,
    };
    KeyPair::from_pkcs8_der_and_sign_algo(&key.pkcs8(), alg).unwrap()
}

/// Signs `params` for `subject_key` with `ca`'s intermediate, through rcgen: for origins with
/// fields certmint itself never writes.
pub fn issue_under(
    ca: &ThrowawayCa,
    params: &CertificateParams,
    subject_key: &impl rcgen::PublicKeyData,
) -> CertificateDer<'static> {
    let issuer =
        rcgen::Issuer::from_ca_cert_der(&ca.intermediate, rcgen_key_of(&ca.intermediate_key))
            .unwrap();
    params
        .signed_by(subject_key, &issuer)
        .unwrap()
        .der()
        .clone()
}

/// A public key given as a DER SubjectPublicKeyInfo (a token's key), for rcgen.
pub struct SpkiKey {
    bits: Vec<u8>,
    alg: &'static rcgen::SignatureAlgorithm,
}

impl SpkiKey {
    pub fn new(signer: &dyn certmint::ca::Signer) -> Self {
        use certmint::ca::SignatureAlgorithm as S;
        let spki = signer.subject_public_key_info();
        let (_, parsed) = <x509_parser::x509::SubjectPublicKeyInfo as x509_parser::prelude::FromDer<_>>::from_der(spki.as_ref()).unwrap();
        let alg = match signer.algorithm() {
            S::EcdsaP256Sha256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            S::EcdsaP384Sha384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            S::Ed25519 => &rcgen::PKCS_ED25519,
            _ => &rcgen::PKCS_RSA_SHA256,
        };
        Self {
            bits: parsed.subject_public_key.data.to_vec(),
            alg,
        }
    }
}

impl rcgen::PublicKeyData for SpkiKey {
    fn der_bytes(&self) -> &[u8] {
        &self.bits
    }
    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        self.alg
    }
}

// ---------------------------------------------------------------- SoftHSM2 and threads

/// SoftHSM2's module as Debian installs it.
pub const SOFTHSM_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// A private SoftHSM2 token directory with one initialised token per label (user PIN `pin`),
/// made the process's `SOFTHSM2_CONF` (before the module is first loaded). `None`, after
/// printing why, when SoftHSM2 is not installed outside CI; in CI its absence fails.
pub fn softhsm_tokens(labels: &[&str], pin: &str) -> Option<tempfile::TempDir> {
    if !Path::new(SOFTHSM_MODULE).exists() {
        assert!(
            !require_tools(),
            "SoftHSM2 ({SOFTHSM_MODULE}) is required in CI"
        );
        eprintln!("SKIPPED: SoftHSM2 not installed (apt-get install softhsm2)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tokens")).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.path().join("tokens").display()
        ),
    )
    .unwrap();
    std::env::set_var("SOFTHSM2_CONF", &conf);
    for label in labels {
        let out = Command::new("softhsm2-util")
            .args([
                "--init-token",
                "--free",
                "--label",
                label,
                "--so-pin",
                "12345678",
                "--pin",
                pin,
            ])
            .env("SOFTHSM2_CONF", &conf)
            .output()
            .expect("softhsm2-util (apt-get install softhsm2)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some(dir)
}

/// Threads of this process whose name starts with `prefix` (Linux; the kernel keeps 15
/// characters of a name).
pub fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|name| name.starts_with(prefix))
                })
                .count()
        })
        .unwrap_or(0)
}
