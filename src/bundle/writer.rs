//! Writing a bundle: `ferry.json`, `SHA256SUMS`, `SHA256SUMS.minisig`, then every member sorted by path with
//! explicit folders, fixed owner/modes/mtime. File data is copied by the kernel (`copy_file_range`) and the
//! bytes that landed in the bundle are hashed; a file that no longer matches its sha256 or size aborts the
//! write, and nothing appears under the output name.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

use super::hashing::RegionHasher;
use super::layout::{self, check_member_name, check_symlink, MANIFEST, SUMS, SUMS_SIG};
use super::sign::{KeyId, SecretKey};
use super::volumes::{CopyError, VolumeWriter};
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

/// Bytes per `copy_file_range` round when copying a file into the bundle; each round goes to the hasher
/// as one region.
const COPY_CHUNK: u64 = 8 << 20;

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
    let volumes = pack(
        VolumeWriter::new(out, split)?,
        first,
        plan,
        out,
        mtime,
        packed,
    )?;
    let bytes = volumes.total();
    Ok((volumes.commit()?, bytes))
}

/// A member whose bytes in the bundle are being hashed.
struct Check {
    member: String,
    path: PathBuf,
    sha256: Sha256,
    size: u64,
}

/// Write the tar into `volumes` and fsync it; every file's bytes *in the bundle* hashed (read back from the
/// page cache on another thread while the next file is copied) unless this process hashed the very same
/// file (same identity, see [`crate::hashed`]) moments before. Returns the volumes, not yet renamed.
fn pack(
    volumes: VolumeWriter,
    first: [&[u8]; 3],
    plan: &BTreeMap<String, Planned>,
    out: &Path,
    mtime: u64,
    packed: &dyn Fn(u64),
) -> Result<VolumeWriter, Error> {
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, volumes));
    let io_err = |e: io::Error| Error::io(out, e);
    for (name, bytes) in [MANIFEST, SUMS, SUMS_SIG].into_iter().zip(first) {
        let mut h = header(EntryType::Regular, FILE_MODE, bytes.len() as u64, mtime);
        tar.append_data(&mut h, name, bytes).map_err(io_err)?;
    }
    let mut hasher = RegionHasher::<Check>::new();
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
                let file = File::open(path).map_err(|e| Error::io(path, e))?;
                let meta = file.metadata().map_err(|e| Error::io(path, e))?;
                let hashed_before = crate::hashed::lookup(path, &meta).as_ref() == Some(sha256);
                // The ferry binary (`--with-ferry`) runs straight after `tar x`.
                let mode = if name.starts_with("ferry/") {
                    EXEC_MODE
                } else {
                    FILE_MODE
                };
                let mut h = header(EntryType::Regular, mode, *size, mtime);
                // The header (and any long-name entry) through tar, the data by the kernel from the source
                // file into the volume, in chunks that go to the hasher as they land.
                tar.append_data(&mut h, name, io::empty()).map_err(io_err)?;
                let output = tar.get_mut();
                output.flush().map_err(io_err)?;
                let volumes = output.get_mut();
                let mut held = Vec::new();
                let mut copied = 0u64;
                while copied < *size {
                    let want = (*size - copied).min(COPY_CHUNK);
                    let regions = volumes
                        .copy_from(&file, copied, want)
                        .map_err(|e| match e {
                            CopyError::Source(e) => Error::io(path, e),
                            CopyError::Output(e) => Error::io(out, e),
                        })?;
                    let n: u64 = regions.iter().map(|r| r.len).sum();
                    for r in regions {
                        match hashed_before {
                            true => held.push(r),
                            false => hasher.region(r),
                        }
                    }
                    if n == 0 {
                        break;
                    }
                    copied += n;
                    packed(n);
                }
                let now = file.metadata().map_err(|e| Error::io(path, e))?;
                let check = Check {
                    member: name.clone(),
                    path: path.clone(),
                    sha256: sha256.clone(),
                    size: *size,
                };
                let resized = copied != *size || now.len() != *size;
                // Hashed before and untouched since (the identity covers any write): no second hash.
                let skip = hashed_before
                    && !resized
                    && crate::hashed::lookup(path, &now).as_ref() == Some(sha256);
                if !skip {
                    held.into_iter().for_each(|r| hasher.region(r));
                    hasher.end(check);
                }
                if resized {
                    // It shrank or grew while it was copied: say so, with the hash of what the bundle got.
                    return Err(failure_of_last(&mut hasher, out, now.len()));
                }
                let padding = (512 - size % 512) % 512;
                tar.get_mut()
                    .write_all(&[0u8; 512][..padding as usize])
                    .map_err(io_err)?;
                while let Some((check, result)) = hasher.ready() {
                    verdict(check, result, out)?;
                }
            }
        }
    }
    tar.finish().map_err(io_err)?;
    let mut volumes = tar
        .into_inner()
        .map_err(io_err)?
        .into_inner()
        .map_err(|e| io_err(e.into_error()))?;
    // The fsync runs while the hasher finishes the last files; nothing is renamed before both are done.
    volumes.sync()?;
    while let Some((check, result)) = hasher.wait() {
        verdict(check, result, out)?;
    }
    Ok(volumes)
}

