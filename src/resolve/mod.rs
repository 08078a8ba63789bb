//! Resolution: requirements + targets → pinned distributions, one pubgrub run per target
//! (markers are evaluated for each target, never for the build host).
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use pep440_rs::Version;
use pep508_rs::{PackageName, Requirement};
use pubgrub::PubGrubError;

use crate::fetch::index::{IndexClient, IndexError};
use crate::fetch::simple::DistFile;
use crate::inputs::{IndexOptions, Plan};
use crate::target::Target;
use crate::types::Sha256;

pub mod build;
pub mod candidates;
pub mod hash_check;
pub mod provider;
pub mod ranges;
pub mod report;
pub mod sdist;
pub mod sdist_archive;

use provider::{root_version, Pkg, Provider};
use sdist::{Built, SdistBuilder};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("{}{source}", context.as_ref().map(|c| format!("{c}: ")).unwrap_or_default())]
    Index {
        context: Option<String>,
        source: IndexError,
    },
    #[error("cannot use {name} ({file}): {message}")]
    Sdist {
        name: String,
        file: String,
        message: String,
    },
    #[error("no set of versions satisfies the requirements for target {target}:\n{report}")]
    NoSolution { target: String, report: String },
    #[error("{origin}: hash-checking mode: '{name}' has no --hash (pip requires every package, dependencies too, to be pinned with == and --hash)")]
    MissingHash { name: String, origin: String },
    #[error("{0}")]
    Other(String),
}

/// One distribution file chosen for one or more targets.
#[derive(Clone, Debug)]
pub struct Pinned {
    pub name: PackageName,
    pub version: Version,
    pub file: DistFile,
    /// Set when the file is an sdist ferry looked into (and maybe built).
    pub built: Option<Arc<Built>>,
    pub requested: bool,
    pub reason: Option<String>,
    pub targets: Vec<String>,
}

