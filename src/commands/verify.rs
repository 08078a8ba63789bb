//! `ferry verify`.
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundle: PathBuf,
    pub public: PathBuf,
}

pub fn run(_settings: Settings) -> Result<(), crate::Error> {
    Err(crate::Error::Usage("ferry verify: not built yet".into()))
}
