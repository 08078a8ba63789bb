//! pubgrub's view of the index for one target: candidates, priorities and dependencies.
use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use pep440_rs::Version;
use pep508_rs::{ExtraName, MarkerEnvironment, PackageName, Requirement, VersionOrUrl};
use pubgrub::{
    Dependencies, DependencyConstraints, DependencyProvider, PackageResolutionStatistics, Ranges,
};

use super::candidates::{candidates, Candidate, Rules};
use super::ranges;
use super::sdist::SdistBuilder;
use super::ResolveError;
use crate::fetch::index::IndexClient;
use crate::fetch::metadata::Metadata;
use crate::inputs::IndexOptions;
use crate::target::{Tag, Target};
use crate::types::Sha256;

/// A node of the resolution: the user's requirements, a project, or a project with one extra.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pkg {
    Root,
    Name(PackageName),
    Extra(PackageName, ExtraName),
}

impl fmt::Display for Pkg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkg::Root => f.write_str("your requirements"),
            Pkg::Name(n) => write!(f, "{n}"),
            Pkg::Extra(n, e) => write!(f, "{n}[{e}]"),
        }
    }
}

pub fn root_version() -> Version {
    Version::new([0])
}

pub struct Provider<'a> {
    pub index: &'a Arc<IndexClient>,
    pub sdists: &'a SdistBuilder,
    tags: Vec<Tag>,
    env: MarkerEnvironment,
    python: Version,
    roots: Vec<(Requirement, String)>,
    constraints: HashMap<PackageName, Ranges<Version>>,
    hashes: HashMap<PackageName, Vec<Sha256>>,
    /// Packages whose requirements name a pre-release (pip then allows pre-releases for them).
    pre_named: HashSet<PackageName>,
    options: &'a IndexOptions,
    cands: Mutex<HashMap<PackageName, Arc<Vec<Candidate>>>>,
    seen: Mutex<HashMap<PackageName, usize>>,
    /// The target's PyTorch index (`--torch-backend`).
    torch: Option<url::Url>,
    /// First package (or input line) that required each package, for messages.
    pub required_by: Mutex<HashMap<PackageName, String>>,
    /// Every requirement read so far and who wrote it, for error reports.
    pub edges: Mutex<Vec<super::report::Edge>>,
}

