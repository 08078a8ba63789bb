//! Packages whose chosen file is an sdist. Resolution reads their metadata without building whenever it can
//! (another wheel of the same version, PEP 643 static PKG-INFO read from the start of the archive); only a
//! pure-Python sdist is ever built, under a time limit, in a folder that is always removed. An sdist whose
//! build needs a compiler is never built here: it travels as an sdist with its build requirements.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use pep508_rs::{PackageName, Requirement};

use super::build::{self, Outcome};
use super::candidates::Candidate;
use super::sdist_archive;
use super::ResolveError;
use crate::dist::WheelFilename;
use crate::fetch::download::{self, DownloadRequest};
use crate::fetch::index::IndexClient;
use crate::fetch::metadata::{self, Metadata};
use crate::fetch::simple::DistFile;
use crate::types::Sha256;

/// An sdist chosen for a target, downloaded and looked into (never built here).
#[derive(Debug)]
pub struct Built {
    pub sdist: PathBuf,
    pub sdist_sha256: Sha256,
    /// Why building it needs a compiler ("contains src/_speed.c"); None for pure-Python sdists, whose
    /// wheel `bundle` builds.
    pub needs_compiler: Option<String>,
    /// PEP 518 `build-system.requires` (setuptools defaults when absent).
    pub build_requires: Vec<Requirement>,
    /// Metadata as the archive states it (PKG-INFO, requires.txt), if it has any.
    pub stated: Option<Metadata>,
}

type Slot<T> = Arc<OnceLock<Result<Arc<T>, String>>>;

/// Where an sdist's metadata came from, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetadataSource {
    OtherWheel,
    StaticPkgInfo,
    Built,
    /// PKG-INFO / requires.txt as stated, not guaranteed static: the sdist needs a compiler or its build failed.
    StatedPkgInfo,
}

pub struct SdistBuilder {
    python: String,
    work: PathBuf,
    index_args: Vec<String>,
    source_date_epoch: u64,
    cache: Mutex<HashMap<String, Slot<Built>>>,
    wheels: Mutex<HashMap<String, Slot<Option<PathBuf>>>>,
    static_meta: Mutex<HashMap<String, Slot<Option<Metadata>>>>,
    /// (sdist filename, source) of every metadata read, in order.
    pub sources: Mutex<Vec<(String, MetadataSource)>>,
}

impl SdistBuilder {
    pub fn new(work: PathBuf, index_urls: &[url::Url], source_date_epoch: u64) -> Self {
        let mut index_args = Vec::new();
        for (i, u) in index_urls.iter().enumerate() {
            index_args.push(
                if i == 0 {
                    "--index-url"
                } else {
                    "--extra-index-url"
                }
                .to_string(),
            );
            index_args.push(u.to_string());
        }
        let python = std::env::var("FERRY_BUILD_PYTHON").unwrap_or_else(|_| "python3".into());
        build::clean_stale(&work.join("tmp"));
        Self {
            python,
            work,
            index_args,
            source_date_epoch,
            cache: Mutex::default(),
            wheels: Mutex::default(),
            static_meta: Mutex::default(),
            sources: Mutex::default(),
        }
    }

    fn note(&self, file: &DistFile, source: MetadataSource) {
        self.sources
            .lock()
            .unwrap()
            .push((file.filename.clone(), source));
    }

    /// Metadata of a version whose best file for the target is an sdist, building only as a last resort.
    pub fn resolution_metadata(
        &self,
        index: &IndexClient,
        name: &PackageName,
        cand: &Candidate,
    ) -> Result<Arc<Metadata>, ResolveError> {
        let file = cand.best();
        // 1. Any wheel of the same version (another platform's): all wheels of a version share metadata.
        for w in cand.other_wheels.iter().take(2) {
            match index.metadata(w) {
                Ok(m) => {
                    tracing::debug!("metadata of {} from {}", file.filename, w.filename);
                    self.note(file, MetadataSource::OtherWheel);
                    return Ok(m);
                }
                Err(e) => tracing::debug!("metadata of {}: {e}", w.filename),
            }
        }
        // 2. PEP 643: static PKG-INFO, read from the start of the archive.
        if let Some(m) = self.static_metadata(index, file) {
            self.note(file, MetadataSource::StaticPkgInfo);
            return Ok(Arc::new(m));
        }
        // 3. The whole sdist: a pure-Python build (as uv would), or what the archive states.
        let err = |message: String| ResolveError::Sdist {
            name: name.to_string(),
            file: file.filename.clone(),
            message,
        };
        let info = self.build(name, file)?;
        let why = match &info.needs_compiler {
            Some(why) => format!("needs a compiler: {why}"),
            None => match self.wheel_for(name, file)? {
                Some(wheel) => {
                    self.note(file, MetadataSource::Built);
                    return Ok(Arc::new(metadata::from_wheel(&wheel).map_err(err)?));
                }
                None => "the build failed".to_string(),
            },
        };
        self.note(file, MetadataSource::StatedPkgInfo);
        let stated = info.stated.clone().ok_or_else(|| {
            err(format!(
                "no PKG-INFO to read dependencies from, and not built ({why})"
            ))
        })?;
        tracing::warn!(
            "{}: dependencies read from its PKG-INFO without building ({why})",
            file.filename
        );
        Ok(Arc::new(stated))
    }

