//! The bundle: one signed tar (optionally split into volumes) holding `ferry.json`, `SHA256SUMS`, its minisign
//! signature, `wheels/` and `models/hub/`. Writing is deterministic; reading verifies in one streaming pass.
mod error;
mod hashing;
mod layout;
mod reader;
pub mod sign;
mod volumes;
mod writer;

pub use error::Error;
pub use layout::{check_member_name, MANIFEST, SUMS, SUMS_SIG};
pub use reader::{extract, read_front, read_manifest, verify, Front, Member, MemberKind, Verified};
pub use sign::{KeyId, PublicKey, SecretKey};
pub use volumes::{parse_size, MAX_VOLUME};
pub use writer::{write, Entry, WriteOptions, WriteSummary};

/// The trusted comment ferry signs with when the caller has no better one: no wall clock, so the same lock
/// gives the same signature.
pub fn default_trusted_comment(name: &str, created: u64) -> String {
    format!("ferry bundle {name} created {created}")
}

/// Human size: `1.5 GiB`, `12.0 KiB`, `512 B`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
