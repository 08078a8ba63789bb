//! Which files of a project can serve a target, grouped by version, best first.
use std::collections::BTreeMap;
use std::str::FromStr;

use pep440_rs::Version;

use crate::dist::{parse_sdist, WheelFilename};
use crate::fetch::index::Project;
use crate::fetch::simple::DistFile;
use crate::inputs::IndexStrategy;
use crate::target::Tag;
use crate::types::Sha256;

#[derive(Clone, Debug)]
pub struct Candidate {
    pub version: Version,
    /// Rank of the index its files come from (0: the first index that lists the project).
    pub rank: usize,
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
    /// `--prefer-binary`: versions with a usable wheel come before newer versions with only an sdist.
    pub prefer_binary: bool,
    /// `--hash` values: a file whose sha256 the index gives and that is not listed is left out, unless no
    /// file of that version is left (then the hash check after download names the mismatch).
    pub hashes: Option<&'a [Sha256]>,
    pub strategy: IndexStrategy,
}

/// Candidates, highest version first.
pub fn candidates(
    project: &Project,
    tags: &[Tag],
    python: &Version,
    rules: &Rules,
) -> Vec<Candidate> {
    // (index rank, tag rank, file): tag rank = tag priority for wheels, usize::MAX for sdists.
    let mut by_version: BTreeMap<Version, Vec<(usize, usize, DistFile)>> = BTreeMap::new();
    // The first index that lists each version at all (uv's unsafe strategies never look further).
    let mut listed: BTreeMap<Version, usize> = BTreeMap::new();
    let mut others: BTreeMap<Version, Vec<DistFile>> = BTreeMap::new();
    for (i, f) in project.files.iter().enumerate() {
        let index_rank = project.ranks.get(i).copied().unwrap_or(0);
        if let Some(v) = file_version(&f.filename, &project.name) {
            let r = listed.entry(v).or_insert(index_rank);
            *r = (*r).min(index_rank);
        }
        let python_ok = f
            .requires_python
            .as_ref()
            .is_none_or(|rp| rp.contains(python));
        let (version, rank) = if f.filename.ends_with(".whl") {
            let Ok(w) = WheelFilename::from_str(&f.filename) else {
                continue;
            };
            if w.name != project.name {
                continue;
            }
            let rank = w.best_rank(tags).filter(|_| !rules.no_binary && python_ok);
            let Some(rank) = rank else {
                // Not installable here, but its metadata (Requires-Python included) speaks for the sdist.
                if !f.yanked {
                    others.entry(w.version).or_default().push(f.clone());
                }
                continue;
            };
            (w.version, rank)
        } else {
            if rules.only_binary || !python_ok {
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
            .push((index_rank, rank, f.clone()));
    }
    let mut out: Vec<Candidate> = by_version
        .into_iter()
        .rev()
        .map(|(version, mut files)| {
            if let Some(allowed) = rules.hashes {
                // Index-given hashes that are not pinned drop a file, unless that drops every file.
                let pinned = |f: &DistFile| f.sha256.as_ref().is_none_or(|h| allowed.contains(h));
                if files.iter().any(|x| pinned(&x.2)) {
                    files.retain(|x| pinned(&x.2));
                }
            }
            // One index per version: ferry's first-match takes the first index with a usable file, uv's
            // strategies the first index that lists the version.
            let from = match rules.strategy {
                IndexStrategy::FirstMatch | IndexStrategy::FirstIndex => {
                    files.iter().map(|x| x.0).min().unwrap_or(0)
                }
                _ => listed.get(&version).copied().unwrap_or(0),
            };
            files.retain(|x| x.0 == from);
            let yanked = files.iter().all(|x| x.2.yanked);
            if !yanked {
                files.retain(|x| !x.2.yanked);
            }
            files.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.2.filename.cmp(&b.2.filename)));
            let mut other_wheels = others.remove(&version).unwrap_or_default();
            // Wheels for this Python first, then those with a PEP 658 metadata file (one small request).
            other_wheels.sort_by_key(|f| {
                (
                    f.requires_python
                        .as_ref()
                        .is_some_and(|rp| !rp.contains(python)),
                    f.core_metadata.is_none(),
                    f.filename.clone(),
                )
            });
            Candidate {
                version,
                rank: from,
                files: files.into_iter().map(|x| x.2).collect(),
                yanked,
                other_wheels,
            }
        })
        .collect();
    out.retain(|c| !c.files.is_empty());
    let by_index = matches!(
        rules.strategy,
        IndexStrategy::FirstMatch | IndexStrategy::UnsafeFirstMatch
    );
    if by_index || rules.prefer_binary {
        // Every version of the first index before any of the next (stable: highest first within an index);
        // with `--prefer-binary`, within that order versions with a wheel before sdist-only ones.
        out.sort_by_key(|c| {
            (
                if by_index { c.rank } else { Default::default() },
                rules.prefer_binary && c.best_is_sdist(),
            )
        });
    }
    out
}

