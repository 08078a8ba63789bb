//! Install an extracted, verified bundle: wheels into a venv (native PEP 427 installer), models into the Hugging
//! Face cache (or plain folders). All or nothing: everything is staged next to its destination, then switched
//! in with renames; a failure restores the venv and cache exactly. Never imports `fetch`: no network here.
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use sha2::Digest;

pub mod delta;
pub mod error;
pub mod files;
pub mod installed;
pub mod journal;
pub mod models;
pub mod publish;
pub mod record;
pub mod scripts;
pub mod select;
pub mod source;
pub mod txn;
pub mod venv;
pub mod wheel;

pub use error::Error;
use error::IoContext;
pub use source::Source;

use crate::lock::{DistKind, Lock};

/// Install only one half of a bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Only {
    Wheels,
    Models,
}

impl std::str::FromStr for Only {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "wheels" => Ok(Only::Wheels),
            "models" => Ok(Only::Models),
            other => Err(Error::Usage(format!(
                "--only takes 'wheels' or 'models', not '{other}'"
            ))),
        }
    }
}

/// What to install where.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub venv: Option<PathBuf>,
    /// Interpreter used to create the venv when missing (default `python3`).
    pub python: Option<PathBuf>,
    pub hf_home: Option<PathBuf>,
    /// Plain folders `DIR/ORG/NAME` instead of the HF cache.
    pub local_dir: Option<PathBuf>,
    /// Where files that are not on a hub (`files/` in the bundle) go: `DIR/NAME`.
    pub files_dir: Option<PathBuf>,
    pub only: Option<Only>,
    pub compile_bytecode: bool,
}

/// Progress callbacks; the binary decides how to show them.
pub trait Reporter: Sync {
    fn step(&self, _message: &str) {}
}

/// A reporter that shows nothing.
pub struct Silent;
impl Reporter for Silent {}

#[derive(Clone, Debug, Serialize)]
pub struct PackageSummary {
    pub name: String,
    pub version: String,
    pub filename: String,
    /// The version this install replaced, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaced: Option<String>,
}

/// What an install did (printed, or as `--json`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub venv: Option<PathBuf>,
    /// The venv interpreter's target id, e.g. `cp311-manylinux_2_35_x86_64`.
    pub target: Option<String>,
    pub installed: Vec<PackageSummary>,
    /// Already installed with identical files: skipped.
    pub unchanged: Vec<PackageSummary>,
    pub models_dir: Option<PathBuf>,
    pub models: Vec<models::ModelSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<files::FilesSummary>,
    /// How the models were laid out in the HF cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_layout: Option<models::CacheLayout>,
}

/// A wheel ready to stage.
struct Planned {
    /// Its file name (for messages).
    shown: String,
    zip: wheel::Archive,
    info: wheel::WheelInfo,
    requested: bool,
    old: Option<installed::Installed>,
}

/// Install the bundle extracted at `staging` (already verified by the bundle module) as `lock` describes it.
pub fn install_extracted(
    staging: &Path,
    lock: &Lock,
    opts: &Options,
    reporter: &dyn Reporter,
) -> Result<Summary, Error> {
    install_from(&Source::folder(staging), lock, opts, reporter)
}

/// Install from `source` (the verified bundle itself, or an extracted one) as `lock` describes it.
pub fn install_from(
    source: &Source,
    lock: &Lock,
    opts: &Options,
    reporter: &dyn Reporter,
) -> Result<Summary, Error> {
    let wheels = opts.only != Some(Only::Models) && !lock.packages.is_empty();
    let models =
        opts.only != Some(Only::Wheels) && (!lock.models.is_empty() || !lock.files.is_empty());
    let mut created_venv = None;
    if wheels {
        let root = opts.venv.as_deref().ok_or_else(|| {
            Error::Usage(
                "the bundle holds Python packages: pass --venv DIR (or --only models)".into(),
            )
        })?;
        venv::check_folder(root)?;
        if !venv::exists(root) {
            reporter.step(&format!("creating venv {}", root.display()));
            if !root.exists() {
                created_venv = Some(root.to_path_buf());
            }
            // Windows installs name their interpreter `python`, not `python3`.
            let windows_default = windows_only(lock).then_some(Path::new("python"));
            venv::create(root, opts.python.as_deref().or(windows_default))?;
        }
    }
    let result = install_inner(source, lock, opts, reporter, wheels, models);
    if result.is_err() {
        if let Some(root) = created_venv {
            let _ = std::fs::remove_dir_all(root);
        }
    }
    result
}

