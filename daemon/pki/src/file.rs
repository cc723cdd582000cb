//! Writing a private file whole or not at all: the certificates and keys of `pki`, and the
//! daemon's master-key files and store marker (which is why this is public).

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// What to do when the destination already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Replace it (a rename).
    Replace,
    /// Fail with `AlreadyExists` and leave it untouched (a hard link, which unlike a rename
    /// never replaces): a key file that may seal live values is never overwritten.
    Keep,
}

/// Writes `bytes` to `path`: into a temporary file in the same directory, created with `mode`
/// (so the content never exists with a looser mode), synced, then put in place and the
/// directory synced. A full disk or a crash part way leaves the old file or none, never a short
/// one; the temporary file is removed either way.
pub fn write_whole(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    existing: Existing,
) -> std::io::Result<()> {
    let parent = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(
        ".{file_name}.tmp-{}-{:08x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        match existing {
            Existing::Replace => fs::rename(&tmp, path),
            Existing::Keep => fs::hard_link(&tmp, path),
        }
    })();
    let _ = fs::remove_file(&tmp);
    written?;
    // The directory entry too; a directory that cannot be opened for that leaves the file written.
    if let Ok(dir) = fs::File::open(parent) {
        dir.sync_all()?;
    }
    Ok(())
}
