//! `ferry verify`.
use std::path::PathBuf;

use crate::bundle::{self, MemberKind};

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundle: PathBuf,
    pub public: PathBuf,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let verified = bundle::verify(&settings.bundle, &settings.public)?;
    let bytes: u64 = verified
        .members
        .iter()
        .filter(|m| m.kind == MemberKind::File)
        .map(|m| m.size)
        .sum();
    println!(
        "OK: {} members, {}, signed by key {}",
        verified.members.len(),
        bundle::human_size(bytes),
        verified.key_id
    );
    Ok(())
}
