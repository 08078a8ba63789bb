//! `ferry install`.
use std::path::PathBuf;

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

pub fn run(_settings: Settings) -> Result<(), crate::Error> {
    Err(crate::Error::Usage("ferry install: not built yet".into()))
}
