//! Writing several output files so that either all of them appear or none changes: each is
//! written to a temporary file beside its destination, flushed, then all are renamed.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// One file to write.
pub(crate) struct Output<'a> {
    path: PathBuf,
    bytes: &'a [u8],
    secret: bool,
}

impl<'a> Output<'a> {
    pub(crate) fn public(path: PathBuf, bytes: &'a [u8]) -> Self {
        Self {
            path,
            bytes,
            secret: false,
        }
    }

    /// Written with mode 0600.
    pub(crate) fn secret(path: PathBuf, bytes: &'a [u8]) -> Self {
        Self {
            path,
            bytes,
            secret: true,
        }
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> CliError + '_ {
    move |source| CliError::File {
        path: path.to_owned(),
        source,
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.certmint-{}.tmp", std::process::id()))
}

fn write_temp(out: &Output<'_>, temp: &Path) -> Result<(), CliError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if out.secret { 0o600 } else { 0o644 });
    }
    let mut file: File = options.open(temp).map_err(io_error(temp))?;
    file.write_all(out.bytes).map_err(io_error(temp))?;
    file.sync_all().map_err(io_error(temp))
}

/// Writes every output, or none.
pub(crate) fn write_all(outputs: &[Output<'_>]) -> Result<(), CliError> {
    let temps: Vec<PathBuf> = outputs.iter().map(|o| temp_path(&o.path)).collect();
    let cleanup = |temps: &[PathBuf]| {
        for t in temps {
            let _ = fs::remove_file(t);
        }
    };
    for (out, temp) in outputs.iter().zip(&temps) {
        if let Err(e) = write_temp(out, temp) {
            cleanup(&temps);
            return Err(e);
        }
    }
    for (i, (out, temp)) in outputs.iter().zip(&temps).enumerate() {
        if let Err(e) = fs::rename(temp, &out.path) {
            // Undo the renames already made so no partial set is left behind.
            for done in &outputs[..i] {
                let _ = fs::remove_file(&done.path);
            }
            cleanup(&temps);
            return Err(io_error(&out.path)(e));
        }
    }
    Ok(())
}
