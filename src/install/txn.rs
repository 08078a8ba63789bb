//! All or nothing: everything is staged first (in a folder on the destination's filesystem), then switched in
//! with renames. Every step is logged so a failure midway restores the previous state exactly.
use std::path::{Path, PathBuf};

use super::error::{Error, IoContext};
use super::journal::{self, Journal};

/// One step of the switch.
#[derive(Debug)]
enum Op {
    /// Move the staged file (or symlink) `from` to `to`, backing up what `to` held.
    Place { from: PathBuf, to: PathBuf },
    /// Move `path` out of the way (into the backup area).
    Remove { path: PathBuf },
}

/// What was done, to undo it.
#[derive(Debug)]
enum Undo {
    CreatedDir(PathBuf),
    /// `to` was placed; `from` is where it came from.
    Placed {
        from: PathBuf,
        to: PathBuf,
    },
    /// `original` was moved to `backup`.
    MovedAside {
        original: PathBuf,
        backup: PathBuf,
    },
}

/// A staging area plus the ordered renames that publish it.
pub struct Txn {
    /// `None` only while dropping.
    staging: Option<tempfile::TempDir>,
    /// Folders `new` created for the staging area; removed again unless committed.
    base_created: Vec<PathBuf>,
    committed: bool,
    backups: PathBuf,
    removes: Vec<Op>,
    places: Vec<Op>,
    done: Vec<Undo>,
    removed: Vec<PathBuf>,
    fail_after: Option<usize>,
    /// Unit tests: stop after N steps as if killed (no undo).
    #[cfg(test)]
    crash_after: Option<usize>,
}

/// Test hook: fail after N commit steps (`FERRY_TEST_FAIL_AFTER=N`). Debug builds only: a release build
/// never reads it.
#[cfg(debug_assertions)]
fn fail_after_from_env() -> Option<usize> {
    std::env::var("FERRY_TEST_FAIL_AFTER")
        .ok()
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(not(debug_assertions))]
fn fail_after_from_env() -> Option<usize> {
    None
}

impl Txn {
    /// Start a transaction whose staging folder lives inside `dir` (created if needed, and removed again on
    /// rollback when it was created here).
    pub fn new(dir: &Path) -> Result<Self, Error> {
        journal::recover(dir)?;
        let mut created = Vec::new();
        create_dirs(dir, &mut created)?;
        let staging = tempfile::Builder::new()
            .prefix(journal::STAGING_PREFIX)
            .tempdir_in(dir)
            .at(dir)?;
        journal::claim(staging.path())?;
        let backups = staging.path().join(".backup");
        std::fs::create_dir(&backups).at(&backups)?;
        Ok(Self {
            staging: Some(staging),
            base_created: created,
            committed: false,
            backups,
            removes: Vec::new(),
            places: Vec::new(),
            done: Vec::new(),
            removed: Vec::new(),
            fail_after: fail_after_from_env(),
            #[cfg(test)]
            crash_after: None,
        })
    }

    /// The folder to stage files in.
    pub fn staging(&self) -> &Path {
        self.staging
            .as_ref()
            .expect("staging lives until drop")
            .path()
    }

    /// Publish `from` (inside the staging folder) as `to`.
    pub fn place(&mut self, from: PathBuf, to: PathBuf) {
        self.places.push(Op::Place { from, to });
    }

    /// Remove `path` (an installed file being replaced); undone on failure.
    pub fn remove(&mut self, path: PathBuf) {
        self.removes.push(Op::Remove { path });
    }

    pub fn is_empty(&self) -> bool {
        self.removes.is_empty() && self.places.is_empty()
    }

