//! Which indexes a project is looked up on, and how pages from several indexes become one list.
//!
//! 1. A package pinned to a named index (manifest `package_indexes:`) comes from that index only.
//! 2. With `--torch-backend`, the PyTorch family comes from `BASE/<backend>/` only, and PyTorch indexes
//!    serve nothing else.
//! 3. Everything else is searched on the named (non-explicit) indexes, the extra indexes, then the default
//!    index, in that order; `--index-strategy` says how pages found on several of them combine (the rank of
//!    each file is the position of its index among the pages found; see `resolve::candidates`).
use url::Url;

use super::simple::DistFile;
use super::sources::{redact, Sources};
use crate::accel::in_torch_family;
use crate::inputs::IndexStrategy;
use crate::types::PackageName;

/// The indexes to ask for one project, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub urls: Vec<Url>,
    /// Stop at the first index that has the project.
    pub first_only: bool,
}

/// `torch`: the PyTorch index of the target being resolved (None without `--torch-backend`).
pub fn lookup(sources: &Sources, name: &PackageName, torch: Option<&Url>) -> Lookup {
    if let Some((_, url)) = sources.pinned.iter().find(|(p, _)| p == name) {
        return Lookup {
            urls: vec![url.clone()],
            first_only: true,
        };
    }
    if let (Some(t), true) = (torch, in_torch_family(name)) {
        return Lookup {
            urls: vec![t.clone()],
            first_only: true,
        };
    }
    Lookup {
        urls: sources.search_order().to_vec(),
        first_only: sources.strategy == IndexStrategy::FirstIndex,
    }
}

/// The cache key of a project: its name and, for the torch family, the PyTorch index it is read from.
pub fn key(name: &PackageName, torch: Option<&Url>) -> (PackageName, Option<Url>) {
    (
        name.clone(),
        torch.filter(|_| in_torch_family(name)).cloned(),
    )
}

/// Pages found, in lookup order → files with the rank of their index, and one warning line when two indexes
/// list the project with different files.
pub fn merge(
    name: &PackageName,
    pages: Vec<(Url, Vec<DistFile>)>,
    strategy: IndexStrategy,
) -> (Vec<DistFile>, Vec<usize>, Option<String>) {
    let warning = pages.iter().skip(1).find_map(|(url, files)| {
        let (first_url, first) = &pages[0];
        (!same_files(first, files)).then(|| {
            let rule = match strategy {
                IndexStrategy::UnsafeBestMatch => "the best version from either",
                _ => "versions from the first one first",
            };
            format!(
                "{name} is on two indexes with different files: {} and {}; taking {rule} (--index-strategy {})",
                redact(first_url),
                redact(url),
                strategy_name(strategy)
            )
        })
    });
    let mut files = Vec::new();
    let mut ranks = Vec::new();
    for (rank, (_, page)) in pages.into_iter().enumerate() {
        ranks.extend(std::iter::repeat_n(rank, page.len()));
        files.extend(page);
    }
    (files, ranks, warning)
}

pub fn strategy_name(s: IndexStrategy) -> &'static str {
    match s {
        IndexStrategy::FirstMatch => "first-match",
        IndexStrategy::FirstIndex => "first-index",
        IndexStrategy::UnsafeFirstMatch => "unsafe-first-match",
        IndexStrategy::UnsafeBestMatch => "unsafe-best-match",
    }
}

/// Same file names, and the same sha256 wherever both pages give one (a mirror of the same index).
fn same_files(a: &[DistFile], b: &[DistFile]) -> bool {
    let mut x: Vec<&str> = a.iter().map(|f| f.filename.as_str()).collect();
    let mut y: Vec<&str> = b.iter().map(|f| f.filename.as_str()).collect();
    x.sort();
    y.sort();
    x == y
        && a.iter().all(|f| {
            b.iter()
                .filter(|g| g.filename == f.filename)
                .all(|g| match (&f.sha256, &g.sha256) {
                    (Some(h1), Some(h2)) => h1 == h2,
                    _ => true,
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> DistFile {
        DistFile {
            filename: name.into(),
            url: Url::parse(&format!("http://127.0.0.1:1/files/{name}")).unwrap(),
            sha256: None,
            requires_python: None,
            yanked: false,
            core_metadata: None,
            size: None,
        }
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn pinned_then_torch_then_search() {
        let torch_ix = url("http://127.0.0.1:2/whl/cu121/");
        let s = Sources {
            arranged: true,
            search: vec![
                url("http://127.0.0.1:1/extra/"),
                url("http://127.0.0.1:1/simple/"),
            ],
            pinned: vec![("xformers".parse().unwrap(), url("http://127.0.0.1:3/x/"))],
            ..Sources::default()
        };
        let name = |n: &str| n.parse::<PackageName>().unwrap();
        assert_eq!(
            lookup(&s, &name("torch"), Some(&torch_ix)).urls,
            std::slice::from_ref(&torch_ix)
        );
        assert_eq!(lookup(&s, &name("torch"), None).urls, s.search);
        assert_eq!(
            lookup(&s, &name("numpy"), Some(&torch_ix)).urls,
            s.search,
            "nothing outside the family comes from the PyTorch index"
        );
        assert_eq!(
            lookup(&s, &name("xformers"), Some(&torch_ix)).urls,
            [url("http://127.0.0.1:3/x/")]
        );
        assert!(!lookup(&s, &name("numpy"), None).first_only);
        assert_eq!(key(&name("numpy"), Some(&torch_ix)).1, None);
        assert_eq!(key(&name("torchvision"), Some(&torch_ix)).1, Some(torch_ix));
    }

    #[test]
    fn one_warning_for_different_files_none_for_a_mirror() {
        let name: PackageName = "numpy".parse().unwrap();
        let a = url("http://127.0.0.1:1/simple/");
        let b = url("http://127.0.0.1:2/simple/");
        let (files, ranks, warning) = merge(
            &name,
            vec![
                (a.clone(), vec![file("numpy-1.24.1-py3-none-any.whl")]),
                (b.clone(), vec![file("numpy-1.26.4-py3-none-any.whl")]),
            ],
            IndexStrategy::FirstMatch,
        );
        assert_eq!(files.len(), 2);
        assert_eq!(ranks, [0, 1]);
        let w = warning.unwrap();
        assert!(w.contains(a.as_str()) && w.contains(b.as_str()), "{w}");
        let (_, _, warning) = merge(
            &name,
            vec![
                (a, vec![file("numpy-1.26.4-py3-none-any.whl")]),
                (b, vec![file("numpy-1.26.4-py3-none-any.whl")]),
            ],
            IndexStrategy::FirstMatch,
        );
        assert!(warning.is_none());
    }
}
