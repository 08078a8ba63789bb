//! Models: merge the bundle's `models/hub` into the user's Hugging Face cache (blobs reused, never overwritten
//! with other bytes; snapshots as relative symlinks; refs without a trailing newline), or write plain folders
//! with `--local-dir`. Everything is staged in the destination, then published by [`super::txn`].
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use sha2::Digest;

use super::error::{Error, IoContext};
use super::record::check_relative;
use super::source::Source;
use super::txn::Txn;
use crate::lock::{LockedModel, LockedModelFile};

/// How model files land in the HF cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CacheLayout {
    /// `blobs/` holds the content, `snapshots/COMMIT/` relative symlinks into it (a copy where the file
    /// system takes no symlinks).
    Symlinks,
    /// What huggingface_hub writes where symlinks are unavailable (Windows without developer mode): real
    /// files in `snapshots/COMMIT/`, no blobs.
    NoSymlinks,
}

/// What happened to one model.
#[derive(Clone, Debug, Serialize)]
pub struct ModelSummary {
    pub repo: String,
    pub commit: String,
    pub files: usize,
    /// Blobs (or local files) already present with the right content.
    pub reused: usize,
    pub bytes_copied: u64,
}

/// The hub cache folder, as huggingface_hub resolves it: `--hf-home DIR` → `DIR/hub`, else `HF_HUB_CACHE`,
/// else `HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`.
pub fn hub_cache(hf_home: Option<&Path>) -> Option<PathBuf> {
    if let Some(home) = hf_home {
        return Some(home.join("hub"));
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("HF_HUB_CACHE")
        .or_else(|| env("HUGGINGFACE_HUB_CACHE"))
        .or_else(|| env("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| env("XDG_CACHE_HOME").map(|x| x.join("huggingface").join("hub")))
        .or_else(|| dirs::home_dir().map(|h| h.join(".cache").join("huggingface").join("hub")))
}

/// One file to copy from the bundle into the staging area, checked on the way.
struct Copy {
    repo: String,
    path: String,
    /// The bundle member.
    src: String,
    staged: PathBuf,
    sha256: String,
    size: u64,
}

fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut src = File::open(path)?;
    let mut h = sha2::Sha256::new();
    let size = crate::types::stream_sha256(&mut src, &mut h, None)?;
    Ok((hex::encode(h.finalize()), size))
}

/// Write a bundle member into `to` (a new file in the staging area, on the destination's file system),
/// hashing on the way and syncing at the end; returns (sha256 hex, size).
pub(super) fn copy_member(
    source: &Source,
    member: &str,
    to: &Path,
) -> std::io::Result<(String, u64)> {
    let mut src = source.open(member, 0)?;
    let mut out = File::create(to)?;
    let mut h = sha2::Sha256::new();
    let size = crate::types::stream_sha256(&mut src, &mut h, Some(&mut out as &mut dyn Write))?;
    out.sync_all()?;
    Ok((hex::encode(h.finalize()), size))
}

fn run_copies(source: &Source, copies: &[Copy]) -> Result<u64, Error> {
    copies
        .par_iter()
        .map(|c| {
            let (sha, size) = copy_member(source, &c.src, &c.staged).map_err(|e| Error::ModelFile {
                repo: c.repo.clone(),
                path: c.path.clone(),
                why: format!(
                    "cannot be written to the staging area {} from {}: {e}",
                    c.staged.display(),
                    source.describe(&c.src)
                ),
            })?;
            if sha != c.sha256 || size != c.size {
                return Err(Error::ModelFile {
                    repo: c.repo.clone(),
                    path: c.path.clone(),
                    why: format!(
                        "does not match ferry.json (sha256 {sha}, {size} bytes; expected {}, {} bytes)",
                        c.sha256, c.size
                    ),
                });
            }
            Ok(size)
        })
        .sum()
}

fn check_file(repo: &str, f: &LockedModelFile) -> Result<(), Error> {
    let bad = |why: String| Error::ModelFile {
        repo: repo.to_string(),
        path: f.path.clone(),
        why,
    };
    check_relative(&f.path).map_err(|why| bad(format!("has an unsafe path ({why})")))?;
    if !(f.blob.len() == 40 || f.blob.len() == 64) || !f.blob.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return Err(bad(format!("has an invalid blob name '{}'", f.blob)));
    }
    if f.sha256.is_none() {
        return Err(bad("has no sha256 in the bundle's manifest".into()));
    }
    Ok(())
}

/// Files listed in a huggingface_hub `trees/<commit>.json` (`{"format_version": 1, "files": {path: {...}}}`),
/// tolerant of other shapes (a list of entries, strings or objects with `path`/`rfilename` and a `type`).
fn tree_files(text: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    if let Some(files) = v.get("files").and_then(|f| f.as_object()) {
        return files.keys().cloned().collect();
    }
    let list = match &v {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(o) => ["entries", "files", "siblings", "tree"]
            .iter()
            .find_map(|k| o.get(*k).and_then(|x| x.as_array()).cloned())
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    list.iter()
        .filter_map(|e| match e {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Object(o) => {
                if o.get("type")
                    .and_then(|t| t.as_str())
                    .is_some_and(|t| t != "file")
                {
                    return None;
                }
                o.get("path")
                    .or_else(|| o.get("rfilename"))
                    .and_then(|p| p.as_str())
                    .map(str::to_string)
            }
            _ => None,
        })
        .collect()
}

/// The model's folder in the bundle (`models/hub/FOLDER`): under the name it installs as, or (older
/// bundles) the repo it was fetched from when that was an alias.
fn bundle_folder(source: &Source, m: &LockedModel) -> String {
    let named = format!("models/hub/{}", m.repo.cache_folder(m.kind));
    let has = |folder: &str| {
        m.files
            .iter()
            .any(|f| source.contains(&format!("{folder}/blobs/{}", f.blob)))
    };
    match &m.source_repo {
        Some(alias) if !has(&named) => format!("models/hub/{}", alias.cache_folder(m.kind)),
        _ => named,
    }
}

/// Whether this filesystem takes symlinks (probed in the staging area).
fn symlinks_work(dir: &Path) -> bool {
    let link = dir.join(".symlink-probe");
    let ok = make_symlink("target", &link).is_ok();
    let _ = std::fs::remove_file(&link);
    ok
}

#[cfg(unix)]
fn make_symlink(target: &str, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(windows)]
fn make_symlink(target: &str, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_file(target.replace('/', "\\"), link)
}

/// Stage the bundle's models into the HF cache at `cache`. Returns per-model summaries; the caller commits.
pub fn stage_cache(
    source: &Source,
    models: &[LockedModel],
    cache: &Path,
    txn: &mut Txn,
) -> Result<Vec<ModelSummary>, Error> {
    stage_cache_as(source, models, cache, txn, CacheLayout::Symlinks)
}

/// [`stage_cache`] in the given layout.
pub fn stage_cache_as(
    source: &Source,
    models: &[LockedModel],
    cache: &Path,
    txn: &mut Txn,
    layout: CacheLayout,
) -> Result<Vec<ModelSummary>, Error> {
    let staging = txn.staging().join("models");
    std::fs::create_dir_all(&staging).at(&staging)?;
    let with_blobs = layout == CacheLayout::Symlinks;
    let use_symlinks = with_blobs && symlinks_work(&staging);
    let mut copies = Vec::new();
    let mut summaries = Vec::new();
    let mut n = 0usize;
    let mut next = |staging: &Path| {
        n += 1;
        staging.join(n.to_string())
    };
    for m in models {
        let repo = m.repo.to_string();
        let folder = m.repo.cache_folder(m.kind);
        let src = bundle_folder(source, m);
        let dst = cache.join(&folder);
        let commit = m.commit.as_str();
        for f in &m.files {
            check_file(&repo, f)?;
        }
        // A tree listing for this commit that names files we do not bring would break offline loads.
        let tree = dst.join("trees").join(format!("{commit}.json"));
        if let Ok(text) = std::fs::read_to_string(&tree) {
            let ours: BTreeSet<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
            let missing: Vec<String> = tree_files(&text)
                .into_iter()
                .filter(|p| {
                    !ours.contains(p.as_str())
                        && !dst.join("snapshots").join(commit).join(p).exists()
                })
                .collect();
            if !missing.is_empty() {
                return Err(Error::IncompleteTree {
                    repo,
                    commit: commit.to_string(),
                    tree,
                    missing,
                });
            }
        }
        let mut summary = ModelSummary {
            repo: repo.clone(),
            commit: commit.to_string(),
            files: m.files.len(),
            reused: 0,
            bytes_copied: 0,
        };
        // Blobs: reuse when present with the right content; never overwrite different bytes.
        let blobs: BTreeMap<&str, &LockedModelFile> =
            m.files.iter().map(|f| (f.blob.as_str(), f)).collect();
        // Hash the blobs already there in parallel (a re-install reads them once, nothing else).
        let present: BTreeMap<&str, (String, u64)> = blobs
            .par_iter()
            .filter(|_| with_blobs)
            .filter(|(blob, _)| dst.join("blobs").join(blob).exists())
            .map(|(blob, _)| {
                let path = dst.join("blobs").join(blob);
                sha256_file(&path).at(&path).map(|h| (*blob, h))
            })
            .collect::<Result<_, _>>()?;
        for (blob, f) in blobs.iter().filter(|_| with_blobs) {
            let dest = dst.join("blobs").join(blob);
            if let Some((sha, size)) = present.get(blob) {
                if sha == f.sha256_hex() && *size == f.size {
                    summary.reused += 1;
                    continue;
                }
                return Err(Error::BlobConflict {
                    repo,
                    blob: blob.to_string(),
                    path: dest,
                });
            }
            let staged = next(&staging);
            copies.push(Copy {
                repo: repo.clone(),
                path: f.path.clone(),
                src: format!("{src}/blobs/{blob}"),
                staged: staged.clone(),
                sha256: f.sha256_hex().to_string(),
                size: f.size,
            });
            summary.bytes_copied += f.size;
            txn.place(staged, dest);
        }
        // Snapshot entries.
        for f in &m.files {
            let dest = dst.join(f.snapshot_path(&m.commit));
            let target = f.snapshot_target();
            let up_to_date = match std::fs::symlink_metadata(&dest) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    std::fs::read_link(&dest).is_ok_and(|t| t == Path::new(&target))
                }
                Ok(meta) if meta.is_file() => {
                    sha256_file(&dest).is_ok_and(|(sha, _)| sha == f.sha256_hex())
                }
                _ => false,
            };
            if up_to_date {
                if !with_blobs {
                    summary.reused += 1;
                }
                continue;
            }
            let staged = next(&staging);
            if use_symlinks {
                make_symlink(&target, &staged).at(&staged)?;
            } else {
                if !with_blobs {
                    summary.bytes_copied += f.size;
                }
                copies.push(Copy {
                    repo: repo.clone(),
                    path: f.path.clone(),
                    src: format!("{src}/blobs/{}", f.blob),
                    staged: staged.clone(),
                    sha256: f.sha256_hex().to_string(),
                    size: f.size,
                });
            }
            txn.place(staged, dest);
        }
        // refs/<revision> → commit, no trailing newline (not written when the revision is the commit itself).
        if !m.revision.eq_ignore_ascii_case(commit) {
            check_relative(&m.revision).map_err(|why| Error::ModelFile {
                repo: repo.clone(),
                path: format!("refs/{}", m.revision),
                why: format!("has an unsafe revision name ({why})"),
            })?;
            let dest = dst.join("refs").join(&m.revision);
            if std::fs::read(&dest).ok().as_deref() != Some(commit.as_bytes()) {
                let staged = next(&staging);
                std::fs::write(&staged, commit).at(&staged)?;
                txn.place(staged, dest);
            }
        }
        summaries.push(summary);
    }
    let needed: u64 = copies.iter().map(|c| c.size).sum();
    super::txn::check_space(cache, needed)?;
    run_copies(source, &copies)?;
    Ok(summaries)
}

