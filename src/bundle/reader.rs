//! Reading a bundle: the first three members (`ferry.json`, `SHA256SUMS`, its signature), the signature checked
//! against the public key before anything else, then every member checked for a safe name and hashed. [`extract`]
//! hashes each file while it is read and written, in one streaming pass; [`verify`] walks the headers (seeking
//! over the data) and then hashes the files in parallel straight from the volumes, one file per core.
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use tar::EntryType;

use super::hashing::HashPipe;
use super::layout::{self, check_member_name, check_symlink, MANIFEST, SUMS, SUMS_SIG};
use super::output::Output;
use super::seek_volumes::{next_volume, SeekVolumes};
use super::sign::{self, SignatureError};
use super::volumes::{self, VolumeIoError, VolumeReader};

use super::Error;
use crate::lock::Lock;
use crate::types::Sha256;

const MAX_MANIFEST: u64 = 256 << 20;
const MAX_SIGNATURE: u64 = 64 << 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberKind {
    File,
    Dir,
    Symlink,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub path: String,
    pub kind: MemberKind,
    pub size: u64,
    pub sha256: Option<Sha256>,
    pub link_target: Option<String>,
    /// Where the member's data starts in the tar stream (0 for folders and symlinks): serving reads it there.
    pub offset: u64,
}

/// A bundle whose signature and every hash checked out.
#[derive(Clone, Debug)]
pub struct Verified {
    pub lock: Lock,
    /// Key id of the signer, as minisign prints it.
    pub key_id: String,
    /// Every member in archive order.
    pub members: Vec<Member>,
}

/// The first members of a bundle, read without verification (for `inspect`).
#[derive(Clone, Debug)]
pub struct Front {
    pub lock: Lock,
    /// Key id named by the signature (not checked).
    pub signer_key_id: String,
    pub sums: BTreeMap<String, Sha256>,
    pub volumes: Vec<PathBuf>,
    /// Length of the whole tar stream.
    pub bytes: u64,
}

/// Check the signature and every member; writes nothing.
pub fn verify(bundle: &Path, public_key: &Path) -> Result<Verified, Error> {
    verify_reporting(bundle, public_key, &|_| {})
}

/// [`verify`], calling `checked(n)` as `n` more bytes of file data have been hashed (progress).
pub fn verify_reporting(
    bundle: &Path,
    public_key: &Path,
    checked: &(dyn Fn(u64) + Sync),
) -> Result<Verified, Error> {
    let key = sign::load_public_key(public_key)?;
    Pass::open(bundle)?.run(&key, None, checked)
}

/// Verify and write the members into `dest` (a fresh folder made by the caller). On failure everything written
/// is removed again.
pub fn extract(bundle: &Path, public_key: &Path, dest: &Path) -> Result<Verified, Error> {
    extract_reporting(bundle, public_key, dest, &|_| {})
}

/// [`extract`], calling `written(n)` as `n` more bytes of file data have been checked and written.
pub fn extract_reporting(
    bundle: &Path,
    public_key: &Path,
    dest: &Path,
    written: &(dyn Fn(u64) + Sync),
) -> Result<Verified, Error> {
    let key = sign::load_public_key(public_key)?;
    let mut listing = std::fs::read_dir(dest).map_err(|e| Error::io(dest, e))?;
    if listing.next().is_some() {
        return Err(Error::io(
            dest,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "extract needs an empty staging folder",
            ),
        ));
    }
    let mut out = Output {
        dest: dest.to_path_buf(),
        created: BTreeSet::new(),
    };
    let result = Pass::open(bundle).and_then(|pass| pass.run(&key, Some(&mut out), written));
    if result.is_err() {
        out.remove_all();
    }
    result
}

/// `ferry.json` of a bundle, unverified.
pub fn read_manifest(bundle: &Path) -> Result<Lock, Error> {
    read_front(bundle).map(|f| f.lock)
}

