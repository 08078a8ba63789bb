//! Native PEP 427 wheel installer: validate every member path and the wheel's own RECORD, unpack into a staging
//! folder (in parallel), map `.data/` schemes, rewrite `#!python`, generate entry-point launchers, and write
//! INSTALLER, REQUESTED and a fresh RECORD. Nothing touches the venv here: [`super::txn`] publishes the result.
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;
use sha2::Digest;

use super::error::{Error, IoContext};
use super::record::{self, RecordEntry};
use super::scripts;
use super::venv::Venv;
use crate::bundle::BufSlice;
use crate::dist::WheelFilename;
use crate::types::PackageName;

/// A wheel unpacked into the staging folder, ready to be published.
#[derive(Debug)]
pub struct StagedWheel {
    pub name: PackageName,
    pub version: String,
    pub filename: String,
    /// The staged tree: it mirrors the venv root (`tree/lib/python3.X/site-packages/pkg/…`).
    pub tree: PathBuf,
    /// Every file in `tree`, relative to it (and so to the venv root), RECORD included.
    pub tree_files: Vec<PathBuf>,
    /// `(staged file, final path)` for files that go outside the venv root (a scheme path elsewhere).
    pub loose: Vec<(PathBuf, PathBuf)>,
    /// The folder RECORD paths are relative to (purelib or platlib).
    pub lib_dir: PathBuf,
    /// `.py` files installed (for byte-compiling).
    pub python_files: Vec<PathBuf>,
}

/// What a wheel's own metadata says, read without unpacking.
#[derive(Debug)]
pub struct WheelInfo {
    pub name: PackageName,
    pub version: String,
    pub dist_info: String,
    pub purelib: bool,
    pub record: Vec<RecordEntry>,
    pub entry_points: Vec<scripts::EntryPoint>,
    /// Zip index and member name of every regular file.
    pub members: Vec<(usize, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Plain,
    Script,
}

/// The zip reader over one wheel: a byte range of the bundle (or a file), buffered, cheap to clone per thread.
pub type Archive = zip::ZipArchive<BufSlice>;

fn open_zip(wheel: BufSlice, shown: &str) -> Result<Archive, Error> {
    zip::ZipArchive::new(wheel).map_err(|source| Error::Zip {
        wheel: shown.to_string(),
        source,
    })
}

fn read_member(zip: &mut Archive, name: &str, shown: &str) -> Result<Option<Vec<u8>>, Error> {
    let Some(index) = zip.index_for_name(name) else {
        return Ok(None);
    };
    let mut f = zip.by_index(index).map_err(|source| Error::Zip {
        wheel: shown.to_string(),
        source,
    })?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).map_err(|e| Error::BadWheel {
        wheel: shown.to_string(),
        why: format!("reading {name}: {e}"),
    })?;
    Ok(Some(buf))
}

