//! One function per subcommand: orchestration only.
use std::path::PathBuf;

pub mod bundle;
pub mod diff;
pub mod inspect;
pub mod install;
pub mod keygen;
pub mod lock;
pub mod probe;
pub mod progress;
pub mod serve;
pub mod verify;

/// What the user asked for, parsed.
#[derive(Debug)]
pub enum Command {
    Keygen(keygen::Settings),
    Lock(lock::Settings),
    Bundle(bundle::Settings),
    Verify(verify::Settings),
    Inspect(inspect::Settings),
    Install(install::Settings),
    Probe(probe::Settings),
    Diff(diff::Settings),
    Serve(serve::Settings),
}

/// MANIFEST, INPUTS, TARGETS and SOURCES of `lock` and `bundle`, as plain settings.
#[derive(Debug, Default, Clone)]
pub struct InputSettings {
    pub manifest: Option<PathBuf>,
    pub requirements: Vec<PathBuf>,
    pub constraints: Vec<PathBuf>,
    pub configs: Vec<PathBuf>,
    pub models: Vec<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub variant: Option<String>,
    pub python_versions: Vec<String>,
    pub platforms: Vec<String>,
    pub target_files: Vec<PathBuf>,
    pub index_url: Option<String>,
    pub extra_index_urls: Vec<String>,
    pub find_links: Vec<String>,
    pub hf_endpoint: Option<String>,
    pub pre: bool,
    pub skip_unbundlable: bool,
    /// A local file named by a config that does not exist is a warning, not an error.
    pub skip_missing: bool,
    pub cache_dir: Option<PathBuf>,
    pub jobs: usize,
    pub index_strategy: Option<String>,
    pub torch_backend: Option<String>,
    pub torch_index_base: Option<String>,
}

pub fn run(command: Command) -> Result<(), crate::Error> {
    match command {
        Command::Keygen(s) => keygen::run(s),
        Command::Lock(s) => lock::run(s),
        Command::Bundle(s) => bundle::run(s),
        Command::Verify(s) => verify::run(s),
        Command::Inspect(s) => inspect::run(s),
        Command::Install(s) => install::run(s),
        Command::Probe(s) => probe::run(s),
        Command::Diff(s) => diff::run(s),
        Command::Serve(s) => serve::run(s),
    }
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `-q`: errors only.
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
}

/// Whether `-q` was given.
pub fn is_quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Progress for downloads: bars on a TTY, plain lines otherwise, nothing with `-q`.
pub fn progress() -> Box<dyn crate::fetch::download::Progress> {
    if QUIET.load(std::sync::atomic::Ordering::Relaxed) {
        Box::new(crate::fetch::download::SilentProgress)
    } else {
        Box::new(progress::TermProgress::new())
    }
}

/// Write a small file atomically: temp file in the same folder, fsync, rename.
pub fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), crate::Error> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| crate::Error::io(dir, e))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(|e| crate::Error::io(path, e))?;
    tmp.persist(path)
        .map_err(|e| crate::Error::io(path, e.error))?;
    Ok(())
}
