//! Errors of the bundle layer. Each names the member, file or key it is about; [`Error::is_verification`]
//! tells a refused bundle (exit 3) from an ordinary failure (exit 1).
use std::path::PathBuf;

use crate::types::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {message}", path.display())]
    Key { path: PathBuf, message: String },
    #[error("{}: wrong password for this secret key", path.display())]
    WrongPassword { path: PathBuf },
    #[error("{}: already exists (use --force to overwrite)", path.display())]
    KeyExists { path: PathBuf },
    #[error("no password for {}: set FERRY_KEY_PASSWORD or run on a terminal", path.display())]
    NoPassword { path: PathBuf },
    #[error("no password for the new key {}: set FERRY_KEY_PASSWORD, run on a terminal, or pass --unencrypted for a key without a password", path.display())]
    NoNewPassword { path: PathBuf },
    #[error("{}: no such public key; it is the .pub file `ferry keygen` wrote next to the secret key that signed the bundle (ferry keygen -s ferry.key -p ferry.pub): copy it here or pass -p PATH", path.display())]
    NoPublicKey { path: PathBuf },
    #[error("{}: already exists (use --force to replace it)", path.display())]
    OutputExists { path: PathBuf },
    #[error("passwords do not match")]
    PasswordMismatch,
    #[error("invalid size '{0}' (expected bytes or a number with K, M, G or T, e.g. 4000M)")]
    InvalidSize(String),
    #[error("{}: missing volume {} of a split bundle", first.display(), missing.display())]
    MissingVolume { first: PathBuf, missing: PathBuf },
    #[error("trusted comment must be one line without outer spaces: '{0}'")]
    TrustedComment(String),
    #[error("a fresh signature by key {key_id} does not verify: {message}")]
    SelfCheck { key_id: String, message: String },
    #[error("cannot bundle {member}: {message}")]
    InvalidEntry { member: String, message: String },
    #[error("{}: changed since it was hashed (bundle member {member}): expected {expected} ({}), found {actual} ({})", path.display(), crate::types::human_size(*expected_size), crate::types::human_size(*actual_size))]
    SourceChanged {
        path: PathBuf,
        member: String,
        expected: Sha256,
        expected_size: u64,
        actual: Sha256,
        actual_size: u64,
    },

    // Verification failures (exit 3).
    #[error("{}: bad signature on {}: {message}", bundle.display(), super::SUMS)]
    BadSignature { bundle: PathBuf, message: String },
    #[error("{}: signed by key {bundle_key}, but the public key {} is {given_key}", bundle.display(), key_path.display())]
    WrongKey {
        bundle: PathBuf,
        bundle_key: String,
        key_path: PathBuf,
        given_key: String,
    },
    #[error("{}: unsafe member '{member}': {reason}", bundle.display())]
    UnsafeMember {
        bundle: PathBuf,
        member: String,
        reason: String,
    },
    #[error("{}: member '{member}' does not match {}: expected {expected}, got {actual}", bundle.display(), super::SUMS)]
    HashMismatch {
        bundle: PathBuf,
        member: String,
        expected: Sha256,
        actual: Sha256,
    },
    #[error("{}: member '{member}': {message}", bundle.display())]
    BadMember {
        bundle: PathBuf,
        member: String,
        message: String,
    },
    #[error("{}: not a valid ferry bundle: {message}", bundle.display())]
    Malformed { bundle: PathBuf, message: String },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The bundle was refused: bad signature, wrong key, hash mismatch, unsafe or missing member.
    pub fn is_verification(&self) -> bool {
        matches!(
            self,
            Error::BadSignature { .. }
                | Error::WrongKey { .. }
                | Error::UnsafeMember { .. }
                | Error::HashMismatch { .. }
                | Error::BadMember { .. }
                | Error::Malformed { .. }
        )
    }

    /// The user asked for something malformed (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, Error::InvalidSize(_) | Error::OutputExists { .. })
    }

    /// The member this error is about, if any.
    pub fn member(&self) -> Option<&str> {
        match self {
            Error::UnsafeMember { member, .. }
            | Error::HashMismatch { member, .. }
            | Error::BadMember { member, .. }
            | Error::InvalidEntry { member, .. } => Some(member),
            _ => None,
        }
    }
}
