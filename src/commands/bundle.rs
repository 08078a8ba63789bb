//! `ferry bundle`: lock (or read `--locked`), download every file, pack and sign.
use std::path::PathBuf;

use crate::bundle::{self, Entry, WriteOptions};
use crate::fetch::cache::Cache;
use crate::fetch::download::Progress;
use crate::fetch::hub::Hub;
use crate::fetch::models::{fetch_models, plan_summary, StagedFile};
use crate::inputs;
use crate::lock::packages::{build_pure_sdists, cached_path, fetch_packages};
use crate::lock::{make_lock, Lock};
use crate::resolve::Pinned;
use crate::types::plural;

#[derive(Debug, Clone)]
pub struct Settings {
    pub inputs: super::InputSettings,
    pub output: Option<PathBuf>,
    pub secret: PathBuf,
    pub locked: Option<PathBuf>,
    pub split: Option<String>,
    pub dry_run: bool,
    /// `--mirror auto`.
    pub mirror: Option<String>,
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
    if let Some(v) = &settings.mirror {
        crate::mirrors::check_value(v)?;
    }
    let auto = settings.mirror.is_some();
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
            crate::fetch::sources::remember_credentials(&settings.inputs);
            let targets = inputs::plan::targets_only(&settings.inputs)?;
            let created = crate::lock::created_time();
            (
                bundle::pylock::read(path, &targets, created)?,
                Vec::new(),
                None,
            )
        }
        Some(path) => {
            // Credentials for a locked rebuild: the same flags and environment as `lock` (netrc too).
            crate::fetch::sources::remember_credentials(&settings.inputs);
            (crate::lock::read(path)?, Vec::new(), None)
        }
        None => {
            let mut plan = inputs::plan::build(&settings.inputs)?;
            super::note_default_target(&plan, progress);
            if auto {
                super::mirrors::before_lock(
                    &mut plan,
                    settings.inputs.hf_endpoint.as_deref(),
                    progress,
                )?;
            }
            let made = make_lock(&plan, &settings.inputs, progress)?;
            (made.lock, made.pinned, Some(made.index))
        }
    };
    let cache = Cache::locate(settings.inputs.cache_dir.as_deref());
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
    // The lock fixes every file and its sha256; mirrors only serve the bytes.
    let mirror_hub = match auto {
        true => super::mirrors::for_lock(
            &lock,
            settings.inputs.index_url.as_deref(),
            settings.inputs.hf_endpoint.as_deref(),
            progress,
        )?,
        false => None,
    };

    let key = key.expect("loaded unless --dry-run");
    // Fetch what is missing, then pack. The pack hashes the bytes that land in the bundle: a cached model
    // blob that no longer matches the lock is refused there, removed, fetched again, and the pack redone.
    let unpacked = lock.clone();
    let attempt = |lock: &mut Lock| -> Result<(bundle::WriteSummary, usize, u64), crate::Error> {
        let mut members = fetch_packages(
            lock,
            &pinned,
            index.as_ref(),
            &cache,
            settings.inputs.jobs,
            progress,
        )?;
        build_pure_sdists(lock, &mut members, &cache, progress)?;
        let mut entries: Vec<Entry> = members
            .into_iter()
            .map(|(member, file)| entry(member, file))
            .collect();
        if !lock.models.is_empty() {
            let endpoint = mirror_hub
                .clone()
                .or_else(|| settings.inputs.hf_endpoint.clone())
                .or_else(|| lock.hf_endpoint.clone());
            let hub = Hub::from_env(endpoint.as_deref())?;
            let staged = fetch_models(
                &mut lock.models,
                &hub,
                &cache.models(),
                settings.inputs.jobs,
                progress,
            )?;
            entries.extend(staged.into_iter().map(|(member, file)| entry(member, file)));
        }
        let files = crate::fetch::plain_url::stage_files(
            &lock.files,
            cache.root(),
            settings.inputs.jobs,
            progress,
        )?;
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
        let _review = bundle::review::finish_entries(lock, &mut entries, base.as_ref())?;
        if let Some(d) = &lock.delta {
            progress.message(&format!(
                "delta over {} ({}): {} files left out",
                d.base_name,
                d.base,
                d.omitted.len()
            ));
        }
        for note in crate::fetch::mirrors::dropped() {
            progress.message(&note);
        }
        let file_bytes: u64 = entries
            .iter()
            .map(|e| match e {
                Entry::File { size, .. } => *size,
                _ => 0,
            })
            .sum();

        let opts = WriteOptions {
            mtime: lock.created,
            split,
            trusted_comment: bundle::default_trusted_comment(&lock.name, lock.created),
        };
        let meter = term.meter(
            &format!(
                "packing {} into {}",
                plural(entries.len(), "file"),
                out.display()
            ),
            file_bytes,
        );
        let summary = bundle::write_reporting(lock, entries, &key, &out, &opts, &|n| meter.add(n))?;
        meter.finish();
        Ok((summary, downloaded, downloaded_bytes))
    };
    let (summary, downloaded, downloaded_bytes) = match attempt(&mut lock) {
        Err(crate::Error::Bundle(bundle::Error::SourceChanged { path, member, .. }))
            if path.starts_with(cache.models()) =>
        {
            progress.message(&format!(
                "{}: the cached file for {member} does not match the lock; fetching it again",
                path.display()
            ));
            std::fs::remove_file(&path).map_err(|e| crate::Error::io(&path, e))?;
            lock = unpacked;
            attempt(&mut lock)?
        }
        other => other?,
    };
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
    // What this run fetched, and the rest, which was already in the cache.
    eprintln!(
        "downloaded {} ({}), {} from the cache ({}); bundle {}",
        plural(downloaded, "file"),
        bundle::human_size(downloaded_bytes),
        plural(all_n.saturating_sub(downloaded), "file"),
        bundle::human_size(all_bytes.saturating_sub(downloaded_bytes)),
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
fn cached_files(lock: &Lock, cache: &Cache, pinned: &[Pinned]) -> (usize, u64) {
    let (n, b) = cached_packages(lock, cache, pinned);
    let models = cache.models();
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
fn cached_packages(lock: &Lock, cache: &Cache, pinned: &[Pinned]) -> (usize, u64) {
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

fn dry_run_summary(lock: &Lock, cache: &Cache, pinned: &[Pinned]) -> String {
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

/// A staged file as a bundle entry.
fn entry(member: String, file: StagedFile) -> Entry {
    match file {
        StagedFile::File { path, sha256, size } => Entry::File {
            member,
            path,
            sha256,
            size,
        },
        StagedFile::Symlink { target } => Entry::Symlink { member, target },
    }
}
