//! The library's top-level error: one variant per layer, classified into SPEC exit codes.
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Input(#[from] crate::inputs::Error),
    #[error(transparent)]
    Fetch(Box<crate::fetch::Error>),
    #[error(transparent)]
    Bundle(#[from] crate::bundle::Error),
    #[error(transparent)]
    Target(#[from] crate::target::TargetError),
    #[error(transparent)]
    Resolve(#[from] crate::resolve::ResolveError),
    #[error(transparent)]
    Sources(#[from] crate::fetch::sources::SourceError),
    #[error(transparent)]
    Install(#[from] crate::install::Error),
    #[error(transparent)]
    Lock(#[from] crate::lock::Error),
    /// `--hash` pinned for a requirement and the file's sha256 differ (exit 3: verification failed).
    #[error(transparent)]
    HashCheck(Box<crate::resolve::hash_check::HashMismatch>),
    #[error(transparent)]
    Mirrors(Box<crate::mirrors::Error>),
    #[error(transparent)]
    Serve(#[from] crate::serve::Error),
    #[error(transparent)]
    Torrent(#[from] crate::torrent::Error),
    #[error(transparent)]
    Oci(#[from] crate::oci::Error),
    #[error("{0}")]
    Usage(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl From<crate::mirrors::Error> for Error {
    fn from(e: crate::mirrors::Error) -> Self {
        Error::Mirrors(Box::new(e))
    }
}

impl From<crate::fetch::Error> for Error {
    fn from(e: crate::fetch::Error) -> Self {
        Error::Fetch(Box::new(e))
    }
}

impl From<Box<crate::resolve::hash_check::HashMismatch>> for Error {
    fn from(e: Box<crate::resolve::hash_check::HashMismatch>) -> Self {
        Error::HashCheck(e)
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Exit code per SPEC: 1 error, 2 usage, 3 verification failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) | Error::Target(_) | Error::Usage(_) | Error::Sources(_) => 2,
            Error::Lock(e) if e.is_usage() => 2,
            Error::Mirrors(e) if matches!(**e, crate::mirrors::Error::NoneFresh { .. }) => 1,
            Error::Mirrors(_) => 2,
            Error::Bundle(e) if e.is_verification() => 3,
            Error::Bundle(e) if e.is_usage() => 2,
            Error::Install(e) if e.is_verification() => 3,
            Error::HashCheck(_) => 3,
            Error::Install(crate::install::Error::Usage(_)) => 2,
            Error::Serve(e) => e.exit_code(),
            Error::Torrent(e) => e.exit_code(),
            Error::Oci(e) => e.exit_code(),
            Error::Resolve(_)
            | Error::Fetch(_)
            | Error::Bundle(_)
            | Error::Install(_)
            | Error::Lock(_)
            | Error::Io { .. }
            | Error::Other(_) => 1,
        }
    }
}