impl<'a> Provider<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        index: &'a Arc<IndexClient>,
        sdists: &'a SdistBuilder,
        target: &Target,
        roots: Vec<(Requirement, String)>,
        constraints: &[Requirement],
        hashes: HashMap<PackageName, Vec<Sha256>>,
        options: &'a IndexOptions,
    ) -> Self {
        let env = target.marker_env();
        let python = env.python_full_version().version.clone();
        let mut cons: HashMap<PackageName, Ranges<Version>> = HashMap::new();
        let mut pre_named = HashSet::new();
        for c in constraints {
            if !c.marker.evaluate(&env, &[]) {
                continue;
            }
            if let Some(VersionOrUrl::VersionSpecifier(s)) = &c.version_or_url {
                let r = ranges::from_specifiers(s);
                cons.entry(c.name.clone())
                    .and_modify(|x| *x = x.intersection(&r))
                    .or_insert(r);
                if s.iter().any(|s| s.any_prerelease()) {
                    pre_named.insert(c.name.clone());
                }
            }
        }
        let required_by = roots
            .iter()
            .map(|(r, origin)| (r.name.clone(), origin.clone()))
            .collect();
        for (r, _) in &roots {
            if let Some(VersionOrUrl::VersionSpecifier(s)) = &r.version_or_url {
                if s.iter().any(|s| s.any_prerelease()) {
                    pre_named.insert(r.name.clone());
                }
            }
        }
        Self {
            index,
            sdists,
            tags: target.tags(),
            env,
            python,
            roots,
            constraints: cons,
            hashes,
            pre_named,
            options,
            cands: Mutex::default(),
            seen: Mutex::default(),
            torch: index.sources().torch_for(target).map(|(_, url)| url),
            required_by: Mutex::new(required_by),
            edges: Mutex::default(),
        }
    }

    /// The target's Python version.
    pub fn python(&self) -> &Version {
        &self.python
    }

    /// What may be used for this package (binary rules, hashes).
    pub fn rules(&self, name: &PackageName) -> Rules<'_> {
        Rules {
            only_binary: self.options.only_binary.applies(name),
            no_binary: self.options.no_binary.applies(name),
            prefer_binary: self.options.prefer_binary,
            hashes: self.hashes.get(name).map(Vec::as_slice),
            strategy: self.index.sources().strategy,
        }
    }

    /// The project as resolution sees it (its PyTorch index for the torch family).
    pub fn project_of(
        &self,
        name: &PackageName,
    ) -> Result<Arc<crate::fetch::index::Project>, crate::fetch::index::IndexError> {
        self.index.project_via(name, self.torch.as_ref())
    }

    pub fn candidates(&self, name: &PackageName) -> Result<Arc<Vec<Candidate>>, ResolveError> {
        if let Some(c) = self.cands.lock().unwrap().get(name) {
            return Ok(c.clone());
        }
        let project = self
            .index
            .project_via(name, self.torch.as_ref())
            .map_err(|source| ResolveError::Index {
                context: self.required_by.lock().unwrap().get(name).cloned(),
                source,
            })?;
        let rules = self.rules(name);
        let list = if crate::accel::in_torch_family(name) {
            let tags = crate::accel::with_plain_linux(self.tags.clone());
            candidates(&project, &tags, &self.python, &rules)
        } else {
            candidates(&project, &self.tags, &self.python, &rules)
        };
        let list = Arc::new(list);
        self.cands
            .lock()
            .unwrap()
            .insert(name.clone(), list.clone());
        Ok(list)
    }

    fn allow_pre(&self, name: &PackageName) -> bool {
        self.options.pre || self.pre_named.contains(name)
    }

    pub fn candidate(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Candidate, ResolveError> {
        let list = self.candidates(name)?;
        list.iter()
            .find(|c| &c.version == version)
            .cloned()
            .ok_or_else(|| {
                ResolveError::Other(format!(
                    "{name} {version} vanished from the index during resolution"
                ))
            })
    }

    fn metadata(
        &self,
        name: &PackageName,
        version: &Version,
    ) -> Result<Arc<Metadata>, ResolveError> {
        let cand = self.candidate(name, version)?;
        let file = cand.best();
        if cand.best_is_sdist() {
            let forced = self.options.no_binary.applies(name) && !cand.other_wheels.is_empty();
            return self
                .sdists
                .resolution_metadata(self.index, name, &cand)
                .map_err(|e| match e {
                    ResolveError::Sdist {
                        name,
                        file,
                        message,
                    } if forced => ResolveError::Sdist {
                        name,
                        file,
                        message: format!(
                            "{message} (--no-binary forces a build from source; wheels exist for this version)"
                        ),
                    },
                    e => e,
                });
        }
        self.index
            .metadata(file)
            .map_err(|source| ResolveError::Index {
                context: Some(format!("metadata of {name} {version}")),
                source,
            })
    }

    fn add(
        &self,
        deps: &mut BTreeMap<Pkg, Ranges<Version>>,
        req: &Requirement,
        parent: &str,
        by: Option<(&PackageName, &Version)>,
    ) {
        {
            let mut written = req.clone();
            written.marker = pep508_rs::MarkerTree::TRUE;
            let edge = super::report::Edge {
                child: req.name.clone(),
                requirement: written.to_string(),
                by: by.map(|(n, v)| (n.clone(), v.clone())),
                origin: parent.to_string(),
            };
            let mut edges = self.edges.lock().unwrap();
            if !edges.contains(&edge) {
                edges.push(edge);
            }
        }
        let mut range = match &req.version_or_url {
            Some(VersionOrUrl::VersionSpecifier(s)) => ranges::from_specifiers(s),
            _ => Ranges::full(),
        };
        if let Some(c) = self.constraints.get(&req.name) {
            range = range.intersection(c);
        }
        self.required_by
            .lock()
            .unwrap()
            .entry(req.name.clone())
            .or_insert_with(|| parent.to_string());
        let mut put = |pkg: Pkg| {
            deps.entry(pkg)
                .and_modify(|r: &mut Ranges<Version>| *r = r.intersection(&range))
                .or_insert(range.clone());
        };
        put(Pkg::Name(req.name.clone()));
        for extra in &req.extras {
            put(Pkg::Extra(req.name.clone(), extra.clone()));
        }
    }

    /// Fetch the pages (and the newest usable wheel's metadata) of upcoming packages in the background.
    fn prefetch(&self, names: Vec<PackageName>) {
        let index = Arc::clone(self.index);
        let tags = self.tags.clone();
        let python = self.python.clone();
        let strategy = self.index.sources().strategy;
        for name in names {
            if self.cands.lock().unwrap().contains_key(&name) {
                continue;
            }
            let index = Arc::clone(&index);
            let (tags, python) = (tags.clone(), python.clone());
            let torch = self.torch.clone();
            self.index.spawn(move || {
                let Ok(project) = index.project_via(&name, torch.as_ref()) else {
                    return;
                };
                let rules = Rules {
                    strategy,
                    ..Rules::default()
                };
                let list = candidates(&project, &tags, &python, &rules);
                if let Some(c) = list
                    .iter()
                    .find(|c| !c.yanked && !c.version.any_prerelease() && !c.best_is_sdist())
                {
                    let _ = index.metadata(c.best());
                }
            });
        }
    }
}

