//! What `serve` answers from: every verified bundle merged into one index of projects, one set of model repos
//! and the bundle files themselves. Nothing is extracted: each file is a place in a bundle's tar stream.
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::Error;
use crate::bundle::{self, MemberKind, TarStream};
use crate::types::{RepoKind, Sha256};

/// One bundle being served.
pub struct Source {
    pub path: PathBuf,
    pub stream: TarStream,
}

/// A file inside a bundle's tar stream.
#[derive(Clone, Debug)]
pub struct Blob {
    pub source: usize,
    pub offset: u64,
    pub size: u64,
    pub sha256: Sha256,
}

/// A wheel or sdist.
#[derive(Clone, Debug)]
pub struct Dist {
    pub filename: String,
    pub version: String,
    pub blob: Blob,
    pub requires_python: Option<String>,
    /// The wheel's `METADATA` (PEP 658), read once at start.
    pub metadata: Option<Vec<u8>>,
}

impl Dist {
    pub fn metadata_sha256(&self) -> Option<Sha256> {
        self.metadata.as_deref().map(Sha256::digest)
    }
}

#[derive(Clone, Debug, Default)]
pub struct Project {
    /// The name as the first bundle spelled it.
    pub name: String,
    pub files: BTreeMap<String, Dist>,
}

/// One file of a model repo at one commit.
#[derive(Clone, Debug)]
pub struct RepoFile {
    pub blob: Blob,
    /// Cache blob name: sha256 for LFS files, git blob sha1 otherwise (what the hub sends as the etag).
    pub etag: String,
    /// git object id of the file in the repo (of the LFS pointer for LFS files).
    pub oid: String,
    pub lfs: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Repo {
    pub id: String,
    pub kind: RepoKind,
    /// commit → path → file.
    pub commits: BTreeMap<String, BTreeMap<String, RepoFile>>,
    /// revision name → commit.
    pub refs: BTreeMap<String, String>,
}

impl Repo {
    /// The commit a revision names: a known ref, a commit, or `main` when the repo has exactly one commit.
    pub fn resolve(&self, revision: &str) -> Option<&str> {
        if let Some(c) = self.refs.get(revision) {
            return Some(c);
        }
        if let Some((c, _)) = self.commits.get_key_value(revision) {
            return Some(c);
        }
        if revision == "main" && self.commits.len() == 1 {
            return self.commits.keys().next().map(String::as_str);
        }
        None
    }
}

/// A bundle file (or volume) under `/bundles/NAME`.
#[derive(Clone, Debug)]
pub struct BundleFile {
    pub path: PathBuf,
    pub size: u64,
}

#[derive(Default)]
pub struct Catalog {
    pub sources: Vec<Source>,
    /// normalized project name → project.
    pub projects: BTreeMap<String, Project>,
    /// filename → normalized project name.
    pub by_filename: BTreeMap<String, String>,
    pub repos: BTreeMap<(RepoKind, String), Repo>,
    pub bundle_files: BTreeMap<String, BundleFile>,
}

impl Catalog {
    pub fn dist(&self, filename: &str) -> Option<&Dist> {
        let project = self.by_filename.get(filename)?;
        self.projects.get(project)?.files.get(filename)
    }

    pub fn repo(&self, kind: RepoKind, id: &str) -> Option<&Repo> {
        self.repos.get(&(kind, id.to_string()))
    }

    /// Verify every bundle, then merge them. A failed verification, or two different files under one
    /// name, stops everything.
    pub fn load(bundles: &[PathBuf], public_key: &Path) -> Result<Catalog, Error> {
        let mut catalog = Catalog::default();
        let mut seen = Vec::new();
        for path in bundles {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            if seen.contains(&canonical) {
                continue;
            }
            seen.push(canonical);
            let verified = bundle::verify(path, public_key)?;
            tracing::info!("verified {}", path.display());
            let stream = TarStream::open(path)?;
            let source = catalog.sources.len();
            catalog.add_bundle_files(path, &stream)?;
            catalog.sources.push(Source {
                path: path.clone(),
                stream,
            });
            catalog.add(source, path, &verified)?;
        }
        catalog.read_metadata();
        Ok(catalog)
    }

    fn add_bundle_files(&mut self, path: &Path, stream: &TarStream) -> Result<(), Error> {
        for (volume, _, size) in stream.volumes() {
            let name = volume
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(other) = self.bundle_files.get(&name) {
                return Err(Error::Conflict {
                    name: format!("/bundles/{name}"),
                    first: other.path.clone(),
                    second: path.to_path_buf(),
                });
            }
            self.bundle_files.insert(
                name,
                BundleFile {
                    path: volume.clone(),
                    size,
                },
            );
        }
        Ok(())
    }

