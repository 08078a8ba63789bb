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
use crate::types::plural;

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
    /// Replace an existing bundle.
    pub force: bool,
    /// Carry this ferry binary (`ferry/ferry-VERSION-ARCH-linux`).
    pub with_ferry: bool,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let split = settings
        .split
        .as_deref()
        .map(bundle::parse_size)
        .transpose()
        .map_err(|e| crate::Error::Usage(e.to_string()))?;
    let term = super::term();
    let progress: &dyn Progress = &term;
    if let (Some(out), false) = (&settings.output, settings.dry_run) {
        super::refuse_existing(out, settings.force)?;
    }
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
            super::note_default_target(&plan, progress);
            let made = make_lock(&plan, &settings.inputs, progress)?;
            (made.lock, made.pinned, Some(made.index))
        }
    };
    let cache = cache_dir(settings.inputs.cache_dir.as_deref());
    if settings.dry_run {
        print!("{}", dry_run_summary(&lock, &cache, &pinned));
        return Ok(());
    }
    let out = settings
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.ferry.tar", lock.name)));
    if settings.output.is_none() {
        super::refuse_existing(&out, settings.force)?;
    }
    let (cached_n, cached_bytes) = cached_files(&lock, &cache, &pinned);
    let (all_n, all_bytes) = all_files(&lock);
    term.expect_downloads(
        all_n.saturating_sub(cached_n),
        all_bytes.saturating_sub(cached_bytes),
    );

    let mut entries = fetch_packages(
        &lock,
        &pinned,
        index.as_ref(),
        &cache,
        settings.inputs.jobs,
        progress,
    )?;
    build_pure_sdists(&mut lock, &mut entries, &cache, progress)?;
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
            progress,
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
    let files =
        crate::fetch::plain_url::stage_files(&lock.files, &cache, settings.inputs.jobs, progress)?;
    for (member, path, sha256, size) in files {
        entries.push(Entry::File {
            member,
            path,
            sha256,
            size,
        });
    }
    let (downloaded, downloaded_bytes) = term.finish_downloads();
    if settings.with_ferry {
        entries.push(ferry_binary()?);
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
    let file_bytes: u64 = entries
        .iter()
        .map(|e| match e {
            Entry::File { size, .. } => *size,
            _ => 0,
        })
        .sum();
    progress.message(&format!(
        "packing {} into {}",
        plural(entries.len(), "file"),
        out.display()
    ));
    let opts = WriteOptions {
        mtime: lock.created,
        split,
        trusted_comment: bundle::default_trusted_comment(&lock.name, lock.created),
    };
    let key = key.expect("loaded unless --dry-run");
    let meter = term.meter("packing", file_bytes);
    let summary = bundle::write_reporting(&lock, entries, &key, &out, &opts, &|n| meter.add(n))?;
    meter.finish();
    let shown: Vec<String> = summary
        .volumes
        .iter()
        .map(|v| v.display().to_string())
        .collect();
    println!(
        "wrote {} ({}, {}, {} members, {}), signed by key {}",
        shown.join(", "),
        plural(lock.packages.len(), "package"),
        plural(lock.models.len(), "model"),
        summary.members,
        bundle::human_size(summary.bytes),
        summary.key_id
    );
    eprintln!(
        "downloaded {} ({}), {} from the cache ({}); bundle {}",
        plural(downloaded, "file"),
        bundle::human_size(downloaded_bytes),
        plural(cached_n, "file"),
        bundle::human_size(cached_bytes),
        bundle::human_size(summary.bytes)
    );
    Ok(())
}

/// Where `--with-ferry` puts the running binary in the bundle.
pub fn ferry_member() -> String {
    format!(
        "ferry/ferry-{}-{}-{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::ARCH,
        std::env::consts::OS
    )
}

/// The running ferry binary as a bundle entry (`--with-ferry`).
fn ferry_binary() -> Result<Entry, crate::Error> {
    let path = std::env::current_exe().map_err(|e| crate::Error::io("<current executable>", e))?;
    let (sha256, size) =
        crate::types::Sha256::of_file(&path).map_err(|e| crate::Error::io(&path, e))?;
    Ok(Entry::File {
        member: ferry_member(),
        path,
        sha256,
        size,
    })
}

/// Package and model files already in the download cache: (count, bytes).
fn cached_files(lock: &Lock, cache: &Path, pinned: &[Pinned]) -> (usize, u64) {
    let (n, b) = cached_packages(lock, cache, pinned);
    let models = cache.join("models");
    let mut seen = std::collections::BTreeSet::new();
    lock.models
        .iter()
        .flat_map(|m| m.files.iter().map(move |f| (m, f)))
        .filter(|(m, f)| {
            let path = models
                .join(m.repo.cache_folder(m.kind))
                .join("blobs")
                .join(&f.blob);
            std::fs::metadata(&path).is_ok_and(|meta| meta.len() == f.size) && seen.insert(path)
        })
        .fold((n, b), |(n, b), (_, f)| (n + 1, b + f.size))
}

/// Every package and model file: (count, bytes).
fn all_files(lock: &Lock) -> (usize, u64) {
    let models = lock.models.iter().flat_map(|m| &m.files);
    let n = lock.packages.len() + models.clone().count();
    let b = lock.packages.iter().map(|p| p.size).sum::<u64>() + models.map(|f| f.size).sum::<u64>();
    (n, b)
}

/// Package files already in the download cache: (count, bytes).
fn cached_packages(lock: &Lock, cache: &Path, pinned: &[Pinned]) -> (usize, u64) {
    lock.packages
        .iter()
        .filter(|p| {
            let pin = pinned.iter().find(|x| {
                x.name == p.name
                    && (x.file.filename == p.filename
                        || p.built_from.as_deref() == Some(x.file.filename.as_str()))
            });
            std::fs::metadata(cached_path(cache, p, pin)).is_ok_and(|m| m.len() == p.size)
        })
        .fold((0, 0), |(n, b), p| (n + 1, b + p.size))
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

fn dry_run_summary(lock: &Lock, cache: &Path, pinned: &[Pinned]) -> String {
    let mut s = String::new();
    let mut total = 0u64;
    // FILE SIZE TARGETS, the file name shortened in the middle when COLUMNS is too narrow.
    let name_width = lock
        .packages
        .iter()
        .map(|p| p.filename.chars().count())
        .max()
        .unwrap_or(0);
    let targets_width = lock
        .packages
        .iter()
        .map(|p| p.targets.join(",").chars().count())
        .max()
        .unwrap_or(0);
    let name_width = match crate::types::term_columns() {
        Some(cols) => name_width.min(cols.saturating_sub(targets_width + 13).max(12)),
        None => name_width,
    };
    for p in &lock.packages {
        total += p.size;
        let line = format!(
            "{:<name_width$} {:>10}  {}",
            crate::types::fit(&p.filename, name_width),
            bundle::human_size(p.size),
            p.targets.join(",")
        );
        s.push_str(line.trim_end());
        s.push('\n');
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
        "total: {}, {}, {}\n",
        plural(lock.packages.len(), "package"),
        plural(lock.models.len(), "model"),
        bundle::human_size(total)
    ));
    let (files, bytes) = cached_files(lock, cache, pinned);
    let (all, _) = all_files(lock);
    s.push_str(&format!(
        "already cached: {} of {} ({}); to download: {}\n",
        files,
        plural(all, "file"),
        bundle::human_size(bytes),
        bundle::human_size(total.saturating_sub(bytes))
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
        progress.message(&format!(
            "{} needed",
            plural(retries as usize, "download retry")
        ));
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
