//! `certmint inspect`: every certificate in a file as `field: value` lines or JSON.

use std::path::PathBuf;

use certmint::inspect::CertificateInfo;

use crate::error::CliError;

#[derive(clap::Args)]
pub(crate) struct InspectArgs {
    /// PEM or DER file.
    file: PathBuf,
    /// Print JSON (an array of objects) instead.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &InspectArgs) -> Result<(), CliError> {
    let certs = crate::ca::read_certificates(&args.file)?;
    let infos = certs
        .iter()
        .map(|c| CertificateInfo::parse(c.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut text = String::new();
    if args.json {
        let items: Vec<String> = infos.iter().map(CertificateInfo::to_json).collect();
        text = format!("[{}]\n", items.join(","));
    } else {
        for (i, info) in infos.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            text.push_str(&format!("certificate: {i}\n{}", info.to_text()));
        }
    }
    // A closed pipe (`certmint inspect f | head`) ends the output quietly, never a panic.
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::File {
            path: "<stdout>".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}
