//! The bundle: one signed tar (optionally split into volumes) holding `ferry.json`, `SHA256SUMS`, its minisign
//! signature, `wheels/` and `models/hub/`. Writing is deterministic; reading verifies in one streaming pass.
mod error;
mod hashing;
mod layout;
mod output;
pub mod pylock;
mod reader;
pub mod review;
pub mod sbom;
mod seek_volumes;
pub mod sign;
mod volumes;
mod writer;

pub use error::Error;
pub use layout::{check_member_name, model_folder, snapshot_link_target, MANIFEST, SUMS, SUMS_SIG};
pub use reader::{
    extract, extract_reporting, list, read_front, read_manifest, verify, verify_reporting, Front,
    Member, MemberKind, Verified,
};
pub use seek_volumes::{BufSlice, Slice, TarStream};
pub use sign::{KeyId, PublicKey, SecretKey};
pub use volumes::{parse_size, MAX_VOLUME};
pub use writer::{rebuild, write, write_reporting, Entry, WriteOptions, WriteSummary};

/// The trusted comment ferry signs with when the caller has no better one: no wall clock, so the same lock
/// gives the same signature.
pub fn default_trusted_comment(name: &str, created: u64) -> String {
    let name: String = name
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("ferry bundle {name} created {created}")
}

pub use crate::types::human_size;
