//! `ferry lock`: inputs → plan → resolution (index) + model pins (hub) → ferry.lock.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::fetch::download::{self, DownloadRequest, Progress};
use crate::fetch::hub::Hub;
use crate::fetch::index::IndexClient;
use crate::fetch::sources::{self, redact};
use crate::inputs::{self, Plan};
use crate::lock::{DistKind, Lock, LockedPackage, FORMAT_VERSION};
use crate::resolve::{self, sdist::SdistBuilder, Pinned};
use crate::types::plural;

#[derive(Debug, Clone)]
pub struct Settings {
    pub inputs: super::InputSettings,
    pub output: PathBuf,
    /// `--format pylock`: write a PEP 751 pylock.toml instead of ferry.lock.
    pub pylock: bool,
    /// Replace an existing lock file.
    pub force: bool,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    super::refuse_existing(&settings.output, settings.force)?;
    let plan = inputs::plan::build(&settings.inputs)?;
    let progress = super::progress();
    super::note_default_target(&plan, progress.as_ref());
    let made = make_lock(&plan, &settings.inputs, progress.as_ref())?;
    let text = match settings.pylock {
        true => crate::bundle::pylock::render(&made.lock, false),
        false => made.lock.to_json(),
    };
    super::write_atomic(&settings.output, text.as_bytes())?;
    eprintln!(
        "locked {}, {} for {} into {}",
        plural(made.lock.packages.len(), "package"),
        plural(made.lock.models.len(), "model"),
        plural(made.lock.targets.len(), "target"),
        settings.output.display()
    );
    Ok(())
}

/// The target's pip, so that a venv `ferry install` creates can run pip offline; a note, not an error, when
/// the index has none (`--no-pip` leaves it out).
fn add_pip(
    plan: &Plan,
    index: &Arc<IndexClient>,
    sdists: &SdistBuilder,
    pinned: &mut Vec<Pinned>,
    progress: &dyn Progress,
) {
    if pinned.iter().any(|p| p.name.as_ref() == "pip") {
        return;
    }
    let Ok(req) = "pip".parse() else { return };
    let pip_plan = Plan {
        requirements: vec![crate::inputs::Requirement {
            req,
            hashes: Vec::new(),
            origin: None,
        }],
        ..plan.clone()
    };
    match resolve::resolve(&pip_plan, index, sdists) {
        Ok(found) => pinned.extend(found.into_iter().map(|mut p| {
            p.requested = false;
            p
        })),
        Err(e) => {
            tracing::debug!("pip: {e}");
            progress.message(
                "note: the package index has no pip for the target; a venv made by `ferry install` will have \
                 none (--no-pip leaves pip out on purpose)",
            );
        }
    }
}

/// A lock and what making it left on disk for the bundle step.
pub struct Made {
    pub lock: Lock,
    pub pinned: Vec<Pinned>,
    pub index: Arc<IndexClient>,
}

/// SOURCE_DATE_EPOCH, or now.
pub fn created_time() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs()
        })
}

/// The download cache: `--cache-dir`, `FERRY_CACHE_DIR`, or the user cache dir.
pub fn cache_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("FERRY_CACHE_DIR").map(PathBuf::from))
        .or_else(|| dirs::cache_dir().map(|d| d.join("ferry")))
        .unwrap_or_else(|| PathBuf::from(".ferry-cache"))
}

pub fn make_lock(
    plan: &Plan,
    settings: &super::InputSettings,
    progress: &dyn Progress,
) -> Result<Made, crate::Error> {
    let created = created_time();
    for s in plan.skipped.iter().chain(&plan.warnings) {
        eprintln!("warning: {s}");
    }
    for p in &plan.local_paths {
        eprintln!("note: local path {p} is named by a config; it is not carried in the bundle");
    }
    let cache = cache_dir(settings.cache_dir.as_deref());
    let (index, pinned) = if plan.requirements.is_empty() {
        (
            Arc::new(IndexClient::new(sources::Sources::default())),
            Vec::new(),
        )
    } else {
        let sources =
            sources::configure(&plan.index).map_err(|e| crate::Error::Usage(e.to_string()))?;
        tracing::info!(
            "package indexes: {}",
            sources
                .indexes
                .iter()
                .map(redact)
                .collect::<Vec<_>>()
                .join(", ")
        );
        for note in &sources.notes {
            eprintln!("note: {note}");
        }
        let index = Arc::new(IndexClient::new(sources));
        let sdists = SdistBuilder::new(cache.join("build"), &index.sources().indexes, created);
        progress.message(&format!(
            "resolving {} for {}",
            plural(plan.requirements.len(), "requirement"),
            plural(plan.targets.len(), "target")
        ));
        let resolved = resolve::resolve(plan, &index, &sdists);
        let mut warnings = std::mem::take(&mut *index.warnings.lock().unwrap());
        warnings.sort();
        warnings.dedup();
        for w in warnings {
            eprintln!("warning: {w}");
        }
        let mut pinned = resolved.map_err(|e| crate::Error::Other(e.to_string()))?;
        if !settings.no_pip && !plan.index.require_hashes {
            add_pip(plan, &index, &sdists, &mut pinned, progress);
        }
        (index, pinned)
    };
    let mut packages = to_locked(&pinned);
    fill_missing_hashes(&mut packages, &pinned, &cache, settings.jobs, progress)?;
    resolve::hash_check::check(plan, &packages, &pinned)?;
    let models = if plan.models.is_empty() {
        Vec::new()
    } else {
        let hub = Hub::from_env(
            plan.hf_endpoint
                .as_deref()
                .or(settings.hf_endpoint.as_deref()),
        )?;
        progress.message(&format!(
            "pinning {} on {}",
            plural(plan.models.len(), "model repo"),
            hub.endpoint()
        ));
        crate::fetch::models::lock_models(&plan.models, &hub)?
    };
    let files = if plan.files.is_empty() {
        Vec::new()
    } else {
        progress.message(&format!(
            "pinning {} file(s) that are not on a hub",
            plan.files.len()
        ));
        crate::fetch::plain_url::lock_files(&plan.files, &cache, settings.jobs, progress)?
    };
    let hf_endpoint = (!models.is_empty()).then(|| {
        let (ep, _) = crate::fetch::hub::settings_from(plan.hf_endpoint.as_deref(), |k| {
            std::env::var(k).ok()
        });
        ep
    });
    let mut lock = Lock {
        format: FORMAT_VERSION,
        tool: format!("ferry {}", env!("CARGO_PKG_VERSION")),
        name: plan.name.clone(),
        created,
        targets: plan.targets.clone(),
        inputs: plan.inputs.clone(),
        requirements: plan
            .requirements
            .iter()
            .map(|r| r.req.to_string())
            .collect(),
        indexes: index.sources().indexes.iter().map(redact).collect(),
        hf_endpoint,
        packages,
        models,
        files,
        local_paths: plan.local_paths.clone(),
        skipped: plan.skipped.clone(),
        torch: torch_records(plan, index.sources()),
        delta: None,
    };
    lock.normalize();
    Ok(Made {
        lock,
        pinned,
        index,
    })
}

