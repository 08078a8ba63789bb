//! `ferry bundle`: lock (or read `--locked`), download every file, pack and sign.
use std::path::PathBuf;

use crate::bundle::{self, Entry, WriteOptions};
use crate::fetch::cache::Cache;
use crate::fetch::hub::Hub;
use crate::fetch::models::{fetch_models, plan_summary, StagedFile};
use crate::inputs;
use crate::lock::packages::fetch_packages;
use crate::lock::{make_lock, Lock};

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
    if let Some(v) = &settings.mirror {
        crate::mirrors::check_value(v)?;
    }
    let auto = settings.mirror.is_some();
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
            if auto {
                super::mirrors::before_lock(
                    &mut plan,
                    settings.inputs.hf_endpoint.as_deref(),
                    progress.as_ref(),
                )?;
            }
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
    let cache = Cache::locate(settings.inputs.cache_dir.as_deref());
    // The lock fixes every file and its sha256; mirrors only serve the bytes.
    let mirror_hub = match auto {
        true => super::mirrors::for_lock(
            &lock,
            settings.inputs.index_url.as_deref(),
            settings.inputs.hf_endpoint.as_deref(),
            progress.as_ref(),
        )?,
        false => None,
    };

    let mut entries: Vec<Entry> = fetch_packages(
        &lock,
        &pinned,
        index.as_ref(),
        &cache,
        settings.inputs.jobs,
        progress.as_ref(),
    )?
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
            progress.as_ref(),
        )?;
        entries.extend(staged.into_iter().map(|(member, file)| entry(member, file)));
    }
    let files = crate::fetch::plain_url::stage_files(
        &lock.files,
        cache.root(),
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
    for note in crate::fetch::mirrors::dropped() {
        progress.message(&note);
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
