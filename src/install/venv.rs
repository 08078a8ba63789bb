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

/// The interpreter inside a venv folder.
pub fn venv_python(root: &Path) -> PathBuf {
    if cfg!(windows) {
        root.join("Scripts").join("python.exe")
    } else {
        root.join("bin").join("python")
    }
}

/// Whether `root` already holds a venv.
pub fn exists(root: &Path) -> bool {
    root.join("pyvenv.cfg").is_file() && venv_python(root).exists()
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
