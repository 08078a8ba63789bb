//! Measuring candidates: every candidate of a kind at once (one thread each, all on the shared client):
//! latency of one small request, freshness against what the run needs, then a short ranged download of one
//! real file all of them should hold. The fastest fresh candidate of each kind wins.
use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;
use url::Url;

use super::candidates::{Candidate, Kind};
use crate::fetch::http::{self, Request};
use crate::fetch::hub::Hub;
use crate::fetch::simple::{self, DistFile};
use crate::types::{PackageName, RepoId, RepoKind, Sha256};

/// Bytes asked for by the ranged download (`Range: bytes=0-N`).
pub const PROBE_BYTES: u64 = 256 * 1024;

/// A file of the package index the run needs.
#[derive(Clone, Debug)]
pub struct NeededFile {
    pub project: PackageName,
    pub filename: String,
    pub sha256: Option<Sha256>,
}

/// A model repo the run needs, at a revision (and the commit a lock pinned, if any).
#[derive(Clone, Debug)]
pub struct NeededModel {
    pub repo: RepoId,
    pub kind: RepoKind,
    pub revision: String,
    pub commit: Option<String>,
    /// A file to time the ranged download with (else one the revision call lists).
    pub file: Option<String>,
}

/// What freshness is judged against.
#[derive(Clone, Debug, Default)]
pub struct Needs {
    /// From a lock: every one must be listed.
    pub files: Vec<NeededFile>,
    /// Without a lock: projects whose newest version (the newest any candidate lists) must be listed.
    pub projects: Vec<PackageName>,
    pub models: Vec<NeededModel>,
    /// The PyTorch backend folder (`cu121`, `cpu`, …) whose `torch` page judges a PyTorch mirror; without
    /// one, the mirror's CPU index root is only timed.
    pub torch_backend: Option<String>,
}

/// One candidate, measured.
#[derive(Clone, Debug, Serialize)]
pub struct Measured {
    pub kind: String,
    pub name: String,
    pub url: String,
    pub origin: String,
    pub latency_ms: Option<f64>,
    /// Bytes per second of the ranged download.
    pub throughput: Option<f64>,
    pub fresh: bool,
    /// Why it is stale or unreachable ("" when fresh).
    pub note: String,
    pub chosen: bool,
    /// Each needed file's URL on this mirror (filename → URL); not printed.
    #[serde(skip)]
    pub files: HashMap<String, Url>,
    #[serde(skip)]
    pub(crate) newest: HashMap<String, String>,
    #[serde(skip)]
    pub(crate) commits: HashMap<String, String>,
    #[serde(skip)]
    probe_file: Option<Url>,
}

impl Measured {
    fn new(c: &Candidate) -> Self {
        Measured {
            kind: c.kind.to_string(),
            name: c.name.clone(),
            url: crate::fetch::sources::redact(&c.url),
            origin: c.origin.clone(),
            latency_ms: None,
            throughput: None,
            fresh: false,
            note: String::new(),
            chosen: false,
            files: HashMap::new(),
            newest: HashMap::new(),
            commits: HashMap::new(),
            probe_file: None,
        }
    }

    /// Estimated seconds to fetch [`PROBE_BYTES`]: latency plus transfer (lower is better).
    pub fn cost(&self) -> f64 {
        let lat = self.latency_ms.unwrap_or(f64::INFINITY) / 1000.0;
        match self.throughput {
            Some(t) if t > 0.0 => lat + PROBE_BYTES as f64 / t,
            _ => lat + 1e6,
        }
    }

    fn stale(&mut self, why: String) {
        if self.note.is_empty() {
            self.note = why;
        }
        self.fresh = false;
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64() * 1000.0)
}

/// Version part of a wheel or sdist filename (`name-VERSION-…`).
fn version_of(filename: &str) -> Option<pep440_rs::Version> {
    let stem = filename
        .strip_suffix(".whl")
        .or_else(|| filename.strip_suffix(".tar.gz"))
        .or_else(|| filename.strip_suffix(".zip"))?;
    stem.split('-').nth(1)?.parse().ok()
}

