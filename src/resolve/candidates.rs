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
    /// `--prefer-binary`: versions with a usable wheel come before newer versions with only an sdist.
    pub prefer_binary: bool,
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
            if rules.no_binary {
                continue;
            }
            let Ok(w) = WheelFilename::from_str(&f.filename) else {
                continue;
            };
            if w.name != project.name {
                continue;
            }
            let Some(rank) = w.best_rank(tags) else {
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
            Candidate {
                version,
                files: files.into_iter().map(|(_, f)| f).collect(),
                yanked,
            }
        })
        .collect();
    out.retain(|c| !c.files.is_empty());
    if rules.prefer_binary {
        // Stable: versions keep their order within each group.
        out.sort_by_key(|c| c.best_is_sdist());
    }
    out
}
