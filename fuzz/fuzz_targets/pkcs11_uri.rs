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
            // A PIN long enough not to appear by chance in the rest of the text. The text may
            // hold the PIN's characters elsewhere too, written out or %-encoded (a token label
            // or another attribute of `LLLL...` when the PIN is `LLLL`): those are the other
            // fields' own, and stay in the Debug text and the redacted text, as they should.
            if pin.len() >= 8 {
                let pin = String::from_utf8_lossy(pin);
                let as_written = usize::from(
                    text.to_ascii_lowercase()
                        .contains(&format!("pin-value={}", pin.to_ascii_lowercase())),
                );
                let decoded = percent_decoded(text);
                let elsewhere = text.matches(pin.as_ref()).count() > as_written
                    || decoded.matches(pin.as_ref()).count() > 1;
                // A PIN that is (part of) the redaction marker, `<redacted>`, is found in the
                // marker itself: look outside the markers.
                let outside = |t: &str| t.replace("<redacted>", "\u{0}");
                if !elsewhere {
                    let shown = outside(&shown);
                    assert!(
                        !shown.contains(pin.as_ref()),
                        "the PIN is in the Debug text"
                    );
                    let redacted = outside(&redacted);
                    assert!(
                        !redacted.contains(pin.as_ref()),
                        "the PIN survived redaction"
                    );
                }
            }
        }
    }
});

/// `text` with every `%XX` decoded (lossily, for comparison only).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
