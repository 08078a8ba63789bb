//! Delta bundles: `bundle --have OLD` leaves out every file OLD already carried. The lock of a delta names
//! its base (the SHA-256 of OLD's `SHA256SUMS`, or of OLD's lock file), the members it leaves out, and
//! what OLD installed that the new lock no longer has, so that base + delta installs to the same
//! environment as the full bundle would.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Lock;
use crate::types::{CommitSha, RepoId, RepoKind, Sha256};

/// What the base of a delta was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseKind {
    /// A bundle: `base` is the SHA-256 of its `SHA256SUMS`.
    Bundle,
    /// A lock file: `base` is the SHA-256 of the file.
    Lock,
}

/// Recorded in `ferry.json` of a delta bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// SHA-256 of the base's `SHA256SUMS` (a bundle) or of the base lock file.
    pub base: Sha256,
    pub base_kind: BaseKind,
    pub base_name: String,
    pub base_created: u64,
    /// Members left out because the base carried them (`wheels/…`, `models/hub/…/blobs/…`), sorted.
    pub omitted: Vec<String>,
    /// Packages the base installed that the new lock no longer has (`name==version`): removed on install.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    /// Model revisions of the base that the new lock replaces or drops: retired on install.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired: Vec<RetiredModel>,
}

/// A model revision the base put into the cache that the new lock no longer uses.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RetiredModel {
    pub repo: RepoId,
    #[serde(default)]
    pub kind: RepoKind,
    pub commit: CommitSha,
}

impl Delta {
    pub fn normalize(&mut self) {
        self.omitted.sort();
        self.omitted.dedup();
        self.removed.sort();
        self.removed.dedup();
        self.retired.sort();
        self.retired.dedup();
    }

    /// Whether the delta leaves this member out.
    pub fn omits(&self, member: &str) -> bool {
        self.omitted
            .binary_search_by(|m| m.as_str().cmp(member))
            .is_ok()
    }
}

impl Lock {
    /// Whether this lock is a delta that leaves `member` out.
    pub fn omits(&self, member: &str) -> bool {
        self.delta.as_ref().is_some_and(|d| d.omits(member))
    }
}

/// The base named by `--have`: its lock and every file it carried, by member name.
#[derive(Clone, Debug)]
pub struct Base {
    pub kind: BaseKind,
    pub digest: Sha256,
    pub lock: Lock,
    /// Member name → sha256 of every file the base carried (or, for a delta base, had its own base carry).
    /// `None`: a model blob of a base lock whose sha256 that lock does not know (its name, the git blob
    /// sha1, names its content).
    pub carried: BTreeMap<String, Option<Sha256>>,
}

#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error("--have {}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("--have {}: not a ferry lock: {message}", path.display())]
    BadLock {
        path: std::path::PathBuf,
        message: String,
    },
}

impl Base {
    /// A base from a lock file's bytes: it carried every package and model file it names with a known sha256.
    pub fn from_lock_file(path: &Path) -> Result<Self, BaseError> {
        let bytes = std::fs::read(path).map_err(|source| BaseError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = String::from_utf8(bytes.clone()).map_err(|_| BaseError::BadLock {
            path: path.to_path_buf(),
            message: "not UTF-8".into(),
        })?;
        let lock = Lock::from_json(&text).map_err(|e| BaseError::BadLock {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let carried = lock_members(&lock);
        Ok(Base {
            kind: BaseKind::Lock,
            digest: Sha256::digest(&bytes),
            lock,
            carried,
        })
    }

    /// A base from a bundle's `ferry.json` and `SHA256SUMS`; a delta base also counts what its own base
    /// carried (the target holds it after installing the chain).
    pub fn from_bundle(lock: Lock, sums: &BTreeMap<String, Sha256>, sums_digest: Sha256) -> Self {
        let mut carried: BTreeMap<String, Option<Sha256>> = sums
            .iter()
            .map(|(m, s)| (m.clone(), Some(s.clone())))
            .collect();
        if lock.delta.is_some() {
            for (member, sha) in lock_members(&lock) {
                if lock.omits(&member) {
                    carried.insert(member, sha);
                }
            }
        }
        Base {
            kind: BaseKind::Bundle,
            digest: sums_digest,
            lock,
            carried,
        }
    }

    /// The delta of `new` over this base.
    pub fn delta_for(&self, new: &Lock) -> Delta {
        let mut omitted = Vec::new();
        for (member, sha) in lock_members(new) {
            // Model blobs are named by their content (sha256, or the git blob sha1 a lock file knows
            // before the file is downloaded); wheels must match by sha256.
            let Some(sha) = sha else {
                continue;
            };
            let same = match self.carried.get(&member) {
                Some(Some(s)) => *s == sha,
                Some(None) => member.starts_with("models/"),
                None => false,
            };
            if same {
                omitted.push(member);
            }
        }
        let names: BTreeSet<String> = new.packages.iter().map(|p| p.name.to_string()).collect();
        let removed = self
            .lock
            .packages
            .iter()
            .filter(|p| !names.contains(&p.name.to_string()))
            .filter(|p| !is_build_only(p.reason.as_deref()))
            .map(|p| format!("{}=={}", p.name, p.version))
            .collect();
        let current: BTreeSet<(String, RepoKind, String)> = new
            .models
            .iter()
            .map(|m| (m.repo.to_string(), m.kind, m.commit.to_string()))
            .collect();
        let retired = self
            .lock
            .models
            .iter()
            .filter(|m| !current.contains(&(m.repo.to_string(), m.kind, m.commit.to_string())))
            .map(|m| RetiredModel {
                repo: m.repo.clone(),
                kind: m.kind,
                commit: m.commit.clone(),
            })
            .collect();
        let mut d = Delta {
            base: self.digest.clone(),
            base_kind: self.kind,
            base_name: self.lock.name.clone(),
            base_created: self.lock.created,
            omitted,
            removed,
            retired,
        };
        d.normalize();
        d
    }
}

fn is_build_only(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| r.to_ascii_lowercase().contains("build requirement"))
}

/// Every file member a full bundle of `lock` carries (packages and model blobs) with its sha256 (`None`
/// where the lock does not know it yet).
pub fn lock_members(lock: &Lock) -> BTreeMap<String, Option<Sha256>> {
    let mut out = BTreeMap::new();
    for p in &lock.packages {
        out.insert(format!("wheels/{}", p.filename), Some(p.sha256.clone()));
    }
    for m in &lock.models {
        let folder = crate::bundle::model_folder(m);
        for f in &m.files {
            out.insert(format!("{folder}/blobs/{}", f.blob), f.sha256.clone());
        }
    }
    out
}
