//! Choose, from a multi-target lock, the file to install per package for the venv's interpreter, and build
//! bundled sdists offline when no wheel fits.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::Error;
use super::venv::Venv;
use crate::dist::WheelFilename;
use crate::lock::{DistKind, Lock, LockedPackage};
use crate::target::Target;
use crate::types::PackageName;

/// The file chosen for one package.
#[derive(Clone, Debug)]
pub struct Choice<'a> {
    pub package: &'a LockedPackage,
    /// The bundle member (`wheels/<filename>`).
    pub member: String,
}

/// Ids of the bundle's targets this host can use.
fn matching_targets(lock: &Lock, host: &Target) -> Result<Option<Vec<String>>, Error> {
    if lock.targets.is_empty() {
        return Ok(None);
    }
    let accepted = host.platform_tags();
    let ids: Vec<String> = lock
        .targets
        .iter()
        .filter(|t| {
            t.python == host.python
                && (t.platforms.is_empty()
                    || t.platforms
                        .iter()
                        .any(|p| p == "any" || accepted.contains(p)))
        })
        .map(Target::id)
        .collect();
    if ids.is_empty() {
        return Err(Error::NoMatchingTarget {
            host: describe(host),
            bundle: lock.targets.iter().map(describe).collect(),
        });
    }
    Ok(Some(ids))
}

fn describe(t: &Target) -> String {
    format!("python {} on {}", t.python, t.platforms.join("/"))
}

/// Packages only needed to build sdists (not installed into the venv).
fn build_only(p: &LockedPackage) -> bool {
    p.reason
        .as_deref()
        .is_some_and(|r| r.to_ascii_lowercase().contains("build requirement"))
}

