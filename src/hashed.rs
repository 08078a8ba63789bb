//! Files this process hashed moments ago: path and identity (device, inode, size, mtime, ctime) → sha256.
//!
//! The downloader hashes every byte it writes, and a cache hit is hashed before it is used; the bundle
//! writer then skips hashing a member whose file still has the identity it had when it was hashed. Any
//! write to the file (or a `utimensat` that puts its mtime back) changes its ctime, so a changed file is
//! hashed again. The registry lives in memory only: a new process hashes everything once more.
use std::collections::HashMap;
use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::types::Sha256;

/// What identifies one version of a file's content without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Identity {
    /// The identity of the file `meta` describes (`None` where the platform does not give one).
    pub fn of(meta: &Metadata) -> Option<Identity> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let ns = |s: i64, n: i64| s as i128 * 1_000_000_000 + n as i128;
            Some(Identity {
                dev: meta.dev(),
                ino: meta.ino(),
                size: meta.len(),
                mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
                ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The identity of the file at `path` now.
    pub fn of_path(path: &Path) -> Option<Identity> {
        std::fs::metadata(path).ok().as_ref().and_then(Identity::of)
    }
}

static REGISTRY: Mutex<Option<HashMap<PathBuf, (Identity, Sha256)>>> = Mutex::new(None);

/// Remember that the file at `path`, while it had `identity`, hashed to `sha256`.
pub fn record(path: &Path, identity: Identity, sha256: Sha256) {
    let mut map = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    map.get_or_insert_with(HashMap::new)
        .insert(path.to_path_buf(), (identity, sha256));
}

/// The sha256 recorded for `path` if the file `meta` describes (opened from `path`) still has the identity
/// it had when it was hashed.
pub fn lookup(path: &Path, meta: &Metadata) -> Option<Sha256> {
    let now = Identity::of(meta)?;
    let map = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    match map.as_ref()?.get(path) {
        Some((identity, sha)) if *identity == now => Some(sha.clone()),
        _ => None,
    }
}

/// Forget every recorded file (tests).
pub fn clear() {
    let mut map = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    *map = None;
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_that_keeps_size_and_mtime_still_changes_the_identity() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello").unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        record(&p, Identity::of(&meta).unwrap(), Sha256::digest(b"hello"));
        assert_eq!(lookup(&p, &meta), Some(Sha256::digest(b"hello")));
        let mtime = meta.modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&p, b"HELLO").unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f.set_modified(mtime).unwrap();
        let after = std::fs::metadata(&p).unwrap();
        assert_eq!((after.len(), after.modified().unwrap()), (5, mtime));
        assert_eq!(lookup(&p, &after), None);
        assert_eq!(lookup(&dir.path().join("other"), &meta), None);
    }
}
