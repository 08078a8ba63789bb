//! Writing a bundle: `ferry.json`, `SHA256SUMS`, `SHA256SUMS.minisig`, then every member sorted by path with
//! explicit folders, fixed owner/modes/mtime. Files are hashed while they are copied; a file that no longer
//! matches its sha256 or size aborts the write, and nothing appears under the output name.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::hashing::HashPipe;
use super::layout::{self, check_member_name, check_symlink, MANIFEST, SUMS, SUMS_SIG};
use super::sign::{KeyId, SecretKey};
use super::volumes::VolumeWriter;
use super::Error;
use crate::lock::Lock;
use crate::types::Sha256;

/// A member to put in the bundle besides the three top-level files. Folders are added by the writer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A regular file copied from `path`, which must still have this sha256 and size.
    File {
        member: String,
        path: PathBuf,
        sha256: Sha256,
        size: u64,
    },
    /// A relative symlink (Hugging Face snapshots → blobs), inside its own repo folder.
    Symlink { member: String, target: String },
}

impl Entry {
    pub fn member(&self) -> &str {
        match self {
            Entry::File { member, .. } | Entry::Symlink { member, .. } => member,
        }
    }
}

#[derive(Clone, Debug)]
pub struct WriteOptions {
    /// Every member's mtime (SOURCE_DATE_EPOCH or the lock's `created`).
    pub mtime: u64,
    /// Split into volumes of at most this many bytes (capped at 4 GiB − 1).
    pub split: Option<u64>,
    /// minisign trusted comment; keep wall-clock time out of it for reproducible bundles.
    pub trusted_comment: String,
}

#[derive(Clone, Debug)]
pub struct WriteSummary {
    /// The files written: the bundle, or its volumes in order.
    pub volumes: Vec<PathBuf>,
    /// Number of tar members, folders included.
    pub members: usize,
    /// Length of the tar stream.
    pub bytes: u64,
    pub key_id: KeyId,
}

enum Planned {
    Dir,
    File {
        path: PathBuf,
        sha256: Sha256,
        size: u64,
    },
    Symlink(String),
}

/// Read size when copying a file into the bundle (one syscall and one hand-off to the hasher per chunk).
const COPY_CHUNK: usize = 1 << 20;

const FILE_MODE: u32 = 0o644;
const EXEC_MODE: u32 = 0o755;
const DIR_MODE: u32 = 0o755;
const LINK_MODE: u32 = 0o777;

/// Write a signed bundle of `lock` and `entries` to `out` (or its volumes `out.000`, … with `opts.split`).
pub fn write(
    lock: &Lock,
    entries: Vec<Entry>,
    key: &SecretKey,
    out: &Path,
    opts: &WriteOptions,
) -> Result<WriteSummary, Error> {
    write_reporting(lock, entries, key, out, opts, &|_| {})
}

/// [`write`], calling `packed(n)` after each chunk of `n` file bytes went into the bundle (progress).
pub fn write_reporting(
    lock: &Lock,
    entries: Vec<Entry>,
    key: &SecretKey,
    out: &Path,
    opts: &WriteOptions,
    packed: &dyn Fn(u64),
) -> Result<WriteSummary, Error> {
    let mut lock = lock.clone();
    lock.normalize();
    let manifest = lock.to_json();
    let plan = plan(entries)?;

    let mut sums = BTreeMap::new();
    let mut sized = BTreeMap::new();
    let manifest_sha = Sha256::digest(manifest.as_bytes());
    sums.insert(MANIFEST.to_string(), manifest_sha.clone());
    sized.insert(MANIFEST.to_string(), (manifest_sha, manifest.len() as u64));
    let mut links = BTreeMap::new();
    for (name, planned) in &plan {
        match planned {
            Planned::File { sha256, size, .. } => {
                sums.insert(name.clone(), sha256.clone());
                sized.insert(name.clone(), (sha256.clone(), *size));
            }
            Planned::Symlink(target) => {
                links.insert(name.clone(), target.clone());
            }
            Planned::Dir => {}
        }
    }
    layout::check_manifest(&lock, &sized, &links)
        .map_err(|(member, message)| Error::InvalidEntry { member, message })?;
    let sums_text = layout::format_sums(&sums);
    let signature = key.sign(sums_text.as_bytes(), &opts.trusted_comment)?;

    let (volumes, bytes) = write_tar(
        [
            manifest.as_bytes(),
            sums_text.as_bytes(),
            signature.as_bytes(),
        ],
        &plan,
        out,
        opts.mtime,
        opts.split,
        packed,
    )?;
    Ok(WriteSummary {
        volumes,
        members: 3 + plan.len(),
        bytes,
        key_id: key.key_id(),
    })
}

/// Write the bundle again from its three signed top-level files and its other members, byte for byte as
/// [`write`] wrote it (`pull` from a registry uses this). Returns the files written and the stream length;
/// the caller compares them with what was published.
pub fn rebuild(
    first: [&[u8]; 3],
    entries: Vec<Entry>,
    out: &Path,
    mtime: u64,
    split: Option<u64>,
) -> Result<(Vec<PathBuf>, u64), Error> {
    let plan = plan(entries)?;
    write_tar(first, &plan, out, mtime, split, &|_| {})
}