/// The first three members of a bundle, unverified.
pub fn read_front(bundle: &Path) -> Result<Front, Error> {
    let pass = Pass::open(bundle)?;
    let bundle = pass.bundle.clone();
    let volumes = pass.volumes.clone();
    let bytes = pass.total_len;
    let split = pass.split;
    let mut archive = tar::Archive::new(pass.reader);
    let mut entries = archive
        .entries_with_seek()
        .map_err(|e| map_io(&bundle, e))?;
    let mut ctx = Ctx::new(&bundle, bytes, volumes.clone());
    let (manifest, _) = ctx.read_small(&mut entries, MANIFEST, MAX_MANIFEST)?;
    let (sums, _) = ctx.read_small(&mut entries, SUMS, MAX_MANIFEST)?;
    let (signature, _) = ctx.read_small(&mut entries, SUMS_SIG, MAX_SIGNATURE)?;
    let signer_key_id = sign::signature_key_id(&text(&bundle, SUMS_SIG, signature)?)
        .map_err(|e| ctx.bad(SUMS_SIG, e.to_string()))?
        .to_string();
    let sums = layout::parse_sums(&text(&bundle, SUMS, sums)?).map_err(|e| ctx.bad(SUMS, e))?;
    let lock = parse_lock(&ctx, manifest)?;
    // Walk the remaining headers (seeking over the data): a bundle cut short is refused here, not shown.
    let mut last = SUMS_SIG.to_string();
    for entry in entries {
        let entry = entry.map_err(|_| ctx.truncated(&last, 512, 0, split))?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let (start, size) = (entry.raw_file_position(), entry.size());
        if start + size > bytes {
            return Err(ctx.truncated(&name, size, bytes.saturating_sub(start), split));
        }
        last = name;
    }
    Ok(Front {
        lock,
        signer_key_id,
        sums,
        volumes,
        bytes,
    })
}

/// Every member in archive order with its data offset and its sha256 (from SHA256SUMS for files, computed for
/// the first three), checked for safe names as always but NOT verified: `push` lets the registry check each
/// digest, `verify` is the way to trust a bundle.
pub fn list(bundle: &Path) -> Result<Vec<Member>, Error> {
    let pass = Pass::open(bundle)?;
    let bundle = pass.bundle.clone();
    let mut ctx = Ctx::new(&bundle, pass.total_len, pass.volumes.clone());
    let mut archive = tar::Archive::new(pass.reader);
    let mut entries = archive
        .entries_with_seek()
        .map_err(|e| map_io(&bundle, e))?;
    let mut members = Vec::new();
    let mut sums = BTreeMap::new();
    for name in [MANIFEST, SUMS, SUMS_SIG] {
        let (bytes, mut member) = ctx.read_small(&mut entries, name, MAX_MANIFEST)?;
        member.sha256 = Some(Sha256::digest(&bytes));
        if name == SUMS {
            sums =
                layout::parse_sums(&text(&bundle, SUMS, bytes)?).map_err(|e| ctx.bad(SUMS, e))?;
        }
        members.push(member);
    }
    for entry in entries {
        let entry = entry.map_err(|e| map_io(&bundle, e))?;
        let mut entry = entry;
        let (name, kind, size) = ctx.admit(&mut entry)?;
        let link_target = match kind {
            MemberKind::Symlink => Some(ctx.link_target(&entry, &name)?),
            _ => None,
        };
        let sha256 = match kind {
            MemberKind::File => Some(
                sums.get(&name)
                    .cloned()
                    .ok_or_else(|| ctx.bad(&name, format!("not listed in {SUMS}")))?,
            ),
            _ => None,
        };
        let offset = if kind == MemberKind::File {
            entry.raw_file_position()
        } else {
            0
        };
        members.push(Member {
            path: name,
            kind,
            size,
            sha256,
            link_target,
            offset,
        });
    }
    Ok(members)
}

struct Pass {
    bundle: PathBuf,
    volumes: Vec<PathBuf>,
    total_len: u64,
    split: bool,
    reader: SeekVolumes,
}

impl Pass {
    fn open(bundle: &Path) -> Result<Self, Error> {
        let volumes = volumes::resolve(bundle)?;
        let stream = VolumeReader::open(volumes.clone())?;
        let reader = SeekVolumes::open(stream.parts())?;
        let split = stream.is_split();
        Ok(Pass {
            bundle: bundle.to_path_buf(),
            total_len: stream.total_len(),
            volumes,
            split,
            reader,
        })
    }

