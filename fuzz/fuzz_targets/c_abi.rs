//! The C ABI's byte inputs: configuration text, a host and an origin chain for a lookup, a
//! Squid helper request, a CRL key id. Every call returns a result code; a panic caught at the
//! boundary (`CERTMINT_PANIC`) is a finding.
#![no_main]

use std::sync::OnceLock;

use certmint_ffi::*;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    deployment: usize,
    helper: usize,
    config_path: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("certmint-fuzz-c-abi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let ca = certmint::testing::ThrowawayCa::generate(certmint::KeyAlgorithm::EcdsaP256)
            .expect("a throwaway CA");
        std::fs::write(
            dir.join("ca.pem"),
            certmint::pem::encode_certificate(&ca.intermediate),
        )
        .expect("written");
        std::fs::write(
            dir.join("ca-key.pem"),
            ca.intermediate_key.to_pem().as_bytes(),
        )
        .expect("written");
        let config = format!(
            "[[ca]]\nid = \"fuzz\"\ncert = \"{0}/ca.pem\"\nkey = \"{0}/ca-key.pem\"\n",
            dir.display()
        );
        let config_path = dir.join("fuzz.toml").display().to_string();
        std::fs::write(&config_path, &config).expect("written");
        let mut deployment = std::ptr::null_mut();
        let r = certmint_deployment_new_from_config_text(
            config.as_ptr(),
            config.len(),
            &mut deployment,
        );
        assert!(matches!(r, certmint_result::CERTMINT_OK));
        let mut helper = std::ptr::null_mut();
        let r = certmint_squid_helper_new(std::ptr::null(), 0, &mut helper);
        assert!(matches!(r, certmint_result::CERTMINT_OK));
        Fixture {
            deployment: deployment as usize,
            helper: helper as usize,
            config_path,
        }
    })
}

fn no_panic(r: certmint_result) {
    assert!(
        !matches!(r, certmint_result::CERTMINT_PANIC),
        "a panic reached the C ABI boundary"
    );
}

fuzz_target!(|input: (u8, &[u8], &[u8])| {
    let (which, a, b) = input;
    let f = fixture();
    let deployment = f.deployment as *const certmint_deployment;
    match which % 4 {
        0 => {
            let mut d = std::ptr::null_mut();
            let r = certmint_deployment_new_from_config_text(a.as_ptr(), a.len(), &mut d);
            no_panic(r);
            certmint_deployment_free(d);
        }
        1 => {
            let chain = [certmint_bytes {
                data: b.as_ptr(),
                len: b.len(),
            }];
            let mut minted = std::ptr::null_mut();
            let r = certmint_deployment_lookup(
                deployment,
                a.as_ptr(),
                a.len(),
                chain.as_ptr(),
                1,
                0,
                &mut minted,
            );
            no_panic(r);
            certmint_minted_free(minted);
        }
        2 => {
            let mut buf = vec![0 as std::ffi::c_char; 16 * 1024];
            let mut written = 0;
            let helper = f.helper as *const certmint_squid_helper;
            no_panic(certmint_squid_helper_answer(
                helper,
                a.as_ptr(),
                a.len(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut written,
            ));
        }
        _ => {
            // A reload with the fuzzer's text: applied or refused with a typed error.
            no_panic(certmint_deployment_reload_config_text(
                deployment,
                a.as_ptr(),
                a.len(),
            ));
            // A CRL by the fuzzer's key id.
            let mut buf = vec![0 as std::ffi::c_char; 4096];
            let mut written = 0;
            let path = f.config_path.as_bytes();
            no_panic(certmint_crl_fetch(
                path.as_ptr(),
                path.len(),
                b.as_ptr(),
                b.len(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut written,
            ));
        }
    }
});
