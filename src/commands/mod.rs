//! One function per subcommand: orchestration only.
use std::path::PathBuf;

pub mod bundle;
pub mod inspect;
pub mod install;
pub mod keygen;
pub mod lock;
pub mod probe;
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
    pub cache_dir: Option<PathBuf>,
    pub jobs: usize,
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
    }
}
