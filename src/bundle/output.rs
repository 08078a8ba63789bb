//! Where `extract` writes: files, folders and symlinks under one destination, remembering the top-level
//! names it created so a failed extraction can be undone.
use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

use super::Error;

/// Where `extract` writes, and what it has created (top-level names), to undo it.
pub(super) struct Output {
    pub(super) dest: PathBuf,
    pub(super) created: BTreeSet<PathBuf>,
}

impl Output {
    pub(super) fn prepare(&mut self, name: &str) -> Result<PathBuf, Error> {
        let top = name.split('/').next().expect("non-empty name");
        self.created.insert(self.dest.join(top));
        let path = self.dest.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        Ok(path)
    }

    pub(super) fn write_small(&mut self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        let mut f = self.create_file(name)?;
        f.write_all(bytes)
            .map_err(|e| Error::io(self.dest.join(name), e))
    }

    pub(super) fn create_file(&mut self, name: &str) -> Result<File, Error> {
        let path = self.prepare(name)?;
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o644);
        options.open(&path).map_err(|e| Error::io(&path, e))
    }

    pub(super) fn make_dir(&mut self, name: &str) -> Result<(), Error> {
        let path = self.prepare(name)?;
        match std::fs::create_dir(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
            Err(e) => Err(Error::io(&path, e)),
        }
    }

    pub(super) fn make_symlink(&mut self, name: &str, target: &str) -> Result<(), Error> {
        let path = self.prepare(name)?;
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(target, &path).map_err(|e| Error::io(&path, e))
        }
        #[cfg(not(unix))]
        {
            let _ = target;
            Err(Error::io(
                &path,
                io::Error::new(io::ErrorKind::Unsupported, "symlinks need a Unix host"),
            ))
        }
    }

    pub(super) fn remove_all(&self) {
        for path in &self.created {
            match std::fs::symlink_metadata(path) {
                Ok(m) if m.is_dir() => {
                    let _ = std::fs::remove_dir_all(path);
                }
                Ok(_) => {
                    let _ = std::fs::remove_file(path);
                }
                Err(_) => {}
            }
        }
    }
}
