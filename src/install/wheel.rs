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
use crate::dist::WheelFilename;
use crate::types::PackageName;

/// A wheel unpacked into the staging folder, ready to be published.
#[derive(Debug)]
pub struct StagedWheel {
    pub name: PackageName,
    pub version: String,
    pub filename: String,
    /// `(staged file, final path)`, RECORD last.
    pub files: Vec<(PathBuf, PathBuf)>,
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

fn open_zip(wheel: &Path, shown: &str) -> Result<zip::ZipArchive<File>, Error> {
    let file = File::open(wheel).at(wheel)?;
    zip::ZipArchive::new(file).map_err(|source| Error::Zip {
        wheel: shown.to_string(),
        source,
    })
}

fn read_member(
    zip: &mut zip::ZipArchive<File>,
    name: &str,
    shown: &str,
) -> Result<Option<Vec<u8>>, Error> {
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
/// members (every file listed with a hash, every listed file present).
pub fn inspect(wheel: &Path) -> Result<WheelInfo, Error> {
    let shown = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| wheel.display().to_string());
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
    let text = |name: &str, zip: &mut zip::ZipArchive<File>| -> Result<Option<String>, Error> {
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
    Ok(WheelInfo {
        name: parsed.name,
        version: di_version.to_string(),
        dist_info,
        purelib,
        record,
        entry_points,
        members,
    })
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

/// Stream a member to `out`, hashing as it goes; returns (digests, size). Small members only keep sha256
/// unless the RECORD asks for another algorithm.
fn copy_hashing(
    mut src: impl Read,
    mut out: impl Write,
    algo: &str,
) -> std::io::Result<(Digests, u64)> {
    let mut h256 = sha2::Sha256::new();
    let mut h384 = (algo == "sha384").then(sha2::Sha384::new);
    let mut h512 = (algo == "sha512").then(sha2::Sha512::new);
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf)?;
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
    }
    out.flush()?;
    Ok((
        Digests {
            sha256: h256.finalize().to_vec(),
            sha384: h384.map(|h| h.finalize().to_vec()).unwrap_or_default(),
            sha512: h512.map(|h| h.finalize().to_vec()).unwrap_or_default(),
        },
        size,
    ))
}

/// One member after extraction: where it is staged, where it goes, its installed hash and size.
struct Extracted {
    staged: PathBuf,
    dest: PathBuf,
    hash: String,
    size: u64,
}

/// Unpack `wheel` into `stage` (a folder inside the staging area) for `venv`, checking every member against
/// the wheel's RECORD. Generates launchers, INSTALLER, REQUESTED and RECORD.
pub fn stage(
    wheel: &Path,
    info: &WheelInfo,
    venv: &Venv,
    requested: bool,
    stage: &Path,
) -> Result<StagedWheel, Error> {
    let shown = wheel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    std::fs::create_dir_all(stage).at(stage)?;
    let record_member = format!("{}/RECORD", info.dist_info);
    let listed: HashMap<&str, &RecordEntry> =
        info.record.iter().map(|e| (e.path.as_str(), e)).collect();
    // Plan every member's destination first (errors before any IO).
    let mut plan = Vec::new();
    for (n, (index, member)) in info.members.iter().enumerate() {
        if member == &record_member
            || member.ends_with("/RECORD.jws")
            || member.ends_with("/RECORD.p7s")
        {
            continue;
        }
        let (dest, kind) = info.destination(venv, member, &shown)?;
        plan.push((n, *index, member.as_str(), dest, kind));
    }
    // Parallel extraction: each chunk opens the archive once.
    let chunk = (plan.len() / (rayon::current_num_threads() * 4)).clamp(16, 1024);
    let extracted: Vec<Extracted> = plan
        .par_chunks(chunk)
        .map(|part| -> Result<Vec<Extracted>, Error> {
            let mut zip = open_zip(wheel, &shown)?;
            let mut out = Vec::with_capacity(part.len());
            for (n, index, member, dest, kind) in part {
                let entry = listed.get(member).ok_or_else(|| Error::NotInRecord {
                    wheel: shown.clone(),
                    member: member.to_string(),
                })?;
                let mismatch = |what: String| Error::RecordMismatch {
                    wheel: shown.clone(),
                    member: member.to_string(),
                    what,
                };
                let f = zip.by_index(*index).map_err(|source| Error::Zip {
                    wheel: shown.clone(),
                    source,
                })?;
                let executable = f.unix_mode().is_some_and(|m| m & 0o111 != 0);
                // Never write more than RECORD (or the zip header) announces: a bomb stops one byte past it.
                let limit = entry.size.unwrap_or(f.size()).saturating_add(1);
                let f = f.take(limit);
                let staged = stage.join(n.to_string());
                let algo = entry.hash.split_once('=').map(|(a, _)| a).unwrap_or("");
                let read_err = |e: std::io::Error| mismatch(format!("cannot read: {e}"));
                let (digests, size, written) = if *kind == Kind::Script {
                    let mut data = Vec::new();
                    let (d, size) = copy_hashing(f, &mut data, algo).map_err(read_err)?;
                    let data = scripts::rewrite_shebang(&data, &venv.python).unwrap_or(data);
                    std::fs::write(&staged, &data).at(&staged)?;
                    let installed = (record::hash_bytes(&data), data.len() as u64);
                    (d, size, Some(installed))
                } else {
                    let out = File::create(&staged).at(&staged)?;
                    let (d, size) =
                        copy_hashing(f, std::io::BufWriter::new(out), algo).map_err(read_err)?;
                    (d, size, None)
                };
                match hash_matches(&entry.hash, &digests) {
                    Some(true) => {}
                    Some(false) => {
                        return Err(mismatch(format!("hash differs from {}", entry.hash)))
                    }
                    None => return Err(mismatch(format!("unsupported hash '{}'", entry.hash))),
                }
                if entry.size.is_some_and(|s| s != size) {
                    return Err(mismatch(format!(
                        "size {size} differs from RECORD's {}",
                        entry.size.unwrap_or_default()
                    )));
                }
                // New files already get the umask's mode (as pip leaves them); only executables change.
                if *kind == Kind::Script || executable {
                    set_mode(&staged, true)?;
                }
                let (hash, size) =
                    written.unwrap_or_else(|| (record::record_hash(&digests.sha256), size));
                out.push(Extracted {
                    staged,
                    dest: dest.clone(),
                    hash,
                    size,
                });
            }
            Ok(out)
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();

    // Generated files: launchers, INSTALLER, REQUESTED.
    let mut generated: Vec<(PathBuf, Vec<u8>, bool)> = Vec::new();
    let taken: std::collections::HashSet<&Path> =
        extracted.iter().map(|e| e.dest.as_path()).collect();
    for ep in &info.entry_points {
        if venv.windows {
            // No .exe launchers (they are binaries ferry does not carry): NAME.cmd runs NAME-script.py with
            // the venv's python.exe (pythonw.exe for GUI scripts); stock cmd.exe and PowerShell take it.
            for (dest, data) in scripts::windows_launcher(ep, &venv.scripts) {
                if !taken.contains(dest.as_path()) {
                    generated.push((dest, data.into_bytes(), false));
                }
            }
            continue;
        }
        let dest = venv.scripts.join(&ep.name);
        if !taken.contains(dest.as_path()) {
            generated.push((dest, scripts::launcher(ep, &venv.python).into_bytes(), true));
        }
    }
    let lib_dir = info.lib_dir(venv).to_path_buf();
    let dist_info_dir = lib_dir.join(&info.dist_info);
    generated.push((dist_info_dir.join("INSTALLER"), b"ferry\n".to_vec(), false));
    if requested {
        generated.push((dist_info_dir.join("REQUESTED"), Vec::new(), false));
    }
    let mut files: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut rows: BTreeMap<String, RecordEntry> = BTreeMap::new();
    let mut python_files = Vec::new();
    for e in extracted {
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
        files.push((e.staged, e.dest));
    }
    for (i, (dest, data, exec)) in generated.into_iter().enumerate() {
        let staged = stage.join(format!("gen-{i}"));
        std::fs::write(&staged, &data).at(&staged)?;
        set_mode(&staged, exec)?;
        let path = relative(&lib_dir, &dest);
        rows.insert(
            path.clone(),
            RecordEntry {
                path,
                hash: record::hash_bytes(&data),
                size: Some(data.len() as u64),
            },
        );
        files.push((staged, dest));
    }
    let record_dest = dist_info_dir.join("RECORD");
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
    let staged_record = stage.join("RECORD");
    std::fs::write(&staged_record, record::render(&rows)).at(&staged_record)?;
    files.push((staged_record, record_dest));
    Ok(StagedWheel {
        name: info.name.clone(),
        version: info.version.clone(),
        filename: shown,
        files,
        lib_dir,
        python_files,
    })
}

#[cfg(unix)]
fn set_mode(path: &Path, executable: bool) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).at(path)
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _executable: bool) -> Result<(), Error> {
    Ok(())
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
