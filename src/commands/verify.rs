//! `ferry verify`.
use std::path::PathBuf;

use crate::bundle::{self, MemberKind};

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundle: PathBuf,
    pub public: PathBuf,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    let term = super::term();
    let meter = term.meter("verifying", super::bundle_bytes(&settings.bundle));
    let verified = bundle::verify_reporting(&settings.bundle, &settings.public, &|n| meter.add(n))?;
    meter.finish();
    let bytes: u64 = verified
        .members
        .iter()
        .filter(|m| m.kind == MemberKind::File)
        .map(|m| m.size)
        .sum();
    println!(
        "OK: {}, {}, signed by key {}",
        crate::types::plural(verified.members.len(), "member"),
        bundle::human_size(bytes),
        verified.key_id
    );
    Ok(())
}