    fn static_metadata(&self, index: &IndexClient, file: &DistFile) -> Option<Metadata> {
        let slot = self
            .static_meta
            .lock()
            .unwrap()
            .entry(file.url.to_string())
            .or_default()
            .clone();
        let got = slot.get_or_init(|| {
            let bytes = index.sdist_pkg_info(file).map_err(|e| e.to_string())?;
            let Some(bytes) = bytes else {
                return Ok(Arc::new(None));
            };
            let m = metadata::parse(&bytes)?;
            Ok(Arc::new(m.is_static_for_resolution().then_some(m)))
        });
        match got {
            Ok(m) => m.as_ref().clone(),
            Err(e) => {
                tracing::debug!("PKG-INFO of {}: {e}", file.filename);
                None
            }
        }
    }

    /// The sdist on disk and looked into (once per file); nothing is built.
    pub fn build(&self, name: &PackageName, file: &DistFile) -> Result<Arc<Built>, ResolveError> {
        let slot = self
            .cache
            .lock()
            .unwrap()
            .entry(file.filename.clone())
            .or_default()
            .clone();
        slot.get_or_init(|| self.prepare(file).map(Arc::new))
            .clone()
            .map_err(|message| ResolveError::Sdist {
                name: name.to_string(),
                file: file.filename.clone(),
                message,
            })
    }

    fn prepare(&self, file: &DistFile) -> Result<Built, String> {
        let dir = self.work.join("sdists");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let sdist = dir.join(&file.filename);
        let sdist_sha256 = fetch_to(file, &sdist)?;
        let scan = sdist_archive::scan(&sdist)?;
        let build_requires = sdist_archive::build_requires(&scan, &sdist)?;
        let stated = sdist_archive::stated_metadata(&scan).unwrap_or_else(|e| {
            tracing::debug!("{}: PKG-INFO: {e}", file.filename);
            None
        });
        if let Some(why) = &scan.native {
            tracing::info!(
                "{} needs a compiler ({why}): not built, it travels as an sdist",
                file.filename
            );
        }
        Ok(Built {
            sdist,
            sdist_sha256,
            needs_compiler: scan.native.clone(),
            build_requires,
            stated,
        })
    }

    /// The pure-Python wheel of a pure-Python sdist, built once (and kept in the cache across runs);
    /// `None` when the sdist needs a compiler, the build fails, or it gives a platform wheel.
    pub fn wheel_for(
        &self,
        name: &PackageName,
        file: &DistFile,
    ) -> Result<Option<PathBuf>, ResolveError> {
        let info = self.build(name, file)?;
        if info.needs_compiler.is_some() {
            return Ok(None);
        }
        let slot = self
            .wheels
            .lock()
            .unwrap()
            .entry(file.filename.clone())
            .or_default()
            .clone();
        slot.get_or_init(|| self.build_wheel(&info, file).map(Arc::new))
            .clone()
            .map(|w| w.as_ref().clone())
            .map_err(|message| ResolveError::Sdist {
                name: name.to_string(),
                file: file.filename.clone(),
                message,
            })
    }

    fn build_wheel(&self, info: &Built, file: &DistFile) -> Result<Option<PathBuf>, String> {
        let dir = self.work.join("sdists");
        if let Some(wheel) = self.cached_wheel(&dir, &info.sdist_sha256) {
            return Ok(wheel_is_pure(&wheel).then_some(wheel));
        }
        let scratch = build::scratch(&self.work.join("tmp"))?;
        tracing::info!(
            "building a wheel from {} with {}",
            file.filename,
            self.python
        );
        let outcome = build::pip_wheel(
            &self.python,
            &info.sdist,
            &self.index_args,
            self.source_date_epoch,
            scratch.path(),
            build::timeout(),
        );
        let wheel_tmp = match outcome {
            Outcome::Wheel(w) => w,
            Outcome::Failed(why) => {
                tracing::warn!("could not build {}: {why}", file.filename);
                return Ok(None);
            }
        };
        let wname = wheel_tmp
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        WheelFilename::from_str(&wname)?;
        let wheel = dir.join(&wname);
        std::fs::rename(&wheel_tmp, &wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
        drop(scratch);
        let _ = std::fs::write(
            dir.join(format!("{}.built", info.sdist_sha256.as_str())),
            wname.as_bytes(),
        );
        Ok(wheel_is_pure(&wheel).then_some(wheel))
    }

    /// A wheel an earlier run built from the sdist with this sha256 (`{sha}.built` names it).
    fn cached_wheel(&self, dir: &Path, sha: &Sha256) -> Option<PathBuf> {
        let name = std::fs::read_to_string(dir.join(format!("{}.built", sha.as_str()))).ok()?;
        let wheel = dir.join(name.trim());
        wheel.is_file().then_some(wheel)
    }
}

fn wheel_is_pure(wheel: &Path) -> bool {
    wheel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| WheelFilename::from_str(n).ok())
        .is_some_and(|w| w.is_pure())
}

/// Download through the shared downloader: streamed, hashed on the way, retried, checked against the index's
/// sha256 when it gave one, and a cache hit when `dest` already holds it.
fn fetch_to(file: &DistFile, dest: &Path) -> Result<Sha256, String> {
    let req = DownloadRequest {
        urls: vec![file.url.clone()],
        dest: dest.to_path_buf(),
        sha256: file.sha256.clone(),
        size: file.size,
        auth: None,
        label: file.filename.clone(),
    };
    let done = download::download_all(vec![req], 1, &download::SilentProgress)
        .map_err(|e| e.to_string())?;
    Ok(done
        .into_iter()
        .next()
        .expect("one result per request")
        .sha256)
}
