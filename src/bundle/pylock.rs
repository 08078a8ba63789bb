//! `pylock.toml` (PEP 751): the bundle's packages as a standard lock, so stock installers work from the
//! extracted bundle (`uv pip install -r pylock.toml`, `pip install -r pylock.toml`). Every file has a `path`
//! relative to the lock (`wheels/…`), its size and sha256; each package carries a marker when it serves
//! only some of the bundle's targets. [`read`] goes the other way: a pylock.toml written by uv or pip becomes
//! a ferry lock for the given targets, so `bundle --locked pylock.toml` carries exactly those files.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr;

use pep508_rs::{MarkerEnvironment, MarkerTree};
use serde::{Deserialize, Serialize};

use crate::dist::WheelFilename;
use crate::lock::{DistKind, Lock, LockedPackage};
use crate::target::Target;
use crate::types::{PackageName, Sha256, Version};

/// The member name.
pub const PYLOCK: &str = "pylock.toml";

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PyLock {
    lock_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    environments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    requires_python: Option<String>,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    packages: Vec<PyPackage>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PyPackage {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    index: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sdist: Option<PyFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    wheels: Vec<PyFile>,
    // Read only, to name what ferry cannot carry.
    #[serde(default, skip_serializing)]
    vcs: Option<toml::Value>,
    #[serde(default, skip_serializing)]
    directory: Option<toml::Value>,
    #[serde(default, skip_serializing)]
    archive: Option<toml::Value>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct PyFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
}

/// PEP 508 marker of one target: `python_version`, `sys_platform`, `platform_machine`.
pub fn target_marker(t: &Target) -> String {
    let env = t.marker_env();
    format!(
        "python_version == '{}' and sys_platform == '{}' and platform_machine == '{}'",
        env.python_version().string,
        env.sys_platform(),
        env.platform_machine()
    )
}

/// A URL without user name or password.
pub fn without_credentials(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

fn is_build_only(p: &LockedPackage) -> bool {
    p.reason
        .as_deref()
        .is_some_and(|r| r.to_ascii_lowercase().contains("build requirement"))
}

/// The index a file came from: the only index, else the one on the file's origin.
fn index_of(lock: &Lock, url: &str) -> Option<String> {
    if lock.indexes.len() == 1 {
        return Some(without_credentials(&lock.indexes[0]));
    }
    let origin = |u: &str| url::Url::parse(u).ok().map(|u| u.origin());
    let file = origin(url)?;
    lock.indexes
        .iter()
        .find(|i| origin(i).as_ref() == Some(&file))
        .map(|i| without_credentials(i))
}

/// `pylock.toml` for the packages of `lock` (build-only packages left out); with `paths`, every file also
/// has its bundle path `wheels/…` (inside a bundle), else only its URL (a lock on its own).
pub fn render(lock: &Lock, paths: bool) -> String {
    let all_targets: BTreeSet<String> = lock.targets.iter().map(Target::id).collect();
    let marker_of: BTreeMap<String, String> = lock
        .targets
        .iter()
        .map(|t| (t.id(), target_marker(t)))
        .collect();
    // (name, version) → files; name → versions.
    let mut groups: BTreeMap<(String, String), Vec<&LockedPackage>> = BTreeMap::new();
    for p in lock.packages.iter().filter(|p| !is_build_only(p)) {
        groups
            .entry((p.name.to_string(), p.version.clone()))
            .or_default()
            .push(p);
    }
    let mut versions: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _) in groups.keys() {
        *versions.entry(name.as_str()).or_default() += 1;
    }
    let mut packages = Vec::new();
    let mut skipped = Vec::new();
    for ((name, version), files) in &groups {
        let served: BTreeSet<String> = files.iter().flat_map(|p| p.targets.clone()).collect();
        let everywhere = served.is_empty() || served.is_superset(&all_targets);
        let marker = if versions[name.as_str()] == 1 && everywhere {
            None
        } else {
            let parts: Vec<String> = served
                .iter()
                .filter_map(|id| marker_of.get(id))
                .map(|m| format!("({m})"))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" or "))
        };
        let file = |p: &LockedPackage| {
            let member = format!("wheels/{}", p.filename);
            // A wheel ferry built from an sdist has no download URL of its own; a file a delta leaves to
            // its base has no path in this bundle.
            let url = p.built_from.is_none().then(|| without_credentials(&p.url));
            let carried = paths && !lock.omits(&member);
            PyFile {
                name: Some(p.filename.clone()),
                path: (carried || (paths && url.is_none())).then_some(member),
                url,
                size: Some(p.size),
                hashes: BTreeMap::from([("sha256".to_string(), p.sha256.to_string())]),
            }
        };
        let mut pkg = PyPackage {
            name: name.clone(),
            version: Some(version.clone()),
            marker,
            index: files
                .iter()
                .find(|p| p.built_from.is_none())
                .and_then(|p| index_of(lock, &p.url)),
            ..Default::default()
        };
        for p in files {
            if !paths && p.built_from.is_some() {
                // Built by ferry from an sdist: no URL to name outside a bundle.
                skipped.push(p.filename.clone());
                continue;
            }
            match p.kind {
                DistKind::Wheel => pkg.wheels.push(file(p)),
                DistKind::Sdist => pkg.sdist = Some(file(p)),
            }
        }
        if pkg.wheels.is_empty() && pkg.sdist.is_none() {
            continue;
        }
        packages.push(pkg);
    }
    let mut pythons: Vec<Version> = lock
        .targets
        .iter()
        .filter_map(|t| Version::from_str(&t.python).ok())
        .collect();
    pythons.sort();
    let doc = PyLock {
        lock_version: "1.0".into(),
        environments: lock.targets.iter().map(target_marker).collect(),
        requires_python: pythons.first().map(|v| format!(">={v}")),
        created_by: "ferry".into(),
        packages,
    };
    let mut text = format!(
        "# PEP 751 lock of bundle '{}', written by {}. Paths are relative to this file.\n",
        lock.name.replace(['\n', '\r'], " "),
        lock.tool
    );
    for f in &skipped {
        text.push_str(&format!(
            "# left out: {f} (a wheel ferry builds from its sdist; only a bundle carries it)\n"
        ));
    }
    text.push_str(&toml::to_string(&doc).expect("pylock serializes"));
    text
}

