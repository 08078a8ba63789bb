//! Errors of the install stage: each names the wheel, member, repo or path it is about.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{wheel}: unsafe path '{member}' in wheel ({why})")]
    UnsafePath {
        wheel: String,
        member: String,
        why: &'static str,
    },
    #[error("{wheel}: member '{member}' does not match its RECORD ({what})")]
    RecordMismatch {
        wheel: String,
        member: String,
        what: String,
    },
    #[error("{wheel}: member '{member}' is not listed in the wheel's RECORD")]
    NotInRecord { wheel: String, member: String },
    #[error("{wheel}: RECORD lists '{member}' but the wheel does not contain it")]
    MissingFromWheel { wheel: String, member: String },
    #[error("{wheel}: invalid wheel: {why}")]
    BadWheel { wheel: String, why: String },
    #[error("{wheel}: {source}")]
    Zip {
        wheel: String,
        source: zip::result::ZipError,
    },
    #[error("bundle file wheels/{file} {why}")]
    BundleFile { file: String, why: String },
    #[error("model {repo}: file '{path}' {why}")]
    ModelFile {
        repo: String,
        path: String,
        why: String,
    },
    #[error("model {repo}: the cache already holds blob '{blob}' with different content; refusing to overwrite it (remove {} to repair the cache)", path.display())]
    BlobConflict {
        repo: String,
        blob: String,
        path: PathBuf,
    },
    #[error("model {repo}: the cache lists files for commit {commit} in {} that the bundle lacks: {}; offline loading would fail (bundle them or remove that file)", tree.display(), missing.join(", "))]
    IncompleteTree {
        repo: String,
        commit: String,
        tree: PathBuf,
        missing: Vec<String>,
    },
    #[error("bundle has no files for this host: host is {host}, bundle targets are {}; run `ferry probe -o target.json` here and bundle again with `--target target.json`", bundle.join(", "))]
    NoMatchingTarget { host: String, bundle: Vec<String> },
    #[error("package {package}: no file in the bundle is compatible with this host ({host}); files: {}; run `ferry probe -o target.json` here and bundle again with `--target target.json`", files.join(", "))]
    NoCompatibleFile {
        package: String,
        host: String,
        files: Vec<String>,
    },
    #[error("package {package}: cannot build sdist {filename} offline: {why}")]
    SdistBuild {
        package: String,
        filename: String,
        why: String,
    },
    #[error("not enough free space in {}: need {}, {} available", path.display(), crate::types::human_size(*needed), crate::types::human_size(*available))]
    NoSpace {
        path: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("cannot run '{command}': {why}")]
    Command { command: String, why: String },
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    #[error("injected failure after {0} commit steps (FERRY_TEST_FAIL_AFTER)")]
    Injected(usize),
    #[error("{why}; rolling back also failed: {rollback}")]
    RollbackFailed { why: String, rollback: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: installed RECORD cannot be parsed: {why}", path.display())]
    UnreadableRecord { path: PathBuf, why: String },
    #[error("delta bundle over {base}: this host lacks what the delta leaves out (install the base bundle first, or bundle without --have): {}", missing.join("; "))]
    DeltaBaseMissing { base: String, missing: Vec<String> },
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Content that is not what it claims to be (lying RECORD, unsafe path, wrong hash): exit code 3.
    pub fn is_verification(&self) -> bool {
        matches!(
            self,
            Error::UnsafePath { .. }
                | Error::RecordMismatch { .. }
                | Error::NotInRecord { .. }
                | Error::MissingFromWheel { .. }
                | Error::ModelFile { .. }
                | Error::BundleFile { .. }
        )
    }
}

/// Attach a path to an io::Error.
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T, Error>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, Error> {
        self.map_err(|e| Error::io(path, e))
    }
}
