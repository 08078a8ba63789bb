//! The virtual environment wheels go into: created offline when missing (`python -m venv --without-pip`),
//! described by asking its own interpreter (install scheme paths and wheel target).
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::error::Error;
use crate::target::Target;

/// A venv and where its install scheme puts things.
#[derive(Clone, Debug)]
pub struct Venv {
    pub root: PathBuf,
    pub python: PathBuf,
    /// `major.minor`.
    pub version: String,
    pub purelib: PathBuf,
    pub platlib: PathBuf,
    pub scripts: PathBuf,
    pub data: PathBuf,
    /// `include/site/pythonX.Y`: headers go into `<this>/<project>/`.
    pub headers: PathBuf,
    pub target: Target,
    pub windows: bool,
}

/// The interpreter inside a venv folder: `Scripts/python.exe` in the Windows layout, else `bin/python`.
/// Chosen from what the folder holds, not from the OS ferry was built for.
pub fn venv_python(root: &Path) -> PathBuf {
    if is_windows_layout(root) {
        windows_python(root)
    } else {
        root.join("bin").join("python")
    }
}

fn windows_python(root: &Path) -> PathBuf {
    root.join("Scripts").join("python.exe")
}

/// A venv in the Windows layout: `pyvenv.cfg`, `Scripts/python.exe`, `Lib/site-packages`.
pub fn is_windows_layout(root: &Path) -> bool {
    root.join("pyvenv.cfg").is_file() && windows_python(root).exists()
}

/// Whether `root` already holds a venv.
pub fn exists(root: &Path) -> bool {
    root.join("pyvenv.cfg").is_file() && venv_python(root).exists()
}

/// `--venv DIR` must be a venv, a new folder or an empty one: never a folder of other files.
pub fn check_folder(root: &Path) -> Result<(), Error> {
    if exists(root) || !root.exists() {
        return Ok(());
    }
    let empty = std::fs::read_dir(root)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if root.is_dir() && empty {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "--venv {}: the folder exists and is not a virtual environment (no pyvenv.cfg with bin/python or \
         Scripts/python.exe); give a new or empty folder, or an existing venv",
        root.display()
    )))
}

/// A Windows-layout venv, described from its files (its `python.exe` need not run here): `pyvenv.cfg`
/// gives the Python version, the bundle's Windows target for that version gives the wheel tags.
pub fn open_windows(root: &Path, targets: &[Target]) -> Result<Venv, Error> {
    let root = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let cfg_path = root.join("pyvenv.cfg");
    let cfg = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let full = cfg
        .lines()
        .filter_map(|l| l.split_once('='))
        .find(|(k, _)| matches!(k.trim(), "version" | "version_info"))
        .map(|(_, v)| v.trim().to_string())
        .ok_or_else(|| {
            Error::Usage(format!("{}: no 'version = X.Y.Z' line", cfg_path.display()))
        })?;
    let version: String = full.split('.').take(2).collect::<Vec<_>>().join(".");
    let target = targets
        .iter()
        .find(|t| t.python == version && t.platforms.iter().any(|p| p.starts_with("win")))
        .cloned()
        .ok_or_else(|| Error::NoMatchingTarget {
            host: format!("Windows venv {} (Python {version})", root.display()),
            bundle: targets.iter().map(|t| t.id()).collect(),
        })?;
    let site = root.join("Lib").join("site-packages");
    std::fs::create_dir_all(&site).map_err(|e| Error::io(&site, e))?;
    Ok(Venv {
        python: windows_python(&root),
        version: version.clone(),
        purelib: site.clone(),
        platlib: site,
        scripts: root.join("Scripts"),
        data: root.clone(),
        headers: root
            .join("Include")
            .join("site")
            .join(format!("python{version}")),
        target,
        windows: true,
        root,
    })
}

/// Create a venv without pip (no network): `PYTHON -m venv --without-pip ROOT`.
pub fn create(root: &Path, python: Option<&Path>) -> Result<(), Error> {
    let python = python
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let shown = format!(
        "{} -m venv --without-pip {}",
        python.display(),
        root.display()
    );
    run(
        Command::new(&python)
            .args(["-m", "venv", "--without-pip"])
            .arg(root),
        shown,
    )?;
    Ok(())
}

const PATHS_SCRIPT: &str = r#"
import json, sys, sysconfig
names = sysconfig.get_scheme_names()
scheme = "venv" if "venv" in names else ("nt" if sys.platform == "win32" else "posix_prefix")
p = sysconfig.get_paths(scheme, vars={"base": sys.prefix, "platbase": sys.prefix, "installed_base": sys.prefix, "installed_platbase": sys.prefix})
print(json.dumps({"purelib": p["purelib"], "platlib": p["platlib"], "scripts": p["scripts"], "data": p["data"],
  "version": "%d.%d" % sys.version_info[:2], "windows": sys.platform == "win32"}))
"#;

#[derive(Deserialize)]
struct Paths {
    purelib: PathBuf,
    platlib: PathBuf,
    scripts: PathBuf,
    data: PathBuf,
    version: String,
    windows: bool,
}

/// Describe an existing venv by asking its interpreter.
pub fn open(root: &Path) -> Result<Venv, Error> {
    // Canonical paths throughout, so that paths from Python and from the user compare equal.
    let root = std::fs::canonicalize(root).map_err(|e| Error::io(root, e))?;
    let python = venv_python(&root);
    let shown = format!("{} (install scheme)", python.display());
    let out = run(
        Command::new(&python).args(["-I", "-c", PATHS_SCRIPT]),
        shown.clone(),
    )?;
    let mut p: Paths = serde_json::from_slice(&out.stdout).map_err(|e| Error::Command {
        command: shown,
        why: format!("unexpected output: {e}"),
    })?;
    for path in [&mut p.purelib, &mut p.platlib, &mut p.scripts, &mut p.data] {
        if let Ok(c) = std::fs::canonicalize(&*path) {
            *path = c;
        }
    }
    let facts = crate::host::facts(Some(&python))?;
    let target = crate::host::target_from_facts(&facts)?;
    let headers = root
        .join("include")
        .join("site")
        .join(format!("python{}", p.version));
    Ok(Venv {
        root,
        python,
        version: p.version,
        purelib: p.purelib,
        platlib: p.platlib,
        scripts: p.scripts,
        data: p.data,
        headers,
        target,
        windows: p.windows,
    })
}

impl Venv {
    /// Whether `pip` can run for this venv: its own, or the host's `python3 -m pip --python VENV`.
    pub fn pip_command(&self) -> Option<Vec<std::ffi::OsString>> {
        let works = |args: &[std::ffi::OsString]| {
            Command::new(&args[0])
                .args(&args[1..])
                .arg("--version")
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false)
        };
        let own: Vec<std::ffi::OsString> =
            vec![self.python.clone().into(), "-m".into(), "pip".into()];
        if works(&own) {
            return Some(own);
        }
        let host: Vec<std::ffi::OsString> = vec![
            "python3".into(),
            "-m".into(),
            "pip".into(),
            "--python".into(),
            self.python.clone().into(),
        ];
        works(&host).then_some(host)
    }
}

/// Run a command; a spawn failure or a non-zero exit becomes an error naming `shown` and its stderr.
fn run(cmd: &mut Command, shown: String) -> Result<std::process::Output, Error> {
    let out = cmd.output().map_err(|e| Error::Command {
        command: shown.clone(),
        why: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(Error::Command {
            command: shown,
            why: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(out)
}
