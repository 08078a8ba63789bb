//! Mirrors: candidates for each kind (package index, hub, PyTorch wheels) from the user's settings, a
//! mirrors file and the shipped presets ([`candidates`]); measured and chosen ([`probe`]); the choice set
//! up for fail-over during the run ([`crate::fetch::mirrors`]). See docs/mirrors.md.
pub mod candidates;
pub mod probe;

use url::Url;

pub use candidates::{Candidate, Given, Kind};
pub use probe::{Measured, NeededFile, NeededModel, Needs};

use crate::lock::Lock;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Candidates(#[from] candidates::Error),
    #[error("--mirror auto: no fresh {kind} mirror among {tried} candidate(s):\n{details}")]
    NoneFresh {
        kind: Kind,
        tried: usize,
        details: String,
    },
    #[error("--mirror: expected 'auto', got '{0}'")]
    BadValue(String),
}

/// `--mirror VALUE`: only `auto` for now.
pub fn check_value(v: &str) -> Result<(), Error> {
    if v == "auto" {
        Ok(())
    } else {
        Err(Error::BadValue(v.into()))
    }
}

/// The user's settings for this run plus the environment, pip.conf, mirrors file and presets.
pub fn candidates(
    index_url: Option<&str>,
    hf_endpoint: Option<&str>,
    torch_base: Option<&str>,
    listed: Option<(&crate::inputs::MirrorLists, &str)>,
) -> Result<Vec<Candidate>, Error> {
    let mut given = Given::default();
    if let Some((lists, origin)) = listed {
        for (kind, list) in lists.kinds() {
            let kind = match kind {
                "index" => Kind::Index,
                "hub" => Kind::Hub,
                _ => Kind::Torch,
            };
            for e in list {
                given
                    .listed
                    .push((kind, e.url.clone(), e.name.clone(), origin.to_string()));
            }
        }
    }
    if let Some(u) = index_url {
        given.index_urls.push((u.into(), "--index-url".into()));
    }
    if let Some(u) = hf_endpoint {
        given.hub.push((u.into(), "--hf-endpoint".into()));
    }
    if let Some(u) = torch_base {
        given.torch.push((u.into(), "--torch-index-base".into()));
    }
    let env = candidates::from_environment();
    given.index_urls.extend(env.index_urls);
    given.hub.extend(env.hub);
    given.torch.extend(env.torch);
    Ok(candidates::collect(&given)?)
}

/// What a lock needs from each kind: every package file, every model at its pinned commit.
pub fn needs_of_lock(lock: &Lock) -> Needs {
    Needs {
        torch_backend: None,
        files: lock
            .packages
            .iter()
            .filter(|p| p.built_from.is_none())
            .map(|p| NeededFile {
                project: p.name.clone(),
                filename: p.filename.clone(),
                sha256: Some(p.sha256.clone()),
            })
            .collect(),
        projects: Vec::new(),
        models: lock
            .models
            .iter()
            .map(|m| NeededModel {
                repo: m.source_repo.clone().unwrap_or_else(|| m.repo.clone()),
                kind: m.kind,
                revision: m.commit.as_str().to_string(),
                commit: Some(m.commit.as_str().to_string()),
                file: m
                    .files
                    .iter()
                    .max_by_key(|f| f.size)
                    .map(|f| f.path.clone()),
            })
            .collect(),
    }
}

/// Measure, keep only the kinds the run needs, and fail when a needed kind has no fresh candidate.
pub fn choose(
    candidates: &[Candidate],
    needs: &Needs,
    kinds: &[Kind],
) -> Result<Vec<Measured>, Error> {
    let wanted: Vec<Candidate> = candidates
        .iter()
        .filter(|c| kinds.contains(&c.kind))
        .cloned()
        .collect();
    let measured = probe::measure(&wanted, needs);
    for kind in kinds {
        let of_kind: Vec<&Measured> = measured
            .iter()
            .filter(|m| m.kind == kind.as_str())
            .collect();
        if !of_kind.is_empty() && !of_kind.iter().any(|m| m.chosen) {
            return Err(Error::NoneFresh {
                kind: *kind,
                tried: of_kind.len(),
                details: table(&measured),
            });
        }
    }
    Ok(measured)
}