/// Stage plain copies under `dir/ORG/NAME/<path>` (`--local-dir`).
pub fn stage_local(
    source: &Source,
    models: &[LockedModel],
    dir: &Path,
    txn: &mut Txn,
) -> Result<Vec<ModelSummary>, Error> {
    let staging = txn.staging().join("models");
    std::fs::create_dir_all(&staging).at(&staging)?;
    let mut copies = Vec::new();
    let mut summaries = Vec::new();
    let mut n = 0usize;
    for m in models {
        let repo = m.repo.to_string();
        let src = bundle_folder(source, m);
        let mut root = dir.to_path_buf();
        for part in repo.split('/') {
            root.push(part);
        }
        let mut summary = ModelSummary {
            repo: repo.clone(),
            commit: m.commit.to_string(),
            files: m.files.len(),
            reused: 0,
            bytes_copied: 0,
        };
        for f in &m.files {
            check_file(&repo, f)?;
            let dest = f.path.split('/').fold(root.clone(), |p, part| p.join(part));
            if std::fs::symlink_metadata(&dest).is_ok_and(|m| m.is_file())
                && sha256_file(&dest).is_ok_and(|(sha, _)| sha == f.sha256_hex())
            {
                summary.reused += 1;
                continue;
            }
            n += 1;
            let staged = staging.join(n.to_string());
            copies.push(Copy {
                repo: repo.clone(),
                path: f.path.clone(),
                src: format!("{src}/blobs/{}", f.blob),
                staged: staged.clone(),
                sha256: f.sha256_hex().to_string(),
                size: f.size,
            });
            summary.bytes_copied += f.size;
            txn.place(staged, dest);
        }
        summaries.push(summary);
    }
    let needed: u64 = copies.iter().map(|c| c.size).sum();
    super::txn::check_space(dir, needed)?;
    run_copies(source, &copies)?;
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_listing_shapes() {
        assert_eq!(
            tree_files(
                r#"[{"type":"file","path":"a.json"},{"type":"directory","path":"d"},{"path":"d/b"}]"#
            ),
            ["a.json", "d/b"]
        );
        assert_eq!(tree_files(r#"{"siblings":[{"rfilename":"x"}]}"#), ["x"]);
        assert_eq!(
            tree_files(r#"{"format_version":1,"files":{"config.json":{"size":1,"blob_id":"ab"}}}"#),
            ["config.json"]
        );
        assert!(tree_files("not json").is_empty());
    }

    #[test]
    fn cache_resolution() {
        assert_eq!(
            hub_cache(Some(Path::new("/h"))).unwrap(),
            PathBuf::from("/h/hub")
        );
    }
}
