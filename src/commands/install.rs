//! `ferry install`: verify the bundle (the target is untouched until the signature and every hash check
//! out), then install wheels and models all or nothing, read straight from the bundle's volumes (no
//! extraction: every member is a byte range of the tar).
use std::path::PathBuf;

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

pub fn run(s: Settings) -> Result<(), crate::Error> {
    let only = s.only.as_deref().map(str::parse::<Only>).transpose()?;
    // Cheap checks first (the front of the bundle, unverified): usage errors before a long verification.
    let front = bundle::read_manifest(&s.bundle)?;
    if s.venv.is_none() && only != Some(Only::Models) && !front.packages.is_empty() {
        return Err(crate::Error::Usage(format!(
            "{} holds {}: pass --venv DIR (or --only models)",
            s.bundle.display(),
            crate::types::plural(front.packages.len(), "Python package")
        )));
    }
    if let (Some(root), false) = (&s.venv, only == Some(Only::Models)) {
        if !front.packages.is_empty() {
            install::venv::check_folder(root)?;
        }
    }
    let term = if s.json {
        super::progress::TermProgress::with(false, true)
    } else {
        super::term()
    };
    // The volumes' length and mtime before verification: installing refuses a bundle changed since.
    let stream = bundle::TarStream::open(&s.bundle)?;
    let stamp = install::source::stamp_volumes(&stream.volumes());
    let meter = term.meter(
        &format!("verifying {}", s.bundle.display()),
        super::bundle_bytes(&s.bundle),
    );
    let verified = bundle::verify_reporting(&s.bundle, &s.public, &|n| meter.add(n))?;
    meter.finish();
    let source = install::Source::bundle(&s.bundle, stream, &verified.members, stamp);
    if !s.json {
        eprintln!(
            "signature and {} OK (key {})",
            crate::types::plural(verified.members.len(), "member"),
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
    let summary = install::install_from(&source, &lock, &opts, reporter)?;
    install::delta::finish(&verified.lock, &opts, reporter)?;
    if s.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).expect("summary serializes")
        );
    } else {
        print!("{summary}");
        print!("{}", paste_lines(&summary, &s));
    }
    Ok(())
}

/// What to paste into a shell to use what was installed: the venv, and the HF cache offline.
fn paste_lines(summary: &install::Summary, s: &Settings) -> String {
    let mut out = String::new();
    let windows = summary.cache_layout == Some(install::models::CacheLayout::NoSymlinks)
        || summary
            .venv
            .as_deref()
            .is_some_and(install::venv::is_windows_layout);
    let mut lines = Vec::new();
    if let Some(venv) = &summary.venv {
        lines.push(if windows {
            format!("{}\\Scripts\\activate", venv.display())
        } else {
            format!("source {}/bin/activate", venv.display())
        });
    }
    if let Some(dir) = &summary.models_dir {
        let (key, value) = match (&s.hf_home, summary.cache_layout) {
            (Some(home), Some(_)) => (
                "HF_HOME",
                std::path::absolute(home).unwrap_or_else(|_| home.clone()),
            ),
            (None, Some(_)) => ("HF_HUB_CACHE", dir.clone()),
            // --local-dir: plain folders, loaded by path.
            _ => ("", dir.clone()),
        };
        if !key.is_empty() {
            lines.push(if windows {
                format!("set {key}={}& set HF_HUB_OFFLINE=1", value.display())
            } else {
                format!("export {key}={} HF_HUB_OFFLINE=1", value.display())
            });
        }
    }
    if !lines.is_empty() {
        out.push_str("to use it, paste:\n");
        for l in lines {
            out.push_str(&format!("  {l}\n"));
        }
    }
    out
}
