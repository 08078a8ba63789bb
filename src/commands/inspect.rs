//! `ferry inspect`.
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundle: PathBuf,
    pub json: bool,
}

pub fn run(_settings: Settings) -> Result<(), crate::Error> {
    Err(crate::Error::Usage("ferry inspect: not built yet".into()))
}
