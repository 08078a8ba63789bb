//! `ferry diff OLD NEW [--json]`: what changed between two bundles or locks, for the reviewer: packages
//! added, removed, upgraded, downgraded or rebuilt, licences new in NEW, models whose commit changed, and
//! the total size. Bundles are read like `inspect` reads them (unverified; `verify` checks signatures).
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::{self, human_size, sbom};
use crate::lock::Lock;
use crate::types::Version;

#[derive(Debug, Clone)]
pub struct Settings {
    pub old: PathBuf,
    pub new: PathBuf,
    pub json: bool,
    pub cache_dir: Option<PathBuf>,
}

/// One side of the comparison.
struct Side {
    path: PathBuf,
    kind: &'static str,
    lock: Lock,
    /// Package name → licence names (from the bundle's SBOM, or the wheels in the download cache).
    licenses: BTreeMap<String, BTreeSet<String>>,
    /// Bytes of the bundle file(s), for bundles.
    bundle_bytes: Option<u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub old: SideInfo,
    pub new: SideInfo,
    pub packages: Packages,
    pub licenses: Licenses,
    pub models: Models,
    pub size: Size,
}

#[derive(Debug, Default, Serialize)]
pub struct SideInfo {
    pub path: PathBuf,
    pub kind: String,
    pub name: String,
    pub created: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta_base: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Packages {
    pub added: Vec<Pkg>,
    pub removed: Vec<Pkg>,
    pub upgraded: Vec<Change>,
    pub downgraded: Vec<Change>,
    /// Same version, different files (rebuilt, other wheels).
    pub changed_files: Vec<Pkg>,
    pub unchanged: usize,
}

#[derive(Debug, Serialize)]
pub struct Pkg {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Serialize)]
pub struct Change {
    pub name: String,
    pub old: String,
    pub new: String,
}

