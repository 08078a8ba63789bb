//! The lock stage: plan + resolution + model pins → [`Lock`] ([`make`]), and the files a lock names
//! fetched into the cache ([`packages`]). The lock is everything a bundle holds, pinned; it is written as
//! `ferry.lock` and, inside a bundle, as `ferry.json`. No URL in it carries credentials.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod make;
pub mod packages;

pub use make::{created_time, make_lock, Made};

use crate::target::Target;
use crate::types::{CommitSha, PackageName, RepoId, RepoKind, Sha256};

pub mod delta;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// Format version of this file.
    pub format: u32,
    /// `ferry X.Y.Z` that wrote it.
    pub tool: String,
    pub name: String,
    /// Seconds since the epoch: SOURCE_DATE_EPOCH or the time the lock was made. Used as every member's mtime.
    pub created: u64,
    pub targets: Vec<Target>,
    /// Where the inputs came from (files, flags), for the record.
    #[serde(default)]
    pub inputs: Vec<String>,
    /// Top-level requirements as the user wrote them (PEP 508 strings).
    #[serde(default)]
    pub requirements: Vec<String>,
    /// Package indexes in priority order (credentials removed).
    #[serde(default)]
    pub indexes: Vec<String>,
    #[serde(default)]
    pub hf_endpoint: Option<String>,
    #[serde(default)]
    pub packages: Vec<LockedPackage>,
    #[serde(default)]
    pub models: Vec<LockedModel>,
    /// Files that are not on a hub (local files, plain URLs), carried under `files/`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<LockedFile>,
    /// Local paths named by configs: reported, not carried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub local_paths: Vec<String>,
    /// Requirement lines skipped under `--skip-unbundlable`, with file:line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    /// The PyTorch backend of each target (`--torch-backend`), where its index is and why it was chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub torch: Vec<TorchRecord>,
    /// A delta bundle: the base it builds on and the files it leaves out (see [`delta`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<delta::Delta>,
}

/// Where a target's PyTorch family came from and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TorchRecord {
    /// Target id ([`Target::id`]).
    pub target: String,
    /// `cpu`, `cu121`, `rocm6.2`, `xpu`.
    pub backend: String,
    /// The backend's index (credentials removed).
    pub index: String,
    /// e.g. "cu121: driver 535.104.05 on the probed host".
    pub reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DistKind {
    Wheel,
    Sdist,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPackage {
    pub name: PackageName,
    pub version: String,
    pub filename: String,
    pub kind: DistKind,
    /// Where the file was downloaded from.
    pub url: String,
    pub sha256: Sha256,
    pub size: u64,
    /// Ids of the targets ([`Target::id`]) this file serves.
    pub targets: Vec<String>,
    /// Named by the user's requirements (not only pulled in as a dependency).
    #[serde(default)]
    pub requested: bool,
    /// Why it is here when it is not a runtime dependency (e.g. "build requirement of foo").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An sdist that must be built on the target; `true` when it may need a compiler.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_compiler: bool,
    /// For a wheel ferry built at bundle time: the sdist it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built_from: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedModel {
    /// The name the user asked for; installed under this name.
    pub repo: RepoId,
    #[serde(default)]
    pub kind: RepoKind,
    /// Requested revision (branch, tag or sha).
    pub revision: String,
    pub commit: CommitSha,
    /// When fetched from an alias (a moved or deleted repo), the repo actually fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_repo: Option<RepoId>,
    /// Why it is here when the user did not name it ("added because …").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Where it was asked for: config file:line and key, manifest entry, flag, or the family that needs it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    pub files: Vec<LockedModelFile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedModelFile {
    /// Path inside the repo, `/`-separated.
    pub path: String,
    /// Cache blob name: sha256 for LFS files, git blob sha1 otherwise.
    pub blob: String,
    /// sha256 of the content. Unknown (absent) for a non-LFS file until it is downloaded: the hub lists
    /// only its git sha1. Always known in a bundle's `ferry.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<Sha256>,
    pub size: u64,
    #[serde(default)]
    pub lfs: bool,
}

impl LockedModelFile {
    /// The sha256 as hex, "" while unknown (never equal to a real digest).
    pub fn sha256_hex(&self) -> &str {
        self.sha256.as_ref().map_or("", Sha256::as_str)
    }

    /// `snapshots/COMMIT/PATH`, relative to the repo's cache folder.
    pub fn snapshot_path(&self, commit: &CommitSha) -> String {
        format!("snapshots/{commit}/{}", self.path)
    }

    /// Target of this file's snapshot symlink (see [`snapshot_link_target`]).
    pub fn snapshot_target(&self) -> String {
        snapshot_link_target(&self.path, &self.blob)
    }
}

/// Target of the snapshot symlink for a file at `path` in the repo: `../../blobs/BLOB`, one more `../` per
/// folder level of `path` (the Hugging Face cache layout; the one place this formula is written).
pub fn snapshot_link_target(path: &str, blob: &str) -> String {
    let depth = path.matches('/').count();
    format!("{}../../blobs/{blob}", "../".repeat(depth))
}

/// Errors of the lock stage that are not a lower layer's.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: not a ferry lock: {message}", path.display())]
    NotALock { path: PathBuf, message: String },
    #[error("{}: lock format {found} is not supported (this ferry reads {FORMAT_VERSION})", path.display())]
    Format { path: PathBuf, found: u32 },
    #[error("lock: bad URL {url}: {message}")]
    BadUrl { url: String, message: String },
    #[error("{wheel}: could not rebuild it from {sdist}: {message}")]
    Rebuild {
        wheel: String,
        sdist: String,
        message: String,
    },
    #[error("{}: the wheel built from {sdist} has sha256 {actual}, the lock says {expected} (the build is not reproducible; run `ferry lock` again)", path.display())]
    NotReproducible {
        path: PathBuf,
        sdist: String,
        actual: Sha256,
        expected: Sha256,
    },
}

