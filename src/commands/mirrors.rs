//! `ferry mirrors` and `--mirror auto`: measure the candidates, print the table, set the choice up.
// crate::Error carries the layers' errors unboxed; these functions return it as the other commands do.
#![allow(clippy::result_large_err)]
use std::path::PathBuf;

use crate::fetch::download::Progress;
use crate::inputs::Plan;
use crate::lock::Lock;
use crate::mirrors::{self, Kind, Measured, NeededModel, Needs};

#[derive(Debug, Clone)]
pub struct Settings {
    pub json: bool,
    /// Judge freshness against this lock and time one of its files.
    pub locked: Option<PathBuf>,
    pub index_url: Option<String>,
    pub hf_endpoint: Option<String>,
    pub torch_index_base: Option<String>,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let candidates = mirrors::candidates(
        settings.index_url.as_deref(),
        settings.hf_endpoint.as_deref(),
        settings.torch_index_base.as_deref(),
        None,
    )?;
    let needs = match &settings.locked {
        Some(path) => mirrors::needs_of_lock(&crate::lock::read(path)?),
        None => Needs::default(),
    };
    let measured = mirrors::probe::measure(&candidates, &needs);
    if settings.json {
        let v = serde_json::json!({ "mirrors": mirrors::record(&measured) });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else if measured.is_empty() {
        println!("no mirror candidates: set PIP_INDEX_URL, HF_ENDPOINT or add some to the mirrors file (see docs/mirrors.md)");
    } else {
        print!("{}", mirrors::table(&measured));
    }
    Ok(())
}

fn show(measured: &[Measured], progress: &dyn Progress) {
    for line in mirrors::table(measured).lines() {
        progress.message(line);
    }
}

/// `--mirror auto` before resolving: measure the index and hub candidates against the plan (the newest
/// version of its requirements, the commit of its models), and point the plan at the chosen ones.
pub fn before_lock(
    plan: &mut Plan,
    flag_endpoint: Option<&str>,
    progress: &dyn Progress,
) -> Result<Vec<Measured>, crate::Error> {
    let hub_flag = plan
        .hf_endpoint
        .clone()
        .or(flag_endpoint.map(str::to_string));
    let candidates = mirrors::candidates(
        plan.index.index_url.as_deref(),
        hub_flag.as_deref(),
        plan.index.torch_index_base.as_deref(),
        Some((&plan.mirrors, &plan.mirrors_origin)),
    )?;
    // The backend whose `torch` page judges a PyTorch mirror: the first target's choice.
    let env_driver = std::env::var("FERRY_CUDA_DRIVER_VERSION").ok();
    let torch_backend = plan.targets.first().and_then(|t| {
        crate::accel::choose(&plan.index.torch_backend, t, env_driver.as_deref())
            .map(|c| c.backend.to_string())
    });
    let needs = Needs {
        torch_backend: torch_backend.clone(),
        files: Vec::new(),
        projects: plan
            .requirements
            .iter()
            .map(|r| r.req.name.clone())
            .take(5)
            .collect(),
        models: plan
            .models
            .iter()
            .map(|m| NeededModel {
                repo: m.repo.clone(),
                kind: m.kind,
                revision: m.revision.clone().unwrap_or_else(|| "main".into()),
                commit: None,
                file: m.file.clone(),
            })
            .collect(),
    };
    let mut kinds = Vec::new();
    if !plan.requirements.is_empty() {
        kinds.push(Kind::Index);
    }
    if !plan.models.is_empty() {
        kinds.push(Kind::Hub);
    }
    if torch_backend.is_some() && !plan.requirements.is_empty() {
        kinds.push(Kind::Torch);
    }
    progress.message(&format!(
        "measuring {} mirror candidate(s)",
        candidates
            .iter()
            .filter(|c| kinds.contains(&c.kind))
            .count()
    ));
    let measured = mirrors::choose(&candidates, &needs, &kinds)?;
    show(&measured, progress);
    if let Some(u) = mirrors::chosen(&measured, Kind::Index) {
        progress.message(&format!("package index: {u}"));
        plan.index.index_url = Some(u);
    }
    mirrors::register_page_failover(&measured);
    if let Some(u) = mirrors::chosen(&measured, Kind::Hub) {
        progress.message(&format!("hub: {u}"));
        plan.hf_endpoint = Some(u);
    }
    if let Some(u) = mirrors::chosen(&measured, Kind::Torch) {
        progress.message(&format!("PyTorch wheels: {u}"));
        plan.index.torch_index_base = Some(u);
    }
    Ok(measured)
}

/// `--mirror auto` once the lock is known: measure against every file it names, set up fail-over, and
/// return the hub endpoint to download models from.
pub fn for_lock(
    lock: &Lock,
    index_url: Option<&str>,
    hf_endpoint: Option<&str>,
    progress: &dyn Progress,
) -> Result<Option<String>, crate::Error> {
    let hub_given = hf_endpoint.map(str::to_string).or(lock.hf_endpoint.clone());
    let index_given = index_url
        .map(str::to_string)
        .or(lock.indexes.first().cloned());
    let candidates = mirrors::candidates(index_given.as_deref(), hub_given.as_deref(), None, None)?;
    let mut kinds = Vec::new();
    if !lock.packages.is_empty() {
        kinds.push(Kind::Index);
    }
    if !lock.models.is_empty() {
        kinds.push(Kind::Hub);
    }
    progress.message(&format!(
        "measuring {} mirror candidate(s) against the lock",
        candidates
            .iter()
            .filter(|c| kinds.contains(&c.kind))
            .count()
    ));
    let measured = mirrors::choose(&candidates, &mirrors::needs_of_lock(lock), &kinds)?;
    show(&measured, progress);
    mirrors::register_failover(lock, &measured);
    Ok(mirrors::chosen(&measured, Kind::Hub))
}