/// One attempt, no retries (a probe measures; a mirror that needs retries is not the fastest), bounded
/// by `FERRY_MIRROR_PROBE_TIMEOUT` seconds (default 10).
fn get_once(req: &Request) -> Result<http::Fetched, String> {
    let client = http::client().map_err(|e| e.to_string())?;
    let limit = std::time::Duration::from_secs(
        std::env::var("FERRY_MIRROR_PROBE_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10),
    );
    http::block_on(async {
        let fetch = async {
            let resp = client.send(req).await?;
            let (url, status, headers) = (resp.url.clone(), resp.status(), resp.headers().clone());
            let body = resp.bytes().await?;
            Ok::<_, crate::fetch::Error>(http::Fetched {
                url,
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(limit, fetch).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "{}: no answer within {}s",
                req.url,
                limit.as_secs()
            )),
        }
    })
}

fn page(base: &Url, project: &PackageName) -> Result<Vec<DistFile>, String> {
    let url = base
        .join(&format!("{project}/"))
        .map_err(|e| e.to_string())?;
    let got = get_once(&Request::get(url.clone()).accept(simple::ACCEPT))?;
    if !got.is_success() {
        return Err(format!("{url}: HTTP {}", got.status));
    }
    if got
        .content_type()
        .starts_with("application/vnd.pypi.simple.v1+json")
    {
        simple::parse_json(&got.body, &got.url)
    } else {
        simple::parse_html(&String::from_utf8_lossy(&got.body), &got.url)
    }
}

/// One ranged GET; bytes per second of the body.
fn ranged(url: &Url) -> Result<f64, String> {
    let client = http::client().map_err(|e| e.to_string())?;
    let req = Request::get(url.clone()).header("Range", &format!("bytes=0-{}", PROBE_BYTES - 1));
    let start = Instant::now();
    let got = http::block_on(async {
        let resp = client.send(&req).await.map_err(|e| e.to_string())?;
        if !matches!(resp.status(), 200 | 206) {
            return Err(format!("{url}: HTTP {} for a file it lists", resp.status()));
        }
        use futures_util::StreamExt;
        let mut body = resp.chunks();
        let mut n = 0u64;
        while let Some(c) = body.next().await {
            n += c.map_err(|e| e.to_string())?.len() as u64;
            if n >= PROBE_BYTES {
                break;
            }
        }
        Ok(n)
    })?;
    let secs = start.elapsed().as_secs_f64().max(1e-6);
    Ok(got as f64 / secs)
}

fn probe_index(c: &Candidate, needs: &Needs) -> Measured {
    let mut m = Measured::new(c);
    let mut projects: Vec<PackageName> = needs.files.iter().map(|f| f.project.clone()).collect();
    projects.extend(needs.projects.iter().cloned());
    projects.dedup();
    if projects.is_empty() {
        // Nothing to check against: the simple root answers, that is all.
        let (got, ms) = timed(|| get_once(&Request::get(c.url.clone())));
        match got {
            Ok(f) if f.is_success() => {
                m.latency_ms = Some(ms);
                m.fresh = true;
            }
            Ok(f) => m.note = format!("HTTP {}", f.status),
            Err(e) => m.note = e,
        }
        return m;
    }
    m.fresh = true;
    let mut pages: HashMap<String, Vec<DistFile>> = HashMap::new();
    for (i, p) in projects.iter().enumerate() {
        let (got, ms) = timed(|| page(&c.url, p));
        if i == 0 {
            m.latency_ms = got.is_ok().then_some(ms);
        }
        match got {
            Ok(files) => {
                if let Some(v) = files.iter().filter_map(|f| version_of(&f.filename)).max() {
                    m.newest.insert(p.to_string(), v.to_string());
                }
                pages.insert(p.to_string(), files);
            }
            Err(e) => {
                m.stale(e);
                if i == 0 {
                    return m;
                }
            }
        }
    }
    for need in &needs.files {
        let listed = pages
            .get(need.project.as_ref() as &str)
            .and_then(|fs| fs.iter().find(|f| f.filename == need.filename));
        match listed {
            None => m.stale(format!("does not list {}", need.filename)),
            Some(f) if f.sha256.is_some() && need.sha256.is_some() && f.sha256 != need.sha256 => {
                m.stale(format!("lists another sha256 for {}", need.filename))
            }
            Some(f) => {
                m.files.insert(need.filename.clone(), f.url.clone());
            }
        }
    }
    for p in &needs.projects {
        if let Some(fs) = pages.get(p.as_ref() as &str) {
            for f in fs {
                m.files.entry(f.filename.clone()).or_insert(f.url.clone());
            }
        }
    }
    m
}

fn probe_hub(c: &Candidate, needs: &Needs) -> Measured {
    let mut m = Measured::new(c);
    let hub = match Hub::new(c.url.as_str(), None) {
        Ok(h) => h,
        Err(e) => {
            m.note = e.to_string();
            return m;
        }
    };
    if needs.models.is_empty() {
        let url = c.url.join("api/models").expect("a relative path joins");
        let (got, ms) = timed(|| get_once(&Request::get(url)));
        match got {
            Ok(f) if f.status < 500 => {
                m.latency_ms = Some(ms);
                m.fresh = true;
            }
            Ok(f) => m.note = format!("HTTP {}", f.status),
            Err(e) => m.note = e,
        }
        return m;
    }
    m.fresh = true;
    for (i, need) in needs.models.iter().enumerate() {
        let (got, ms) = timed(|| hub.revision(&need.repo, need.kind, &need.revision));
        // A mirror that answers "no such repo or revision" is reachable, and stale.
        let answered = match &got {
            Ok(_) => true,
            Err(e) => matches!(
                e,
                crate::fetch::Error::RepoNotFound { .. }
                    | crate::fetch::Error::RevisionNotFound { .. }
                    | crate::fetch::Error::Gated { .. }
            ),
        };
        let got = got.map_err(|e| e.to_string());
        if i == 0 {
            m.latency_ms = answered.then_some(ms);
        }
        match got {
            Ok(info) => {
                let commit = info.commit.as_str().to_string();
                if need.commit.as_ref().is_some_and(|c| *c != commit) {
                    m.stale(format!(
                        "{}@{} is at {} here, not {}",
                        need.repo,
                        need.revision,
                        commit,
                        need.commit.as_deref().unwrap_or("")
                    ));
                }
                let file = need
                    .file
                    .clone()
                    .or_else(|| info.siblings.iter().find(|s| *s == "config.json").cloned())
                    .or_else(|| info.siblings.first().cloned());
                if i == 0 {
                    m.probe_file = file.map(|f| {
                        hub.file_url(
                            &need.repo,
                            need.kind,
                            need.commit.as_deref().unwrap_or(&commit),
                            &f,
                        )
                    });
                }
                m.commits.insert(need.repo.to_string(), commit);
            }
            Err(e) => {
                m.stale(e);
                if i == 0 {
                    return m;
                }
            }
        }
    }
    m
}

/// Measure every candidate (all at once), judge freshness, time a ranged download, and mark the fastest
/// fresh one of each kind chosen. The result is sorted per kind, best first.
pub fn measure(candidates: &[Candidate], needs: &Needs) -> Vec<Measured> {
    let mut out: Vec<Measured> = std::thread::scope(|s| {
        let handles: Vec<_> = candidates
            .iter()
            .map(|c| {
                s.spawn(move || match c.kind {
                    Kind::Index => probe_index(c, needs),
                    Kind::Hub => probe_hub(c, needs),
                    // A PyTorch root has no page of its own: the backend's index stands in (its `torch`
                    // page when the run names a backend, else the CPU index root).
                    Kind::Torch => {
                        let mut sub = c.clone();
                        let backend = needs.torch_backend.as_deref().unwrap_or("cpu");
                        sub.url = c
                            .url
                            .join(&format!("{backend}/"))
                            .unwrap_or_else(|_| c.url.clone());
                        let torch_needs = Needs {
                            projects: needs
                                .torch_backend
                                .as_ref()
                                .and_then(|_| "torch".parse().ok())
                                .into_iter()
                                .collect(),
                            ..Needs::default()
                        };
                        let mut m = probe_index(&sub, &torch_needs);
                        m.url = crate::fetch::sources::redact(&c.url);
                        m
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a probe does not panic"))
            .collect()
    });
    judge_newest(&mut out, needs);
    // The probe file: one file every candidate of the kind should hold.
    let index_probe = needs.files.first().map(|f| f.filename.clone()).or_else(|| {
        needs
            .projects
            .first()
            .and_then(|p| newest_file(&out, "index", p.as_ref()))
    });
    let torch_probe = needs
        .torch_backend
        .as_ref()
        .and_then(|_| newest_file(&out, "torch", "torch"));
    for (kind, name) in [("index", index_probe), ("torch", torch_probe)] {
        for m in out.iter_mut().filter(|m| m.kind == kind) {
            m.probe_file = name.as_ref().and_then(|n| m.files.get(n).cloned());
        }
    }
    std::thread::scope(|s| {
        for m in out.iter_mut().filter(|m| m.latency_ms.is_some()) {
            s.spawn(move || {
                if let Some(url) = m.probe_file.clone() {
                    match ranged(&url) {
                        Ok(t) => m.throughput = Some(t),
                        Err(e) => m.stale(e),
                    }
                }
            });
        }
    });
    for kind in ["index", "hub", "torch"] {
        let best = out
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind == kind && m.fresh && m.latency_ms.is_some())
            .min_by(|a, b| a.1.cost().total_cmp(&b.1.cost()))
            .map(|(i, _)| i);
        if let Some(i) = best {
            out[i].chosen = true;
        }
    }
    out.sort_by(|a, b| {
        (a.kind.clone(), !a.chosen, !a.fresh)
            .cmp(&(b.kind.clone(), !b.chosen, !b.fresh))
            .then(a.cost().total_cmp(&b.cost()))
    });
    out
}

/// The first file (by name) of `project`'s newest version on a fresh candidate of `kind`.
fn newest_file(out: &[Measured], kind: &str, project: &str) -> Option<String> {
    out.iter()
        .filter(|m| m.kind == kind && m.fresh)
        .find_map(|m| {
            let newest = m.newest.get(project)?;
            m.files
                .keys()
                .filter(|f| version_of(f).is_some_and(|v| v.to_string() == *newest))
                .min()
                .cloned()
        })
}

/// Without a lock: a candidate is stale when it lacks the newest version another candidate lists, or a
/// hub mirror answers the revision call with another commit than most of them.
fn judge_newest(out: &mut [Measured], needs: &Needs) {
    let torch: Vec<PackageName> = needs
        .torch_backend
        .as_ref()
        .and_then(|_| "torch".parse().ok())
        .into_iter()
        .collect();
    for (kind, projects) in [("index", &needs.projects), ("torch", &torch)] {
        for p in projects {
            let key = p.to_string();
            let newest = out
                .iter()
                .filter(|m| m.kind == kind)
                .filter_map(|m| m.newest.get(&key))
                .filter_map(|v| v.parse::<pep440_rs::Version>().ok())
                .max();
            let Some(newest) = newest else { continue };
            for m in out.iter_mut().filter(|m| m.kind == kind && m.fresh) {
                let has = m.newest.get(&key).is_some_and(|v| *v == newest.to_string());
                if !has {
                    m.stale(format!("does not list {p} {newest}"));
                }
            }
        }
    }
    for need in needs.models.iter().filter(|n| n.commit.is_none()) {
        let key = need.repo.to_string();
        let mut votes: HashMap<String, usize> = HashMap::new();
        for c in out.iter().filter_map(|m| m.commits.get(&key)) {
            *votes.entry(c.clone()).or_default() += 1;
        }
        let Some((commit, _)) = votes.into_iter().max_by_key(|(c, n)| (*n, c.clone())) else {
            continue;
        };
        for m in out.iter_mut().filter(|m| m.kind == "hub" && m.fresh) {
            if m.commits.get(&key).is_some_and(|c| *c != commit) {
                m.stale(format!(
                    "{}@{} is at another commit",
                    need.repo, need.revision
                ));
            }
        }
    }
}