/// Resolve the plan for every target, in parallel, and merge the files.
pub fn resolve(
    plan: &Plan,
    index: &Arc<IndexClient>,
    sdists: &SdistBuilder,
) -> Result<Vec<Pinned>, ResolveError> {
    let results: Vec<Result<Vec<Pinned>, ResolveError>> = std::thread::scope(|s| {
        let handles: Vec<_> = plan
            .targets
            .iter()
            .map(|t| s.spawn(move || resolve_target(plan, t, index, sdists)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("resolver thread panicked"))
            .collect()
    });
    let mut merged: BTreeMap<(PackageName, String), Pinned> = BTreeMap::new();
    for result in results {
        for p in result? {
            let key = (p.name.clone(), p.file.filename.clone());
            match merged.get_mut(&key) {
                Some(existing) => {
                    existing.targets.extend(p.targets);
                    existing.requested |= p.requested;
                    if existing.reason.is_some() && p.reason.is_none() {
                        existing.reason = None;
                    }
                }
                None => {
                    merged.insert(key, p);
                }
            }
        }
    }
    Ok(merged.into_values().collect())
}

fn origin_of(r: &crate::inputs::Requirement) -> String {
    r.origin
        .as_ref()
        .map(|o| o.to_string())
        .unwrap_or_else(|| "command line".into())
}

fn resolve_target(
    plan: &Plan,
    target: &Target,
    index: &Arc<IndexClient>,
    sdists: &SdistBuilder,
) -> Result<Vec<Pinned>, ResolveError> {
    let env = target.marker_env();
    let mut roots = Vec::new();
    let mut hashes: HashMap<PackageName, Vec<Sha256>> = HashMap::new();
    for r in &plan.requirements {
        if !r.req.marker.evaluate(&env, &[]) {
            continue;
        }
        if !r.hashes.is_empty() {
            hashes
                .entry(r.req.name.clone())
                .or_default()
                .extend(r.hashes.iter().cloned());
        }
        if let Some(pep508_rs::VersionOrUrl::Url(url)) = &r.req.version_or_url {
            index.add_direct(&r.req.name, url.to_url(), r.hashes.first().cloned());
        }
        roots.push((r.req.clone(), origin_of(r)));
    }
    let constraints: Vec<Requirement> = plan.constraints.iter().map(|c| c.req.clone()).collect();
    let requested: Vec<PackageName> = roots.iter().map(|(r, _)| r.name.clone()).collect();
    let mut pinned = run(
        index,
        sdists,
        target,
        roots,
        &constraints,
        hashes.clone(),
        &plan.index,
        None,
    )?;
    for p in &mut pinned {
        p.requested = requested.contains(&p.name);
    }
    if plan.index.require_hashes {
        for p in &pinned {
            if !hashes.contains_key(&p.name) {
                let origin = plan.requirements.first().map(origin_of).unwrap_or_default();
                return Err(ResolveError::MissingHash {
                    name: p.name.to_string(),
                    origin,
                });
            }
        }
    }
    // sdists that do not give a pure wheel travel as sdists with their build requirements.
    let mut build_deps = Vec::new();
    for p in &pinned {
        let Some(built) = &p.built else { continue };
        if built.needs_compiler.is_none() {
            continue;
        }
        let reason = format!("build requirement of {}", p.name);
        // Build requirements are often pinned per Python version by markers: only the target's apply.
        let roots = built
            .build_requires
            .iter()
            .filter(|r| r.marker.evaluate(&env, &[]))
            .map(|r| (r.clone(), reason.clone()))
            .collect();
        let opts = IndexOptions {
            only_binary: crate::inputs::BinaryRule::All,
            ..plan.index.clone()
        };
        build_deps.extend(run(
            index,
            sdists,
            target,
            roots,
            &[],
            HashMap::new(),
            &opts,
            Some(reason),
        )?);
    }
    pinned.extend(build_deps);
    Ok(pinned)
}

#[allow(clippy::too_many_arguments)]
fn run(
    index: &Arc<IndexClient>,
    sdists: &SdistBuilder,
    target: &Target,
    roots: Vec<(Requirement, String)>,
    constraints: &[Requirement],
    hashes: HashMap<PackageName, Vec<Sha256>>,
    options: &IndexOptions,
    reason: Option<String>,
) -> Result<Vec<Pinned>, ResolveError> {
    let provider = Provider::new(index, sdists, target, roots, constraints, hashes, options);
    let solution = match pubgrub::resolve(&provider, Pkg::Root, root_version()) {
        Ok(s) => s,
        Err(PubGrubError::NoSolution(tree)) => {
            return Err(ResolveError::NoSolution {
                target: target.id(),
                report: report::explain(&provider, target, &tree),
            });
        }
        Err(PubGrubError::ErrorChoosingVersion { source, .. }) => return Err(source),
        Err(PubGrubError::ErrorRetrievingDependencies { source, .. }) => return Err(source),
        Err(PubGrubError::ErrorInShouldCancel(e)) => return Err(e),
    };
    let mut names: Vec<(&Pkg, &Version)> = solution.iter().collect();
    names.sort();
    let mut chosen = Vec::new();
    for (pkg, version) in names {
        let Pkg::Name(name) = pkg else { continue };
        let cand = provider.candidate(name, version)?;
        chosen.push((name.clone(), version.clone(), cand));
    }
    // The chosen sdists, looked into (and pure ones built) side by side: each is mostly waiting on pip.
    let built: Vec<Result<Option<Arc<Built>>, ResolveError>> = std::thread::scope(|s| {
        let handles: Vec<_> = chosen
            .iter()
            .map(|(name, _, cand)| {
                s.spawn(move || {
                    cand.best_is_sdist()
                        .then(|| sdists.build(name, cand.best()))
                        .transpose()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("sdist thread panicked"))
            .collect()
    });
    let mut out = Vec::new();
    for ((name, version, cand), built) in chosen.into_iter().zip(built) {
        out.push(Pinned {
            name,
            version,
            file: cand.best().clone(),
            built: built?,
            requested: false,
            reason: reason.clone(),
            targets: vec![target.id()],
        });
    }
    Ok(out)
}