#[derive(Debug, Default, Serialize)]
pub struct Licenses {
    /// Licences found in NEW and nowhere in OLD, with the packages that carry them.
    pub new: Vec<NewLicense>,
    /// Packages in NEW whose licence could not be read.
    pub unknown: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct NewLicense {
    pub license: String,
    pub packages: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Models {
    pub added: Vec<Model>,
    pub removed: Vec<Model>,
    pub changed: Vec<ModelChange>,
    pub unchanged: usize,
}

#[derive(Debug, Serialize)]
pub struct Model {
    pub repo: String,
    pub commit: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct ModelChange {
    pub repo: String,
    pub old_commit: String,
    pub new_commit: String,
    pub files_added: Vec<String>,
    pub files_removed: Vec<String>,
    pub files_changed: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct Size {
    /// Bytes of every package and model file each side names.
    pub old: u64,
    pub new: u64,
    pub change: i64,
    /// Bytes of the bundle files themselves (a delta carries less than it names).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_bundle: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_bundle: Option<u64>,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let cache = super::lock::cache_dir(settings.cache_dir.as_deref());
    let old = load(&settings.old, &cache)?;
    let new = load(&settings.new, &cache)?;
    let report = compare(&old, &new);
    if settings.json {
        let mut text = serde_json::to_string_pretty(&report).expect("report serializes");
        text.push('\n');
        print!("{text}");
    } else {
        print!("{}", to_text(&report));
    }
    Ok(())
}

fn load(path: &Path, cache: &Path) -> Result<Side, crate::Error> {
    let is_json = std::fs::read(path)
        .map_err(|e| crate::Error::io(path, e))
        .map(|b| b.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{'))?;
    if is_json {
        let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
        let lock = Lock::from_json(&text).map_err(|e| {
            crate::Error::Usage(format!("{}: not a ferry lock: {e}", path.display()))
        })?;
        // Licences from the wheels in the download cache, where present.
        let mut licenses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for p in &lock.packages {
            let file = cache.join("wheels").join(&p.filename);
            if let Ok(meta) = sbom::wheel_meta(&file) {
                if let Some(l) = meta.license {
                    licenses
                        .entry(p.name.to_string())
                        .or_default()
                        .extend(license_names(&l));
                }
            }
        }
        return Ok(Side {
            path: path.to_path_buf(),
            kind: "lock",
            lock,
            licenses,
            bundle_bytes: None,
        });
    }
    let front = bundle::read_front(path)?;
    let mut licenses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    if let Some(bytes) = bundle::review::read_member(path, sbom::SBOM, &front.sums)? {
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| crate::Error::Other(format!("{}: {}: {e}", path.display(), sbom::SBOM)))?;
        for c in doc["components"].as_array().into_iter().flatten() {
            if c["purl"]
                .as_str()
                .is_some_and(|p| p.starts_with("pkg:pypi/"))
            {
                let name = c["name"].as_str().unwrap_or_default().to_string();
                licenses
                    .entry(name)
                    .or_default()
                    .extend(sbom::License::names_of(c));
            }
        }
    }
    Ok(Side {
        path: path.to_path_buf(),
        kind: "bundle",
        lock: front.lock,
        licenses,
        bundle_bytes: Some(front.bytes),
    })
}

fn license_names(l: &sbom::License) -> Vec<String> {
    match l {
        sbom::License::Expression(e) => vec![e.clone()],
        sbom::License::Names(n) => n.clone(),
    }
}

fn versions(lock: &Lock) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for p in &lock.packages {
        out.entry(p.name.to_string())
            .or_default()
            .insert(p.version.clone());
    }
    out
}

fn newest(vs: &BTreeSet<String>) -> String {
    vs.iter()
        .max_by(|a, b| match (a.parse::<Version>(), b.parse::<Version>()) {
            (Ok(x), Ok(y)) => x.cmp(&y),
            _ => a.cmp(b),
        })
        .cloned()
        .unwrap_or_default()
}

fn total(lock: &Lock) -> u64 {
    lock.packages.iter().map(|p| p.size).sum::<u64>()
        + lock
            .models
            .iter()
            .flat_map(|m| &m.files)
            .map(|f| f.size)
            .sum::<u64>()
}

fn info(s: &Side) -> SideInfo {
    SideInfo {
        path: s.path.clone(),
        kind: s.kind.to_string(),
        name: s.lock.name.clone(),
        created: s.lock.created,
        delta_base: s.lock.delta.as_ref().map(|d| d.base.to_string()),
    }
}

fn compare(old: &Side, new: &Side) -> Report {
    let mut r = Report {
        old: info(old),
        new: info(new),
        ..Default::default()
    };
    let (ov, nv) = (versions(&old.lock), versions(&new.lock));
    let files = |lock: &Lock, name: &str| -> BTreeSet<(String, String)> {
        lock.packages
            .iter()
            .filter(|p| p.name.as_ref() as &str == name)
            .map(|p| (p.filename.clone(), p.sha256.to_string()))
            .collect()
    };
    for (name, vs) in &nv {
        match ov.get(name) {
            None => r.packages.added.push(Pkg {
                name: name.clone(),
                version: newest(vs),
            }),
            Some(old_vs) => {
                let (a, b) = (newest(old_vs), newest(vs));
                let order = match (a.parse::<Version>(), b.parse::<Version>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => a.cmp(&b),
                };
                match order {
                    std::cmp::Ordering::Less => r.packages.upgraded.push(Change {
                        name: name.clone(),
                        old: a,
                        new: b,
                    }),
                    std::cmp::Ordering::Greater => r.packages.downgraded.push(Change {
                        name: name.clone(),
                        old: a,
                        new: b,
                    }),
                    std::cmp::Ordering::Equal => {
                        if files(&old.lock, name) != files(&new.lock, name) {
                            r.packages.changed_files.push(Pkg {
                                name: name.clone(),
                                version: b,
                            });
                        } else {
                            r.packages.unchanged += 1;
                        }
                    }
                }
            }
        }
    }
    for (name, vs) in &ov {
        if !nv.contains_key(name) {
            r.packages.removed.push(Pkg {
                name: name.clone(),
                version: newest(vs),
            });
        }
    }
    // Licences: new ones, and packages whose licence is unknown.
    let known: BTreeSet<&String> = old.licenses.values().flatten().collect();
    let mut fresh: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in nv.keys() {
        match new.licenses.get(name) {
            Some(ls) if !ls.is_empty() => {
                for l in ls {
                    if !known.contains(l) {
                        fresh.entry(l.clone()).or_default().push(name.clone());
                    }
                }
            }
            _ => r.licenses.unknown.push(name.clone()),
        }
    }
    r.licenses.new = fresh
        .into_iter()
        .map(|(license, packages)| NewLicense { license, packages })
        .collect();
    // Models by (repo, kind).
    let key = |m: &crate::lock::LockedModel| (m.repo.to_string(), m.kind);
    let om: BTreeMap<_, _> = old.lock.models.iter().map(|m| (key(m), m)).collect();
    let nm: BTreeMap<_, _> = new.lock.models.iter().map(|m| (key(m), m)).collect();
    let model = |m: &crate::lock::LockedModel| Model {
        repo: m.repo.to_string(),
        commit: m.commit.to_string(),
        size: m.files.iter().map(|f| f.size).sum(),
    };
    for (k, m) in &nm {
        match om.get(k) {
            None => r.models.added.push(model(m)),
            Some(o) if o.commit != m.commit => {
                let of: BTreeMap<&str, &str> = o
                    .files
                    .iter()
                    .map(|f| (f.path.as_str(), f.blob.as_str()))
                    .collect();
                let nf: BTreeMap<&str, &str> = m
                    .files
                    .iter()
                    .map(|f| (f.path.as_str(), f.blob.as_str()))
                    .collect();
                r.models.changed.push(ModelChange {
                    repo: m.repo.to_string(),
                    old_commit: o.commit.to_string(),
                    new_commit: m.commit.to_string(),
                    files_added: nf
                        .keys()
                        .filter(|p| !of.contains_key(*p))
                        .map(|p| p.to_string())
                        .collect(),
                    files_removed: of
                        .keys()
                        .filter(|p| !nf.contains_key(*p))
                        .map(|p| p.to_string())
                        .collect(),
                    files_changed: nf
                        .iter()
                        .filter(|(p, b)| of.get(*p).is_some_and(|ob| ob != *b))
                        .map(|(p, _)| p.to_string())
                        .collect(),
                });
            }
            Some(_) => r.models.unchanged += 1,
        }
    }
    for (k, m) in &om {
        if !nm.contains_key(k) {
            r.models.removed.push(model(m));
        }
    }
    let (a, b) = (total(&old.lock), total(&new.lock));
    r.size = Size {
        old: a,
        new: b,
        change: b as i64 - a as i64,
        old_bundle: old.bundle_bytes,
        new_bundle: new.bundle_bytes,
    };
    r
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

fn to_text(r: &Report) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    for (label, s) in [("old", &r.old), ("new", &r.new)] {
        let delta = s
            .delta_base
            .as_ref()
            .map(|b| format!(", delta over {}", short(b)))
            .unwrap_or_default();
        line(format!(
            "{label}: {} ({} '{}'{delta})",
            s.path.display(),
            s.kind,
            s.name
        ));
    }
    let p = &r.packages;
    line(format!(
        "packages: {} added, {} removed, {} upgraded, {} downgraded, {} with other files, {} unchanged",
        p.added.len(),
        p.removed.len(),
        p.upgraded.len(),
        p.downgraded.len(),
        p.changed_files.len(),
        p.unchanged
    ));
    for x in &p.added {
        line(format!("  + {} {}", x.name, x.version));
    }
    for x in &p.removed {
        line(format!("  - {} {}", x.name, x.version));
    }
    for x in &p.upgraded {
        line(format!("  ^ {} {} -> {}", x.name, x.old, x.new));
    }
    for x in &p.downgraded {
        line(format!("  v {} {} -> {}", x.name, x.old, x.new));
    }
    for x in &p.changed_files {
        line(format!(
            "  ~ {} {} (same version, other files)",
            x.name, x.version
        ));
    }
    if r.licenses.new.is_empty() {
        line("new licences: none".into());
    } else {
        line("new licences:".into());
        for l in &r.licenses.new {
            line(format!("  {} ({})", l.license, l.packages.join(", ")));
        }
    }
    if !r.licenses.unknown.is_empty() {
        line(format!(
            "licence unknown: {}",
            r.licenses.unknown.join(", ")
        ));
    }
    let m = &r.models;
    line(format!(
        "models: {} added, {} removed, {} changed, {} unchanged",
        m.added.len(),
        m.removed.len(),
        m.changed.len(),
        m.unchanged
    ));
    for x in &m.added {
        line(format!(
            "  + {} @ {} ({})",
            x.repo,
            short(&x.commit),
            human_size(x.size)
        ));
    }
    for x in &m.removed {
        line(format!("  - {} @ {}", x.repo, short(&x.commit)));
    }
    for x in &m.changed {
        line(format!(
            "  ~ {} {} -> {} ({} files added, {} removed, {} changed)",
            x.repo,
            short(&x.old_commit),
            short(&x.new_commit),
            x.files_added.len(),
            x.files_removed.len(),
            x.files_changed.len()
        ));
    }
    let s = &r.size;
    let sign = if s.change < 0 { "-" } else { "+" };
    line(format!(
        "size: {} -> {} ({sign}{})",
        human_size(s.old),
        human_size(s.new),
        human_size(s.change.unsigned_abs())
    ));
    if let (Some(a), Some(b)) = (s.old_bundle, s.new_bundle) {
        line(format!(
            "bundle files: {} -> {}",
            human_size(a),
            human_size(b)
        ));
    }
    out
}
