//! Plan → lock: resolve the requirements on the package indexes, pin the models on the hub, and fill in
//! what the indexes did not say (sha256 and size, by downloading those files into the cache).
use std::path::PathBuf;
use std::sync::Arc;

use super::{DistKind, Lock, LockedPackage, FORMAT_VERSION};
use crate::fetch::cache::Cache;
use crate::fetch::download::{self, DownloadRequest, Progress};
use crate::fetch::hub::{self, Hub};
use crate::fetch::index::IndexClient;
use crate::fetch::sources::{self, redact};
use crate::inputs::{InputSettings, Plan};
use crate::resolve::{self, sdist::SdistBuilder, Pinned};
use crate::types::Sha256;

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

pub fn make_lock(
    plan: &Plan,
    settings: &InputSettings,
    progress: &dyn Progress,
) -> Result<Made, crate::Error> {
    let created = created_time();
    for s in plan.skipped.iter().chain(&plan.warnings) {
        progress.message(&format!("warning: {s}"));
    }
    for p in &plan.local_paths {
        progress.message(&format!(
            "note: local path {p} is named by a config; it is not carried in the bundle"
        ));
    }
    let cache = Cache::locate(settings.cache_dir.as_deref());
    let (index, pinned) = if plan.requirements.is_empty() {
        (
            Arc::new(IndexClient::new(sources::Sources::default())),
            Vec::new(),
        )
    } else {
        let sources = sources::configure(&plan.index)?;
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
            progress.message(&format!("note: {note}"));
        }
        let index = Arc::new(IndexClient::new(sources));
        let sdists = SdistBuilder::new(cache.build_dir(), &index.sources().indexes, created);
        progress.message(&format!(
            "resolving {} requirement(s) for {} target(s)",
            plan.requirements.len(),
            plan.targets.len()
        ));
        let resolved = resolve::resolve(plan, &index, &sdists);
        let mut warnings = std::mem::take(&mut *index.warnings.lock().unwrap());
        warnings.sort();
        warnings.dedup();
        for w in warnings {
            progress.message(&format!("warning: {w}"));
        }
        let mut pinned = resolved?;
        if !settings.no_pip && !plan.index.require_hashes {
            add_pip(plan, &index, &sdists, &mut pinned, progress);
        }
        (index, pinned)
    };
    let packages = with_hashes(pending(&pinned), &cache, settings.jobs, progress)?;
    resolve::hash_check::check(plan, &packages, &pinned)?;
    let endpoint = plan
        .hf_endpoint
        .as_deref()
        .or(settings.hf_endpoint.as_deref());
    let models = if plan.models.is_empty() {
        Vec::new()
    } else {
        let hub = Hub::from_env(endpoint)?;
        progress.message(&format!(
            "pinning {} model repo(s) on {}",
            plan.models.len(),
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
        crate::fetch::plain_url::lock_files(&plan.files, cache.root(), settings.jobs, progress)?
    };
    let hf_endpoint = if models.is_empty() {
        None
    } else {
        let (ep, _) = hub::settings_from(endpoint, |k| std::env::var(k).ok())?;
        Some(redact(&url::Url::parse(&ep).map_err(|e| {
            crate::fetch::Error::Config(format!("invalid hub endpoint '{ep}': {e}"))
        })?))
    };
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
        local_paths: plan.local_paths.clone(),
        skipped: plan.skipped.clone(),
        torch: torch_records(plan, index.sources()),
        files,
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
fn torch_records(plan: &Plan, sources: &sources::Sources) -> Vec<super::TorchRecord> {
    plan.targets
        .iter()
        .filter_map(|t| {
            let (choice, url) = sources.torch_for(t)?;
            Some(super::TorchRecord {
                target: t.id(),
                backend: choice.backend.to_string(),
                index: redact(&url),
                reason: choice.reason,
            })
        })
        .collect()
}

/// A package as resolved, before every sha256 and size is known.
struct Pending {
    package: LockedPackage,
    sha256: Option<Sha256>,
    size: Option<u64>,
    /// Where its file lives (or will live) in the cache.
    path: PathBuf,
}

fn pending(pinned: &[Pinned]) -> Vec<(Pending, Option<&Pinned>)> {
    pinned.iter().map(|p| (pending_one(p), Some(p))).collect()
}

fn pending_one(p: &Pinned) -> Pending {
    let built = p.built.as_ref();
    // An sdist is locked as itself: `bundle` builds the wheel of a pure-Python one.
    let (filename, kind, sha256, size, built_from) = match built {
        Some(b) => (
            p.file.filename.clone(),
            DistKind::Sdist,
            Some(b.sdist_sha256.clone()),
            std::fs::metadata(&b.sdist).ok().map(|m| m.len()),
            None,
        ),
        None => (
            p.file.filename.clone(),
            DistKind::Wheel,
            p.file.sha256.clone(),
            p.file.size,
            None,
        ),
    };
    Pending {
        package: LockedPackage {
            name: p.name.clone(),
            version: p.version.to_string(),
            filename,
            kind,
            url: redact(&p.file.url),
            // Filled in below; never written while unknown.
            sha256: Sha256::digest(b""),
            size: 0,
            targets: p.targets.clone(),
            requested: p.requested,
            reason: p.reason.clone(),
            needs_compiler: built.is_some_and(|b| b.needs_compiler.is_some()),
            built_from,
        },
        sha256,
        size,
        path: PathBuf::new(),
    }
}

/// The Content-Length a HEAD of each URL answers (redirects followed), `jobs` at a time; None where the
/// server refuses HEAD, gives no length, or encodes the body.
fn sizes_by_head(urls: &[Option<url::Url>], jobs: usize) -> Vec<Option<u64>> {
    use futures_util::StreamExt;
    let Ok(client) = crate::fetch::http::client() else {
        return vec![None; urls.len()];
    };
    let heads = urls.iter().map(|u| async move {
        let u = u.as_ref()?;
        let resp = client
            .fetch(&crate::fetch::http::Request::head(u.clone()))
            .await
            .ok()?;
        if !resp.is_success() || resp.headers.contains_key("content-encoding") {
            return None;
        }
        resp.headers
            .get("content-length")?
            .to_str()
            .ok()?
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
    });
    crate::fetch::http::block_on(
        futures_util::stream::iter(heads)
            .buffered(jobs.max(1))
            .collect::<Vec<_>>(),
    )
}

/// Indexes without hashes or sizes: download those files now (they are needed for the bundle anyway) so
/// the lock records every sha256 and size.
fn with_hashes(
    pending: Vec<(Pending, Option<&Pinned>)>,
    cache: &Cache,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<LockedPackage>, crate::Error> {
    let mut pending: Vec<Pending> = pending
        .into_iter()
        .map(|(mut p, pin)| {
            p.path = super::packages::cached_path(cache, &p.package, pin);
            p
        })
        .collect();
    let mut missing: Vec<usize> = (0..pending.len())
        .filter(|&i| pending[i].sha256.is_none() || pending[i].size.is_none_or(|s| s == 0))
        .collect();
    // A sha256 without a size (a PyTorch index gives `#sha256=` and no size): ask for the size with HEAD
    // rather than downloading a multi-GB wheel for a number. The bundle checks the size and the sha256.
    let head_only: Vec<usize> = missing
        .iter()
        .copied()
        .filter(|&i| pending[i].sha256.is_some())
        .collect();
    if !head_only.is_empty() {
        progress.message(&format!(
            "asking for the size of {} file(s) the index gave no size for (HEAD)",
            head_only.len()
        ));
        let urls: Vec<Option<url::Url>> = head_only
            .iter()
            .map(|&i| url::Url::parse(&pending[i].package.url).ok())
            .collect();
        for (&i, size) in head_only.iter().zip(sizes_by_head(&urls, jobs)) {
            if let Some(size) = size {
                pending[i].size = Some(size);
            }
        }
        missing.retain(|&i| pending[i].sha256.is_none() || pending[i].size.is_none_or(|s| s == 0));
    }
    let reqs: Vec<DownloadRequest> = missing
        .iter()
        .map(|&i| {
            let p = &pending[i];
            let url = url::Url::parse(&p.package.url).map_err(|e| super::Error::BadUrl {
                url: p.package.url.clone(),
                message: e.to_string(),
            })?;
            Ok(DownloadRequest {
                urls: vec![url],
                dest: p.path.clone(),
                sha256: p.sha256.clone(),
                size: None,
                auth: None,
                label: p.package.filename.clone(),
            })
        })
        .collect::<Result<_, super::Error>>()?;
    let done = download::download_all(reqs, jobs, progress)?;
    for (&i, d) in missing.iter().zip(done) {
        pending[i].sha256 = Some(d.sha256);
        pending[i].size = Some(d.size);
    }
    Ok(pending
        .into_iter()
        .map(|p| {
            let mut package = p.package;
            package.sha256 = p.sha256.expect("every missing hash was downloaded");
            package.size = p.size.unwrap_or(0);
            package
        })
        .collect())
}