/// Per target: the PyTorch backend, its index and why (`--torch-backend`).
fn torch_records(plan: &Plan, sources: &sources::Sources) -> Vec<crate::lock::TorchRecord> {
    plan.targets
        .iter()
        .filter_map(|t| {
            let (choice, url) = sources.torch_for(t)?;
            Some(crate::lock::TorchRecord {
                target: t.id(),
                backend: choice.backend.to_string(),
                index: redact(&url),
                reason: choice.reason,
            })
        })
        .collect()
}

fn to_locked(pinned: &[Pinned]) -> Vec<LockedPackage> {
    pinned
        .iter()
        .map(|p| {
            let built = p.built.as_ref();
            // An sdist is locked as itself: `bundle` builds the wheel of a pure-Python one.
            let (filename, kind, sha256, size) = match built {
                Some(b) => (
                    p.file.filename.clone(),
                    DistKind::Sdist,
                    Some(b.sdist_sha256.clone()),
                    std::fs::metadata(&b.sdist).ok().map(|m| m.len()),
                ),
                None => (
                    p.file.filename.clone(),
                    DistKind::Wheel,
                    p.file.sha256.clone(),
                    p.file.size,
                ),
            };
            LockedPackage {
                name: p.name.clone(),
                version: p.version.to_string(),
                filename,
                kind,
                url: p.file.url.to_string(),
                sha256: sha256.unwrap_or_else(zero_sha),
                size: size.unwrap_or(0),
                targets: p.targets.clone(),
                requested: p.requested,
                reason: p.reason.clone(),
                needs_compiler: built.is_some_and(|b| b.needs_compiler.is_some()),
                built_from: None,
            }
        })
        .collect()
}

fn zero_sha() -> crate::types::Sha256 {
    "0".repeat(64).parse().expect("64 hex digits")
}

pub fn is_zero(sha: &crate::types::Sha256) -> bool {
    sha.as_str().bytes().all(|b| b == b'0')
}

/// Where a locked package's file lives in the cache.
pub fn cached_path(cache: &Path, p: &LockedPackage, pinned: Option<&Pinned>) -> PathBuf {
    let _ = pinned;
    if p.built_from.is_some() {
        return cache.join("build").join("sdists").join(&p.filename);
    }
    if p.kind == DistKind::Sdist {
        return cache.join("build").join("sdists").join(&p.filename);
    }
    cache.join("wheels").join(&p.filename)
}

/// Indexes without hashes or sizes: download those files now (they are needed for the bundle anyway)
/// so the lock records every sha256 and size.
fn fill_missing_hashes(
    packages: &mut [LockedPackage],
    pinned: &[Pinned],
    cache: &Path,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<(), crate::Error> {
    let missing: Vec<usize> = (0..packages.len())
        .filter(|&i| is_zero(&packages[i].sha256) || packages[i].size == 0)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let reqs: Vec<DownloadRequest> = missing
        .iter()
        .map(|&i| {
            let p = &packages[i];
            let pin = pinned.iter().find(|x| {
                x.file.filename == p.filename
                    || p.built_from.as_deref() == Some(x.file.filename.as_str())
            });
            DownloadRequest {
                urls: vec![url::Url::parse(&p.url).expect("lock URLs are absolute")],
                dest: cached_path(cache, p, pin),
                sha256: (!is_zero(&p.sha256)).then(|| p.sha256.clone()),
                size: None,
                auth: None,
                label: p.filename.clone(),
            }
        })
        .collect();
    let done = download::download_all(reqs, jobs, progress)?;
    for (&i, d) in missing.iter().zip(done) {
        packages[i].sha256 = d.sha256;
        packages[i].size = d.size;
    }
    Ok(())
}
