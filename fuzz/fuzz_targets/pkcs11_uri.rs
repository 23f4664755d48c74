//! PKCS#11 URIs (RFC 7512): parsed or refused with a typed error; a PIN in one is never in
//! what `redact_pins` returns or in the parsed URI's `Debug` text.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let redacted = certmint::ca::redact_pins(text);
    if let Ok(uri) = certmint::ca::Pkcs11Uri::parse(text) {
        let shown = format!("{uri:?}");
        if let Some(pin) = uri.pin_value.as_ref().map(|p| p.as_bytes()) {
            // A PIN long enough not to appear by chance in the rest of the text.
            if pin.len() >= 8 {
                let pin = String::from_utf8_lossy(pin);
                assert!(!shown.contains(pin.as_ref()), "the PIN is in the Debug text");
                assert!(!redacted.contains(pin.as_ref()), "the PIN survived redaction");
            }
        }
    }
});