    fn run(
        self,
        key: &sign::PublicKey,
        mut out: Option<&mut Output>,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> Result<Verified, Error> {
        let bundle = self.bundle.clone();
        let split = self.split;
        let parts = Arc::clone(&self.reader.parts);
        let mut ctx = Ctx::new(&bundle, self.total_len, self.volumes.clone());
        let mut archive = tar::Archive::new(self.reader);
        // With nothing to write, file data is skipped here and hashed afterwards, in parallel.
        let mut entries = archive
            .entries_with_seek()
            .map_err(|e| map_io(&bundle, e))?;
        let mut deferred: Vec<Deferred> = Vec::new();

        let (manifest, m0) = ctx.read_small(&mut entries, MANIFEST, MAX_MANIFEST)?;
        let (sums_bytes, m1) = ctx.read_small(&mut entries, SUMS, MAX_MANIFEST)?;
        let (signature, m2) = ctx.read_small(&mut entries, SUMS_SIG, MAX_SIGNATURE)?;

        // The signature first: nothing else is trusted before it checks out.
        let signature_text = text(&bundle, SUMS_SIG, signature.clone())?;
        key.verify(&sums_bytes, &signature_text)
            .map_err(|e| match e {
                SignatureError::WrongKey { signed_by } => Error::WrongKey {
                    bundle: bundle.clone(),
                    bundle_key: signed_by.to_string(),
                    key_path: key.path().to_path_buf(),
                    given_key: key.key_id().to_string(),
                },
                other => Error::BadSignature {
                    bundle: bundle.clone(),
                    message: other.to_string(),
                },
            })?;
        let sums = layout::parse_sums(&text(&bundle, SUMS, sums_bytes.clone())?)
            .map_err(|e| ctx.bad(SUMS, e))?;
        let manifest_sha = Sha256::digest(&manifest);
        match sums.get(MANIFEST) {
            Some(listed) if *listed == manifest_sha => {}
            Some(listed) => {
                return Err(Error::HashMismatch {
                    bundle,
                    member: MANIFEST.into(),
                    expected: listed.clone(),
                    actual: manifest_sha,
                })
            }
            None => return Err(ctx.bad(MANIFEST, format!("not listed in {SUMS}"))),
        }
        let lock = parse_lock(&ctx, manifest.clone())?;

        if let Some(out) = out.as_deref_mut() {
            out.write_small(MANIFEST, &manifest)?;
            out.write_small(SUMS, &sums_bytes)?;
            out.write_small(SUMS_SIG, &signature)?;
        }
        let mut members = vec![m0, m1, m2];
        let mut sized = BTreeMap::new();
        sized.insert(MANIFEST.to_string(), (manifest_sha, manifest.len() as u64));
        members[0].sha256 = sums.get(MANIFEST).cloned();

        let mut pipe = HashPipe::new();
        let mut buf = vec![0u8; 256 << 10];
        for entry in entries.by_ref() {
            let mut entry = entry.map_err(|e| map_io(&bundle, e))?;
            let (name, kind, size) = ctx.admit(&mut entry)?;
            let member = match kind {
                MemberKind::Dir => {
                    if let Some(out) = out.as_deref_mut() {
                        out.make_dir(&name)?;
                    }
                    Member {
                        path: name,
                        kind,
                        size: 0,
                        sha256: None,
                        link_target: None,
                        offset: 0,
                    }
                }
                MemberKind::Symlink => {
                    let target = ctx.link_target(&entry, &name)?;
                    if let Some(out) = out.as_deref_mut() {
                        out.make_symlink(&name, &target)?;
                    }
                    Member {
                        path: name,
                        kind,
                        size: 0,
                        sha256: None,
                        link_target: Some(target),
                        offset: 0,
                    }
                }
                MemberKind::File if out.is_none() => {
                    let Some(expected) = sums.get(&name) else {
                        return Err(ctx.bad(&name, format!("not listed in {SUMS}")));
                    };
                    let offset = entry.raw_file_position();
                    deferred.push(Deferred {
                        index: members.len(),
                        offset,
                        expected: expected.clone(),
                    });
                    Member {
                        path: name,
                        kind,
                        size,
                        sha256: None,
                        link_target: None,
                        offset,
                    }
                }
                MemberKind::File => {
                    let Some(expected) = sums.get(&name) else {
                        return Err(ctx.bad(&name, format!("not listed in {SUMS}")));
                    };
                    let mut file = match out.as_deref_mut() {
                        Some(out) => Some(out.create_file(&name)?),
                        None => None,
                    };
                    let offset = entry.raw_file_position();
                    let mut copied = 0u64;
                    loop {
                        let n = match entry.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                            Err(e) => return Err(map_io(&bundle, e)),
                        };
                        if let (Some(f), Some(out)) = (file.as_mut(), out.as_deref()) {
                            f.write_all(&buf[..n])
                                .map_err(|e| Error::io(out.dest.join(&name), e))?;
                        }
                        pipe.feed(&buf[..n]);
                        copied += n as u64;
                        on_bytes(n as u64);
                    }
                    let (actual, _) = pipe.finish();
                    if copied != size {
                        return Err(ctx.truncated(&name, size, copied, split));
                    }
                    if actual != *expected {
                        return Err(Error::HashMismatch {
                            bundle,
                            member: name,
                            expected: expected.clone(),
                            actual,
                        });
                    }
                    sized.insert(name.clone(), (actual.clone(), size));
                    Member {
                        path: name,
                        kind,
                        size,
                        sha256: Some(actual),
                        link_target: None,
                        offset,
                    }
                }
            };
            members.push(member);
        }
        ctx.check_end(archive.into_inner(), split)?;

        // Biggest first, so the cores finish together; results are checked in archive order.
        let mut order: Vec<usize> = (0..deferred.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(members[deferred[i].index].size));
        let mut hashed: Vec<(usize, io::Result<(Sha256, u64)>)> = order
            .into_par_iter()
            .map(|i| {
                let d = &deferred[i];
                let hashed = parts.hash_range(d.offset, members[d.index].size);
                on_bytes(members[d.index].size);
                (i, hashed)
            })
            .collect();
        hashed.sort_by_key(|(i, _)| *i);
        for (d, (_, result)) in deferred.iter().zip(hashed) {
            let member = &mut members[d.index];
            let (actual, copied) = result.map_err(|e| map_io(&bundle, e))?;
            if copied != member.size {
                return Err(ctx.truncated(&member.path, member.size, copied, split));
            }
            if actual != d.expected {
                return Err(Error::HashMismatch {
                    bundle,
                    member: member.path.clone(),
                    expected: d.expected.clone(),
                    actual,
                });
            }
            sized.insert(member.path.clone(), (actual.clone(), member.size));
            member.sha256 = Some(actual);
        }

        for name in sums.keys() {
            if !sized.contains_key(name) {
                return Err(ctx.bad(name, format!("listed in {SUMS} but not in the bundle")));
            }
        }
        let links: BTreeMap<String, String> = members
            .iter()
            .filter_map(|m| Some((m.path.clone(), m.link_target.clone()?)))
            .collect();
        layout::check_manifest(&lock, &sized, &links)
            .map_err(|(member, message)| ctx.bad(&member, message))?;
        Ok(Verified {
            lock,
            key_id: key.key_id().to_string(),
            members,
        })
    }
}