/// The chosen URL of a kind.
pub fn chosen(measured: &[Measured], kind: Kind) -> Option<String> {
    measured
        .iter()
        .find(|m| m.chosen && m.kind == kind.as_str())
        .map(|m| m.url.clone())
}

/// Set up fail-over for a lock's files: each package file on every mirror that lists it (best first), and
/// the hub's file URLs on every fresh hub mirror (best first, the chosen one being the endpoint used).
pub fn register_failover(lock: &Lock, measured: &[Measured]) {
    let ranked = |kind: &str| -> Vec<&Measured> {
        measured
            .iter()
            .filter(|m| m.kind == kind && m.latency_ms.is_some())
            .collect()
    };
    let indexes = ranked("index");
    for p in &lock.packages {
        let Ok(key) = Url::parse(&p.url) else {
            continue;
        };
        let urls: Vec<Url> = indexes
            .iter()
            .filter_map(|m| m.files.get(&p.filename).cloned())
            .collect();
        if !urls.is_empty() {
            crate::fetch::mirrors::add_file(&key, urls);
        }
    }
    let hubs: Vec<Url> = ranked("hub")
        .iter()
        .filter(|m| m.fresh)
        .filter_map(|m| {
            let s = m.url.trim_end_matches('/');
            Url::parse(&format!("{s}/")).ok()
        })
        .collect();
    if hubs.len() > 1 {
        crate::fetch::mirrors::add_prefix(hubs);
    }
}

/// Set up fail-over for index pages during resolution: the chosen index first, then every other fresh
/// one, best first.
pub fn register_page_failover(measured: &[Measured]) {
    let indexes: Vec<Url> = measured
        .iter()
        .filter(|m| m.kind == "index" && m.fresh && m.latency_ms.is_some())
        .filter_map(|m| Url::parse(&m.url).ok())
        .collect();
    if indexes.len() > 1 {
        crate::fetch::mirrors::add_prefix(indexes);
    }
}

fn human_rate(bps: f64) -> String {
    if bps >= 1024.0 * 1024.0 {
        format!("{:.1} MiB/s", bps / 1024.0 / 1024.0)
    } else {
        format!("{:.0} KiB/s", bps / 1024.0)
    }
}

/// The measurements as a table: kind, name, URL, latency, throughput, fresh or stale, chosen.
pub fn table(measured: &[Measured]) -> String {
    let mut s = format!(
        "{:<6} {:<12} {:<44} {:>9} {:>12}  {:<6} {}\n",
        "KIND", "NAME", "URL", "LATENCY", "THROUGHPUT", "STATE", "CHOSEN"
    );
    for m in measured {
        let state = if m.latency_ms.is_none() {
            "down"
        } else if m.fresh {
            "fresh"
        } else {
            "stale"
        };
        s.push_str(&format!(
            "{:<6} {:<12} {:<44} {:>9} {:>12}  {:<6} {}{}\n",
            m.kind,
            m.name,
            m.url,
            m.latency_ms
                .map(|l| format!("{l:.0} ms"))
                .unwrap_or_else(|| "-".into()),
            m.throughput.map(human_rate).unwrap_or_else(|| "-".into()),
            state,
            if m.chosen { "*" } else { "" },
            if m.note.is_empty() {
                String::new()
            } else {
                format!("  ({})", m.note)
            }
        ));
    }
    s
}

/// The measurements as recorded in a lock file (never in a bundle's `ferry.json`).
pub fn record(measured: &[Measured]) -> serde_json::Value {
    serde_json::to_value(measured).unwrap_or_default()
}