fn install_inner(
    source: &Source,
    lock: &Lock,
    opts: &Options,
    reporter: &dyn Reporter,
    wheels: bool,
    models: bool,
) -> Result<Summary, Error> {
    let mut summary = Summary::default();
    let mut wheel_txn = None;
    let mut staged_wheels = Vec::new();
    let mut venv = None;
    let build_dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    if wheels {
        let root = opts.venv.as_deref().expect("checked by the caller");
        let v = if venv::is_windows_layout(root) {
            venv::open_windows(root, &lock.targets)?
        } else {
            venv::open(root)?
        };
        summary.venv = Some(v.root.clone());
        summary.target = Some(v.target.id());
        let plan = plan_wheels(source, lock, &v, build_dir.path(), reporter, &mut summary)?;
        if !plan.is_empty() {
            let needed: u64 = plan
                .iter()
                .map(|p| p.info.record.iter().filter_map(|e| e.size).sum::<u64>())
                .sum();
            txn::check_space(&v.root, needed)?;
            let mut t = txn::Txn::new(&v.root)?;
            reporter.step(&format!("unpacking {} wheels", plan.len()));
            let stage_root = t.staging().to_path_buf();
            staged_wheels = plan
                .par_iter()
                .enumerate()
                .map(|(i, p)| {
                    wheel::stage(
                        &p.zip,
                        &p.shown,
                        &p.info,
                        &v,
                        p.requested,
                        &stage_root.join(format!("w{i}")),
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            for p in &plan {
                if let Some(old) = &p.old {
                    for f in old.files_to_remove(&v) {
                        t.remove(f);
                    }
                }
            }
            // Whole folders where the venv has none yet; file by file only inside folders that exist.
            let trees: Vec<publish::Tree<'_>> = staged_wheels
                .iter()
                .map(|s| publish::Tree {
                    root: &s.tree,
                    files: &s.tree_files,
                })
                .collect();
            let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
            for (from, to) in publish::plan(&v.root, &trees, &exists) {
                t.place(from, to);
            }
            for (s, p) in staged_wheels.iter().zip(&plan) {
                for (from, to) in &s.loose {
                    t.place(from.clone(), to.clone());
                }
                summary.installed.push(PackageSummary {
                    name: s.name.to_string(),
                    version: s.version.clone(),
                    filename: s.filename.clone(),
                    replaced: p.old.as_ref().map(|o| o.version.clone()),
                });
            }
            wheel_txn = Some(t);
        }
        venv = Some(v);
    }
    let mut model_txn = None;
    let mut files_txn = None;
    if models && !lock.files.is_empty() {
        match &opts.files_dir {
            Some(dir) => {
                let dest = std::path::absolute(dir).at(dir)?;
                reporter.step(&format!(
                    "staging {} files in {}",
                    lock.files.len(),
                    dest.display()
                ));
                let mut t = txn::Txn::new(&dest)?;
                summary.files = Some(files::stage(source, &lock.files, &dest, &mut t)?);
                files_txn = Some(t);
            }
            None => {
                reporter.step(&format!(
                    "{} files that are not on a hub are not installed: pass --files-dir DIR",
                    lock.files.len()
                ));
                summary.files = Some(files::FilesSummary {
                    not_installed: lock.files.iter().map(|f| f.name.clone()).collect(),
                    ..Default::default()
                });
            }
        }
    }
    if models && !lock.models.is_empty() {
        let (dest, local) = match &opts.local_dir {
            Some(dir) => (dir.clone(), true),
            None => (
                models::hub_cache(opts.hf_home.as_deref()).ok_or_else(|| {
                    Error::Usage("cannot find the Hugging Face cache: pass --hf-home DIR".into())
                })?,
                false,
            ),
        };
        let dest = std::path::absolute(&dest).at(&dest)?;
        reporter.step(&format!(
            "staging {} models in {}",
            lock.models.len(),
            dest.display()
        ));
        let mut t = txn::Txn::new(&dest)?;
        // Windows targets get the layout huggingface_hub writes where symlinks are unavailable.
        let layout = if windows_only(lock) {
            models::CacheLayout::NoSymlinks
        } else {
            models::CacheLayout::Symlinks
        };
        summary.models = if local {
            models::stage_local(source, &lock.models, &dest, &mut t)?
        } else {
            models::stage_cache_as(source, &lock.models, &dest, &mut t, layout)?
        };
        summary.cache_layout = (!local).then_some(layout);
        summary.models_dir = Some(dest);
        model_txn = Some(t);
    }

    // Everything is staged: the bundle must still be the one verified.
    source.check_unchanged()?;
    // Switch: wheels, then models; a failure in either undoes both.
    let mut steps = 0;
    if let Some(t) = wheel_txn.as_mut() {
        t.apply(&mut steps)?;
    }
    if let Some(t) = model_txn.as_mut() {
        if let Err(err) = t.apply(&mut steps) {
            if let Some(w) = wheel_txn.as_mut() {
                if let Err(rb) = w.undo() {
                    return Err(Error::RollbackFailed {
                        why: err.to_string(),
                        rollback: rb.to_string(),
                    });
                }
            }
            return Err(err);
        }
    }
    if let Some(t) = files_txn.as_mut() {
        if let Err(err) = t.apply(&mut steps) {
            for undo in [model_txn.as_mut(), wheel_txn.as_mut()]
                .into_iter()
                .flatten()
            {
                if let Err(rb) = undo.undo() {
                    return Err(Error::RollbackFailed {
                        why: err.to_string(),
                        rollback: rb.to_string(),
                    });
                }
            }
            return Err(err);
        }
    }
    if let (Some(t), Some(v)) = (wheel_txn, &venv) {
        let removed = t.finish();
        txn::prune_empty_parents(&removed, &v.root);
        if opts.compile_bytecode {
            let files: Vec<&PathBuf> = staged_wheels.iter().flat_map(|s| &s.python_files).collect();
            compile(v, &files, reporter);
        }
    }
    if let Some(t) = model_txn {
        t.finish();
    }
    if let Some(t) = files_txn {
        t.finish();
    }
    Ok(summary)
}

/// Every target of the bundle is a Windows one (`win32`, `win_amd64`, `win_arm64`).
pub fn windows_only(lock: &Lock) -> bool {
    !lock.targets.is_empty()
        && lock
            .targets
            .iter()
            .all(|t| t.platforms.iter().all(|p| p.starts_with("win")))
}

/// Choose, verify, build (sdists) and inspect the wheels to install; skip those already installed.
fn plan_wheels(
    source: &Source,
    lock: &Lock,
    v: &venv::Venv,
    build_dir: &Path,
    reporter: &dyn Reporter,
    summary: &mut Summary,
) -> Result<Vec<Planned>, Error> {
    let choices = select::select(lock, &v.target)?;
    let summary_of = |c: &select::Choice<'_>, version: &str| PackageSummary {
        name: c.package.name.to_string(),
        version: version.to_string(),
        filename: c.package.filename.clone(),
        replaced: None,
    };
    // Sdists: skipped when that version is installed, else checked and built first, so that a package that
    // cannot be built stops the install before anything changed.
    let mut candidates: Vec<(&select::Choice<'_>, Option<PathBuf>)> = Vec::new();
    let mut wheels_folder = None;
    for (i, c) in choices.iter().enumerate() {
        if c.package.kind == DistKind::Wheel {
            candidates.push((c, None));
            continue;
        }
        if installed::find(v, &c.package.name)?.is_some_and(|o| o.has_version(&c.package.version)) {
            summary.unchanged.push(summary_of(c, &c.package.version));
            continue;
        }
        verify_bundle_file(source, c)?;
        reporter.step(&format!("building {} from source", c.package.filename));
        let folder = match &wheels_folder {
            Some(f) => f,
            None => wheels_folder.insert(source.wheels_folder(&build_dir.join("bundle"))?),
        };
        let built = select::build_sdist(c, v, folder, &build_dir.join(i.to_string()))?;
        candidates.push((c, Some(built)));
    }
    let infos = candidates
        .par_iter()
        .map(|(c, built)| {
            let (reader, shown) = match built {
                Some(path) => {
                    let stream = crate::bundle::TarStream::of_file(path).at(path)?;
                    let len = stream.len();
                    let shown = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (stream.buffered(0, len, source::WHEEL_BUFFER), shown)
                }
                None => {
                    let r = source.open(&c.member, source::WHEEL_BUFFER).map_err(|e| {
                        Error::BundleFile {
                            file: c.package.filename.clone(),
                            why: format!("cannot be read ({}): {e}", source.describe(&c.member)),
                        }
                    })?;
                    (r, c.package.filename.clone())
                }
            };
            let (info, zip) = wheel::inspect(reader, &shown)?;
            Ok((shown, info, zip))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    let mut plan = Vec::new();
    let mut to_verify = Vec::new();
    for ((c, _), (shown, info, zip)) in candidates.into_iter().zip(infos) {
        let old = installed::find(v, &info.name)?;
        if old.as_ref().is_some_and(|o| o.matches(&info, v)) {
            summary.unchanged.push(summary_of(c, &info.version));
            continue;
        }
        if c.package.kind == DistKind::Wheel {
            to_verify.push(c);
        }
        plan.push(Planned {
            shown,
            zip,
            info,
            requested: c.package.requested,
            old,
        });
    }
    // An extracted bundle (this function may be handed any folder): check again what is about to be
    // installed. Straight from the bundle, `bundle::verify` hashed every member moments ago in this process.
    // Unchanged packages are not re-read: a second install stays fast.
    if !source.verified() {
        to_verify
            .par_iter()
            .try_for_each(|c| verify_bundle_file(source, c))?;
    }
    Ok(plan)
}

fn verify_bundle_file(source: &Source, c: &select::Choice<'_>) -> Result<(), Error> {
    let bad = |why: String| Error::BundleFile {
        file: c.package.filename.clone(),
        why,
    };
    let mut reader = source
        .open(&c.member, 0)
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    let mut h = sha2::Sha256::new();
    crate::types::stream_sha256(&mut reader, &mut h, None)
        .map_err(|e| bad(format!("cannot be read: {e}")))?;
    let sha = hex::encode(h.finalize());
    if sha != c.package.sha256.as_str() {
        return Err(bad(format!(
            "has sha256 {sha}, ferry.json says {}",
            c.package.sha256
        )));
    }
    Ok(())
}

/// `python -m compileall -q` over the installed `.py` files; failures are warnings (the install stands).
fn compile(v: &venv::Venv, files: &[&PathBuf], reporter: &dyn Reporter) {
    use std::io::Write;
    if files.is_empty() {
        return;
    }
    reporter.step(&format!("byte-compiling {} files", files.len()));
    let child = std::process::Command::new(&v.python)
        .args(["-m", "compileall", "-q", "-i", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn();
    let Ok(mut child) = child else {
        tracing::warn!("cannot run {} -m compileall", v.python.display());
        return;
    };
    if let Some(mut stdin) = child.stdin.take() {
        for f in files {
            let _ = writeln!(stdin, "{}", f.display());
        }
    }
    if !child.wait().is_ok_and(|s| s.success()) {
        tracing::warn!("byte-compiling reported errors (the install is complete)");
    }
}

impl std::fmt::Display for Summary {
    /// Plain lines for people (`--json` prints the struct instead).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(venv) = &self.venv {
            writeln!(
                f,
                "venv {} ({})",
                venv.display(),
                self.target.as_deref().unwrap_or("?")
            )?;
        }
        use crate::types::{human_size, plural};
        for p in &self.installed {
            match &p.replaced {
                Some(old) => writeln!(f, "  installed {} {} (was {old})", p.name, p.version)?,
                None => writeln!(f, "  installed {} {}", p.name, p.version)?,
            }
        }
        if !self.unchanged.is_empty() {
            let n = self.unchanged.len();
            let verb = if n == 1 { "was" } else { "were" };
            writeln!(
                f,
                "  {} {verb} already installed, unchanged",
                plural(n, "package")
            )?;
        }
        if let Some(dir) = &self.models_dir {
            match self.cache_layout {
                Some(models::CacheLayout::NoSymlinks) => writeln!(
                    f,
                    "models in {} (files in snapshots/, no symlinks: the Windows layout)",
                    dir.display()
                )?,
                _ => writeln!(f, "models in {}", dir.display())?,
            }
        }
        for m in &self.models {
            writeln!(
                f,
                "  {} @ {}: {}, {} reused, {} copied",
                m.repo,
                m.commit,
                plural(m.files, "file"),
                m.reused,
                human_size(m.bytes_copied)
            )?;
        }
        if let Some(files) = &self.files {
            if let Some(dir) = &files.dir {
                writeln!(
                    f,
                    "files in {}: {} installed, {} unchanged",
                    dir.display(),
                    files.installed.len(),
                    files.unchanged.len()
                )?;
            }
            for name in &files.not_installed {
                writeln!(f, "  files/{name} not installed (pass --files-dir DIR)")?;
            }
        }
        Ok(())
    }
}
