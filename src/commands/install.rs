//! `ferry install`: verify and extract into a staging folder (the target is untouched until the
//! signature and every hash check out), then install wheels and models all or nothing.
use std::path::{Path, PathBuf};

use crate::bundle;
use crate::install::{self, Only, Options, Reporter};

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundle: PathBuf,
    pub public: PathBuf,
    pub venv: Option<PathBuf>,
    pub python: Option<PathBuf>,
    pub hf_home: Option<PathBuf>,
    pub local_dir: Option<PathBuf>,
    pub files_dir: Option<PathBuf>,
    pub only: Option<String>,
    pub compile_bytecode: bool,
    pub json: bool,
}

/// Plain progress lines on stderr.
struct Lines;
impl Reporter for Lines {
    fn step(&self, message: &str) {
        eprintln!("{message}");
    }
}

/// Stage next to the destination, so the final switch stays on one file system.
fn staging_parent(s: &Settings) -> PathBuf {
    let dest = s
        .venv
        .as_deref()
        .or(s.hf_home.as_deref())
        .or(s.local_dir.as_deref())
        .unwrap_or(Path::new("."));
    let abs = std::path::absolute(dest).unwrap_or_else(|_| dest.to_path_buf());
    abs.ancestors()
        .find(|p| p.is_dir())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn run(s: Settings) -> Result<(), crate::Error> {
    let only = s.only.as_deref().map(str::parse::<Only>).transpose()?;
    // Cheap checks first (the front of the bundle, unverified): usage errors before a long verification.
    let front = bundle::read_manifest(&s.bundle)?;
    if s.venv.is_none() && only != Some(Only::Models) && !front.packages.is_empty() {
        return Err(crate::Error::Usage(format!(
            "{} holds {} Python package(s): pass --venv DIR (or --only models)",
            s.bundle.display(),
            front.packages.len()
        )));
    }
    let parent = staging_parent(&s);
    let staging = tempfile::Builder::new()
        .prefix(".ferry-staging-")
        .tempdir_in(&parent)
        .map_err(|e| crate::Error::io(&parent, e))?;
    if !s.json {
        eprintln!("verifying {}", s.bundle.display());
    }
    let verified = bundle::extract(&s.bundle, &s.public, staging.path())?;
    if !s.json {
        eprintln!(
            "signature and {} members OK (key {})",
            verified.members.len(),
            verified.key_id
        );
    }
    let opts = Options {
        venv: s.venv.clone(),
        python: s.python.clone(),
        hf_home: s.hf_home.clone(),
        local_dir: s.local_dir.clone(),
        files_dir: s.files_dir.clone(),
        only,
        compile_bytecode: s.compile_bytecode,
    };
    let reporter: &dyn Reporter = if s.json { &install::Silent } else { &Lines };
    // A delta: its base must be in place (checked before anything changes).
    let lock = install::delta::check_base(&verified.lock, &opts)?;
    let summary = install::install_extracted(staging.path(), &lock, &opts, reporter)?;
    install::delta::finish(&verified.lock, &opts, reporter)?;
    if s.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summary serializes")
        );
    } else {
        print!("{summary}");
    }
    Ok(())
}
