//! `ferry keygen`.
use std::path::PathBuf;

use crate::bundle::sign;

#[derive(Debug, Clone)]
pub struct Settings {
    pub secret: PathBuf,
    pub public: PathBuf,
    pub unencrypted: bool,
    pub force: bool,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let key_id = sign::generate(
        &settings.secret,
        &settings.public,
        !settings.unencrypted,
        settings.force,
    )?;
    println!(
        "Wrote secret key {} and public key {} (key id {key_id})",
        settings.secret.display(),
        settings.public.display()
    );
    Ok(())
}
