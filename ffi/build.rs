//! Build steps of the C ABI crate:
//! - the shared library's soname, so programs linked against `libcertmint.so` record
//!   `libcertmint.so.0` and keep working across compatible upgrades;
//! - the message table of `certmint_result`, made from the enum's own doc comments in
//!   `src/result.rs` (one source for a code and its message; cbindgen cannot see through macros).

use std::fmt::Write as _;

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libcertmint.so.0");
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/result.rs");

    let source = std::fs::read_to_string("src/result.rs").expect("src/result.rs is readable");
    let body = source
        .split_once("pub enum certmint_result {")
        .expect("src/result.rs declares certmint_result")
        .1;
    let mut codes: Vec<(String, String)> = Vec::new();
    let mut doc: Option<String> = None;
    for line in body.lines().map(str::trim) {
        if line == "}" {
            break;
        }
        if let Some(text) = line.strip_prefix("///") {
            doc.get_or_insert_with(|| text.trim().to_owned());
        } else if let Some((name, _)) = line.split_once(" = ") {
            let message = doc
                .take()
                .unwrap_or_else(|| panic!("{name} has no doc comment"));
            codes.push((name.to_owned(), message));
        }
    }
    let mut out = String::from(
        "impl certmint_result {\n    /// Every code, in order.\n    pub const ALL: &'static [certmint_result] = &[\n",
    );
    for (name, _) in &codes {
        writeln!(out, "        certmint_result::{name},").unwrap();
    }
    out.push_str("    ];\n\n    /// The code's message: the first line of its documentation.\n");
    out.push_str("    pub fn message(self) -> &'static str {\n        match self {\n");
    for (name, message) in &codes {
        writeln!(out, "            certmint_result::{name} => {message:?},").unwrap();
    }
    out.push_str("        }\n    }\n\n    /// The code with this value, if there is one.\n");
    out.push_str("    pub fn from_u32(value: u32) -> Option<Self> {\n");
    out.push_str("        Self::ALL.iter().copied().find(|c| *c as u32 == value)\n    }\n}\n");
    let dest = std::path::Path::new(&std::env::var("OUT_DIR").unwrap()).join("result_messages.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