impl Error {
    /// A lock file the user named that cannot be used.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::NotALock { .. } | Error::Format { .. } | Error::BadUrl { .. }
        )
    }
}

/// Read a lock file (`--locked`): its format must be this ferry's and its targets valid.
pub fn read(path: &Path) -> Result<Lock, crate::Error> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    let lock = Lock::from_json(&text).map_err(|e| Error::NotALock {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if lock.format != FORMAT_VERSION {
        return Err(Error::Format {
            path: path.to_path_buf(),
            found: lock.format,
        }
        .into());
    }
    for t in &lock.targets {
        t.validate()?;
    }
    Ok(lock)
}

/// A file carried under `files/NAME` in the bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedFile {
    /// Relative path under `files/` (and under `install --files-dir DIR`), `/`-separated.
    pub name: String,
    /// A plain URL, or the absolute path of a local file (where `bundle --locked` reads it again).
    pub source: String,
    pub sha256: Sha256,
    pub size: u64,
    /// Where it was named (config file:line and key).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
}

impl LockedFile {
    pub fn is_url(&self) -> bool {
        self.source.starts_with("http://") || self.source.starts_with("https://")
    }
}

impl Lock {
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("lock serializes");
        s.push('\n');
        s
    }
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
    /// Sort everything that is signed or compared, so equal locks give equal bytes.
    pub fn normalize(&mut self) {
        self.packages
            .sort_by(|a, b| (&a.name, &a.filename).cmp(&(&b.name, &b.filename)));
        self.packages.dedup_by(|a, b| a.filename == b.filename);
        for p in &mut self.packages {
            p.targets.sort();
            p.targets.dedup();
        }
        self.models
            .sort_by(|a, b| (&a.repo, a.kind).cmp(&(&b.repo, b.kind)));
        for m in &mut self.models {
            m.files.sort_by(|a, b| a.path.cmp(&b.path));
        }
        if let Some(d) = &mut self.delta {
            d.normalize();
        }
        self.files.sort_by(|a, b| a.name.cmp(&b.name));
    }
}
