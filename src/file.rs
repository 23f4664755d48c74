//! Reading files, with errors that name the file.

use std::path::Path;

use crate::error::Error;

/// Reads a whole file; the error names it.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::io(path, source))
}