/// What one pass has seen so far, for the member checks.
struct Ctx {
    bundle: PathBuf,
    total_len: u64,
    volumes: Vec<PathBuf>,
    names: HashSet<String>,
    folders_used: HashSet<String>,
    symlinks: HashSet<String>,
    files: HashSet<String>,
}

impl Ctx {
    fn new(bundle: &Path, total_len: u64, volumes: Vec<PathBuf>) -> Self {
        Ctx {
            bundle: bundle.to_path_buf(),
            total_len,
            volumes,
            names: HashSet::new(),
            folders_used: HashSet::new(),
            symlinks: HashSet::new(),
            files: HashSet::new(),
        }
    }

    fn unsafe_member(&self, member: &str, reason: impl Into<String>) -> Error {
        Error::UnsafeMember {
            bundle: self.bundle.clone(),
            member: member.to_string(),
            reason: reason.into(),
        }
    }

    fn bad(&self, member: &str, message: impl Into<String>) -> Error {
        Error::BadMember {
            bundle: self.bundle.clone(),
            member: member.to_string(),
            message: message.into(),
        }
    }

    fn truncated(&self, member: &str, size: u64, got: u64, split: bool) -> Error {
        if split {
            if let Some(last) = self.volumes.last() {
                return Error::MissingVolume {
                    first: self.volumes[0].clone(),
                    missing: next_volume(last),
                };
            }
        }
        self.bad(
            member,
            format!(
                "the bundle is truncated: it ends inside this member ({} of {} present); copy the whole file again",
                super::human_size(got),
                super::human_size(size)
            ),
        )
    }