fn file_version(filename: &str, name: &pep508_rs::PackageName) -> Option<Version> {
    if filename.ends_with(".whl") {
        WheelFilename::from_str(filename)
            .ok()
            .filter(|w| &w.name == name)
            .map(|w| w.version)
    } else {
        parse_sdist(filename, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Target;

    fn file(name: &str, sha: Option<char>) -> DistFile {
        DistFile {
            filename: name.into(),
            url: url::Url::parse(&format!("http://127.0.0.1:1/f/{name}")).unwrap(),
            sha256: sha.map(|c| c.to_string().repeat(64).parse().unwrap()),
            requires_python: None,
            yanked: false,
            core_metadata: None,
            size: None,
        }
    }

    /// numpy on two indexes: 2.0 everywhere on the first, 1.5 for Linux only on the first, 1.5 and 3.0 on
    /// the second.
    fn project() -> Project {
        Project {
            name: "numpy".parse().unwrap(),
            files: vec![
                file("numpy-2.0-py3-none-any.whl", Some('a')),
                file("numpy-1.5-cp310-cp310-manylinux_2_17_x86_64.whl", Some('b')),
                file("numpy-1.5-py3-none-any.whl", Some('c')),
                file("numpy-3.0-py3-none-any.whl", Some('d')),
            ],
            ranks: vec![0, 0, 1, 1],
            index: None,
        }
    }

    fn order(strategy: IndexStrategy, hashes: Option<&[Sha256]>) -> Vec<(String, usize)> {
        let t = Target::new("3.10", vec!["win_amd64".into()]).unwrap();
        let python = Version::from_str("3.10.0").unwrap();
        let rules = Rules {
            hashes,
            strategy,
            ..Rules::default()
        };
        candidates(&project(), &t.tags(), &python, &rules)
            .into_iter()
            .map(|c| (c.version.to_string(), c.rank))
            .collect()
    }

    fn pairs(v: &[(&str, usize)]) -> Vec<(String, usize)> {
        v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
    }

    #[test]
    fn strategies_order_versions_by_index() {
        // first-match: a version the first index has no file for (Windows) comes from the next one.
        assert_eq!(
            order(IndexStrategy::FirstMatch, None),
            pairs(&[("2.0", 0), ("3.0", 1), ("1.5", 1)])
        );
        // uv's unsafe-first-match never reconsiders a version the first index lists.
        assert_eq!(
            order(IndexStrategy::UnsafeFirstMatch, None),
            pairs(&[("2.0", 0), ("3.0", 1)])
        );
        assert_eq!(
            order(IndexStrategy::UnsafeBestMatch, None),
            pairs(&[("3.0", 1), ("2.0", 0)])
        );
    }

    #[test]
    fn pinned_hashes_pick_files_and_never_empty_a_version() {
        let c: Sha256 = "c".repeat(64).parse().unwrap();
        let zero: Sha256 = "0".repeat(64).parse().unwrap();
        let got = order(IndexStrategy::FirstMatch, Some(std::slice::from_ref(&c)));
        assert!(got.contains(&("1.5".to_string(), 1)), "{got:?}");
        // No file matches: the version stays, so the check after download names the mismatch.
        let got = order(IndexStrategy::FirstMatch, Some(std::slice::from_ref(&zero)));
        assert_eq!(got.len(), 3, "{got:?}");
    }
}
