//! Configuration text: `Config::from_text` and the builder it makes. Never a panic; a mistake
//! is a typed error (naming its line).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(config) = certmint::config::Config::from_text(text) {
            let _ = config.metrics_listen();
            let _ = config.crl_listen();
            let _ = config.squid_settings();
            // Builds the CA specs (keys are opened only by `build`, which is not called).
            let _ = config.into_builder();
        }
    }
});
