//! `ferry push` / `ferry pull`: a bundle as an OCI artifact in any distribution registry (Harbor, Artifactory,
//! Nexus, the CNCF distribution registry). Each bundle file is one layer whose digest is its sha256, so
//! registries deduplicate across bundles and a second push uploads nothing; the config blob is `ferry.json`;
//! member names, symlinks, the tar's mtime and the volumes' sha256 travel as annotations, which is everything
//! `pull` needs to rebuild the byte-identical signed tar with ferry's own writer.
mod auth;
mod pull;
mod push;
mod registry;

use std::path::PathBuf;

pub use pull::pull;
pub use push::push;

/// The artifact type of a ferry bundle.
pub const ARTIFACT_TYPE: &str = "application/vnd.ferry.bundle.v1+json";
/// Media type of the config blob (`ferry.json`).
pub const CONFIG_TYPE: &str = "application/vnd.ferry.bundle.config.v1+json";
/// Media type of each layer (one bundle file).
pub const FILE_TYPE: &str = "application/vnd.ferry.bundle.file.v1";
pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// Annotation keys.
pub const TITLE: &str = "org.opencontainers.image.title";
pub const A_NAME: &str = "vnd.ferry.bundle.name";
pub const A_MTIME: &str = "vnd.ferry.tar.mtime";
pub const A_VOLUMES: &str = "vnd.ferry.tar.volumes";
pub const A_SYMLINKS: &str = "vnd.ferry.tar.symlinks";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bundle(#[from] crate::bundle::Error),
    #[error("'{0}' is not an OCI reference: expected oci://HOST[:PORT]/REPO:TAG")]
    Reference(String),
    #[error("{url}: {message}")]
    Http { url: String, message: String },
    #[error("{url}: {status} {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{host}: {message}")]
    Auth { host: String, message: String },
    #[error("{what}: expected {expected}, got {actual}")]
    Digest {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("{reference}: {message}")]
    NotABundle { reference: String, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: already exists (use --force to replace it)", .0.display())]
    Exists(PathBuf),
    #[error("async runtime: {0}")]
    Runtime(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Bundle(e) if e.is_verification() => 3,
            Error::Bundle(e) if e.is_usage() => 2,
            Error::Digest { .. } | Error::NotABundle { .. } => 3,
            Error::Reference(_) | Error::Exists(_) => 2,
            _ => 1,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// `oci://HOST[:PORT]/REPO[:TAG]` (or `@sha256:…` for pull).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub host: String,
    pub repo: String,
    /// A tag or a `sha256:` digest.
    pub reference: String,
}

impl std::str::FromStr for Reference {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::Reference(s.to_string());
        let rest = s.strip_prefix("oci://").ok_or_else(bad)?;
        let (host, path) = rest.split_once('/').ok_or_else(bad)?;
        if host.is_empty() || path.is_empty() {
            return Err(bad());
        }
        let (repo, reference) = if let Some((repo, digest)) = path.split_once('@') {
            (repo, digest.to_string())
        } else {
            match path.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => (repo, tag.to_string()),
                _ => (path, "latest".to_string()),
            }
        };
        let repo_ok = repo.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
        });
        let tag_ok = reference.starts_with("sha256:")
            || (!reference.is_empty()
                && reference.len() <= 128
                && reference
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)));
        if !repo_ok || !tag_ok {
            return Err(bad());
        }
        Ok(Reference {
            host: host.to_string(),
            repo: repo.to_string(),
            reference,
        })
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        write!(
            f,
            "oci://{}/{}{sep}{}",
            self.host, self.repo, self.reference
        )
    }
}

#[derive(Debug, Clone)]
pub struct PushSettings {
    pub bundle: PathBuf,
    pub reference: String,
    pub plain_http: bool,
    /// Verify the bundle with this key before pushing.
    pub public: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct PullSettings {
    pub reference: String,
    pub output: PathBuf,
    pub plain_http: bool,
    /// Verify the rebuilt bundle with this key too.
    pub public: Option<PathBuf>,
    pub force: bool,
}

/// What a push did.
#[derive(Debug, Clone, Default)]
pub struct PushReport {
    pub layers: usize,
    pub uploaded: usize,
    pub uploaded_bytes: u64,
    pub skipped: usize,
    pub manifest_digest: String,
}

/// The runtime push and pull run on.
fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::Runtime(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let r: Reference = "oci://harbor.corp/ml/team:2026-12".parse().unwrap();
        assert_eq!(r.host, "harbor.corp");
        assert_eq!(r.repo, "ml/team");
        assert_eq!(r.reference, "2026-12");
        let r: Reference = "oci://127.0.0.1:5000/team".parse().unwrap();
        assert_eq!(
            (r.host.as_str(), r.reference.as_str()),
            ("127.0.0.1:5000", "latest")
        );
        let r: Reference = "oci://h:5000/a/b@sha256:abc".parse().unwrap();
        assert_eq!(r.reference, "sha256:abc");
        assert_eq!(r.to_string(), "oci://h:5000/a/b@sha256:abc");
        for bad in [
            "harbor/x:1",
            "oci://host",
            "oci://host/",
            "oci://h/Upper:1",
            "oci://h/a:b c",
        ] {
            assert!(bad.parse::<Reference>().is_err(), "{bad}");
        }
    }
}
