//! `ferry probe`.
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    pub python: Option<PathBuf>,
    pub output: PathBuf,
}

pub fn run(_settings: Settings) -> Result<(), crate::Error> {
    Err(crate::Error::Usage("ferry probe: not built yet".into()))
}
