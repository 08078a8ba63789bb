//! Errors of the network side: each names the URL (or file) it is about and says whether a retry can help.
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::types::{RepoId, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot connect: {message}", Shown(url))]
    Connect { url: Url, message: String },
    #[error("{}: timed out: {message}", Shown(url))]
    Timeout { url: Url, message: String },
    #[error("{}: HTTP {status}{}", Shown(url), code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Status {
        url: Url,
        status: u16,
        /// `X-Error-Code` when the server sent one.
        code: Option<String>,
        /// `Retry-After` in seconds, when the server sent one.
        retry_after: Option<Duration>,
    },
    #[error("{}: body ended after {got} of {expected} bytes", Shown(url))]
    Truncated { url: Url, got: u64, expected: u64 },
    #[error("{}: server ignored the requested range ({message})", Shown(url))]
    Range { url: Url, message: String },
    #[error("{}: sha256 mismatch: expected {expected}, got {actual}", Shown(url))]
    HashMismatch {
        url: Url,
        expected: Sha256,
        actual: Sha256,
    },
    #[error(
        "{}: git blob sha1 mismatch: expected {expected}, got {actual}",
        Shown(url)
    )]
    BlobMismatch {
        url: Url,
        expected: String,
        actual: String,
    },
    #[error(
        "{}: size mismatch: expected {expected} bytes, got {actual}",
        Shown(url)
    )]
    SizeMismatch {
        url: Url,
        expected: u64,
        actual: u64,
    },
    #[error("{}: more than {limit} redirects", Shown(url))]
    TooManyRedirects { url: Url, limit: usize },
    #[error("{}: redirect without a usable Location header", Shown(url))]
    BadRedirect { url: Url },
    #[error("{}: unexpected response: {message}", Shown(url))]
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
    #[error("{repo}: repository not found ({})", Shown(url))]
    RepoNotFound { repo: RepoId, url: Url },
    #[error("{repo}: revision '{revision}' not found ({})", Shown(url))]
    RevisionNotFound {
        repo: RepoId,
        revision: String,
        url: Url,
    },
    #[error(
        "{repo}: file '{path}' not found at revision '{revision}' ({})",
        Shown(url)
    )]
    EntryNotFound {
        repo: RepoId,
        revision: String,
        path: String,
        url: Url,
    },
    #[error(
        "{repo}: gated or private: accept the licence on the hub and set HF_TOKEN ({})",
        Shown(url)
    )]
    Gated { repo: RepoId, url: Url },
    #[error("{}: cannot use this CA bundle: {message}", path.display())]
    CaBundle { path: PathBuf, message: String },
    #[error("{}: cannot read credentials: {message}", path.display())]
    Credentials { path: PathBuf, message: String },
    #[error("{0}")]
    Config(String),
    /// An error while pinning a model the user named somewhere (config key, manifest, flag).
    #[error("{origin}: {source}")]
    Requested { origin: String, source: Box<Error> },
}

/// What one URL did before the downloader gave up on it.
#[derive(Debug)]
pub struct UrlFailure {
    pub url: Url,
    pub attempts: u32,
    pub error: Box<Error>,
}

struct Tried<'a>(&'a [UrlFailure]);

/// A URL as shown to users: any password in it replaced by `****`.
pub struct Shown<'a>(pub &'a Url);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.password().is_some() {
            let mut u = self.0.clone();
            let _ = u.set_password(Some("****"));
            write!(f, "{u}")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Display for Tried<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for t in self.0 {
            let times = if t.attempts == 1 { "time" } else { "times" };
            write!(
                f,
                "\n  {} (tried {} {times}): {}",
                Shown(&t.url),
                t.attempts,
                t.error
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
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut s = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        s.push_str(": ");
        s.push_str(&e.to_string());
        source = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_shown() {
        let url = Url::parse("https://user:s3cret@index.example/simple/x/").unwrap();
        let err = Error::Status {
            url: url.clone(),
            status: 503,
            code: None,
            retry_after: None,
        };
        assert_eq!(
            err.to_string(),
            "https://user:****@index.example/simple/x/: HTTP 503"
        );
        let all = Error::Download {
            label: "x.whl".into(),
            tried: vec![UrlFailure {
                url,
                attempts: 4,
                error: Box::new(err),
            }],
        };
        assert!(!all.to_string().contains("s3cret"));
        assert!(all.to_string().contains("(tried 4 times)"));
    }
}
