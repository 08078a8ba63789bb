//! `ferry bundle`.
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    pub inputs: super::InputSettings,
    pub output: Option<PathBuf>,
    pub secret: PathBuf,
    pub locked: Option<PathBuf>,
    pub split: Option<String>,
    pub dry_run: bool,
}

pub fn run(_settings: Settings) -> Result<(), crate::Error> {
    Err(crate::Error::Usage("ferry bundle: not built yet".into()))
}
