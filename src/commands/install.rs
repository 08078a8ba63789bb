//! `ferry install`: verify and extract the bundle into a temporary folder (signature and every hash checked
//! before anything is written to the target), then install wheels and models from it, all or nothing.
use std::path::{Path, PathBuf};

use crate::install::{self, Only, Options, Reporter};
use crate::lock::Lock;

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundle: PathBuf,
    pub public: PathBuf,
    pub venv: Option<PathBuf>,
    pub python: Option<PathBuf>,
    pub hf_home: Option<PathBuf>,
    pub local_dir: Option<PathBuf>,
    pub only: Option<String>,
    pub compile_bytecode: bool,
    pub json: bool,
}

/// Progress as plain lines on stderr (stdout stays for the summary / `--json`).
struct Lines;
impl Reporter for Lines {
    fn step(&self, message: &str) {
        eprintln!("ferry: {message}");
    }
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let only = settings
        .only
        .as_deref()
        .map(str::parse::<Only>)
        .transpose()?;
    // TMPDIR decides where the bundle is unpacked; it needs room for the whole bundle.
    let staging = tempfile::Builder::new()
        .prefix("ferry-install-")
        .tempdir()
        .map_err(|e| crate::Error::io(std::env::temp_dir(), e))?;
    eprintln!("ferry: verifying {}", settings.bundle.display());
    let lock = extract_verified(&settings.bundle, &settings.public, staging.path())?;
    let opts = Options {
        venv: settings.venv,
        python: settings.python,
        hf_home: settings.hf_home,
        local_dir: settings.local_dir,
        only,
        compile_bytecode: settings.compile_bytecode,
    };
    let summary = install::install_extracted(staging.path(), &lock, &opts, &Lines)?;
    if settings.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summary serializes")
        );
    } else {
        print!("{summary}");
    }
    Ok(())
}

fn extract_verified(bundle: &Path, public_key: &Path, dest: &Path) -> Result<Lock, crate::Error> {
    Ok(crate::bundle::extract(bundle, public_key, dest).map(|v| v.lock)?)
}
