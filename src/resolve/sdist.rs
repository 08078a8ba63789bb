//! Packages that publish only an sdist: build a wheel with the local Python (pure-Python ones then
//! install anywhere), read metadata and PEP 518 build requirements from the archive otherwise.
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

use pep508_rs::{PackageName, Requirement};

use super::ResolveError;
use crate::dist::WheelFilename;
use crate::fetch::download::{self, DownloadRequest};
use crate::fetch::metadata::{self, Metadata};
use crate::fetch::simple::DistFile;
use crate::types::Sha256;

#[derive(Debug)]
pub struct Built {
    pub sdist: PathBuf,
    pub sdist_sha256: Sha256,
    /// The wheel built locally, if the build worked.
    pub wheel: Option<PathBuf>,
    pub metadata: Metadata,
    /// The built wheel is `py3-none-any`: it serves every target.
    pub pure: bool,
    /// PEP 518 `build-system.requires` (setuptools defaults when absent).
    pub build_requires: Vec<Requirement>,
    /// Why the local build failed, when it did.
    pub build_error: Option<String>,
}

type Slot = Arc<OnceLock<Result<Arc<Built>, String>>>;

pub struct SdistBuilder {
    python: String,
    work: PathBuf,
    index_args: Vec<String>,
    source_date_epoch: u64,
    cache: Mutex<HashMap<String, Slot>>,
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
        Self {
            python,
            work,
            index_args,
            source_date_epoch,
            cache: Mutex::default(),
        }
    }

    pub fn build(&self, name: &PackageName, file: &DistFile) -> Result<Arc<Built>, ResolveError> {
        let slot = self
            .cache
            .lock()
            .unwrap()
            .entry(file.filename.clone())
            .or_default()
            .clone();
        slot.get_or_init(|| self.build_uncached(name, file).map(Arc::new))
            .clone()
            .map_err(|message| ResolveError::Sdist {
                name: name.to_string(),
                file: file.filename.clone(),
                message,
            })
    }

    fn build_uncached(&self, name: &PackageName, file: &DistFile) -> Result<Built, String> {
        let dir = self.work.join("sdists");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let sdist = dir.join(&file.filename);
        let sdist_sha256 = fetch_to(file, &sdist)?;
        let build_requires = read_build_requires(&sdist)?;
        let out = tempfile::Builder::new()
            .prefix("build-")
            .tempdir_in(&dir)
            .map_err(|e| e.to_string())?;
        tracing::info!(
            "building a wheel from {} with {}",
            file.filename,
            self.python
        );
        let result = std::process::Command::new(&self.python)
            .args([
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "-q",
                "-w",
            ])
            .arg(out.path())
            .arg(&sdist)
            .args(&self.index_args)
            .env("SOURCE_DATE_EPOCH", self.source_date_epoch.to_string())
            .env("PIP_NO_INPUT", "1")
            .env_remove("PIP_FIND_LINKS")
            .output();
        let built = match result {
            Ok(o) if o.status.success() => std::fs::read_dir(out.path())
                .map_err(|e| e.to_string())?
                .flatten()
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|x| x == "whl")),
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                let tail: Vec<&str> = err.lines().rev().take(6).collect();
                tracing::warn!(
                    "could not build {} locally; bundling the sdist",
                    file.filename
                );
                return self.metadata_from_archive(
                    name,
                    sdist,
                    sdist_sha256,
                    build_requires,
                    Some(tail.into_iter().rev().collect::<Vec<_>>().join("\n")),
                );
            }
            Err(e) => {
                return self.metadata_from_archive(
                    name,
                    sdist,
                    sdist_sha256,
                    build_requires,
                    Some(format!("cannot run {}: {e}", self.python)),
                );
            }
        };
        let Some(wheel_tmp) = built else {
            return self.metadata_from_archive(
                name,
                sdist,
                sdist_sha256,
                build_requires,
                Some("pip produced no wheel".into()),
            );
        };
        let wname = wheel_tmp
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let parsed = WheelFilename::from_str(&wname)?;
        let wheel = dir.join(&wname);
        std::fs::rename(&wheel_tmp, &wheel).map_err(|e| format!("{}: {e}", wheel.display()))?;
        let metadata = metadata::from_wheel(&wheel)?;
        Ok(Built {
            sdist,
            sdist_sha256,
            pure: parsed.is_pure(),
            wheel: Some(wheel),
            metadata,
            build_requires,
            build_error: None,
        })
    }

    fn metadata_from_archive(
        &self,
        _name: &PackageName,
        sdist: PathBuf,
        sdist_sha256: Sha256,
        build_requires: Vec<Requirement>,
        build_error: Option<String>,
    ) -> Result<Built, String> {
        let pkg_info = read_member(&sdist, |p| {
            p.split('/').count() == 2 && p.ends_with("/PKG-INFO")
        })?
        .ok_or_else(|| {
            format!(
                "{} has no PKG-INFO and could not be built: {}",
                sdist.display(),
                build_error.clone().unwrap_or_default()
            )
        })?;
        let metadata = metadata::parse(&pkg_info)?;
        Ok(Built {
            sdist,
            sdist_sha256,
            wheel: None,
            metadata,
            pure: false,
            build_requires,
            build_error,
        })
    }
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

/// The first archive member whose path satisfies `want` (tar.gz or zip sdists).
fn read_member(sdist: &Path, want: impl Fn(&str) -> bool) -> Result<Option<Vec<u8>>, String> {
    let name = sdist.to_string_lossy();
    let f = std::fs::File::open(sdist).map_err(|e| format!("{name}: {e}"))?;
    if name.ends_with(".zip") {
        let mut z = zip::ZipArchive::new(f).map_err(|e| format!("{name}: {e}"))?;
        for i in 0..z.len() {
            let mut entry = z.by_index(i).map_err(|e| format!("{name}: {e}"))?;
            if entry.name().is_ok_and(|n| want(&n)) {
                let mut buf = Vec::new();
                entry
                    .by_ref()
                    .take(4 << 20)
                    .read_to_end(&mut buf)
                    .map_err(|e| e.to_string())?;
                return Ok(Some(buf));
            }
        }
        return Ok(None);
    }
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    for entry in ar.entries().map_err(|e| format!("{name}: {e}"))? {
        let mut entry = entry.map_err(|e| format!("{name}: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        if want(&path) {
            let mut buf = Vec::new();
            entry
                .by_ref()
                .take(4 << 20)
                .read_to_end(&mut buf)
                .map_err(|e| e.to_string())?;
            return Ok(Some(buf));
        }
    }
    Ok(None)
}

fn read_build_requires(sdist: &Path) -> Result<Vec<Requirement>, String> {
    let default = || {
        vec![
            Requirement::from_str("setuptools>=40.8.0").unwrap(),
            Requirement::from_str("wheel").unwrap(),
        ]
    };
    let Some(bytes) = read_member(sdist, |p| {
        p.split('/').count() == 2 && p.ends_with("/pyproject.toml")
    })?
    else {
        return Ok(default());
    };
    let doc: toml::Value = toml::from_str(&String::from_utf8_lossy(&bytes))
        .map_err(|e| format!("{}: pyproject.toml: {e}", sdist.display()))?;
    let Some(reqs) = doc
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array())
    else {
        return Ok(default());
    };
    reqs.iter()
        .filter_map(|v| v.as_str())
        .map(|s| {
            crate::inputs::pep508::parse_requirement(s)
                .map_err(|e| format!("{}: build-system.requires '{s}': {e}", sdist.display()))
        })
        .collect()
}
