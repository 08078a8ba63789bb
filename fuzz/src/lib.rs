//! Shared helpers for the fuzz targets: a scratch folder per process, the fixed test key, and a re-signer that
//! lets fuzzed bundles get past the signature check.
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ferry::bundle::sign::{self, SecretKey};

/// Base URL the simple-index pages are parsed against.
pub const INDEX_PAGE: &str = "http://127.0.0.1:9/simple/demo-pkg/";

/// A scratch folder for this process, removed by nobody: it lives under the system temp dir.
pub fn scratch() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ferry-fuzz-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create scratch folder");
        dir
    })
}

/// Write `bytes` to `name` in the scratch folder and return its path.
pub fn write_input(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    fs::write(&path, bytes).expect("write fuzz input");
    path
}

/// The fixed, unencrypted test key pair checked in under fuzz/keys/ (for fuzzing only).
pub fn keys() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("keys");
    (dir.join("fuzz.key"), dir.join("fuzz.pub"))
}

fn secret_key() -> &'static SecretKey {
    static KEY: OnceLock<SecretKey> = OnceLock::new();
    KEY.get_or_init(|| sign::load_secret_key_with(&keys().0, None).expect("load fuzz key"))
}

/// Replace the data of the `SHA256SUMS.minisig` member with a valid signature (by the fixed key) of the
/// `SHA256SUMS` member read before it, keeping every other byte of the tar as it is. `None` when the tar
/// cannot be walked that far or has no such pair of members.
pub fn resign(tar_bytes: &[u8]) -> Option<Vec<u8>> {
    let mut archive = tar::Archive::new(tar_bytes);
    let mut sums: Option<Vec<u8>> = None;
    for entry in archive.entries().ok()? {
        let mut entry = entry.ok()?;
        let name = entry.path_bytes().into_owned();
        if name == b"SHA256SUMS" {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).ok()?;
            sums = Some(data);
        } else if name == b"SHA256SUMS.minisig" {
            let sums = sums?;
            let signature = secret_key().sign(&sums, "fuzz").ok()?;
            let header_at = usize::try_from(entry.raw_header_position()).ok()?;
            let data_at = usize::try_from(entry.raw_file_position()).ok()?;
            let end = data_at.checked_add(padded(entry.size())?)?;
            if end > tar_bytes.len() || header_at + 512 > tar_bytes.len() {
                return None;
            }
            let mut header =
                tar::Header::from_byte_slice(&tar_bytes[header_at..header_at + 512]).clone();
            header.set_size(signature.len() as u64);
            header.set_cksum();
            let mut out = Vec::with_capacity(tar_bytes.len() + 512);
            out.extend_from_slice(&tar_bytes[..header_at]);
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(signature.as_bytes());
            out.resize(
                out.len() + padded(signature.len() as u64)? - signature.len(),
                0,
            );
            out.extend_from_slice(&tar_bytes[end..]);
            return Some(out);
        }
    }
    None
}

fn padded(size: u64) -> Option<usize> {
    let size = usize::try_from(size).ok()?;
    Some(size.checked_add(511)? / 512 * 512)
}

/// After an extract: a failed one leaves `dest` empty; a successful one leaves no symlink that leads out of it.
pub fn check_extract(dest: &Path, ok: bool) {
    let mut stack = vec![dest.to_path_buf()];
    let root = dest.canonicalize().expect("canonical dest");
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read dest") {
            let path = entry.expect("dest entry").path();
            assert!(ok, "failed extract left {}", path.display());
            let meta = fs::symlink_metadata(&path).expect("lstat");
            if meta.file_type().is_symlink() {
                if let Ok(target) = path.canonicalize() {
                    assert!(
                        target.starts_with(&root),
                        "symlink {} leads out of the bundle to {}",
                        path.display(),
                        target.display()
                    );
                }
            } else if meta.is_dir() {
                stack.push(path);
            }
        }
    }
}

/// A fresh, empty extract destination.
pub fn fresh_dest() -> PathBuf {
    let dest = scratch().join("dest");
    let _ = fs::remove_dir_all(&dest);
    fs::create_dir(&dest).expect("create dest");
    dest
}