    /// One of the first three members, read whole.
    fn read_small<R: Read>(
        &mut self,
        entries: &mut tar::Entries<'_, R>,
        expected: &str,
        limit: u64,
    ) -> Result<(Vec<u8>, Member), Error> {
        let mut entry = match entries.next() {
            Some(entry) => entry.map_err(|e| map_io(&self.bundle, e))?,
            None => {
                return Err(Error::Malformed {
                    bundle: self.bundle.clone(),
                    message: format!(
                        "{expected} missing (it must be among the first three members)"
                    ),
                })
            }
        };
        let (name, kind, size) = self.admit(&mut entry)?;
        let offset = entry.raw_file_position();
        if name != expected || kind != MemberKind::File {
            return Err(self.unsafe_member(
                &name,
                format!("expected {expected} here: the first members must be {MANIFEST}, {SUMS}, {SUMS_SIG}"),
            ));
        }
        if size > limit {
            return Err(self.bad(&name, format!("{size} bytes is too large")));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry
            .read_to_end(&mut data)
            .map_err(|e| map_io(&self.bundle, e))?;
        if data.len() as u64 != size {
            return Err(self.truncated(&name, size, data.len() as u64, self.volumes.len() > 1));
        }
        let member = Member {
            path: name,
            kind,
            size,
            sha256: None,
            link_target: None,
            offset,
        };
        Ok((data, member))
    }

    /// Decide whether a member may be read at all: its type, every name it carries, its place in the tree and
    /// its declared size. Returns the effective name (no trailing slash), kind and size.
    fn admit<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(String, MemberKind, u64), Error> {
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let entry_type = entry.header().entry_type();
        let kind = match entry_type {
            EntryType::Regular => MemberKind::File,
            EntryType::Directory => MemberKind::Dir,
            EntryType::Symlink => MemberKind::Symlink,
            EntryType::Link => return Err(self.unsafe_member(&raw_name, "hard link")),
            EntryType::Char | EntryType::Block => {
                return Err(self.unsafe_member(&raw_name, "device file"))
            }
            EntryType::Fifo => return Err(self.unsafe_member(&raw_name, "fifo")),
            other => {
                return Err(self.unsafe_member(
                    &raw_name,
                    format!("unsupported tar entry type {:?}", other.as_byte() as char),
                ))
            }
        };
        let name = std::str::from_utf8(&entry.path_bytes())
            .map_err(|_| self.unsafe_member(&raw_name, "name is not UTF-8"))?
            .to_string();
        // Every name the member carries must be safe, whichever a tool would pick.
        let header_name = String::from_utf8_lossy(&entry.header().path_bytes()).into_owned();
        if header_name.starts_with('/') || header_name.split('/').any(|p| p == "..") {
            return Err(self.unsafe_member(&name, format!("header name '{header_name}' is unsafe")));
        }
        let header_size = entry.header().entry_size().ok();
        let link = entry.link_name_bytes().map(|l| l.into_owned());
        if let Some(pax) = entry
            .pax_extensions()
            .map_err(|e| map_io(&self.bundle, e))?
        {
            for ext in pax {
                let ext = ext.map_err(|e| map_io(&self.bundle, e))?;
                let key = ext.key().unwrap_or("");
                let value = String::from_utf8_lossy(ext.value_bytes());
                if key == "path" && value.trim_end_matches('/') != name.trim_end_matches('/') {
                    return Err(self.unsafe_member(
                        &name,
                        format!("PAX path '{value}' disagrees with the member name"),
                    ));
                }
                if key == "linkpath" && link.as_deref() != Some(ext.value_bytes()) {
                    return Err(self.unsafe_member(
                        &name,
                        format!("PAX linkpath '{value}' disagrees with the link name"),
                    ));
                }
                if key == "size" && value.parse::<u64>().ok() != header_size {
                    return Err(self.unsafe_member(
                        &name,
                        format!("PAX size {value} disagrees with the header's size"),
                    ));
                }
                if key.starts_with("GNU.sparse") {
                    return Err(self.unsafe_member(&name, "sparse file"));
                }
            }
        }
        let name = match kind {
            MemberKind::Dir => name.strip_suffix('/').unwrap_or(&name).to_string(),
            _ => name,
        };
        check_member_name(&name).map_err(|reason| self.unsafe_member(&name, reason))?;
        if !self.names.insert(name.clone()) {
            return Err(self.unsafe_member(&name, "duplicate member"));
        }
        if let Some(link) = layout::ancestors(&name).find(|a| self.symlinks.contains(*a)) {
            return Err(self.unsafe_member(&name, format!("inside symlink '{link}'")));
        }
        if let Some(file) = layout::ancestors(&name).find(|a| self.files.contains(*a)) {
            return Err(self.unsafe_member(&name, format!("inside file '{file}'")));
        }
        if kind != MemberKind::Dir
            && (self.folders_used.contains(&name) || layout::must_be_folder(&name))
        {
            return Err(self.unsafe_member(&name, "takes the place of a folder"));
        }
        for folder in layout::ancestors(&name) {
            self.folders_used.insert(folder.to_string());
        }
        match kind {
            MemberKind::Symlink => self.symlinks.insert(name.clone()),
            MemberKind::File => self.files.insert(name.clone()),
            MemberKind::Dir => false,
        };
        let size = entry.size();
        if kind != MemberKind::File && size != 0 {
            return Err(self.unsafe_member(&name, format!("{kind:?} member carries {size} bytes")));
        }
        let end = entry.raw_file_position().checked_add(size);
        if end.is_none_or(|end| end > self.total_len) {
            if self.volumes.len() > 1 || self.volumes[0].to_string_lossy().ends_with(".000") {
                return Err(self.truncated(&name, size, 0, true));
            }
            return Err(self.unsafe_member(
                &name,
                format!(
                    "the bundle is truncated (or this header lies): the member needs {}, only {} remain",
                    super::human_size(size),
                    super::human_size(
                        self.total_len
                            .saturating_sub(entry.raw_file_position())
                    )
                ),
            ));
        }
        Ok((name, kind, size))
    }

    fn link_target<R: Read>(&self, entry: &tar::Entry<'_, R>, name: &str) -> Result<String, Error> {
        let bytes = entry
            .link_name_bytes()
            .ok_or_else(|| self.unsafe_member(name, "symlink without a target"))?;
        let target = std::str::from_utf8(&bytes)
            .map_err(|_| self.unsafe_member(name, "symlink target is not UTF-8"))?
            .to_string();
        check_symlink(name, &target).map_err(|reason| self.unsafe_member(name, reason))?;
        if let Some(raw) = entry.header().link_name_bytes() {
            let raw = String::from_utf8_lossy(&raw);
            if raw.starts_with('/') || (!target.starts_with(&*raw) && raw != target) {
                return Err(self.unsafe_member(
                    name,
                    format!("header link name '{raw}' disagrees with '{target}'"),
                ));
            }
        }
        Ok(target)
    }

    /// A tar ends with two zero blocks; the reader has consumed the first. Without the second, the stream
    /// stopped early: a missing last volume or a cut file.
    fn check_end(&self, mut rest: impl Read, split: bool) -> Result<(), Error> {
        let mut tail = Vec::new();
        (&mut rest)
            .take(512)
            .read_to_end(&mut tail)
            .map_err(|e| map_io(&self.bundle, e))?;
        if tail.len() == 512 && tail.iter().all(|b| *b == 0) {
            return Ok(());
        }
        if split && tail.is_empty() {
            let last = self.volumes.last().expect("a volume");
            return Err(Error::MissingVolume {
                first: self.volumes[0].clone(),
                missing: next_volume(last),
            });
        }
        Err(Error::Malformed {
            bundle: self.bundle.clone(),
            message: "the archive does not end with an end-of-archive marker (cut short?)".into(),
        })
    }
}

/// A file member whose hash [`verify`] checks after the header pass.
struct Deferred {
    /// Its place in `members`.
    index: usize,
    /// Where its data starts in the tar stream.
    offset: u64,
    expected: Sha256,
}

fn text(bundle: &Path, member: &str, bytes: Vec<u8>) -> Result<String, Error> {
    String::from_utf8(bytes).map_err(|_| Error::BadMember {
        bundle: bundle.to_path_buf(),
        member: member.to_string(),
        message: "not UTF-8 text".into(),
    })
}

fn parse_lock(ctx: &Ctx, manifest: Vec<u8>) -> Result<Lock, Error> {
    let text = text(&ctx.bundle, MANIFEST, manifest)?;
    Lock::from_json(&text).map_err(|e| ctx.bad(MANIFEST, format!("invalid: {e}")))
}

/// I/O errors of the volume files are plain I/O errors; anything else the tar reader reports means the archive
/// itself is malformed.
fn map_io(bundle: &Path, e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<VolumeIoError>()) {
        let inner = e.into_inner().expect("checked");
        let v = inner.downcast::<VolumeIoError>().expect("checked");
        return Error::io(v.path, v.source);
    }
    Error::Malformed {
        bundle: bundle.to_path_buf(),
        message: e.to_string(),
    }
}
