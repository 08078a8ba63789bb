//! `ferry bundle`: lock (or read `--locked`), download every file, pack and sign.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use super::lock::{cache_dir, cached_path, make_lock};
use crate::bundle::{self, Entry, WriteOptions};
use crate::fetch::download::{self, DownloadRequest, Progress};
use crate::fetch::hub::Hub;
use crate::fetch::index::IndexClient;
use crate::fetch::models::{fetch_models, plan_summary, StagedFile};
use crate::fetch::simple::DistFile;
use crate::inputs;
use crate::lock::Lock;
use crate::resolve::{sdist::SdistBuilder, Pinned};

#[derive(Debug, Clone)]
pub struct Settings {
    pub inputs: super::InputSettings,
    pub output: Option<PathBuf>,
    pub secret: PathBuf,
    pub locked: Option<PathBuf>,
    pub split: Option<String>,
    pub dry_run: bool,
    /// `--have OLD.lock|OLD.ferry.tar`: a delta bundle over OLD.
    pub have: Option<PathBuf>,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let split = settings
        .split
        .as_deref()
        .map(bundle::parse_size)
        .transpose()
        .map_err(|e| crate::Error::Usage(e.to_string()))?;
    let progress = super::progress();
    // Load the key before resolving or downloading anything: a missing key or wrong password fails fast.
    let key = (!settings.dry_run)
        .then(|| bundle::sign::load_secret_key(&settings.secret))
        .transpose()?;
    let base = settings
        .have
        .as_deref()
        .map(bundle::review::read_base)
        .transpose()?;
    let (mut lock, pinned, index) = match &settings.locked {
        Some(path) if bundle::pylock::is_pylock_path(path) => {
            let targets = inputs::plan::targets_only(&settings.inputs)?;
            let created = super::lock::created_time();
            (
                bundle::pylock::read(path, &targets, created)?,
                Vec::new(),
                None,
            )
        }
        Some(path) => (read_lock(path)?, Vec::new(), None),
        None => {
            let plan = inputs::plan::build(&settings.inputs)?;
            let made = make_lock(&plan, &settings.inputs, progress.as_ref())?;
            (made.lock, made.pinned, Some(made.index))
        }
    };
    if settings.dry_run {
        print!("{}", dry_run_summary(&lock));
        return Ok(());
    }
    let out = settings
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.ferry.tar", lock.name)));
    let cache = cache_dir(settings.inputs.cache_dir.as_deref());

    let mut entries = fetch_packages(
        &lock,
        &pinned,
        index.as_ref(),
        &cache,
        settings.inputs.jobs,
        progress.as_ref(),
    )?;
    build_pure_sdists(&mut lock, &mut entries, &cache, progress.as_ref())?;
    if !lock.models.is_empty() {
        let endpoint = settings
            .inputs
            .hf_endpoint
            .clone()
            .or_else(|| lock.hf_endpoint.clone());
        let hub = Hub::from_env(endpoint.as_deref())?;
        let staged = fetch_models(
            &mut lock.models,
            &hub,
            &cache.join("models"),
            settings.inputs.jobs,
            progress.as_ref(),
        )?;
        for (member, file) in staged {
            entries.push(match file {
                StagedFile::File { path, sha256, size } => Entry::File {
                    member,
                    path,
                    sha256,
                    size,
                },
                StagedFile::Symlink { target } => Entry::Symlink { member, target },
            });
        }
    }
    let files = crate::fetch::plain_url::stage_files(
        &lock.files,
        &cache,
        settings.inputs.jobs,
        progress.as_ref(),
    )?;
    for (member, path, sha256, size) in files {
        entries.push(Entry::File {
            member,
            path,
            sha256,
            size,
        });
    }
    let _review = bundle::review::finish_entries(&mut lock, &mut entries, base.as_ref())?;
    if let Some(d) = &lock.delta {
        progress.message(&format!(
            "delta over {} ({}): {} files left out",
            d.base_name,
            d.base,
            d.omitted.len()
        ));
    }
    progress.message(&format!(
        "packing {} files into {}",
        entries.len(),
        out.display()
    ));
    let opts = WriteOptions {
        mtime: lock.created,
        split,
        trusted_comment: bundle::default_trusted_comment(&lock.name, lock.created),
    };
    let key = key.expect("loaded unless --dry-run");
    let summary = bundle::write(&lock, entries, &key, &out, &opts)?;
    let shown: Vec<String> = summary
        .volumes
        .iter()
        .map(|v| v.display().to_string())
        .collect();
    println!(
        "wrote {} ({} packages, {} models, {} members, {}), signed by key {}",
        shown.join(", "),
        lock.packages.len(),
        lock.models.len(),
        summary.members,
        bundle::human_size(summary.bytes),
        summary.key_id
    );
    Ok(())
}