/// Read and check a wheel's layout and metadata: every path safe, one `.dist-info`, RECORD consistent with the
/// members (every file listed with a hash, every listed file present). `shown` is the wheel's file name.
/// Returns the archive too (its central directory parsed once, shared by the extracting threads).
pub fn inspect(wheel: BufSlice, shown: &str) -> Result<(WheelInfo, Archive), Error> {
    let shown = shown.to_string();
    let bad = |why: String| Error::BadWheel {
        wheel: shown.clone(),
        why,
    };
    let parsed: WheelFilename = shown.parse().map_err(bad)?;
    let mut zip = open_zip(wheel, &shown)?;
    let mut members = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|source| Error::Zip {
            wheel: shown.clone(),
            source,
        })?;
        let name = f
            .name()
            .map_err(|source| Error::Zip {
                wheel: shown.clone(),
                source,
            })?
            .into_owned();
        let unsafe_path = |why| Error::UnsafePath {
            wheel: shown.clone(),
            member: name.clone(),
            why,
        };
        record::check_relative(&name).map_err(unsafe_path)?;
        if f.is_symlink() {
            return Err(unsafe_path("symbolic link in wheel"));
        }
        if !seen.insert(name.trim_end_matches('/').to_string()) {
            return Err(unsafe_path("duplicate member"));
        }
        if !f.is_dir() {
            members.push((i, name));
        }
    }
    let dist_infos: Vec<&str> = {
        let mut v: Vec<&str> = members
            .iter()
            .filter_map(|(_, n)| n.split('/').next())
            .filter(|top| top.ends_with(".dist-info"))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let dist_info = match dist_infos.as_slice() {
        [one] => one.to_string(),
        [] => return Err(bad("no .dist-info folder".into())),
        many => {
            return Err(bad(format!(
                "several .dist-info folders: {}",
                many.join(", ")
            )))
        }
    };
    let stem = dist_info.trim_end_matches(".dist-info");
    let (di_name, di_version) = stem
        .split_once('-')
        .ok_or_else(|| bad(format!("bad .dist-info name '{dist_info}'")))?;
    if di_name.parse::<PackageName>().ok().as_ref() != Some(&parsed.name) {
        return Err(bad(format!(
            "{dist_info} does not belong to project {}",
            parsed.name
        )));
    }
    let text = |name: &str, zip: &mut Archive| -> Result<Option<String>, Error> {
        Ok(read_member(zip, &format!("{dist_info}/{name}"), &shown)?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    let wheel_meta = text("WHEEL", &mut zip)?.ok_or_else(|| bad("no WHEEL file".into()))?;
    let purelib = wheel_meta.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("Root-Is-Purelib")
                && v.trim().eq_ignore_ascii_case("true")
        })
    });
    let record_text = text("RECORD", &mut zip)?.ok_or_else(|| bad("no RECORD file".into()))?;
    let record = record::parse(&record_text).map_err(bad)?;
    let entry_points = match text("entry_points.txt", &mut zip)? {
        Some(t) => scripts::parse_entry_points(&t).map_err(bad)?,
        None => Vec::new(),
    };

    // RECORD and members must agree both ways.
    let record_name = format!("{dist_info}/RECORD");
    let mut listed: HashMap<&str, &RecordEntry> = HashMap::new();
    for e in &record {
        record::check_relative(&e.path).map_err(|why| Error::UnsafePath {
            wheel: shown.clone(),
            member: e.path.clone(),
            why,
        })?;
        listed.insert(e.path.as_str(), e);
    }
    let exempt = |n: &str| {
        n == record_name
            || n == format!("{dist_info}/RECORD.jws")
            || n == format!("{dist_info}/RECORD.p7s")
    };
    let present: std::collections::HashSet<&str> =
        members.iter().map(|(_, n)| n.as_str()).collect();
    for (_, name) in &members {
        if exempt(name) {
            continue;
        }
        match listed.get(name.as_str()) {
            Some(e) if !e.hash.is_empty() => {}
            Some(_) => {
                return Err(Error::RecordMismatch {
                    wheel: shown.clone(),
                    member: name.clone(),
                    what: "RECORD has no hash for it".into(),
                })
            }
            None => {
                return Err(Error::NotInRecord {
                    wheel: shown.clone(),
                    member: name.clone(),
                })
            }
        }
    }
    for e in &record {
        if !exempt(&e.path) && !present.contains(e.path.as_str()) {
            return Err(Error::MissingFromWheel {
                wheel: shown.clone(),
                member: e.path.clone(),
            });
        }
    }
    let info = WheelInfo {
        name: parsed.name,
        version: di_version.to_string(),
        dist_info,
        purelib,
        record,
        entry_points,
        members,
    };
    Ok((info, zip))
}

impl WheelInfo {
    /// Where a member goes in `venv`, or an error for an unknown `.data` scheme.
    fn destination(
        &self,
        venv: &Venv,
        member: &str,
        shown: &str,
    ) -> Result<(PathBuf, Kind), Error> {
        let data_dir = format!("{}.data/", self.dist_info.trim_end_matches(".dist-info"));
        let root = if self.purelib {
            &venv.purelib
        } else {
            &venv.platlib
        };
        let Some(rest) = member.strip_prefix(&data_dir) else {
            return Ok((join(root, member), Kind::Plain));
        };
        let (scheme, rest) = rest.split_once('/').ok_or_else(|| Error::UnsafePath {
            wheel: shown.to_string(),
            member: member.to_string(),
            why: "file directly under .data",
        })?;
        Ok(match scheme {
            "scripts" => (join(&venv.scripts, rest), Kind::Script),
            "headers" => (
                join(&venv.headers.join(self.name.as_ref()), rest),
                Kind::Plain,
            ),
            "data" => (join(&venv.data, rest), Kind::Plain),
            "purelib" => (join(&venv.purelib, rest), Kind::Plain),
            "platlib" => (join(&venv.platlib, rest), Kind::Plain),
            _ => {
                return Err(Error::UnsafePath {
                    wheel: shown.to_string(),
                    member: member.to_string(),
                    why: "unknown .data scheme",
                })
            }
        })
    }

