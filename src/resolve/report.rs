//! Resolver errors a person can act on: for each package in the conflict, the requirements as written
//! (file:line, or the package that asked), the target, the index searched, why the versions in range cannot
//! be used ("no wheel for macosx_14_0_arm64 and no sdist; wheels exist for …", "requires Python >=3.11",
//! "yanked", "only pre-releases"), and the versions that do exist, nearest first. No solver internals.
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use pep440_rs::Version;
use pep508_rs::PackageName;
use pubgrub::{DerivationTree, External, Ranges};

use super::candidates::Rules;
use super::provider::{Pkg, Provider};
use crate::dist::{parse_sdist, WheelFilename};
use crate::fetch::index::Project;
use crate::fetch::sources::redact;
use crate::target::{Tag, Target};

/// Who asked for a package, and how (recorded by the provider as dependencies are read).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub child: PackageName,
    /// The requirement as written, without its marker (e.g. `bitsandbytes==0.46.0`).
    pub requirement: String,
    /// The package version that asked; None for the user's own requirements.
    pub by: Option<(PackageName, Version)>,
    /// For the user's requirements: file:line (or "command line").
    pub origin: String,
}

type Tree = DerivationTree<Pkg, Ranges<Version>, String>;

fn walk<'a>(tree: &'a Tree, out: &mut Vec<&'a External<Pkg, Ranges<Version>, String>>) {
    match tree {
        DerivationTree::External(e) => out.push(e),
        DerivationTree::Derived(d) => {
            walk(&d.cause1, out);
            walk(&d.cause2, out);
        }
    }
}

fn name_of(p: &Pkg) -> Option<&PackageName> {
    match p {
        Pkg::Root => None,
        Pkg::Name(n) | Pkg::Extra(n, _) => Some(n),
    }
}

/// The explanation printed under "no set of versions satisfies the requirements for target …".
pub fn explain(provider: &Provider, target: &Target, tree: &Tree) -> String {
    let mut externals = Vec::new();
    walk(tree, &mut externals);
    // Packages to explain: those with no usable version in range, else those required in conflicting ways.
    let mut ranges: BTreeMap<PackageName, Ranges<Version>> = BTreeMap::new();
    // Versions the provider ruled out after reading their metadata ("requires Python >=3.11").
    let mut unusable: BTreeMap<PackageName, BTreeMap<Version, String>> = BTreeMap::new();
    for e in &externals {
        if let External::Custom(p, r, msg) = e {
            if let (Some(n), Some(v)) = (name_of(p), r.as_singleton()) {
                unusable
                    .entry(n.clone())
                    .or_default()
                    .insert(v.clone(), msg.clone());
            }
        }
    }
    for e in &externals {
        if let External::NoVersions(p, r) | External::Custom(p, r, _) = e {
            if let Some(n) = name_of(p) {
                ranges
                    .entry(n.clone())
                    .and_modify(|x| *x = x.union(r))
                    .or_insert_with(|| r.clone());
            }
        }
    }
    // Who depends on what, as pubgrub saw it: a package asked for by two or more parents is in conflict.
    let mut parents: BTreeMap<PackageName, BTreeSet<Pkg>> = BTreeMap::new();
    for e in &externals {
        if let External::FromDependencyOf(p, _, dep, _) = e {
            if let Some(n) = name_of(dep) {
                parents.entry(n.clone()).or_default().insert(p.clone());
            }
        }
    }
    // A "no versions" that covers real versions is a reason to show; one that covers none is usually the
    // solver's bookkeeping after a conflict elsewhere.
    let has_versions_in = |name: &PackageName, r: &Ranges<Version>| {
        provider.project_of(name).is_ok_and(|p| {
            p.files.iter().any(|f| {
                let v = if f.filename.ends_with(".whl") {
                    WheelFilename::from_str(&f.filename).ok().map(|w| w.version)
                } else {
                    parse_sdist(&f.filename, name)
                };
                v.is_some_and(|v| r.contains(&v))
            })
        })
    };
    let mut names: Vec<PackageName> = ranges
        .iter()
        .filter(|(n, r)| has_versions_in(n, r))
        .map(|(n, _)| n.clone())
        .collect();
    for (n, ps) in &parents {
        if ps.len() >= 2 && !names.contains(n) {
            names.push(n.clone());
        }
    }
    if names.is_empty() {
        names = ranges.keys().cloned().collect();
    }
    if names.is_empty() {
        names = parents.keys().cloned().collect();
    }
    // A conflict section shows every requirer; a reason section the range pubgrub could not fill.
    let ranges: BTreeMap<PackageName, Ranges<Version>> = ranges
        .into_iter()
        .filter(|(n, r)| has_versions_in(n, r) || parents.get(n).is_none_or(|p| p.len() < 2))
        .collect();
    let edges = provider.edges.lock().unwrap().clone();
    let mut out = String::new();
    for name in names.iter().take(4) {
        out.push_str(&section(
            provider,
            target,
            name,
            ranges.get(name),
            &edges,
            unusable.get(name),
        ));
    }
    if names.len() > 4 {
        out.push_str(&format!(
            "  … and {} more package(s) in the same conflict\n",
            names.len() - 4
        ));
    }
    out.trim_end().to_string()
}