fn read_lock(path: &Path) -> Result<Lock, crate::Error> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    let lock = Lock::from_json(&text)
        .map_err(|e| crate::Error::Usage(format!("{}: not a ferry lock: {e}", path.display())))?;
    if lock.format != crate::lock::FORMAT_VERSION {
        return Err(crate::Error::Usage(format!(
            "{}: lock format {} is not supported (this ferry reads {})",
            path.display(),
            lock.format,
            crate::lock::FORMAT_VERSION
        )));
    }
    for t in &lock.targets {
        t.validate()?;
    }
    Ok(lock)
}

/// The lock's index URLs, for builds that need build requirements.
fn lock_indexes(lock: &Lock) -> Vec<url::Url> {
    lock.indexes
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .collect()
}

fn dry_run_summary(lock: &Lock) -> String {
    let mut s = String::new();
    let mut total = 0u64;
    for p in &lock.packages {
        total += p.size;
        s.push_str(&format!(
            "{:<60} {:>10}  {}\n",
            p.filename,
            bundle::human_size(p.size),
            p.targets.join(",")
        ));
    }
    s.push_str(&plan_summary(&lock.models));
    for f in &lock.files {
        total += f.size;
        s.push_str(&format!(
            "files/{} ({}) from {}\n",
            f.name,
            bundle::human_size(f.size),
            f.source
        ));
    }
    total += lock
        .models
        .iter()
        .flat_map(|m| &m.files)
        .map(|f| f.size)
        .sum::<u64>();
    s.push_str(&format!(
        "total: {} packages, {} models, {}\n",
        lock.packages.len(),
        lock.models.len(),
        bundle::human_size(total)
    ));
    s
}

/// Pure-Python sdists the lock names travel as the wheels built from them (built now, not at lock time,
/// and kept in the cache); the bundle's manifest names the wheel and the sdist it came from. An sdist whose
/// build fails travels as itself.
fn build_pure_sdists(
    lock: &mut Lock,
    entries: &mut [Entry],
    cache: &Path,
    progress: &dyn Progress,
) -> Result<(), crate::Error> {
    let todo: Vec<usize> = (0..lock.packages.len())
        .filter(|&i| {
            let p = &lock.packages[i];
            p.kind == crate::lock::DistKind::Sdist && !p.needs_compiler
        })
        .collect();
    if todo.is_empty() {
        return Ok(());
    }
    let builder = SdistBuilder::new(cache.join("build"), &lock_indexes(lock), lock.created);
    for i in todo {
        let p = &lock.packages[i];
        let member = format!("wheels/{}", p.filename);
        let Some(Entry::File { path, .. }) = entries
            .iter()
            .find(|e| matches!(e, Entry::File { member: m, .. } if *m == member))
        else {
            continue;
        };
        let file = DistFile {
            filename: p.filename.clone(),
            url: url::Url::from_file_path(path)
                .map_err(|_| crate::Error::Other(format!("{}: not a file path", path.display())))?,
            sha256: Some(p.sha256.clone()),
            requires_python: None,
            yanked: false,
            core_metadata: None,
            size: None,
        };
        progress.message(&format!("building a wheel from {}", p.filename));
        let Some(wheel) = builder.wheel_for(&p.name, &file)? else {
            eprintln!(
                "warning: {} could not be built into a pure-Python wheel here; it travels as an sdist",
                p.filename
            );
            continue;
        };
        let (sha, size) =
            crate::types::Sha256::of_file(&wheel).map_err(|e| crate::Error::io(&wheel, e))?;
        let wname = wheel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for e in entries.iter_mut() {
            if matches!(e, Entry::File { member: m, .. } if *m == member) {
                *e = Entry::File {
                    member: format!("wheels/{wname}"),
                    path: wheel.clone(),
                    sha256: sha.clone(),
                    size,
                };
            }
        }
        let p = &mut lock.packages[i];
        p.built_from = Some(std::mem::replace(&mut p.filename, wname));
        p.kind = crate::lock::DistKind::Wheel;
        p.sha256 = sha;
        p.size = size;
    }
    lock.normalize();
    Ok(())
}

