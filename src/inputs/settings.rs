//! What the user asked `lock` and `bundle` for, as plain data (clap stays in `cli.rs`).
use std::path::PathBuf;

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
    /// Do not add the target's pip (`--no-pip`).
    pub no_pip: bool,
    /// pip's `--only-binary` / `--no-binary` values, `--require-hashes`.
    pub only_binary: Vec<String>,
    pub no_binary: Vec<String>,
    pub require_hashes: bool,
}
