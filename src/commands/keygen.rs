//! `ferry keygen`.
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    pub secret: PathBuf,
    pub public: PathBuf,
    pub unencrypted: bool,
    pub force: bool,
}

pub fn run(_settings: Settings) -> Result<(), crate::Error> {
    Err(crate::Error::Usage("ferry keygen: not built yet".into()))
}
