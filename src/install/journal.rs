//! Crash safety for [`super::txn`]: before the first rename, the whole plan of renames is written to
//! `journal.json` in the staging folder (fsynced). If the process dies midway (kill, power loss), the next
//! install into the same folder finds the leftover staging folder and rolls it back from the journal and the
//! state of the filesystem alone. `finish` deletes the journal first, so a completed switch is never undone.
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::{Error, IoContext};

pub const STAGING_PREFIX: &str = ".ferry-staging-";
const JOURNAL: &str = "journal.json";
const OWNER: &str = "owner.pid";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Entry {
    /// `from` → `to`; what `to` held goes to `backup` first.
    Place {
        from: PathBuf,
        to: PathBuf,
        backup: PathBuf,
    },
    /// `path` → `backup`.
    Remove { path: PathBuf, backup: PathBuf },
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Journal {
    pub entries: Vec<Entry>,
    /// Folders that did not exist when the switch started (outermost first).
    pub new_dirs: Vec<PathBuf>,
}

/// Write the journal durably into `staging`.
pub fn write(staging: &Path, journal: &Journal) -> Result<(), Error> {
    let path = staging.join(JOURNAL);
    let text =
        serde_json::to_vec(journal).map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
    let tmp = staging.join(".journal.tmp");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&tmp).at(&tmp)?;
        f.write_all(&text).at(&tmp)?;
        f.sync_all().at(&tmp)?;
    }
    std::fs::rename(&tmp, &path).at(&path)
}

/// Mark the switch complete: without a journal a leftover staging folder is only garbage.
pub fn discard(staging: &Path) {
    let _ = std::fs::remove_file(staging.join(JOURNAL));
}

/// Record which process owns a staging folder.
pub fn claim(staging: &Path) -> Result<(), Error> {
    let path = staging.join(OWNER);
    std::fs::write(&path, std::process::id().to_string()).at(&path)
}

fn owner_alive(staging: &Path) -> Option<bool> {
    let pid: u32 = std::fs::read_to_string(staging.join(OWNER))
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let proc = Path::new("/proc");
    proc.is_dir().then(|| proc.join(pid.to_string()).exists())
}

fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

/// Roll back interrupted switches left in `dir` by dead processes, and delete their staging folders.
/// Returns how many were rolled back.
pub fn recover(dir: &Path) -> Result<usize, Error> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(0);
    };
    let mut recovered = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let staging = e.path();
        if !name.starts_with(STAGING_PREFIX) || !staging.is_dir() {
            continue;
        }
        // Only folders whose owner is known to be gone (Linux /proc); elsewhere leave them alone.
        if owner_alive(&staging) != Some(false) {
            continue;
        }
        if let Ok(text) = std::fs::read(staging.join(JOURNAL)) {
            let journal: Journal = serde_json::from_slice(&text)
                .map_err(|err| Error::io(staging.join(JOURNAL), std::io::Error::other(err)))?;
            tracing::warn!(
                "rolling back an interrupted install left in {}",
                staging.display()
            );
            roll_back(&journal)?;
            recovered += 1;
        }
        std::fs::remove_dir_all(&staging).at(&staging)?;
    }
    Ok(recovered)
}

/// Undo from the journal and what is on disk: each step is either not started, half done or done.
fn roll_back(journal: &Journal) -> Result<(), Error> {
    for entry in journal.entries.iter().rev() {
        match entry {
            Entry::Place { from, to, backup } => {
                if !exists(from) && exists(to) {
                    std::fs::rename(to, from).at(to)?;
                }
                if exists(backup) && !exists(to) {
                    std::fs::rename(backup, to).at(to)?;
                }
            }
            Entry::Remove { path, backup } => {
                if exists(backup) && !exists(path) {
                    std::fs::rename(backup, path).at(path)?;
                }
            }
        }
    }
    for dir in journal.new_dirs.iter().rev() {
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}