    /// Run every step and publish; on failure everything is undone. Removals run first, then placements.
    /// Returns the paths removed.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, Error> {
        let mut steps = 0;
        self.apply(&mut steps)?;
        Ok(self.finish())
    }

    /// Run every step, counting them in `steps` (shared by several transactions for the test hook). On
    /// failure this transaction's steps are undone before the error is returned; [`Txn::undo`] undoes a
    /// successful apply (when a later transaction fails); [`Txn::finish`] makes it final.
    pub fn apply(&mut self, steps: &mut usize) -> Result<(), Error> {
        let ops: Vec<(Op, usize, PathBuf)> = std::mem::take(&mut self.removes)
            .into_iter()
            .chain(std::mem::take(&mut self.places))
            .map(|op| {
                let step = *steps;
                *steps += 1;
                (op, step, self.backups.join(step.to_string()))
            })
            .collect();
        journal::write(self.staging(), &self.journal(&ops))?;
        for (op, step, backup) in ops {
            #[cfg(test)]
            if self.crash_after == Some(step) {
                return Err(Error::Injected(step));
            }
            let result = if self.fail_after == Some(step) {
                Err(Error::Injected(step))
            } else {
                if let Op::Remove { path } = &op {
                    self.removed.push(path.clone());
                }
                self.apply_one(op, backup)
            };
            if let Err(err) = result {
                return Err(match self.undo() {
                    Ok(()) => err,
                    Err(rb) => Error::RollbackFailed {
                        why: err.to_string(),
                        rollback: rb.to_string(),
                    },
                });
            }
        }
        Ok(())
    }

    /// The plan of renames, written before the first one so a crash can be rolled back.
    fn journal(&self, ops: &[(Op, usize, PathBuf)]) -> Journal {
        let mut new_dirs = Vec::new();
        for (op, _, _) in ops {
            if let Op::Place { to, .. } = op {
                let mut cur = to.parent();
                while let Some(d) = cur {
                    if d.as_os_str().is_empty() || new_dirs.iter().any(|n| n == d) || d.exists() {
                        break;
                    }
                    new_dirs.push(d.to_path_buf());
                    cur = d.parent();
                }
            }
        }
        new_dirs.sort_by_key(|d| d.components().count());
        let entries = ops
            .iter()
            .map(|(op, _, backup)| match op {
                Op::Place { from, to } => journal::Entry::Place {
                    from: from.clone(),
                    to: to.clone(),
                    backup: backup.clone(),
                },
                Op::Remove { path } => journal::Entry::Remove {
                    path: path.clone(),
                    backup: backup.clone(),
                },
            })
            .collect();
        Journal { entries, new_dirs }
    }

    /// Keep what was applied; returns the paths removed.
    pub fn finish(mut self) -> Vec<PathBuf> {
        journal::discard(self.staging());
        self.committed = true;
        std::mem::take(&mut self.removed)
    }

    fn apply_one(&mut self, op: Op, backup: PathBuf) -> Result<(), Error> {
        match op {
            Op::Remove { path } => {
                if std::fs::symlink_metadata(&path).is_ok() {
                    std::fs::rename(&path, &backup).at(&path)?;
                    self.done.push(Undo::MovedAside {
                        original: path,
                        backup,
                    });
                }
            }
            Op::Place { from, to } => {
                if let Some(parent) = to.parent() {
                    let mut created = Vec::new();
                    let res = create_dirs(parent, &mut created);
                    self.done.extend(created.into_iter().map(Undo::CreatedDir));
                    res?;
                }
                if let Ok(meta) = std::fs::symlink_metadata(&to) {
                    if meta.is_dir() {
                        return Err(Error::io(
                            &to,
                            std::io::Error::other("a directory is in the way of a file"),
                        ));
                    }
                    std::fs::rename(&to, &backup).at(&to)?;
                    self.done.push(Undo::MovedAside {
                        original: to.clone(),
                        backup,
                    });
                }
                std::fs::rename(&from, &to).at(&to)?;
                self.done.push(Undo::Placed { from, to });
            }
        }
        Ok(())
    }

    /// Undo every logged step, newest first. Keeps going past errors and reports the first.
    pub fn undo(&mut self) -> Result<(), Error> {
        self.removed.clear();
        let mut first = None;
        while let Some(undo) = self.done.pop() {
            let res = match undo {
                Undo::CreatedDir(dir) => match std::fs::remove_dir(&dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&dir, e)),
                    _ => Ok(()),
                },
                Undo::Placed { from, to } => std::fs::rename(&to, &from).at(&to),
                Undo::MovedAside { original, backup } => {
                    std::fs::rename(&backup, &original).at(&original)
                }
            };
            if let (Err(e), None) = (res, &first) {
                first = Some(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

impl Drop for Txn {
    fn drop(&mut self) {
        drop(self.staging.take());
        if !self.committed {
            for dir in self.base_created.iter().rev() {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Create `dir` and its missing parents, logging each folder created (outermost first).
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> Result<(), Error> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    for d in missing.into_iter().rev() {
        match std::fs::create_dir(&d) {
            Ok(()) => created.push(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(&d, e)),
        }
    }
    Ok(())
}

/// Remove folders left empty by removed files, walking up to (not including) `stop`.
pub fn prune_empty_parents(removed: &[PathBuf], stop: &Path) {
    let mut dirs: Vec<PathBuf> = removed
        .iter()
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    dirs.sort();
    dirs.dedup();
    // Deepest first so children go before parents.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for dir in dirs {
        let mut cur = Some(dir.as_path());
        while let Some(d) = cur {
            if d == stop || !d.starts_with(stop) || std::fs::remove_dir(d).is_err() {
                break;
            }
            cur = d.parent();
        }
    }
}

/// Free bytes on the filesystem holding `path` (None when unknown).
pub fn free_space(path: &Path) -> Option<u64> {
    let mut probe = Some(path);
    while let Some(p) = probe {
        if p.exists() {
            break;
        }
        probe = p.parent();
    }
    let out = std::process::Command::new("df")
        .arg("-Pk")
        .arg(probe?)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().nth(1)?;
    let kb: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kb * 1024)
}

/// Fail early when `needed` bytes will not fit at `path`.
pub fn check_space(path: &Path, needed: u64) -> Result<(), Error> {
    match free_space(path) {
        Some(available) if available < needed => Err(Error::NoSpace {
            path: path.to_path_buf(),
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollback_restores_everything() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("old"), b"old").unwrap();
        std::fs::write(root.join("keep"), b"keep").unwrap();
        let mut txn = Txn::new(&root).unwrap();
        let a = txn.staging().join("a");
        std::fs::write(&a, b"new").unwrap();
        txn.remove(root.join("old"));
        txn.place(a, root.join("x/y/keep"));
        let b = txn.staging().join("b");
        std::fs::write(&b, b"replaced").unwrap();
        txn.place(b, root.join("keep"));
        txn.fail_after = Some(2);
        assert!(matches!(txn.commit(), Err(Error::Injected(2))));
        let mut names: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["keep", "old"]);
        assert_eq!(std::fs::read(root.join("keep")).unwrap(), b"keep");
    }

    #[test]
    fn a_crash_midway_is_rolled_back_by_the_next_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("lib")).unwrap();
        std::fs::write(root.join("lib/old"), b"old").unwrap();
        std::fs::write(root.join("keep"), b"keep").unwrap();
        let snapshot = |root: &Path| {
            let mut v = Vec::new();
            let mut stack = vec![root.to_path_buf()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).unwrap().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p.clone());
                        v.push((p, Vec::new()));
                    } else {
                        v.push((p.clone(), std::fs::read(&p).unwrap()));
                    }
                }
            }
            v.sort();
            v
        };
        let before = snapshot(&root);
        for crash_at in 0..4 {
            let mut txn = Txn::new(&root).unwrap();
            let a = txn.staging().join("a");
            std::fs::write(&a, b"new").unwrap();
            let b = txn.staging().join("b");
            std::fs::write(&b, b"replaced").unwrap();
            txn.remove(root.join("lib/old"));
            txn.place(a, root.join("new/deep/file"));
            txn.place(b, root.join("keep"));
            txn.crash_after = Some(crash_at);
            let mut steps = 0;
            // Step 3 is past the last rename: killed between the switch and `finish`.
            assert_eq!(txn.apply(&mut steps).is_err(), crash_at < 3);
            // Killed: no undo, no cleanup; and the owner is gone.
            let staging = txn.staging().to_path_buf();
            std::mem::forget(txn);
            let dead = (1_000_000u32..).find(|p| !Path::new(&format!("/proc/{p}")).exists());
            std::fs::write(staging.join("owner.pid"), dead.unwrap().to_string()).unwrap();
            drop(Txn::new(&root).unwrap());
            assert_eq!(before, snapshot(&root), "crash after step {crash_at}");
        }
    }

    #[test]
    fn commit_then_prune() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("p/q")).unwrap();
        std::fs::write(root.join("p/q/f"), b"f").unwrap();
        let mut txn = Txn::new(root).unwrap();
        let a = txn.staging().join("a");
        std::fs::write(&a, b"new").unwrap();
        txn.remove(root.join("p/q/f"));
        txn.place(a, root.join("n/f"));
        let removed = txn.commit().unwrap();
        prune_empty_parents(&removed, root);
        assert!(!root.join("p").exists());
        assert_eq!(std::fs::read(root.join("n/f")).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(root).unwrap().count(), 1);
    }
}
