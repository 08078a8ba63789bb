//! Files that are not on a hub (`files/` in the bundle): with `--files-dir DIR`, each goes to `DIR/NAME`
//! (a local file's config-relative path, a URL file's name), checked on the way and published with the
//! rest of the install. Names are checked again here: never absolute, never `..`.
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::Digest;

use super::error::{Error, IoContext};
use super::source::Source;
use super::txn::Txn;
use crate::lock::LockedFile;

/// What happened to the files.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FilesSummary {
    pub dir: Option<PathBuf>,
    pub installed: Vec<String>,
    /// Already present with the right content.
    pub unchanged: Vec<String>,
    /// In the bundle but not installed (no `--files-dir`).
    pub not_installed: Vec<String>,
}

fn bad(name: &str, why: impl Into<String>) -> Error {
    Error::ModelFile {
        repo: "files/".into(),
        path: name.to_string(),
        why: why.into(),
    }
}

/// A `/`-separated relative name with no empty, `.` or `..` part.
fn check_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && !name.starts_with('/')
        && !name.contains(['\\', '\0'])
        && name
            .split('/')
            .all(|s| !s.is_empty() && s != "." && s != "..");
    if ok {
        Ok(())
    } else {
        Err(bad(name, "has an unsafe name (absolute or with '..')"))
    }
}

/// Stage every file from the bundle's `files/` for `dir/NAME` in `txn`.
pub fn stage(
    source: &Source,
    files: &[LockedFile],
    dir: &Path,
    txn: &mut Txn,
) -> Result<FilesSummary, Error> {
    let mut summary = FilesSummary {
        dir: Some(dir.to_path_buf()),
        ..FilesSummary::default()
    };
    let staging = txn.staging().join("files");
    std::fs::create_dir_all(&staging).at(&staging)?;
    let needed: u64 = files.iter().map(|f| f.size).sum();
    super::txn::check_space(dir, needed)?;
    for (i, f) in files.iter().enumerate() {
        check_name(&f.name)?;
        let dest = f.name.split('/').fold(dir.to_path_buf(), |p, s| p.join(s));
        if std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file())
            && copy(&dest, None).is_ok_and(|(sha, _)| sha == f.sha256.as_str())
        {
            summary.unchanged.push(f.name.clone());
            continue;
        }
        let staged = staging.join(i.to_string());
        let (sha, size) = super::models::copy_member(source, &format!("files/{}", f.name), &staged)
            .map_err(|e| bad(&f.name, format!("cannot be copied: {e}")))?;
        if sha != f.sha256.as_str() || size != f.size {
            return Err(bad(
                &f.name,
                format!(
                    "has sha256 {sha} ({size} bytes), ferry.json says {} ({} bytes)",
                    f.sha256, f.size
                ),
            ));
        }
        txn.place(staged, dest);
        summary.installed.push(f.name.clone());
    }
    Ok(summary)
}

/// Hash a file (or copy it, when `to` is given), streamed; returns (sha256 hex, size).
fn copy(from: &Path, to: Option<&Path>) -> std::io::Result<(String, u64)> {
    let mut src = File::open(from)?;
    let mut out = to.map(File::create).transpose()?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        if let Some(o) = out.as_mut() {
            o.write_all(&buf[..n])?;
        }
        size += n as u64;
    }
    if let Some(o) = out {
        o.sync_all()?;
    }
    Ok((hex::encode(h.finalize()), size))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        for bad in ["../x", "/etc/x", "a/../b", "a//b", "", "a\\b"] {
            assert!(super::check_name(bad).is_err(), "{bad}");
        }
        assert!(super::check_name("sd-models/model.safetensors").is_ok());
    }
}