impl DependencyProvider for Provider<'_> {
    type P = Pkg;
    type V = Version;
    type VS = Ranges<Version>;
    type M = String;
    type Priority = (u32, Reverse<usize>);
    type Err = ResolveError;

    fn prioritize(
        &self,
        package: &Pkg,
        _range: &Ranges<Version>,
        stats: &PackageResolutionStatistics,
    ) -> Self::Priority {
        let name = match package {
            Pkg::Root => return (u32::MAX, Reverse(0)),
            Pkg::Name(n) | Pkg::Extra(n, _) => n,
        };
        let mut seen = self.seen.lock().unwrap();
        let next = seen.len();
        let order = *seen.entry(name.clone()).or_insert(next);
        (stats.conflict_count(), Reverse(order))
    }

    fn choose_version(
        &self,
        package: &Pkg,
        range: &Ranges<Version>,
    ) -> Result<Option<Version>, ResolveError> {
        let name = match package {
            Pkg::Root => return Ok(Some(root_version())),
            Pkg::Name(n) | Pkg::Extra(n, _) => n,
        };
        let list = self.candidates(name)?;
        let pick = |allow_pre: bool| {
            list.iter()
                .filter(|c| range.contains(&c.version))
                .filter(|c| allow_pre || !c.version.any_prerelease())
                // PEP 592: a yanked release only for a pin that nothing else satisfies.
                .filter(|c| {
                    !c.yanked
                        || range.subset_of(&ranges::from_specifier(
                            &pep440_rs::VersionSpecifier::equals_version(c.version.clone()),
                        ))
                })
                .map(|c| c.version.clone())
                .next()
        };
        // pip: pre-releases only when asked for, named, or when nothing else satisfies.
        Ok(pick(self.allow_pre(name)).or_else(|| pick(true)))
    }

    fn get_dependencies(
        &self,
        package: &Pkg,
        version: &Version,
    ) -> Result<Dependencies<Pkg, Ranges<Version>, String>, ResolveError> {
        let mut deps: BTreeMap<Pkg, Ranges<Version>> = BTreeMap::new();
        match package {
            Pkg::Root => {
                for (r, origin) in &self.roots {
                    self.add(&mut deps, r, origin, None);
                }
            }
            Pkg::Name(name) => {
                let meta = self.metadata(name, version)?;
                // Indexes that do not list Requires-Python (find-links, plain mirrors): the metadata says it.
                if let Some(rp) = &meta.requires_python {
                    if !rp.contains(&self.python) {
                        return Ok(Dependencies::Unavailable(format!("requires Python {rp}")));
                    }
                }
                let parent = format!("required by {name} {version}");
                for r in meta
                    .requires_dist
                    .iter()
                    .filter(|r| r.marker.evaluate(&self.env, &[]))
                {
                    self.add(&mut deps, r, &parent, Some((name, version)));
                }
            }
            Pkg::Extra(name, extra) => {
                deps.insert(Pkg::Name(name.clone()), Ranges::singleton(version.clone()));
                let meta = self.metadata(name, version)?;
                let parent = format!("required by {name}[{extra}] {version}");
                let extras = [extra.clone()];
                for r in meta
                    .requires_dist
                    .iter()
                    .filter(|r| r.marker.evaluate(&self.env, &extras))
                {
                    self.add(&mut deps, r, &parent, Some((name, version)));
                }
            }
        }
        let names: Vec<PackageName> = deps
            .keys()
            .filter_map(|p| match p {
                Pkg::Name(n) => Some(n.clone()),
                _ => None,
            })
            .collect();
        self.prefetch(names);
        Ok(Dependencies::Available(
            deps.into_iter().collect::<DependencyConstraints<_, _>>(),
        ))
    }
}