/// Choose per package the best-ranked compatible wheel for `host` (or its sdist when no wheel fits).
pub fn select<'a>(lock: &'a Lock, host: &Target) -> Result<Vec<Choice<'a>>, Error> {
    let serve = matching_targets(lock, host)?;
    // The running host also accepts `linux_<arch>` wheels (as pip does), e.g. PyTorch's CUDA builds.
    let tags = crate::accel::with_plain_linux(host.tags());
    let mut by_name: BTreeMap<&PackageName, Vec<&LockedPackage>> = BTreeMap::new();
    for p in &lock.packages {
        by_name.entry(&p.name).or_default().push(p);
    }
    let mut out = Vec::new();
    for (name, files) in by_name {
        let serves = |p: &&&LockedPackage| match &serve {
            None => true,
            Some(ids) => p.targets.is_empty() || p.targets.iter().any(|t| ids.contains(t)),
        };
        let relevant: Vec<&LockedPackage> = files.iter().filter(serves).copied().collect();
        if relevant.is_empty() || relevant.iter().all(|p| build_only(p)) {
            continue;
        }
        let best_wheel = |set: &[&'a LockedPackage]| {
            set.iter()
                .filter(|p| p.kind == DistKind::Wheel)
                .filter_map(|p| {
                    let w: WheelFilename = p.filename.parse().ok()?;
                    Some((w.best_rank(&tags)?, *p))
                })
                .min_by_key(|(rank, _)| *rank)
                .map(|(_, p)| p)
        };
        let chosen = best_wheel(&relevant)
            .or_else(|| best_wheel(&files))
            .or_else(|| relevant.iter().find(|p| p.kind == DistKind::Sdist).copied())
            .ok_or_else(|| Error::NoCompatibleFile {
                package: name.to_string(),
                host: describe(host),
                files: files.iter().map(|p| p.filename.clone()).collect(),
            })?;
        if chosen.filename.contains(['/', '\\']) || chosen.filename.starts_with('.') {
            return Err(Error::UnsafePath {
                wheel: chosen.filename.clone(),
                member: chosen.filename.clone(),
                why: "file name in ferry.json is not a plain name",
            });
        }
        out.push(Choice {
            package: chosen,
            member: format!("wheels/{}", chosen.filename),
        });
    }
    Ok(out)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Build an sdist into a wheel in `out_dir`, offline, from `wheels` (the bundle's `wheels/` as a folder, the
/// sdist among them). Returns the wheel path.
pub fn build_sdist(
    choice: &Choice<'_>,
    venv: &Venv,
    wheels: &Path,
    out_dir: &Path,
) -> Result<PathBuf, Error> {
    let fail = |why: String| Error::SdistBuild {
        package: choice.package.name.to_string(),
        filename: choice.package.filename.clone(),
        why,
    };
    let pip = venv.pip_command().ok_or_else(|| {
        fail("pip is neither in the venv nor available as the host's `python3 -m pip`".into())
    })?;
    if choice.package.needs_compiler && !["cc", "gcc", "clang"].iter().any(|c| on_path(c)) {
        return Err(fail(
            "it needs a C compiler and none (cc, gcc, clang) is on PATH".into(),
        ));
    }
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let out = Command::new(&pip[0])
        .args(&pip[1..])
        .args([
            "wheel",
            "--no-index",
            "--no-deps",
            "--disable-pip-version-check",
            "--find-links",
        ])
        .arg(wheels)
        .arg("-w")
        .arg(out_dir)
        .arg(wheels.join(&choice.package.filename))
        .env("PIP_NO_INDEX", "1")
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        return Err(fail(tail.into_iter().rev().collect::<Vec<_>>().join("\n")));
    }
    let wheel = std::fs::read_dir(out_dir)
        .map_err(|e| Error::io(out_dir, e))?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.extension().is_some_and(|x| x == "whl")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.parse::<WheelFilename>().ok())
                    .is_some_and(|w| w.name == choice.package.name)
        })
        .ok_or_else(|| fail("pip reported success but wrote no wheel".into()))?;
    let accepted = wheel
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.parse::<WheelFilename>().ok())
        .and_then(|w| w.best_rank(&venv.target.tags()));
    if accepted.is_none() {
        return Err(fail(format!(
            "built {} which does not fit this interpreter",
            wheel.display()
        )));
    }
    Ok(wheel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Sha256;

    fn pkg(filename: &str, targets: &[&str]) -> LockedPackage {
        let name = filename.split('-').next().unwrap();
        LockedPackage {
            name: name.parse().unwrap(),
            version: filename
                .split('-')
                .nth(1)
                .unwrap()
                .trim_end_matches(".tar.gz")
                .into(),
            filename: filename.into(),
            kind: if filename.ends_with(".whl") {
                DistKind::Wheel
            } else {
                DistKind::Sdist
            },
            url: String::new(),
            sha256: Sha256::digest(b""),
            size: 0,
            targets: targets.iter().map(|s| s.to_string()).collect(),
            requested: true,
            reason: None,
            needs_compiler: false,
            built_from: None,
        }
    }

    fn lock(targets: Vec<Target>, packages: Vec<LockedPackage>) -> Lock {
        Lock {
            format: 1,
            tool: "ferry test".into(),
            name: "t".into(),
            created: 0,
            targets,
            inputs: vec![],
            requirements: vec![],
            indexes: vec![],
            hf_endpoint: None,
            packages,
            models: vec![],
            files: vec![],
            local_paths: vec![],
            skipped: vec![],
            torch: vec![],
            delta: None,
        }
    }

    #[test]
    fn picks_best_wheel_per_host() {
        let t310 = Target::new("3.10", vec!["manylinux_2_28_x86_64".into()]).unwrap();
        let t311 = Target::new("3.11", vec!["manylinux_2_28_x86_64".into()]).unwrap();
        let l = lock(
            vec![t310.clone(), t311.clone()],
            vec![
                pkg(
                    "numpy-1.26.4-cp310-cp310-manylinux_2_17_x86_64.whl",
                    &[&t310.id()],
                ),
                pkg(
                    "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl",
                    &[&t311.id()],
                ),
                pkg("six-1.16.0-py2.py3-none-any.whl", &[&t310.id(), &t311.id()]),
                pkg("only310-1.0-py3-none-any.whl", &[&t310.id()]),
            ],
        );
        let host = Target::new("3.11.4", vec!["manylinux_2_35_x86_64".into()]).unwrap();
        let chosen: Vec<String> = select(&l, &host)
            .unwrap()
            .iter()
            .map(|c| c.package.filename.clone())
            .collect();
        assert_eq!(
            chosen,
            [
                "numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl",
                "six-1.16.0-py2.py3-none-any.whl"
            ]
        );
        let mac = Target::new("3.12", vec!["macosx_14_0_arm64".into()]).unwrap();
        let err = select(&l, &mac).unwrap_err().to_string();
        assert!(err.contains("python 3.12 on macosx_14_0_arm64"), "{err}");
        assert!(
            err.contains("python 3.10 on manylinux_2_28_x86_64"),
            "{err}"
        );
    }

    #[test]
    fn falls_back_to_sdist() {
        let t = Target::new("3.11", vec!["manylinux_2_28_x86_64".into()]).unwrap();
        let l = lock(
            vec![t.clone()],
            vec![
                pkg("foo-1.0.tar.gz", &[&t.id()]),
                pkg("foo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl", &[]),
            ],
        );
        let c = select(&l, &t).unwrap();
        assert_eq!(c[0].package.kind, DistKind::Sdist);
    }
}