/// The tar itself: the three top-level files, then the planned members in order.
fn write_tar(
    first: [&[u8]; 3],
    plan: &BTreeMap<String, Planned>,
    out: &Path,
    mtime: u64,
    split: Option<u64>,
    packed: &dyn Fn(u64),
) -> Result<(Vec<PathBuf>, u64), Error> {
    let volumes = VolumeWriter::new(out, split)?;
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, volumes));
    let io_err = |e: io::Error| Error::io(out, e);
    for (name, bytes) in [MANIFEST, SUMS, SUMS_SIG].into_iter().zip(first) {
        let mut h = header(EntryType::Regular, FILE_MODE, bytes.len() as u64, mtime);
        tar.append_data(&mut h, name, bytes).map_err(io_err)?;
    }
    let mut pipe = HashPipe::new();
    let mut buf = Vec::with_capacity(COPY_CHUNK);
    for (name, planned) in plan {
        match planned {
            Planned::Dir => {
                let mut h = header(EntryType::Directory, DIR_MODE, 0, mtime);
                tar.append_data(&mut h, format!("{name}/"), io::empty())
                    .map_err(io_err)?;
            }
            Planned::Symlink(target) => {
                let mut h = header(EntryType::Symlink, LINK_MODE, 0, mtime);
                tar.append_link(&mut h, name, target).map_err(io_err)?;
            }
            Planned::File { path, sha256, size } => {
                let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
                // The ferry binary (`--with-ferry`) runs straight after `tar x`.
                let mode = if name.starts_with("ferry/") {
                    EXEC_MODE
                } else {
                    FILE_MODE
                };
                let mut h = header(EntryType::Regular, mode, *size, mtime);
                // The header (and any long-name entry) through tar, the data straight to the output: large
                // reads, each buffer written and then handed to the hasher thread without another copy.
                tar.append_data(&mut h, name, io::empty()).map_err(io_err)?;
                let output = tar.get_mut();
                let mut copied = 0u64;
                while copied < *size {
                    // Buffers come back from the hasher at their old length: no zero-fill per chunk.
                    buf.resize((*size - copied).min(COPY_CHUNK as u64) as usize, 0);
                    let n = read_full(&mut file, &mut buf).map_err(|e| Error::io(path, e))?;
                    if n == 0 {
                        break;
                    }
                    buf.truncate(n);
                    output.write_all(&buf).map_err(io_err)?;
                    copied += n as u64;
                    packed(n as u64);
                    buf = pipe.feed_owned(std::mem::take(&mut buf));
                }
                let (actual, actual_size) = pipe.finish();
                let grew = file.read(&mut [0u8; 1]).map_err(|e| Error::io(path, e))? > 0;
                if actual_size == *size && !grew {
                    let padding = (512 - actual_size % 512) % 512;
                    output
                        .write_all(&[0u8; 512][..padding as usize])
                        .map_err(io_err)?;
                }
                if actual != *sha256 || actual_size != *size || grew {
                    let actual_size = std::fs::metadata(path).map_or(actual_size, |m| m.len());
                    return Err(Error::SourceChanged {
                        path: path.clone(),
                        expected: sha256.clone(),
                        expected_size: *size,
                        actual,
                        actual_size,
                    });
                }
            }
        }
    }
    tar.finish().map_err(io_err)?;
    let volumes = tar
        .into_inner()
        .map_err(io_err)?
        .into_inner()
        .map_err(|e| io_err(e.into_error()))?;
    let bytes = volumes.total();
    let volumes = volumes.commit()?;
    Ok((volumes, bytes))
}

/// Validate the entries and add their folders; sorted by path.
fn plan(entries: Vec<Entry>) -> Result<BTreeMap<String, Planned>, Error> {
    let invalid = |member: &str, message: String| Error::InvalidEntry {
        member: member.to_string(),
        message,
    };
    let mut plan = BTreeMap::new();
    for entry in entries {
        let name = entry.member().to_string();
        check_member_name(&name).map_err(|e| invalid(&name, e))?;
        if layout::must_be_folder(&name) {
            return Err(invalid(&name, "must be a folder".into()));
        }
        if [MANIFEST, SUMS, SUMS_SIG].contains(&name.as_str()) {
            return Err(invalid(&name, "written by the bundle writer itself".into()));
        }
        let planned = match entry {
            Entry::File {
                path, sha256, size, ..
            } => Planned::File { path, sha256, size },
            Entry::Symlink { target, .. } => {
                check_symlink(&name, &target).map_err(|e| invalid(&name, e))?;
                Planned::Symlink(target)
            }
        };
        if plan.insert(name.clone(), planned).is_some() {
            return Err(invalid(&name, "listed twice".into()));
        }
    }
    let names: Vec<String> = plan.keys().cloned().collect();
    for name in &names {
        for dir in layout::ancestors(name) {
            match plan.get(dir) {
                None => {
                    plan.insert(dir.to_string(), Planned::Dir);
                }
                Some(Planned::Dir) => {}
                Some(_) => return Err(invalid(name, format!("'{dir}' is not a folder"))),
            }
        }
    }
    Ok(plan)
}

/// A GNU header with ferry's fixed fields: owner 0/0 with empty names, no atime/ctime.
fn header(kind: EntryType, mode: u32, size: u64, mtime: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h
}

/// Fill `buf` from `file` (one `read` per chunk when the file allows); fewer bytes only at its end.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