/// A member's digest and length in the bundle against what the lock says.
fn verdict(check: Check, result: io::Result<(Sha256, u64)>, out: &Path) -> Result<(), Error> {
    let (actual, len) = result.map_err(|e| Error::io(out, e))?;
    if actual == check.sha256 && len == check.size {
        return Ok(());
    }
    let actual_size = std::fs::metadata(&check.path).map_or(len, |m| m.len());
    Err(changed(check, actual, actual_size))
}

/// The error for the last item given to `hasher`, a file whose size changed (earlier failures first).
fn failure_of_last(hasher: &mut RegionHasher<Check>, out: &Path, actual_size: u64) -> Error {
    loop {
        let (check, result) = hasher.wait().expect("the resized file is pending");
        let last = hasher.wait_is_empty();
        match (last, result) {
            (_, Err(e)) => return Error::io(out, e),
            (false, Ok(r)) => {
                if let Err(e) = verdict(check, Ok(r), out) {
                    return e;
                }
            }
            (true, Ok((actual, _))) => return changed(check, actual, actual_size),
        }
    }
}

fn changed(check: Check, actual: Sha256, actual_size: u64) -> Error {
    Error::SourceChanged {
        path: check.path,
        member: check.member,
        expected: check.sha256,
        expected_size: check.size,
        actual,
        actual_size,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: [&[u8]; 3] = [b"{}\n", b"sums\n", b"sig\n"];

    fn bytes(seed: u8, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 13) as u8)
            .collect()
    }

    /// Files of awkward sizes (empty, under a block, over a copy chunk), one with a GNU long name.
    fn entries(dir: &Path) -> Vec<Entry> {
        let long = format!(
            "models/hub/models--o--n/snapshots/{}/x.json",
            "a".repeat(90)
        );
        let files = [
            (
                "wheels/a-1.0-py3-none-any.whl".to_string(),
                bytes(1, 70_001),
            ),
            ("wheels/empty.whl".to_string(), Vec::new()),
            (
                "models/hub/models--o--n/blobs/big".to_string(),
                bytes(2, 9 << 20 | 7),
            ),
            (long, bytes(3, 513)),
        ];
        files
            .into_iter()
            .enumerate()
            .map(|(i, (member, data))| {
                let path = dir.join(format!("src{i}"));
                std::fs::write(&path, &data).unwrap();
                Entry::File {
                    member,
                    sha256: Sha256::digest(&data),
                    size: data.len() as u64,
                    path,
                }
            })
            .collect()
    }

    /// Pack with or without `copy_file_range`; the stream (volumes concatenated) and the bytes the kernel copied.
    fn pack_to(
        entries: Vec<Entry>,
        out: &Path,
        split: Option<u64>,
        kernel: bool,
    ) -> Result<(Vec<u8>, usize, u64), Error> {
        let plan = plan(entries)?;
        let mut volumes = VolumeWriter::new(out, split)?;
        if !kernel {
            volumes = volumes.without_kernel_copy();
        }
        let volumes = pack(volumes, FIRST, &plan, out, 1_700_000_000, &|_| {})?;
        let kernel_copied = volumes.kernel_copied();
        let names = volumes.commit()?;
        let mut stream = Vec::new();
        for n in &names {
            stream.extend(std::fs::read(n).unwrap());
        }
        Ok((stream, names.len(), kernel_copied))
    }

    #[test]
    fn kernel_copy_and_read_write_give_the_same_bytes_whole_and_split() {
        let dir = tempfile::tempdir().unwrap();
        let entries = entries(dir.path());
        let (a, parts_a, copied_a) =
            pack_to(entries.clone(), &dir.path().join("a.tar"), None, true).unwrap();
        let (b, parts_b, copied_b) =
            pack_to(entries.clone(), &dir.path().join("b.tar"), None, false).unwrap();
        assert_eq!((parts_a, parts_b), (1, 1));
        assert!(a == b, "copy_file_range and read/write bundles differ");
        assert_eq!(copied_b, 0);
        if cfg!(target_os = "linux") {
            assert_eq!(
                copied_a,
                70_001 + (9 << 20 | 7) + 513,
                "the kernel copied the data"
            );
        }
        // Volumes of 1 MiB + 3: the 9 MiB member spans ten of them, at odd offsets.
        let split = Some((1 << 20) + 3);
        let (c, parts_c, _) =
            pack_to(entries.clone(), &dir.path().join("c.tar"), split, true).unwrap();
        let (d, parts_d, _) = pack_to(entries, &dir.path().join("d.tar"), split, false).unwrap();
        assert!(parts_c > 9 && parts_c == parts_d, "{parts_c} {parts_d}");
        assert!(
            c == a && d == a,
            "split volumes do not concatenate to the tar"
        );
        let mut tar = tar::Archive::new(&a[..]);
        let names: Vec<String> = tar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            names
                .iter()
                .any(|n| n.ends_with("/x.json") && n.len() > 100),
            "{names:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_file_hashed_moments_before_is_not_hashed_again_unless_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("blob");
        std::fs::write(&src, b"what is on disk").unwrap();
        // The registry says this file, as it is now, hashes to the sha256 of other bytes: the writer trusts
        // it (proof that it skipped the hash), which it only does for a file this process just hashed.
        let claimed = Sha256::digest(b"what was hashed");
        let meta = std::fs::metadata(&src).unwrap();
        crate::hashed::record(
            &src,
            crate::hashed::Identity::of(&meta).unwrap(),
            claimed.clone(),
        );
        let entry = Entry::File {
            member: "files/blob".into(),
            path: src.clone(),
            sha256: claimed,
            size: 15,
        };
        let out = dir.path().join("skip.tar");
        pack_to(vec![entry.clone()], &out, None, true).unwrap();
        assert!(out.exists());

        // Rewritten with the same size and its mtime put back: the ctime moved, so it is hashed, and refused.
        let mtime = meta.modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&src, b"WHAT IS ON DISK").unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&src).unwrap();
        f.set_modified(mtime).unwrap();
        drop(f);
        let out = dir.path().join("refused.tar");
        let err = pack_to(vec![entry], &out, None, true).unwrap_err();
        assert!(matches!(err, Error::SourceChanged { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("files/blob") && text.contains(&*src.to_string_lossy()),
            "{text}"
        );
        assert!(!out.exists());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("ferry-partial"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_file_that_grew_or_shrank_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for (i, len) in [10usize, 30].into_iter().enumerate() {
            let src = dir.path().join(format!("f{i}"));
            std::fs::write(&src, vec![7u8; len]).unwrap();
            let entry = Entry::File {
                member: format!("files/f{i}"),
                path: src,
                sha256: Sha256::digest(&[7u8; 20]),
                size: 20,
            };
            let out = dir.path().join(format!("o{i}.tar"));
            let err = pack_to(vec![entry], &out, Some(4096), true).unwrap_err();
            match &err {
                Error::SourceChanged { actual_size, .. } => assert_eq!(*actual_size, len as u64),
                other => panic!("{other}"),
            }
            assert!(!out.exists() && !volume_name_exists(&out));
        }
    }

    fn volume_name_exists(out: &Path) -> bool {
        super::super::volumes::volume_name(out, 0).exists()
    }
}