    fn add(
        &mut self,
        source: usize,
        path: &Path,
        verified: &bundle::Verified,
    ) -> Result<(), Error> {
        let members: BTreeMap<&str, &bundle::Member> = verified
            .members
            .iter()
            .filter(|m| m.kind == MemberKind::File)
            .map(|m| (m.path.as_str(), m))
            .collect();
        let blob_of = |member: &str| -> Result<Blob, Error> {
            let m = members.get(member).ok_or_else(|| Error::Missing {
                bundle: path.to_path_buf(),
                member: member.to_string(),
            })?;
            Ok(Blob {
                source,
                offset: m.offset,
                size: m.size,
                sha256: m.sha256.clone().expect("verified files are hashed"),
            })
        };
        for package in &verified.lock.packages {
            let blob = blob_of(&format!("wheels/{}", package.filename))?;
            let key = package.name.to_string();
            let project = self.projects.entry(key.clone()).or_insert_with(|| Project {
                name: package.name.to_string(),
                files: BTreeMap::new(),
            });
            if let Some(existing) = project.files.get(&package.filename) {
                if existing.blob.sha256 != blob.sha256 {
                    return Err(Error::Conflict {
                        name: format!("wheels/{}", package.filename),
                        first: self.sources[existing.blob.source].path.clone(),
                        second: path.to_path_buf(),
                    });
                }
                continue;
            }
            if let Some(other) = self.by_filename.get(&package.filename) {
                if *other != key {
                    return Err(Error::Conflict {
                        name: format!("wheels/{}", package.filename),
                        first: self.sources
                            [self.projects[other].files[&package.filename].blob.source]
                            .path
                            .clone(),
                        second: path.to_path_buf(),
                    });
                }
            }
            self.by_filename
                .insert(package.filename.clone(), key.clone());
            project.files.insert(
                package.filename.clone(),
                Dist {
                    filename: package.filename.clone(),
                    version: package.version.clone(),
                    blob,
                    requires_python: None,
                    metadata: None,
                },
            );
        }
        for model in &verified.lock.models {
            let folder = bundle::model_folder(model);
            let id = model.repo.to_string();
            let repo = self
                .repos
                .entry((model.kind, id.clone()))
                .or_insert_with(|| Repo {
                    id: id.clone(),
                    kind: model.kind,
                    ..Repo::default()
                });
            let commit = model.commit.to_string();
            if let Some(other) = repo.refs.get(&model.revision) {
                if *other != commit {
                    return Err(Error::Conflict {
                        name: format!("{id}@{} (commits {other} and {commit})", model.revision),
                        first: self.sources[first_source(repo, other)].path.clone(),
                        second: path.to_path_buf(),
                    });
                }
            }
            repo.refs.insert(model.revision.clone(), commit.clone());
            let files = repo.commits.entry(commit.clone()).or_default();
            for f in &model.files {
                let blob = blob_of(&format!("{folder}/blobs/{}", f.blob))?;
                if let Some(existing) = files.get(&f.path) {
                    if existing.blob.sha256 != blob.sha256 {
                        return Err(Error::Conflict {
                            name: format!("{id}@{commit}/{}", f.path),
                            first: self.sources[existing.blob.source].path.clone(),
                            second: path.to_path_buf(),
                        });
                    }
                    continue;
                }
                let oid = if f.lfs {
                    git_blob_sha1(lfs_pointer(f.sha256_hex(), f.size).as_bytes())
                } else {
                    f.blob.clone()
                };
                files.insert(
                    f.path.clone(),
                    RepoFile {
                        blob,
                        etag: f.blob.clone(),
                        oid,
                        lfs: f.lfs,
                    },
                );
            }
        }
        Ok(())
    }

    /// PEP 658: each wheel's METADATA, read from inside the tar (the zip's central directory and one member),
    /// in parallel.
    fn read_metadata(&mut self) {
        let sources = &self.sources;
        let work: Vec<(String, String, Blob)> = self
            .projects
            .iter()
            .flat_map(|(p, proj)| {
                proj.files
                    .values()
                    .filter(|d| d.filename.ends_with(".whl"))
                    .map(|d| (p.clone(), d.filename.clone(), d.blob.clone()))
            })
            .collect();
        let read: Vec<(String, String, Result<Vec<u8>, String>)> = work
            .into_par_iter()
            .map(|(p, f, blob)| {
                let slice = sources[blob.source].stream.slice(blob.offset, blob.size);
                (p, f, wheel_metadata(slice))
            })
            .collect();
        for (p, f, result) in read {
            let dist = self
                .projects
                .get_mut(&p)
                .and_then(|proj| proj.files.get_mut(&f))
                .expect("listed above");
            match result {
                Ok(bytes) => {
                    dist.requires_python = requires_python(&bytes);
                    dist.metadata = Some(bytes);
                }
                Err(e) => tracing::warn!("{f}: no PEP 658 metadata served: {e}"),
            }
        }
    }
}

fn first_source(repo: &Repo, commit: &str) -> usize {
    repo.commits
        .get(commit)
        .and_then(|files| files.values().next())
        .map_or(0, |f| f.blob.source)
}

/// `*.dist-info/METADATA` of a wheel, read through any seekable reader.
pub fn wheel_metadata(reader: impl Read + std::io::Seek) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipArchive::new(reader).map_err(|e| format!("not a wheel: {e}"))?;
    let name = (0..zip.len())
        .filter_map(|i| {
            zip.name_for_index(i)
                .and_then(Result::ok)
                .map(|n| n.into_owned())
        })
        .find(|n| {
            let mut parts = n.split('/');
            matches!((parts.next(), parts.next(), parts.next()),
                (Some(d), Some("METADATA"), None) if d.ends_with(".dist-info"))
        })
        .ok_or("wheel has no .dist-info/METADATA")?;
    let mut buf = Vec::new();
    zip.by_name(&name)
        .map_err(|e| e.to_string())?
        .take(16 << 20)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

/// The `Requires-Python` header of core metadata.
fn requires_python(metadata: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(metadata);
    text.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("requires-python")
                .then(|| v.trim().to_string())
        })
        .filter(|v| !v.is_empty())
}

pub fn lfs_pointer(sha256: &str, size: u64) -> String {
    format!("version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n")
}

pub fn git_blob_sha1(content: &[u8]) -> String {
    use sha1::Digest as _;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_python_header() {
        let m = b"Metadata-Version: 2.1\nName: a\nVersion: 1\nRequires-Python: >=3.8, <4\n\nbody\nRequires-Python: no\n";
        assert_eq!(requires_python(m).as_deref(), Some(">=3.8, <4"));
        assert_eq!(requires_python(b"Name: a\n"), None);
    }
}