fn who(edge: &Edge, edges: &[Edge]) -> String {
    match &edge.by {
        None => format!("{}: {}", edge.origin, edge.requirement),
        Some((parent, v)) => {
            let root = edges
                .iter()
                .find(|e| &e.child == parent && e.by.is_none())
                .map(|e| format!(", asked for at {}", e.origin))
                .unwrap_or_default();
            format!("{} (required by {parent} {v}{root})", edge.requirement)
        }
    }
}

fn section(
    provider: &Provider,
    target: &Target,
    name: &PackageName,
    range: Option<&Ranges<Version>>,
    edges: &[Edge],
    unusable: Option<&BTreeMap<Version, String>>,
) -> String {
    let mut s = String::new();
    let mine: BTreeSet<&Edge> = edges.iter().filter(|e| &e.child == name).collect();
    if mine.is_empty() {
        s.push_str(&format!("  {name}\n"));
    }
    for e in &mine {
        s.push_str(&format!("  {}\n", who(e, edges)));
    }
    let Ok(project) = provider.project_of(name) else {
        return s;
    };
    let mut versions = Versions::of(&project, provider, target, name);
    for (v, why) in unusable.into_iter().flatten() {
        versions
            .why_not
            .entry(v.clone())
            .or_insert_with(|| why.clone());
    }
    let searched = project
        .index
        .as_ref()
        .map(redact)
        .unwrap_or_else(|| "the find-links locations".into());
    let in_range: Vec<&Version> = versions
        .all
        .iter()
        .filter(|v| range.is_none_or(|r| r.contains(v)))
        .collect();
    if range.is_some() {
        let finals = in_range.iter().filter(|v| !v.any_prerelease()).count();
        if finals == 0 && !in_range.is_empty() {
            s.push_str(&format!(
                "    only pre-releases match: {}\n",
                in_range
                    .iter()
                    .take(5)
                    .map(|v| v.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut shown = 0;
        for v in in_range.iter().rev() {
            if let Some(why) = versions.why_not.get(*v) {
                if shown == 4 {
                    s.push_str("    …\n");
                    break;
                }
                s.push_str(&format!("    {name} {v}: {why}\n"));
                shown += 1;
            }
        }
        if in_range.is_empty() {
            s.push_str(&format!("    no version of {name} on {searched} matches\n"));
        }
    }
    s.push_str(&format!(
        "    versions on {searched} (target {}): {}\n",
        target.id(),
        versions.nearest(range)
    ));
    s
}

/// Every version a project lists, and why the target cannot use those it cannot.
struct Versions {
    all: Vec<Version>,
    why_not: BTreeMap<Version, String>,
}

impl Versions {
    fn of(project: &Project, provider: &Provider, target: &Target, name: &PackageName) -> Self {
        let tags = target.tags();
        let python = provider.python();
        let rules = provider.rules(name);
        let mut files: BTreeMap<Version, Vec<&crate::fetch::simple::DistFile>> = BTreeMap::new();
        for f in &project.files {
            let v = if f.filename.ends_with(".whl") {
                WheelFilename::from_str(&f.filename)
                    .ok()
                    .filter(|w| &w.name == name)
                    .map(|w| w.version)
            } else {
                parse_sdist(&f.filename, name)
            };
            if let Some(v) = v {
                files.entry(v).or_default().push(f);
            }
        }
        let mut why_not = BTreeMap::new();
        for (v, fs) in &files {
            if let Some(why) = reason(fs, &tags, python, &rules, target) {
                why_not.insert(v.clone(), why);
            }
        }
        Self {
            all: files.into_keys().collect(),
            why_not,
        }
    }

    /// A few versions around the range (all of them when there are few), usable ones plain, others marked.
    fn nearest(&self, range: Option<&Ranges<Version>>) -> String {
        if self.all.is_empty() {
            return "none".into();
        }
        let pivot = match range {
            Some(r) => self
                .all
                .iter()
                .position(|v| r.contains(v))
                .or_else(|| {
                    let (lo, _) = r.bounding_range()?;
                    match lo {
                        std::ops::Bound::Included(b) | std::ops::Bound::Excluded(b) => Some(
                            self.all
                                .iter()
                                .position(|v| v >= b)
                                .unwrap_or(self.all.len()),
                        ),
                        std::ops::Bound::Unbounded => Some(0),
                    }
                })
                .unwrap_or(self.all.len()),
            None => self.all.len(),
        };
        let lo = pivot.saturating_sub(3);
        let hi = (pivot + 3).min(self.all.len());
        let mut parts: Vec<String> = Vec::new();
        if lo > 0 {
            parts.push("…".into());
        }
        for v in &self.all[lo..hi] {
            match self.why_not.get(v) {
                Some(_) => parts.push(format!("{v} (unusable)")),
                None => parts.push(v.to_string()),
            }
        }
        if hi < self.all.len() {
            parts.push(format!("… {}", self.all.last().unwrap()));
        }
        parts.join(", ")
    }
}

/// Why no file of one version serves the target; None when one does.
fn reason(
    files: &[&crate::fetch::simple::DistFile],
    tags: &[Tag],
    python: &Version,
    rules: &Rules,
    target: &Target,
) -> Option<String> {
    let wheels: Vec<(&crate::fetch::simple::DistFile, WheelFilename)> = files
        .iter()
        .filter_map(|f| WheelFilename::from_str(&f.filename).ok().map(|w| (*f, w)))
        .collect();
    let sdists: Vec<&&crate::fetch::simple::DistFile> = files
        .iter()
        .filter(|f| !f.filename.ends_with(".whl"))
        .collect();
    let live = |f: &crate::fetch::simple::DistFile| !f.yanked;
    let py_ok = |f: &crate::fetch::simple::DistFile| {
        f.requires_python
            .as_ref()
            .is_none_or(|rp| rp.contains(python))
    };
    let hash_ok = |f: &crate::fetch::simple::DistFile| match (rules.hashes, &f.sha256) {
        (Some(allowed), Some(h)) => allowed.contains(h),
        _ => true,
    };
    let fitting_wheels: Vec<_> = wheels
        .iter()
        .filter(|(_, w)| w.best_rank(tags).is_some())
        .collect();
    let usable_wheel = !rules.no_binary
        && fitting_wheels
            .iter()
            .any(|(f, _)| live(f) && py_ok(f) && hash_ok(f));
    let usable_sdist =
        !rules.only_binary && sdists.iter().any(|f| live(f) && py_ok(f) && hash_ok(f));
    if usable_wheel || usable_sdist {
        return None;
    }
    if files.iter().all(|f| f.yanked) {
        return Some("yanked".into());
    }
    let candidates: Vec<&crate::fetch::simple::DistFile> = fitting_wheels
        .iter()
        .map(|(f, _)| *f)
        .filter(|_| !rules.no_binary)
        .chain(sdists.iter().map(|f| **f).filter(|_| !rules.only_binary))
        .filter(|f| live(f))
        .collect();
    if !candidates.is_empty() {
        if let Some(rp) = candidates
            .iter()
            .filter(|f| !py_ok(f))
            .find_map(|f| f.requires_python.as_ref())
        {
            return Some(format!(
                "requires Python {rp} (the target has {})",
                target.python_short()
            ));
        }
        if rules.hashes.is_some() {
            return Some("no file matches the --hash values".into());
        }
    }
    let platform = target
        .platforms
        .first()
        .cloned()
        .unwrap_or_else(|| "any".into());
    if rules.no_binary {
        return Some(if sdists.is_empty() {
            "--no-binary forces a build from source, and there is no sdist".into()
        } else {
            "--no-binary forces a build from source, and the sdist cannot be used".into()
        });
    }
    if !sdists.is_empty() && rules.only_binary {
        let mut why = format!("no wheel for {platform}");
        if !wheels.is_empty() {
            why.push_str(&format!("; wheels exist for {}", platforms(&wheels)));
        }
        why.push_str("; the sdist is refused by --only-binary");
        return Some(why);
    }
    if wheels.is_empty() {
        return Some("no files".into());
    }
    // Wheels for this platform but another Python?
    let plats: BTreeSet<String> = target.platform_tags().into_iter().collect();
    let same_platform: BTreeSet<String> = wheels
        .iter()
        .filter(|(_, w)| w.platform.iter().any(|p| plats.contains(p)))
        .flat_map(|(_, w)| w.python.clone())
        .collect();
    if !same_platform.is_empty() {
        return Some(format!(
            "no wheel for Python {} on {platform} and no sdist; wheels exist for {}",
            target.python,
            same_platform.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
    Some(format!(
        "no wheel for {platform} and no sdist; wheels exist for {}",
        platforms(&wheels)
    ))
}

/// The distinct platform tags of these wheels, shortest spelling, a few.
fn platforms(wheels: &[(&crate::fetch::simple::DistFile, WheelFilename)]) -> String {
    let mut set: BTreeSet<String> = BTreeSet::new();
    for (_, w) in wheels {
        // A wheel listing several aliases (manylinux_2_17 + manylinux2014) counts once: its first tag.
        if let Some(p) = w.platform.first() {
            set.insert(p.clone());
        }
    }
    let list: Vec<String> = set.into_iter().collect();
    if list.len() > 6 {
        format!("{}, … ({} platforms)", list[..6].join(", "), list.len())
    } else {
        list.join(", ")
    }
}
