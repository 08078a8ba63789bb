//! The members a reviewer and stock tools read: `pylock.toml` and `sbom.cdx.json`, made from the lock and
//! the staged files and listed in `SHA256SUMS` (so signed) like every other member; and the delta step of
//! `bundle --have OLD`, which drops the files OLD already carried.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::pylock::{self, PYLOCK};
use super::sbom::{self, SBOM};
use super::{Entry, Error};
use crate::lock::delta::{Base, BaseError};
use crate::lock::Lock;
use crate::types::Sha256;

/// SHA-256 of a bundle's `SHA256SUMS` text, as ferry writes it (the identity of a delta's base).
pub fn sums_digest(sums: &BTreeMap<String, Sha256>) -> Sha256 {
    Sha256::digest(super::layout::format_sums(sums).as_bytes())
}

/// Read the `--have` base: a ferry lock (JSON) or a bundle (its first members, unverified: it is the
/// user's own earlier bundle and only decides what to leave out).
pub fn read_base(path: &Path) -> Result<Base, crate::Error> {
    let mut head = [0u8; 64];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| crate::Error::io(path, e))?;
        f.read(&mut head).map_err(|e| crate::Error::io(path, e))?
    };
    let is_json = head[..n]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'{');
    if is_json {
        return Base::from_lock_file(path).map_err(|e| match e {
            BaseError::Io { path, source } => crate::Error::io(path, source),
            other => crate::Error::Usage(other.to_string()),
        });
    }
    let front = super::read_front(path)?;
    let digest = sums_digest(&front.sums);
    Ok(Base::from_bundle(front.lock, &front.sums, digest))
}

/// Files written for one bundle; removed when dropped (after the bundle is written).
pub struct ReviewFiles {
    _dir: tempfile::TempDir,
}

/// Final step before writing a bundle: fill sizes a lock did not know (a pip-written pylock.toml has none)
/// from the downloaded files, record the delta over `base` and drop the members it leaves out, and add
/// `pylock.toml` and `sbom.cdx.json`.
pub fn finish_entries(
    lock: &mut Lock,
    entries: &mut Vec<Entry>,
    base: Option<&Base>,
) -> Result<ReviewFiles, crate::Error> {
    let files: BTreeMap<String, PathBuf> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::File { member, path, .. } => Some((member.clone(), path.clone())),
            Entry::Symlink { .. } => None,
        })
        .collect();
    for p in lock.packages.iter_mut().filter(|p| p.size == 0) {
        let member = format!("wheels/{}", p.filename);
        if let Some(path) = files.get(&member) {
            p.size = std::fs::metadata(path)
                .map_err(|e| crate::Error::io(path, e))?
                .len();
            for e in entries.iter_mut() {
                if let Entry::File {
                    member: m, size, ..
                } = e
                {
                    if *m == member {
                        *size = p.size;
                    }
                }
            }
        }
    }
    if let Some(base) = base {
        lock.delta = Some(base.delta_for(lock));
    }
    lock.normalize();
    let manifest = lock.to_json();
    let sources = sbom::Sources {
        wheels: files
            .iter()
            .filter_map(|(m, p)| Some((m.strip_prefix("wheels/")?.to_string(), p.clone())))
            .collect(),
        blobs: files
            .iter()
            .filter(|(m, _)| m.starts_with("models/hub/"))
            .map(|(m, p)| (m.clone(), p.clone()))
            .collect(),
        known: BTreeMap::new(),
    };
    let sbom_text =
        sbom::render(lock, &manifest, &sources).map_err(|message| Error::InvalidEntry {
            member: SBOM.into(),
            message,
        })?;
    let pylock_text = pylock::render(lock, true);
    entries.retain(|e| !lock.omits(e.member()));
    let dir = tempfile::tempdir().map_err(|e| crate::Error::io(std::env::temp_dir(), e))?;
    for (name, text) in [(PYLOCK, pylock_text), (SBOM, sbom_text)] {
        let path = dir.path().join(name);
        std::fs::write(&path, &text).map_err(|e| crate::Error::io(&path, e))?;
        entries.push(Entry::File {
            member: name.to_string(),
            path,
            sha256: Sha256::digest(text.as_bytes()),
            size: text.len() as u64,
        });
    }
    Ok(ReviewFiles { _dir: dir })
}

/// One small member of a bundle (e.g. `sbom.cdx.json`), found by walking the headers; None when the bundle
/// has no such member. Its bytes must match `sums` (the bundle's SHA256SUMS, unverified like `inspect`).
pub fn read_member(
    bundle: &Path,
    name: &str,
    sums: &BTreeMap<String, Sha256>,
) -> Result<Option<Vec<u8>>, Error> {
    use std::io::Read;
    const LIMIT: u64 = 256 << 20;
    let Some(expected) = sums.get(name) else {
        return Ok(None);
    };
    let malformed = |e: std::io::Error| Error::Malformed {
        bundle: bundle.to_path_buf(),
        message: e.to_string(),
    };
    let volumes = super::volumes::resolve(bundle)?;
    let reader = super::seek_volumes::SeekVolumes::open(&volumes)?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries_with_seek().map_err(malformed)? {
        let entry = entry.map_err(malformed)?;
        if entry.path_bytes().as_ref() != name.as_bytes() {
            continue;
        }
        if entry.size() > LIMIT {
            return Err(Error::BadMember {
                bundle: bundle.to_path_buf(),
                member: name.into(),
                message: format!("{} bytes is too large", entry.size()),
            });
        }
        let mut data = Vec::new();
        entry
            .take(LIMIT)
            .read_to_end(&mut data)
            .map_err(malformed)?;
        let actual = Sha256::digest(&data);
        if actual != *expected {
            return Err(Error::HashMismatch {
                bundle: bundle.to_path_buf(),
                member: name.into(),
                expected: expected.clone(),
                actual,
            });
        }
        return Ok(Some(data));
    }
    Ok(None)
}
