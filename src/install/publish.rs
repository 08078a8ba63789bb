//! Publish staged trees with as few renames as possible: a staged tree mirrors its destination root, and every
//! folder whose destination does not exist yet (and that no earlier tree placed) moves in with one rename;
//! only where a folder already exists does the walk go down and place its entries one by one.
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// A staged tree: its root, and the files in it (paths relative to that root, as they are relative to the
/// destination root).
pub struct Tree<'a> {
    pub root: &'a Path,
    pub files: &'a [PathBuf],
}

#[derive(Default)]
struct Node {
    /// `None`: a file.
    children: Option<BTreeMap<std::ffi::OsString, Node>>,
}

impl Node {
    fn dir() -> Self {
        Node {
            children: Some(BTreeMap::new()),
        }
    }
}

/// The renames `(staged, destination)` that publish `trees` into `dest`, in order. `exists` says whether a
/// destination path is present now (a folder being there means "merge into it").
pub fn plan(
    dest: &Path,
    trees: &[Tree<'_>],
    exists: &dyn Fn(&Path) -> bool,
) -> Vec<(PathBuf, PathBuf)> {
    let mut placed_dirs: HashSet<PathBuf> = HashSet::new();
    let mut out = Vec::new();
    for tree in trees {
        let mut root = Node::dir();
        for f in tree.files {
            let mut node = &mut root;
            let parts: Vec<_> = f.components().map(|c| c.as_os_str().to_owned()).collect();
            for (i, part) in parts.iter().enumerate() {
                let children = node.children.get_or_insert_with(BTreeMap::new);
                let last = i + 1 == parts.len();
                node = children.entry(part.clone()).or_insert_with(|| {
                    if last {
                        Node::default()
                    } else {
                        Node::dir()
                    }
                });
            }
        }
        walk(&root, tree.root, dest, exists, &mut placed_dirs, &mut out);
    }
    out
}

fn walk(
    node: &Node,
    staged: &Path,
    dest: &Path,
    exists: &dyn Fn(&Path) -> bool,
    placed_dirs: &mut HashSet<PathBuf>,
    out: &mut Vec<(PathBuf, PathBuf)>,
) {
    let Some(children) = &node.children else {
        return;
    };
    for (name, child) in children {
        let from = staged.join(name);
        let to = dest.join(name);
        match &child.children {
            None => out.push((from, to)),
            Some(_) if placed_dirs.contains(&to) || exists(&to) => {
                walk(child, &from, &to, exists, placed_dirs, out)
            }
            Some(_) => {
                placed_dirs.insert(to.clone());
                out.push((from, to));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_move_whole_unless_present_or_placed() {
        let a_files: Vec<PathBuf> = [
            "lib/site/pkg/__init__.py",
            "lib/site/pkg/sub/m.py",
            "lib/site/ns/a.py",
            "bin/tool",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let b_files: Vec<PathBuf> = ["lib/site/ns/b.py", "lib/site/other.py"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let present: HashSet<PathBuf> = ["/v/lib", "/v/lib/site", "/v/bin"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let trees = [
            Tree {
                root: Path::new("/s/a"),
                files: &a_files,
            },
            Tree {
                root: Path::new("/s/b"),
                files: &b_files,
            },
        ];
        let got = plan(Path::new("/v"), &trees, &|p| present.contains(p));
        let want: Vec<(PathBuf, PathBuf)> = [
            ("/s/a/bin/tool", "/v/bin/tool"),
            ("/s/a/lib/site/ns", "/v/lib/site/ns"),
            ("/s/a/lib/site/pkg", "/v/lib/site/pkg"),
            ("/s/b/lib/site/ns/b.py", "/v/lib/site/ns/b.py"),
            ("/s/b/lib/site/other.py", "/v/lib/site/other.py"),
        ]
        .iter()
        .map(|(a, b)| (PathBuf::from(a), PathBuf::from(b)))
        .collect();
        assert_eq!(got, want);
    }
}