    pub fn lib_dir<'a>(&self, venv: &'a Venv) -> &'a Path {
        if self.purelib {
            &venv.purelib
        } else {
            &venv.platlib
        }
    }

    /// Installed path of a wheel member, relative to the lib dir, `/`-separated (as RECORD writes it).
    pub fn installed_record_path(&self, venv: &Venv, member: &str) -> Option<String> {
        let (dest, _) = self.destination(venv, member, "").ok()?;
        Some(relative(self.lib_dir(venv), &dest))
    }
}

fn join(base: &Path, rel: &str) -> PathBuf {
    let mut p = base.to_path_buf();
    for part in rel.split('/').filter(|s| !s.is_empty()) {
        p.push(part);
    }
    p
}

/// `to` relative to folder `from`, `/`-separated, with `..` where needed (both absolute).
pub fn relative(from: &Path, to: &Path) -> String {
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); f.len() - common];
    parts.extend(
        t[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// Compare content against a RECORD hash (`sha256=`, `sha384=`, `sha512=`).
fn hash_matches(expected: &str, data_digest: &Digests) -> Option<bool> {
    let (algo, _) = expected.split_once('=')?;
    let actual = match algo {
        "sha256" => record::record_hash(&data_digest.sha256),
        "sha384" => format!("sha384={}", b64(&data_digest.sha384)),
        "sha512" => format!("sha512={}", b64(&data_digest.sha512)),
        _ => return None,
    };
    Some(actual == expected)
}

fn b64(d: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d)
}

struct Digests {
    sha256: Vec<u8>,
    sha384: Vec<u8>,
    sha512: Vec<u8>,
}

/// Stream a member to `out` through `buf`, hashing as it goes (the RECORD check); returns (digests, size).
/// sha384/sha512 only when the RECORD line asks for them.
fn copy_hashing(
    mut src: impl Read,
    out: &mut impl Write,
    algo: &str,
    buf: &mut [u8],
) -> std::io::Result<(Digests, u64)> {
    let mut h256 = sha2::Sha256::new();
    let mut h384 = (algo == "sha384").then(sha2::Sha384::new);
    let mut h512 = (algo == "sha512").then(sha2::Sha512::new);
    let mut size = 0u64;
    loop {
        // Fill the whole buffer first (an inflater hands out a few KiB per read): one write per buffer, so a
        // small file is one `write`.
        let mut n = 0;
        while n < buf.len() {
            match src.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            break;
        }
        h256.update(&buf[..n]);
        if let Some(h) = h384.as_mut() {
            h.update(&buf[..n]);
        }
        if let Some(h) = h512.as_mut() {
            h.update(&buf[..n]);
        }
        out.write_all(&buf[..n])?;
        size += n as u64;
        if n < buf.len() {
            break;
        }
    }
    Ok((
        Digests {
            sha256: h256.finalize().to_vec(),
            sha384: h384.map(|h| h.finalize().to_vec()).unwrap_or_default(),
            sha512: h512.map(|h| h.finalize().to_vec()).unwrap_or_default(),
        },
        size,
    ))
}

/// Create a new file with its final mode set at open (no chmod afterwards): executables 0o755, others the
/// umask's default (as pip leaves them).
fn create(path: &Path, executable: bool) -> Result<File, Error> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, if executable { 0o755 } else { 0o666 });
    #[cfg(not(unix))]
    let _ = executable;
    o.open(path).at(path)
}

/// One member to unpack.
struct Job<'a> {
    index: usize,
    member: &'a str,
    entry: &'a RecordEntry,
    dest: PathBuf,
    staged: PathBuf,
    kind: Kind,
}

/// One member after extraction: where it goes, its installed RECORD hash and size.
struct Extracted {
    dest: PathBuf,
    hash: String,
    size: u64,
}

/// Where a file for `dest` is staged: at the same path relative to `stage` as `dest` is to the venv root
/// (the tree is then published by renaming whole folders), or loose (`stage/.loose/N`) outside the root.
fn staged_path(stage: &Path, venv: &Venv, dest: &Path, n: usize) -> (PathBuf, bool) {
    match dest.strip_prefix(&venv.root) {
        Ok(rel) if !rel.as_os_str().is_empty() => (stage.join(rel), true),
        _ => (stage.join(".loose").join(n.to_string()), false),
    }
}