#[derive(Debug, thiserror::Error)]
pub enum PylockError {
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Invalid {
        path: std::path::PathBuf,
        message: String,
    },
}

impl From<PylockError> for crate::Error {
    fn from(e: PylockError) -> Self {
        match e {
            PylockError::Io { path, source } => crate::Error::io(path, source),
            other => crate::Error::Usage(other.to_string()),
        }
    }
}

/// Whether a `--locked` file is a PEP 751 lock (`pylock.toml` or `pylock.NAME.toml`).
pub fn is_pylock_path(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n == PYLOCK || (n.starts_with("pylock.") && n.ends_with(".toml")))
}

/// Read a pylock.toml (uv's or pip's) into a ferry lock for `targets`: per target, the packages whose
/// marker holds and, per package, the best wheel for the target (else its sdist). Sizes the lock does not
/// give are 0 (filled in when the files are downloaded).
pub fn read(path: &Path, targets: &[Target], created: u64) -> Result<Lock, PylockError> {
    let invalid = |message: String| PylockError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|source| PylockError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let doc: PyLock =
        toml::from_str(&text).map_err(|e| invalid(format!("not a PEP 751 lock: {e}")))?;
    if !doc.lock_version.starts_with("1.") && doc.lock_version != "1" {
        return Err(invalid(format!(
            "lock-version {} is not supported (this ferry reads 1.x)",
            doc.lock_version
        )));
    }
    let base = std::path::absolute(path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    let parse_marker = |m: &str, what: &str| {
        MarkerTree::from_str(m).map_err(|e| invalid(format!("{what}: bad marker '{m}': {e}")))
    };
    let environments: Vec<MarkerTree> = doc
        .environments
        .iter()
        .map(|m| parse_marker(m, "environments"))
        .collect::<Result<_, _>>()?;
    let mut by_file: BTreeMap<String, LockedPackage> = BTreeMap::new();
    let mut indexes: Vec<String> = Vec::new();
    for t in targets {
        let env: MarkerEnvironment = t.marker_env();
        if !environments.is_empty() && !environments.iter().any(|m| m.evaluate(&env, &[])) {
            return Err(invalid(format!(
                "none of its environments holds for target {} ({})",
                t.id(),
                target_marker(t)
            )));
        }
        let tags = t.tags();
        for (i, p) in doc.packages.iter().enumerate() {
            let what = format!("packages[{i}] ({})", p.name);
            if let Some(m) = &p.marker {
                if !parse_marker(m, &what)?.evaluate(&env, &[]) {
                    continue;
                }
            }
            if p.vcs.is_some() || p.directory.is_some() || p.archive.is_some() {
                return Err(invalid(format!(
                    "{what}: a VCS, directory or archive source cannot be bundled (only wheels and sdists)"
                )));
            }
            let name = PackageName::from_str(&p.name)
                .map_err(|e| invalid(format!("{what}: bad name: {e}")))?;
            let best = p
                .wheels
                .iter()
                .filter_map(|w| {
                    let filename = file_name(w)?;
                    let parsed: WheelFilename = filename.parse().ok()?;
                    Some((parsed.best_rank(&tags)?, w, filename, parsed))
                })
                .min_by_key(|(rank, ..)| *rank);
            let (file, filename, kind, version) = match (best, &p.sdist) {
                (Some((_, w, filename, parsed)), _) => {
                    (w, filename, DistKind::Wheel, parsed.version.to_string())
                }
                (None, Some(s)) => {
                    let filename = file_name(s)
                        .ok_or_else(|| invalid(format!("{what}: sdist without a file name")))?;
                    let version = p.version.clone().ok_or_else(|| {
                        invalid(format!("{what}: sdist without a package version"))
                    })?;
                    (s, filename, DistKind::Sdist, version)
                }
                (None, None) => {
                    return Err(invalid(format!(
                        "{what}: no wheel for target {} and no sdist",
                        t.id()
                    )))
                }
            };
            let url = match (&file.path, &file.url) {
                (Some(rel), _) => url::Url::from_file_path(base.join(rel))
                    .map_err(|_| invalid(format!("{what}: bad path '{rel}'")))?
                    .to_string(),
                (None, Some(u)) => u.clone(),
                (None, None) => {
                    return Err(invalid(format!("{what}: {filename} has no url or path")))
                }
            };
            let sha256 = file
                .hashes
                .get("sha256")
                .ok_or_else(|| invalid(format!("{what}: {filename} has no sha256 hash")))?
                .parse::<Sha256>()
                .map_err(|e| invalid(format!("{what}: {filename}: {e}")))?;
            if let Some(index) = &p.index {
                let index = without_credentials(index);
                if !indexes.contains(&index) {
                    indexes.push(index);
                }
            }
            let entry = by_file
                .entry(filename.clone())
                .or_insert_with(|| LockedPackage {
                    name: name.clone(),
                    version,
                    filename: filename.clone(),
                    kind,
                    url,
                    sha256,
                    size: file.size.unwrap_or(0),
                    targets: Vec::new(),
                    requested: true,
                    reason: None,
                    needs_compiler: false,
                    built_from: None,
                });
            entry.targets.push(t.id());
        }
    }
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("pylock."))
        .and_then(|n| n.strip_suffix(".toml"))
        .filter(|n| !n.is_empty())
        .unwrap_or("pylock")
        .to_string();
    let mut lock = Lock {
        format: crate::lock::FORMAT_VERSION,
        tool: format!("ferry {}", env!("CARGO_PKG_VERSION")),
        name,
        created,
        targets: targets.to_vec(),
        inputs: vec![format!("--locked {}", path.display())],
        requirements: Vec::new(),
        indexes,
        hf_endpoint: None,
        packages: by_file.into_values().collect(),
        models: Vec::new(),
        files: Vec::new(),
        local_paths: Vec::new(),
        skipped: Vec::new(),
        torch: Vec::new(),
        delta: None,
    };
    lock.normalize();
    Ok(lock)
}

