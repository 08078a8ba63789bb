//! Which files of a project can serve a target, grouped by version, best first.
use std::collections::BTreeMap;
use std::str::FromStr;

use pep440_rs::Version;

use crate::dist::{parse_sdist, WheelFilename};
use crate::fetch::index::Project;
use crate::fetch::simple::DistFile;
use crate::target::Tag;
use crate::types::Sha256;

#[derive(Clone, Debug)]
pub struct Candidate {
    pub version: Version,
    /// Usable files, best first: wheels by tag priority, then sdists.
    pub files: Vec<DistFile>,
    /// Every usable file of this version is yanked (PEP 592): only an exact pin may pick it.
    pub yanked: bool,
    /// Wheels of this version the target cannot install (other platforms, or refused by `--no-binary`):
    /// their metadata stands for the sdist's, as all wheels of one version share it.
    pub other_wheels: Vec<DistFile>,
}

impl Candidate {
    pub fn best(&self) -> &DistFile {
        &self.files[0]
    }
    pub fn best_is_sdist(&self) -> bool {
        !self.files[0].filename.ends_with(".whl")
    }
}

/// What may be used for this package.
#[derive(Clone, Debug, Default)]
pub struct Rules<'a> {
    pub only_binary: bool,
    pub no_binary: bool,
    /// `--hash` values: a file qualifies only when its sha256 is known and listed.
    pub hashes: Option<&'a [Sha256]>,
}

/// Candidates, highest version first.
pub fn candidates(
    project: &Project,
    tags: &[Tag],
    python: &Version,
    rules: &Rules,
) -> Vec<Candidate> {
    // (rank, file): rank = tag priority for wheels, usize::MAX for sdists.
    let mut by_version: BTreeMap<Version, Vec<(usize, DistFile)>> = BTreeMap::new();
    let mut others: BTreeMap<Version, Vec<DistFile>> = BTreeMap::new();
    for f in &project.files {
        if let Some(rp) = &f.requires_python {
            if !rp.contains(python) {
                continue;
            }
        }
        if let Some(allowed) = rules.hashes {
            match &f.sha256 {
                Some(h) if allowed.contains(h) => {}
                // Hash unknown from the index: keep it; the download is checked against the pins.
                None => {}
                Some(_) => continue,
            }
        }
        let (version, rank) = if f.filename.ends_with(".whl") {
            let Ok(w) = WheelFilename::from_str(&f.filename) else {
                continue;
            };
            if w.name != project.name {
                continue;
            }
            let rank = w.best_rank(tags).filter(|_| !rules.no_binary);
            let Some(rank) = rank else {
                if !f.yanked {
                    others.entry(w.version).or_default().push(f.clone());
                }
                continue;
            };
            (w.version, rank)
        } else {
            if rules.only_binary {
                continue;
            }
            let Some(v) = parse_sdist(&f.filename, &project.name) else {
                continue;
            };
            (v, usize::MAX)
        };
        by_version
            .entry(version)
            .or_default()
            .push((rank, f.clone()));
    }
    let mut out: Vec<Candidate> = by_version
        .into_iter()
        .rev()
        .map(|(version, mut files)| {
            let yanked = files.iter().all(|(_, f)| f.yanked);
            if !yanked {
                files.retain(|(_, f)| !f.yanked);
            }
            files.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.filename.cmp(&b.1.filename)));
            let mut other_wheels = others.remove(&version).unwrap_or_default();
            // Wheels with a PEP 658 metadata file first: one small request.
            other_wheels.sort_by_key(|f| (f.core_metadata.is_none(), f.filename.clone()));
            Candidate {
                version,
                files: files.into_iter().map(|(_, f)| f).collect(),
                yanked,
                other_wheels,
            }
        })
        .collect();
    out.retain(|c| !c.files.is_empty());
    out
}