/// Unpack the wheel (`zip`, inspected as `info`) into `stage`, a folder on the venv's file system laid out
/// like the venv root, checking every member against the wheel's RECORD (sha256 computed while writing,
/// size, zip CRC). Generates launchers, INSTALLER, REQUESTED and RECORD there too. Nothing touches the venv.
pub fn stage(
    zip: &Archive,
    shown: &str,
    info: &WheelInfo,
    venv: &Venv,
    requested: bool,
    stage: &Path,
) -> Result<StagedWheel, Error> {
    let shown = shown.to_string();
    std::fs::create_dir_all(stage).at(stage)?;
    let record_member = format!("{}/RECORD", info.dist_info);
    let listed: HashMap<&str, &RecordEntry> =
        info.record.iter().map(|e| (e.path.as_str(), e)).collect();
    // Plan every member's destination first (errors before any IO).
    let mut jobs = Vec::new();
    let mut dests = std::collections::HashSet::new();
    for (n, (index, member)) in info.members.iter().enumerate() {
        if member == &record_member
            || member.ends_with("/RECORD.jws")
            || member.ends_with("/RECORD.p7s")
        {
            continue;
        }
        let (dest, kind) = info.destination(venv, member, &shown)?;
        let entry = listed
            .get(member.as_str())
            .ok_or_else(|| Error::NotInRecord {
                wheel: shown.clone(),
                member: member.to_string(),
            })?;
        if !dests.insert(dest.clone()) {
            return Err(Error::UnsafePath {
                wheel: shown.clone(),
                member: member.clone(),
                why: "another member installs to the same path",
            });
        }
        let (staged, _) = staged_path(stage, venv, &dest, n);
        jobs.push(Job {
            index: *index,
            member: member.as_str(),
            entry,
            dest,
            staged,
            kind,
        });
    }
    // Generated files: launchers, INSTALLER, REQUESTED (RECORD last, below).
    let mut generated: Vec<(PathBuf, Vec<u8>, bool)> = Vec::new();
    for ep in &info.entry_points {
        if venv.windows {
            // No .exe launchers (they are binaries ferry does not carry): NAME.cmd runs NAME-script.py with
            // the venv's python.exe (pythonw.exe for GUI scripts); stock cmd.exe and PowerShell take it.
            for (dest, data) in scripts::windows_launcher(ep, &venv.scripts) {
                if !dests.contains(&dest) {
                    generated.push((dest, data.into_bytes(), false));
                }
            }
            continue;
        }
        let dest = venv.scripts.join(&ep.name);
        if !dests.contains(&dest) {
            generated.push((dest, scripts::launcher(ep, &venv.python).into_bytes(), true));
        }
    }
    let lib_dir = info.lib_dir(venv).to_path_buf();
    let dist_info_dir = lib_dir.join(&info.dist_info);
    generated.push((dist_info_dir.join("INSTALLER"), b"ferry\n".to_vec(), false));
    if requested {
        generated.push((dist_info_dir.join("REQUESTED"), Vec::new(), false));
    }
    let record_dest = dist_info_dir.join("RECORD");
    let n0 = info.members.len();
    let generated: Vec<(PathBuf, PathBuf, Vec<u8>, bool)> = generated
        .into_iter()
        .enumerate()
        .map(|(i, (dest, data, exec))| {
            let (staged, _) = staged_path(stage, venv, &dest, n0 + i);
            (dest, staged, data, exec)
        })
        .collect();
    let (staged_record, _) = staged_path(stage, venv, &record_dest, n0 + generated.len());

    // Every folder of the staged tree, parents first, made once (not per file).
    let mut folders = std::collections::BTreeSet::new();
    let staged_files = jobs
        .iter()
        .map(|j| &j.staged)
        .chain(generated.iter().map(|g| &g.1))
        .chain(std::iter::once(&staged_record));
    for f in staged_files {
        let mut cur = f.parent();
        while let Some(d) = cur {
            if d == stage || !folders.insert(d.to_path_buf()) {
                break;
            }
            cur = d.parent();
        }
    }
    for d in &folders {
        match std::fs::create_dir(d) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(Error::io(d, e)),
            _ => {}
        }
    }

    // Parallel extraction: each chunk shares the parsed archive (a clone reads on its own).
    let chunk = (jobs.len() / (rayon::current_num_threads() * 4)).clamp(16, 1024);
    let extracted: Vec<Extracted> = jobs
        .par_chunks(chunk)
        .map(|part| -> Result<Vec<Extracted>, Error> {
            let mut zip = zip.clone();
            let mut buf = vec![0u8; 256 << 10];
            let mut out = Vec::with_capacity(part.len());
            for job in part {
                out.push(extract_one(&mut zip, &shown, job, venv, &mut buf)?);
            }
            Ok(out)
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();

    let mut tree_files = Vec::new();
    let mut loose = Vec::new();
    let mut keep = |staged: PathBuf, dest: PathBuf| match staged.strip_prefix(stage) {
        Ok(rel) if !rel.starts_with(".loose") => tree_files.push(rel.to_path_buf()),
        _ => loose.push((staged, dest)),
    };
    let mut rows: BTreeMap<String, RecordEntry> = BTreeMap::new();
    let mut python_files = Vec::new();
    for (e, job) in extracted.into_iter().zip(&jobs) {
        let path = relative(&lib_dir, &e.dest);
        rows.insert(
            path.clone(),
            RecordEntry {
                path,
                hash: e.hash,
                size: Some(e.size),
            },
        );
        if e.dest.extension().is_some_and(|x| x == "py") {
            python_files.push(e.dest.clone());
        }
        keep(job.staged.clone(), e.dest);
    }
    for (dest, staged, data, exec) in generated {
        let mut f = create(&staged, exec)?;
        f.write_all(&data).at(&staged)?;
        let path = relative(&lib_dir, &dest);
        rows.insert(
            path.clone(),
            RecordEntry {
                path,
                hash: record::hash_bytes(&data),
                size: Some(data.len() as u64),
            },
        );
        keep(staged, dest);
    }
    let record_rel = relative(&lib_dir, &record_dest);
    rows.insert(
        record_rel.clone(),
        RecordEntry {
            path: record_rel,
            hash: String::new(),
            size: None,
        },
    );
    let rows: Vec<RecordEntry> = rows.into_values().collect();
    create(&staged_record, false)?
        .write_all(record::render(&rows).as_bytes())
        .at(&staged_record)?;
    keep(staged_record, record_dest);
    Ok(StagedWheel {
        name: info.name.clone(),
        version: info.version.clone(),
        filename: shown,
        tree: stage.to_path_buf(),
        tree_files,
        loose,
        lib_dir,
        python_files,
    })
}

/// Unpack one member to its staged path, checked against its RECORD line on the way. The installed RECORD
/// reuses the wheel's line for a file written unchanged; a rewritten script gets its new hash.
fn extract_one(
    zip: &mut Archive,
    shown: &str,
    job: &Job<'_>,
    venv: &Venv,
    buf: &mut [u8],
) -> Result<Extracted, Error> {
    let entry = job.entry;
    let mismatch = |what: String| Error::RecordMismatch {
        wheel: shown.to_string(),
        member: job.member.to_string(),
        what,
    };
    let f = zip.by_index(job.index).map_err(|source| Error::Zip {
        wheel: shown.to_string(),
        source,
    })?;
    let executable = f.unix_mode().is_some_and(|m| m & 0o111 != 0);
    // Never write more than RECORD (or the zip header) announces: a bomb stops one byte past it.
    let limit = entry.size.unwrap_or(f.size()).saturating_add(1);
    let f = f.take(limit);
    let algo = entry.hash.split_once('=').map(|(a, _)| a).unwrap_or("");
    let read_err = |e: std::io::Error| mismatch(format!("cannot read: {e}"));
    let staged = &job.staged;
    let (digests, size, rewritten) = if job.kind == Kind::Script {
        let mut data = Vec::new();
        let (d, size) = copy_hashing(f, &mut data, algo, buf).map_err(read_err)?;
        let (data, rewritten) = match scripts::rewrite_shebang(&data, &venv.python) {
            Some(new) => (new, true),
            None => (data, false),
        };
        create(staged, true)?.write_all(&data).at(staged)?;
        let installed = rewritten.then(|| (record::hash_bytes(&data), data.len() as u64));
        (d, size, installed)
    } else {
        let mut out = create(staged, executable)?;
        let (d, size) = match copy_hashing(f, &mut out, algo, buf) {
            Ok(v) => v,
            Err(e) if e.kind() == std::io::ErrorKind::Other || e.raw_os_error().is_none() => {
                return Err(read_err(e))
            }
            Err(e) => return Err(Error::io(staged, e)),
        };
        (d, size, None)
    };
    match hash_matches(&entry.hash, &digests) {
        Some(true) => {}
        Some(false) => return Err(mismatch(format!("hash differs from {}", entry.hash))),
        None => return Err(mismatch(format!("unsupported hash '{}'", entry.hash))),
    }
    if entry.size.is_some_and(|s| s != size) {
        return Err(mismatch(format!(
            "size {size} differs from RECORD's {}",
            entry.size.unwrap_or_default()
        )));
    }
    let (hash, size) = rewritten.unwrap_or_else(|| (entry.hash.clone(), size));
    Ok(Extracted {
        dest: job.dest.clone(),
        hash,
        size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(
                Path::new("/v/lib/python3.11/site-packages"),
                Path::new("/v/bin/x")
            ),
            "../../../bin/x"
        );
        assert_eq!(
            relative(Path::new("/v/lib/site"), Path::new("/v/lib/site/a/b.py")),
            "a/b.py"
        );
    }
}
