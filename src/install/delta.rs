//! Installing a delta bundle (`bundle --have OLD`). Before anything changes, [`check_base`] makes sure the
//! target already holds every file the delta leaves out that this host would install: the venv's
//! distributions at the locked versions and the Hugging Face blobs; otherwise it names what is missing and
//! nothing is touched. After the install, [`finish`] removes what the base installed and the new lock no
//! longer has (packages it dropped, model revisions it replaced), so base + delta equals a full install.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::error::{Error, IoContext};
use super::{installed, models, select, txn, venv, Only, Options, Reporter};
use crate::lock::Lock;
use crate::types::PackageName;

/// Where the models go: `(folder, plain folders?)`.
fn models_dest(opts: &Options) -> Option<(PathBuf, bool)> {
    match &opts.local_dir {
        Some(dir) => Some((dir.clone(), true)),
        None => models::hub_cache(opts.hf_home.as_deref()).map(|d| (d, false)),
    }
}

/// Check the base is in place; returns the lock to install from the delta's own files (packages whose
/// file for this host the delta leaves out are dropped: they are installed already).
pub fn check_base(lock: &Lock, opts: &Options) -> Result<Lock, Error> {
    let Some(delta) = &lock.delta else {
        return Ok(lock.clone());
    };
    let mut missing = Vec::new();
    let mut installed_names: BTreeSet<PackageName> = BTreeSet::new();
    let wheels = opts.only != Some(Only::Models) && !lock.packages.is_empty();
    if let (true, Some(root)) = (wheels, opts.venv.as_deref()) {
        if venv::exists(root) {
            let v = venv::open(root)?;
            for c in select::select(lock, &v.target)? {
                if !lock.omits(&format!("wheels/{}", c.package.filename)) {
                    continue;
                }
                let have = installed::find(&v, &c.package.name)?;
                match have {
                    Some(i) if i.has_version(&c.package.version) => {
                        installed_names.insert(c.package.name.clone());
                    }
                    Some(i) => missing.push(format!(
                        "{} {} in venv {} (it has {})",
                        c.package.name,
                        c.package.version,
                        root.display(),
                        i.version
                    )),
                    None => missing.push(format!(
                        "{} {} in venv {}",
                        c.package.name,
                        c.package.version,
                        root.display()
                    )),
                }
            }
        } else {
            let omitted: BTreeSet<String> = lock
                .packages
                .iter()
                .filter(|p| lock.omits(&format!("wheels/{}", p.filename)))
                .map(|p| format!("{} {}", p.name, p.version))
                .collect();
            for p in omitted {
                missing.push(format!("{p} (venv {} does not exist)", root.display()));
            }
        }
    }
    let with_models = opts.only != Some(Only::Wheels) && !lock.models.is_empty();
    if let (true, Some((dest, local))) = (with_models, models_dest(opts)) {
        for m in &lock.models {
            let folder = crate::bundle::model_folder(m);
            for f in &m.files {
                if !lock.omits(&format!("{folder}/blobs/{}", f.blob)) {
                    continue;
                }
                let path = if local {
                    m.repo
                        .as_str()
                        .split('/')
                        .chain(f.path.split('/'))
                        .fold(dest.clone(), |p, part| p.join(part))
                } else {
                    dest.join(m.repo.cache_folder(m.kind))
                        .join("blobs")
                        .join(&f.blob)
                };
                let ok =
                    std::fs::metadata(&path).is_ok_and(|md| md.is_file() && md.len() == f.size);
                if !ok {
                    missing.push(format!(
                        "model {} file {} ({} bytes at {})",
                        m.repo,
                        f.path,
                        f.size,
                        path.display()
                    ));
                }
            }
        }
    }
    if !missing.is_empty() {
        return Err(Error::DeltaBaseMissing {
            base: format!("{} ({})", delta.base_name, delta.base),
            missing,
        });
    }
    let mut reduced = lock.clone();
    reduced.packages.retain(|p| {
        !installed_names.contains(&p.name) && !lock.omits(&format!("wheels/{}", p.filename))
    });
    Ok(reduced)
}

/// What [`finish`] removed.
#[derive(Clone, Debug, Default)]
pub struct Retired {
    pub packages: Vec<String>,
    pub models: Vec<String>,
}

