//! What is already installed in a venv: find a project's `.dist-info`, decide whether a wheel is already there
//! (fast no-op), and list the files of an old version to remove (per its RECORD).
use std::path::{Component, Path, PathBuf};

use super::error::Error;
use super::record::{self, RecordEntry};
use super::venv::Venv;
use super::wheel::WheelInfo;
use crate::types::PackageName;

/// An installed distribution.
#[derive(Debug)]
pub struct Installed {
    pub dist_info: PathBuf,
    pub version: String,
    pub record: Vec<RecordEntry>,
}

/// Find `name` among the `.dist-info` folders of the venv's lib dirs. An installed version whose RECORD
/// cannot be read or parsed is an error naming that RECORD: without it the old files cannot be removed.
pub fn find(venv: &Venv, name: &PackageName) -> Result<Option<Installed>, Error> {
    let mut dirs = vec![venv.purelib.clone()];
    if venv.platlib != venv.purelib {
        dirs.push(venv.platlib.clone());
    }
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = file_name.strip_suffix(".dist-info") else {
                continue;
            };
            let Some((n, _)) = stem.split_once('-') else {
                continue;
            };
            if n.parse::<PackageName>().ok().as_ref() != Some(name) {
                continue;
            }
            let path = entry.path();
            let metadata = std::fs::read_to_string(path.join("METADATA")).unwrap_or_default();
            let version = header(&metadata, "Version")
                .or_else(|| stem.split_once('-').map(|(_, v)| v.to_string()))
                .unwrap_or_default();
            let record_path = path.join("RECORD");
            let text =
                std::fs::read_to_string(&record_path).map_err(|e| Error::io(&record_path, e))?;
            let record = record::parse(&text).map_err(|why| Error::UnreadableRecord {
                path: record_path.clone(),
                why,
            })?;
            return Ok(Some(Installed {
                dist_info: path,
                version,
                record,
            }));
        }
    }
    Ok(None)
}

fn header(metadata: &str, key: &str) -> Option<String> {
    metadata
        .lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(key)
                .then(|| v.trim().to_string())
        })
}

impl Installed {
    /// Whether this is `version` (PEP 440 equality: `1.0` is `1.0.0`).
    pub fn has_version(&self, version: &str) -> bool {
        use crate::types::Version;
        match (self.version.parse::<Version>(), version.parse::<Version>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => self.version == version,
        }
    }

    /// The folder RECORD paths are relative to.
    fn base(&self) -> &Path {
        self.dist_info.parent().unwrap_or(Path::new("/"))
    }

    /// Same version, and every file the wheel would install is recorded with the same hash (scripts whose
    /// shebang was rewritten: present) and exists with the recorded size.
    pub fn matches(&self, info: &WheelInfo, venv: &Venv) -> bool {
        if !self.has_version(&info.version) || self.base() != info.lib_dir(venv) {
            return false;
        }
        let by_path: std::collections::HashMap<&str, &RecordEntry> =
            self.record.iter().map(|e| (e.path.as_str(), e)).collect();
        let data_scripts = format!(
            "{}.data/scripts/",
            info.dist_info.trim_end_matches(".dist-info")
        );
        let record_member = format!("{}/RECORD", info.dist_info);
        for e in &info.record {
            if e.path == record_member
                || e.path.ends_with("/RECORD.jws")
                || e.path.ends_with("/RECORD.p7s")
            {
                continue;
            }
            let Some(rel) = info.installed_record_path(venv, &e.path) else {
                return false;
            };
            let Some(mine) = by_path.get(rel.as_str()) else {
                return false;
            };
            if !e.path.starts_with(&data_scripts) && mine.hash != e.hash {
                return false;
            }
        }
        self.record.iter().all(|e| {
            let p = self.resolve(&e.path);
            match (p, e.size) {
                (Some(p), Some(size)) => std::fs::metadata(p).is_ok_and(|m| m.len() == size),
                (Some(p), None) => p.exists(),
                (None, _) => false,
            }
        })
    }

    /// Absolute path of a RECORD entry, when it stays inside the venv.
    fn resolve_in(&self, rel: &str, venv_root: &Path) -> Option<PathBuf> {
        let p = normalize(&self.base().join(rel));
        p.starts_with(venv_root).then_some(p)
    }

    fn resolve(&self, rel: &str) -> Option<PathBuf> {
        Some(normalize(&self.base().join(rel)))
    }

    /// Files to remove to uninstall this version: its RECORD entries inside the venv, their `__pycache__`
    /// byte-code, and RECORD itself.
    pub fn files_to_remove(&self, venv: &Venv) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in &self.record {
            let Some(p) = self.resolve_in(&e.path, &venv.root) else {
                tracing::warn!("not removing {} (outside the venv)", e.path);
                continue;
            };
            if p.extension().is_some_and(|x| x == "py") {
                out.extend(pycache_files(&p));
            }
            out.push(p);
        }
        let record = self.dist_info.join("RECORD");
        if !out.contains(&record) {
            out.push(record);
        }
        out.retain(|p| std::fs::symlink_metadata(p).is_ok());
        out.sort();
        out.dedup();
        out
    }
}

/// `dir/__pycache__/{stem}.*.pyc` for a `.py` file.
fn pycache_files(py: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(stem)) = (py.parent(), py.file_stem()) else {
        return Vec::new();
    };
    let prefix = format!("{}.", stem.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir.join("__pycache__")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix) && n.ends_with(".pyc")
        })
        .map(|e| e.path())
        .collect()
}

/// Resolve `.` and `..` lexically.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}