fn file_name(f: &PyFile) -> Option<String> {
    let last = |s: &str| {
        s.split(['?', '#'])
            .next()
            .and_then(|s| s.rsplit('/').next())
            .map(percent_decode)
    };
    f.name
        .clone()
        .or_else(|| f.path.as_deref().and_then(last))
        .or_else(|| f.url.as_deref().and_then(last))
        .filter(|n| !n.is_empty() && !n.contains(['/', '\\']))
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(py: &str, plat: &str) -> Target {
        Target::new(py, vec![plat.into()]).unwrap()
    }

    fn package(name: &str, version: &str, filename: &str, targets: &[&str]) -> LockedPackage {
        LockedPackage {
            name: name.parse().unwrap(),
            version: version.into(),
            filename: filename.into(),
            kind: DistKind::Wheel,
            url: format!("http://user:secret@127.0.0.1:1/files/{filename}"),
            sha256: Sha256::digest(filename.as_bytes()),
            size: 10,
            targets: targets.iter().map(|s| s.to_string()).collect(),
            requested: true,
            reason: None,
            needs_compiler: false,
            built_from: None,
        }
    }

    #[test]
    fn markers_only_where_targets_differ_and_no_credentials() {
        let a = target("3.10", "manylinux_2_28_x86_64");
        let b = target("3.11", "manylinux_2_28_x86_64");
        let (ia, ib) = (a.id(), b.id());
        let lock = Lock {
            format: 1,
            tool: "ferry test".into(),
            name: "t".into(),
            created: 0,
            targets: vec![a.clone(), b.clone()],
            inputs: vec![],
            requirements: vec![],
            indexes: vec!["http://user:secret@127.0.0.1:1/simple/".into()],
            hf_endpoint: None,
            packages: vec![
                package("same", "1.0", "same-1.0-py3-none-any.whl", &[&ia, &ib]),
                package("old", "1.0", "old-1.0-py3-none-any.whl", &[&ia]),
                package("old", "2.0", "old-2.0-py3-none-any.whl", &[&ib]),
            ],
            models: vec![],
            files: vec![],
            local_paths: vec![],
            skipped: vec![],
            torch: vec![],
            delta: None,
        };
        let text = render(&lock, true);
        assert!(!text.contains("secret"), "{text}");
        let doc: PyLock = toml::from_str(&text).unwrap();
        assert_eq!(doc.environments.len(), 2);
        assert_eq!(doc.requires_python.as_deref(), Some(">=3.10"));
        let same = doc.packages.iter().find(|p| p.name == "same").unwrap();
        assert_eq!(same.marker, None);
        assert_eq!(
            same.wheels[0].path.as_deref(),
            Some("wheels/same-1.0-py3-none-any.whl")
        );
        assert_eq!(
            same.index.as_deref(),
            Some("http://127.0.0.1:1/simple/"),
            "{text}"
        );
        let old: Vec<&PyPackage> = doc.packages.iter().filter(|p| p.name == "old").collect();
        assert_eq!(old.len(), 2);
        assert!(old[0]
            .marker
            .as_deref()
            .unwrap()
            .contains("python_version == '3.10'"));

        // Read back for one target: the markers pick one version.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pylock.toml");
        std::fs::write(&path, &text).unwrap();
        let back = read(&path, std::slice::from_ref(&b), 5).unwrap();
        let files: Vec<&str> = back.packages.iter().map(|p| p.filename.as_str()).collect();
        assert_eq!(
            files,
            ["old-2.0-py3-none-any.whl", "same-1.0-py3-none-any.whl"]
        );
        assert!(back.packages[0].url.starts_with("file://"));
        let win = target("3.11", "win_amd64");
        let err = read(&path, &[win], 5).unwrap_err().to_string();
        assert!(err.contains("none of its environments"), "{err}");
    }
}