/// After a delta installed: remove the base's packages the new lock dropped (only at the base's version)
/// and the base's model revisions it replaced or dropped (snapshot, refs naming it, blobs no remaining
/// snapshot uses).
pub fn finish(lock: &Lock, opts: &Options, reporter: &dyn Reporter) -> Result<Retired, Error> {
    let mut out = Retired::default();
    let Some(delta) = &lock.delta else {
        return Ok(out);
    };
    if opts.only != Some(Only::Models) && !delta.removed.is_empty() {
        if let Some(root) = opts.venv.as_deref().filter(|r| venv::exists(r)) {
            let v = venv::open(root)?;
            let mut t = txn::Txn::new(&v.root)?;
            for spec in &delta.removed {
                let Some((name, version)) = spec.split_once("==") else {
                    continue;
                };
                let Ok(name) = name.parse::<PackageName>() else {
                    continue;
                };
                if lock.packages.iter().any(|p| p.name == name) {
                    continue;
                }
                if let Some(i) = installed::find(&v, &name)?.filter(|i| i.has_version(version)) {
                    for f in i.files_to_remove(&v) {
                        t.remove(f);
                    }
                    out.packages.push(spec.clone());
                }
            }
            if !out.packages.is_empty() {
                reporter.step(&format!(
                    "removing {} package(s) the new lock dropped",
                    out.packages.len()
                ));
                let removed = t.commit()?;
                txn::prune_empty_parents(&removed, &v.root);
            }
        }
    }
    let retire_models = opts.only != Some(Only::Wheels) && opts.local_dir.is_none();
    if let (true, Some((hub, _))) = (retire_models, models_dest(opts)) {
        if !delta.retired.is_empty() && hub.is_dir() {
            let mut t = txn::Txn::new(&hub)?;
            for r in &delta.retired {
                let still = lock
                    .models
                    .iter()
                    .any(|m| m.repo == r.repo && m.kind == r.kind && m.commit == r.commit);
                if still {
                    continue;
                }
                let folder = hub.join(r.repo.cache_folder(r.kind));
                if retire(&folder, r.commit.as_str(), &mut t)? {
                    out.models.push(format!("{}@{}", r.repo, r.commit));
                }
            }
            if !out.models.is_empty() {
                reporter.step(&format!(
                    "retiring {} model revision(s) the new lock replaced",
                    out.models.len()
                ));
            }
            t.commit()?;
        }
    }
    Ok(out)
}

/// Plan the removal of one revision from a cache repo folder; false when it is not there.
fn retire(folder: &Path, commit: &str, t: &mut txn::Txn) -> Result<bool, Error> {
    let snapshots = folder.join("snapshots");
    let snapshot = snapshots.join(commit);
    if !snapshot.is_dir() {
        return Ok(false);
    }
    let mut keep = BTreeSet::new();
    let mut others = 0;
    for e in std::fs::read_dir(&snapshots).at(&snapshots)?.flatten() {
        if e.file_name().to_string_lossy() == commit {
            continue;
        }
        others += 1;
        link_blobs(&e.path(), &mut keep)?;
    }
    if others == 0 {
        t.remove(folder.to_path_buf());
        return Ok(true);
    }
    let mut used = BTreeSet::new();
    link_blobs(&snapshot, &mut used)?;
    t.remove(snapshot);
    for blob in used.difference(&keep) {
        t.remove(folder.join("blobs").join(blob));
    }
    let tree = folder.join("trees").join(format!("{commit}.json"));
    if tree.exists() {
        t.remove(tree);
    }
    let refs = folder.join("refs");
    if let Ok(entries) = std::fs::read_dir(&refs) {
        for e in entries.flatten() {
            if e.path().is_file() && std::fs::read_to_string(e.path()).is_ok_and(|c| c == commit) {
                t.remove(e.path());
            }
        }
    }
    Ok(true)
}

/// Names of the blobs the symlinks under `dir` point at.
fn link_blobs(dir: &Path, out: &mut BTreeSet<String>) -> Result<(), Error> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).at(&d)?.flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).at(&p)?;
            if meta.file_type().is_symlink() {
                if let Some(name) = std::fs::read_link(&p)
                    .ok()
                    .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
                {
                    out.insert(name);
                }
            } else if meta.is_dir() {
                stack.push(p);
            }
        }
    }
    Ok(())
}