/// Download (or find in the cache) every package file; pure wheels built from sdists are rebuilt when
/// the cache lacks them.
fn fetch_packages(
    lock: &Lock,
    pinned: &[Pinned],
    index: Option<&Arc<IndexClient>>,
    cache: &Path,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<Entry>, crate::Error> {
    // Fail-over URLs: the same file on the other configured indexes (not with --locked: a locked
    // bundle queries nothing but the files it names).
    let index = index.cloned();
    let reqs: Vec<DownloadRequest> = lock
        .packages
        .par_iter()
        .map(|p| {
            let pin = pinned.iter().find(|x| {
                x.name == p.name
                    && (x.file.filename == p.filename
                        || p.built_from.as_deref() == Some(x.file.filename.as_str()))
            });
            let mut urls = vec![url::Url::parse(&p.url)
                .map_err(|e| crate::Error::Usage(format!("lock: bad URL {}: {e}", p.url)))?];
            if p.built_from.is_none() {
                if let Some(index) = &index {
                    for u in index.alternates(&p.name, &p.filename, &p.sha256) {
                        if !urls.contains(&u) {
                            urls.push(u);
                        }
                    }
                }
            }
            Ok(DownloadRequest {
                urls,
                dest: cached_path(cache, p, pin),
                sha256: Some(p.sha256.clone()),
                size: Some(p.size).filter(|s| *s > 0),
                auth: None,
                label: p.filename.clone(),
            })
        })
        .collect::<Result<_, crate::Error>>()?;
    // Wheels ferry built from sdists: from the cache, or rebuilt from the sdist the lock names (the build
    // is pinned to the lock's time, so it gives the same bytes; anything else is an error).
    let (built, fetch): (Vec<_>, Vec<_>) = reqs
        .into_iter()
        .zip(&lock.packages)
        .partition(|(_, p)| p.built_from.is_some());
    let builder = SdistBuilder::new(cache.join("build"), &lock_indexes(lock), lock.created);
    for (r, p) in &built {
        if !r.dest.exists() {
            let sdist = p.built_from.clone().unwrap_or_default();
            progress.message(&format!("rebuilding {} from {sdist}", p.filename));
            let file = DistFile {
                filename: sdist,
                url: r.urls[0].clone(),
                sha256: None,
                requires_python: None,
                yanked: false,
                core_metadata: None,
                size: None,
            };
            let wheel = builder.wheel_for(&p.name, &file)?.ok_or_else(|| {
                crate::Error::Other(format!(
                    "{}: could not rebuild it from {}",
                    p.filename, file.filename
                ))
            })?;
            if wheel != r.dest {
                std::fs::rename(&wheel, &r.dest).map_err(|e| crate::Error::io(&r.dest, e))?;
            }
        }
        let (sha, _) =
            crate::types::Sha256::of_file(&r.dest).map_err(|e| crate::Error::io(&r.dest, e))?;
        if sha != p.sha256 {
            return Err(crate::Error::Other(format!(
                "{}: the wheel built from {} has sha256 {sha}, the lock says {} (the build is not reproducible; run `ferry lock` again)",
                r.dest.display(),
                p.built_from.as_deref().unwrap_or("?"),
                p.sha256
            )));
        }
    }
    let fetch_reqs: Vec<DownloadRequest> = fetch.iter().map(|(r, _)| r.clone()).collect();
    let done = download::download_all(fetch_reqs, jobs, progress)?;
    let retries: u32 = done.iter().map(|d| d.retries).sum();
    if retries > 0 {
        progress.message(&format!("{retries} download retries"));
    }
    let mut entries = Vec::new();
    for (r, p) in built.iter().chain(fetch.iter()) {
        // Wheels and sdists side by side: `pip install --no-index --find-links wheels/` takes both.
        entries.push(Entry::File {
            member: format!("wheels/{}", p.filename),
            path: r.dest.clone(),
            sha256: p.sha256.clone(),
            size: p.size,
        });
    }
    Ok(entries)
}
