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

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.certmint-{}.{suffix}", std::process::id()))
}

fn temp_path(path: &Path) -> PathBuf {
    sibling(path, "tmp")
}

fn backup_path(path: &Path) -> PathBuf {
    sibling(path, "bak")
}

/// Writes `out` to `temp`; errors name the output, not the temporary file.
fn write_temp(out: &Output<'_>, temp: &Path) -> Result<(), CliError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if out.secret { 0o600 } else { 0o644 });
    }
    let name = io_error(&out.path);
    let mut file: File = options.open(temp).map_err(name)?;
    file.write_all(out.bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error(&out.path))
}

/// Refuses outputs that are directories, or that exist when `force` is off: checked before a
/// command does any work (a key generated in a token cannot be taken back).
pub(crate) fn check_outputs(paths: &[&Path], force: bool) -> Result<(), CliError> {
    for path in paths {
        if path.is_dir() {
            return Err(CliError::File {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
            });
        }
        if !force && path.exists() {
            return Err(CliError::Exists(path.to_path_buf()));
        }
    }
    Ok(())
}

/// Writes every output, or none: no existing file is replaced unless `force`; on any failure
/// every output is back as it was (replaced files restored from their backups).
pub(crate) fn write_all(outputs: &[Output<'_>], force: bool) -> Result<(), CliError> {
    let paths: Vec<&Path> = outputs.iter().map(|o| o.path.as_path()).collect();
    check_outputs(&paths, force)?;
    let temps: Vec<PathBuf> = outputs.iter().map(|o| temp_path(&o.path)).collect();
    let remove_temps = || {
        for t in &temps {
            let _ = fs::remove_file(t);
        }
    };
    for (out, temp) in outputs.iter().zip(&temps) {
        if let Err(e) = write_temp(out, temp) {
            remove_temps();
            return Err(e);
        }
    }
    // Move the files being replaced aside, then the new ones in.
    let mut backups: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut placed: Vec<&Path> = Vec::new();
    let undo = |backups: &[(PathBuf, PathBuf)], placed: &[&Path]| {
        for path in placed {
            let _ = fs::remove_file(path);
        }
        for (original, backup) in backups {
            let _ = fs::rename(backup, original);
        }
        remove_temps();
    };
    for out in outputs {
        if out.path.exists() {
            let backup = backup_path(&out.path);
            if let Err(e) = fs::rename(&out.path, &backup) {
                undo(&backups, &placed);
                return Err(io_error(&out.path)(e));
            }
            backups.push((out.path.clone(), backup));
        }
    }
    for (out, temp) in outputs.iter().zip(&temps) {
        if let Err(e) = fs::rename(temp, &out.path) {
            undo(&backups, &placed);
            return Err(io_error(&out.path)(e));
        }
        placed.push(&out.path);
    }
    for (_, backup) in &backups {
        let _ = fs::remove_file(backup);
    }
    Ok(())
}
