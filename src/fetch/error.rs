//! Errors of the network side: each names the URL (or file) it is about and says whether a retry can help.
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::types::{RepoId, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{url}: cannot connect: {message}")]
    Connect { url: Url, message: String },
    #[error("{url}: timed out: {message}")]
    Timeout { url: Url, message: String },
    #[error("{url}: HTTP {status}{}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Status {
        url: Url,
        status: u16,
        /// `X-Error-Code` when the server sent one.
        code: Option<String>,
        /// `Retry-After` in seconds, when the server sent one.
        retry_after: Option<Duration>,
    },
    #[error("{url}: body ended after {got} of {expected} bytes")]
    Truncated { url: Url, got: u64, expected: u64 },
    #[error("{url}: server ignored the requested range ({message})")]
    Range { url: Url, message: String },
    #[error("{url}: sha256 mismatch: expected {expected}, got {actual}")]
    HashMismatch {
        url: Url,
        expected: Sha256,
        actual: Sha256,
    },
    #[error("{url}: git blob sha1 mismatch: expected {expected}, got {actual}")]
    BlobMismatch {
        url: Url,
        expected: String,
        actual: String,
    },
    #[error("{url}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        url: Url,
        expected: u64,
        actual: u64,
    },
    #[error("{url}: more than {limit} redirects")]
    TooManyRedirects { url: Url, limit: usize },
    #[error("{url}: redirect without a usable Location header")]
    BadRedirect { url: Url },
    #[error("{url}: unexpected response: {message}")]
    BadResponse { url: Url, message: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Every URL of one file failed; each entry says what that URL did.
    #[error("{label}: download failed:{}", Tried(tried))]
    Download {
        label: String,
        tried: Vec<UrlFailure>,
    },
    #[error("{repo}: repository not found ({url})")]
    RepoNotFound { repo: RepoId, url: Url },
    #[error("{repo}: revision '{revision}' not found ({url})")]
    RevisionNotFound {
        repo: RepoId,
        revision: String,
        url: Url,
    },
    #[error("{repo}: file '{path}' not found at revision '{revision}' ({url})")]
    EntryNotFound {
        repo: RepoId,
        revision: String,
        path: String,
        url: Url,
    },
    #[error("{repo}: gated or private: accept the licence on the hub and set HF_TOKEN ({url})")]
    Gated { repo: RepoId, url: Url },
    #[error("{0}")]
    Config(String),
}

/// What one URL did before the downloader gave up on it.
#[derive(Debug)]
pub struct UrlFailure {
    pub url: Url,
    pub attempts: u32,
    pub error: Box<Error>,
}

struct Tried<'a>(&'a [UrlFailure]);

impl fmt::Display for Tried<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in self.0 {
            let times = if t.attempts == 1 { "time" } else { "times" };
            write!(
                f,
                "\n  {} (tried {} {times}): {}",
                t.url, t.attempts, t.error
            )?;
        }
        Ok(())
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Whether trying the same URL again may succeed (network trouble, overload, a cut body).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::Timeout { .. }
            | Error::Truncated { .. }
            | Error::Range { .. } => true,
            Error::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }

    /// The server's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Classify a reqwest error for `url`.
    pub(crate) fn from_reqwest(url: &Url, err: reqwest::Error) -> Self {
        let message = error_chain(&err);
        if err.is_timeout() {
            Error::Timeout {
                url: url.clone(),
                message,
            }
        } else if err.is_body() || err.is_decode() {
            // A body cut off mid-stream (connection reset or closed early).
            Error::Truncated {
                url: url.clone(),
                got: 0,
                expected: 0,
            }
        } else {
            Error::Connect {
                url: url.clone(),
                message,
            }
        }
    }
}

/// `err: cause: cause` in one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        s.push_str(": ");
        s.push_str(&e.to_string());
        source = e.source();
    }
    s
}
