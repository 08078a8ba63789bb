//! Client for Hugging Face hub compatible endpoints (the hub itself or an `HF_ENDPOINT` mirror): revision
//! and tree listings over the JSON API, and `resolve` URLs for the downloader. Plain HTTP only: Xet headers
//! are ignored and every file goes through the configured endpoint.
use std::path::PathBuf;

use serde::Deserialize;
use url::Url;

use super::error::Error;
use super::http::Request;
use crate::types::{CommitSha, RepoId, RepoKind};

/// The hub used when neither `--hf-endpoint` nor `HF_ENDPOINT` says otherwise.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// A configured hub endpoint with its token.
pub struct Hub {
    endpoint: Url,
    token: Option<String>,
    client: &'static super::http::Client,
}

/// A revision resolved to its commit.
#[derive(Clone, Debug)]
pub struct RevisionInfo {
    pub commit: CommitSha,
    /// `rfilename` of every file at that commit.
    pub siblings: Vec<String>,
}

/// One file of a tree listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeFile {
    pub path: String,
    pub size: u64,
    /// Git blob sha1 (hex).
    pub oid: String,
    pub lfs: Option<LfsInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LfsInfo {
    /// sha256 of the content (hex).
    pub sha256: String,
    pub size: u64,
}

#[derive(Deserialize)]
struct RevisionJson {
    sha: String,
    #[serde(default)]
    siblings: Vec<SiblingJson>,
}

#[derive(Deserialize)]
struct SiblingJson {
    rfilename: String,
    // With `?blobs=true`:
    #[serde(default)]
    size: Option<u64>,
    #[serde(default, rename = "blobId")]
    blob_id: Option<String>,
    #[serde(default)]
    lfs: Option<SiblingLfsJson>,
}

#[derive(Deserialize)]
struct SiblingLfsJson {
    sha256: String,
    size: u64,
}

#[derive(Deserialize)]
struct TreeEntryJson {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    oid: String,
    #[serde(default)]
    lfs: Option<LfsJson>,
}

#[derive(Deserialize)]
struct LfsJson {
    oid: String,
    size: u64,
}

/// Where the endpoint and token come from, looked up through `var` (the process environment in production).
/// A token file that exists but cannot be read (or `HF_TOKEN_PATH` naming a missing file) is an error
/// naming the path.
pub fn settings_from(
    flag_endpoint: Option<&str>,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(String, Option<String>), Error> {
    let endpoint = flag_endpoint
        .map(str::to_string)
        .or_else(|| var("HF_ENDPOINT").filter(|s| !s.trim().is_empty()))
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let token = match var("HF_TOKEN").filter(|t| !t.trim().is_empty()) {
        Some(t) => Some(t),
        None => {
            let (path, required) = match var("HF_TOKEN_PATH").filter(|p| !p.is_empty()) {
                Some(p) => (Some(PathBuf::from(p)), true),
                None => {
                    let cache = var("XDG_CACHE_HOME")
                        .map(PathBuf::from)
                        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache")));
                    let home = var("HF_HOME")
                        .map(PathBuf::from)
                        .or_else(|| cache.map(|c| c.join("huggingface")));
                    (home.map(|h| h.join("token")), false)
                }
            };
            match path {
                None => None,
                Some(path) => match std::fs::read_to_string(&path) {
                    Ok(t) => Some(t),
                    Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => None,
                    Err(e) => {
                        return Err(Error::Credentials {
                            path,
                            message: format!("hub token file: {e}"),
                        })
                    }
                },
            }
        }
    };
    let token = token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    Ok((endpoint, token))
}

impl Hub {
    pub fn new(endpoint: &str, token: Option<String>) -> Result<Self, Error> {
        let endpoint = Url::parse(endpoint.trim_end_matches('/'))
            .map_err(|e| Error::Config(format!("invalid hub endpoint '{endpoint}': {e}")))?;
        if endpoint.cannot_be_a_base() || !matches!(endpoint.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "invalid hub endpoint '{endpoint}': not an http(s) URL"
            )));
        }
        // Credentials in the endpoint URL are remembered for its host and kept out of every URL shown.
        let endpoint = super::http::auth::take_credentials(&endpoint);
        Ok(Hub {
            endpoint,
            token,
            client: super::http::client()?,
        })
    }

    /// Endpoint from `--hf-endpoint`, else `HF_ENDPOINT`, else the default; token from `HF_TOKEN`, else the
    /// file at `HF_TOKEN_PATH`, else `$HF_HOME/token` (`HF_HOME` defaulting to `$XDG_CACHE_HOME/huggingface`,
    /// then `~/.cache/huggingface`, as huggingface_hub does).
    pub fn from_env(flag_endpoint: Option<&str>) -> Result<Self, Error> {
        let (endpoint, token) = settings_from(flag_endpoint, |k| std::env::var(k).ok())?;
        Self::new(&endpoint, token)
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// `{ep}/{prefix…}/{segments…}` with each segment percent-encoded.
    fn url<'a>(&self, segments: impl IntoIterator<Item = &'a str>) -> Url {
        let mut url = self.endpoint.clone();
        {
            let mut path = url.path_segments_mut().expect("endpoint is a base URL");
            path.pop_if_empty();
            for s in segments {
                path.push(s);
            }
        }
        url
    }

    /// `{ep}/api/{models|datasets}/{repo}/{endpoint}/{rev}` (the revision percent-encoded as one segment).
    fn api_url(&self, repo: &RepoId, kind: RepoKind, endpoint: &str, rev: &str) -> Url {
        self.url(
            ["api", kind.api_segment()]
                .into_iter()
                .chain(Self::repo_segments(repo))
                .chain([endpoint, rev]),
        )
    }

    fn repo_segments(repo: &RepoId) -> impl Iterator<Item = &str> {
        repo.as_str().split('/')
    }

    /// `GET {ep}/api/{models|datasets}/{repo}/revision/{rev}` → the commit and its files.
    pub fn revision(
        &self,
        repo: &RepoId,
        kind: RepoKind,
        revision: &str,
    ) -> Result<RevisionInfo, Error> {
        let url = self.url(
            ["api", kind.api_segment()]
                .into_iter()
                .chain(Self::repo_segments(repo))
                .chain(["revision", revision]),
        );
        let (body, _) = self.get(&url, repo, Some(revision), None)?;
        let json: RevisionJson = serde_json::from_slice(&body).map_err(|e| Error::BadResponse {
            url: url.clone(),
            message: format!("revision info: {e}"),
        })?;
        let commit = json.sha.parse().map_err(|e| Error::BadResponse {
            url: url.clone(),
            message: e,
        })?;
        Ok(RevisionInfo {
            commit,
            siblings: json.siblings.into_iter().map(|s| s.rfilename).collect(),
        })
    }

    /// The files at `commit` from `revision/{commit}?blobs=true`: the fallback for mirrors without the tree API.
    pub fn files_from_revision(
        &self,
        repo: &RepoId,
        kind: RepoKind,
        commit: &CommitSha,
    ) -> Result<Vec<TreeFile>, Error> {
        let mut url = self.api_url(repo, kind, "revision", commit.as_str());
        url.query_pairs_mut().append_pair("blobs", "true");
        let (body, _) = self.get(&url, repo, Some(commit.as_str()), None)?;
        let bad = |message: String| Error::BadResponse {
            url: url.clone(),
            message,
        };
        let json: RevisionJson =
            serde_json::from_slice(&body).map_err(|e| bad(format!("revision info: {e}")))?;
        let mut files = Vec::new();
        for s in json.siblings {
            let (Some(size), Some(oid)) = (s.size, s.blob_id) else {
                return Err(bad(format!("'{}' has no size or blobId", s.rfilename)));
            };
            files.push(TreeFile {
                path: s.rfilename,
                size,
                oid,
                lfs: s.lfs.map(|l| LfsInfo {
                    sha256: l.sha256,
                    size: l.size,
                }),
            });
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// A pagination link on this endpoint: mirrors that pass the upstream's `Link` header through would
    /// otherwise send the next request (and the token) to a host the user never configured.
    fn rebase(&self, link: Url) -> Url {
        let same_origin = link.scheme() == self.endpoint.scheme()
            && link.host_str() == self.endpoint.host_str()
            && link.port_or_known_default() == self.endpoint.port_or_known_default();
        if same_origin {
            return link;
        }
        let Some(at) = link.path().find("/api/") else {
            return link;
        };
        let mut url = self.endpoint.clone();
        let prefix = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{prefix}{}", &link.path()[at..]));
        url.set_query(link.query());
        url
    }

    /// `GET {ep}/api/{models|datasets}/{repo}/tree/{commit}?recursive=true`, following `Link: rel="next"`.
    /// Directories are left out.
    pub fn tree(
        &self,
        repo: &RepoId,
        kind: RepoKind,
        commit: &CommitSha,
    ) -> Result<Vec<TreeFile>, Error> {
        let mut url = self.api_url(repo, kind, "tree", commit.as_str());
        url.query_pairs_mut().append_pair("recursive", "true");
        let mut files = Vec::new();
        let mut next = Some(url);
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 100_000 {
                return Err(Error::BadResponse {
                    url,
                    message: "tree listing does not end".into(),
                });
            }
            let (body, headers) = self.get(&url, repo, Some(commit.as_str()), None)?;
            let entries: Vec<TreeEntryJson> =
                serde_json::from_slice(&body).map_err(|e| Error::BadResponse {
                    url: url.clone(),
                    message: format!("tree listing: {e}"),
                })?;
            for e in entries.into_iter().filter(|e| e.kind == "file") {
                files.push(TreeFile {
                    path: e.path,
                    size: e.size,
                    oid: e.oid,
                    lfs: e.lfs.map(|l| LfsInfo {
                        sha256: l.oid,
                        size: l.size,
                    }),
                });
            }
            next = headers
                .get_all(reqwest::header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(next_link)
                .and_then(|l| url.join(&l).ok())
                .map(|l| self.rebase(l));
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);
        Ok(files)
    }

    /// `{ep}/{repo}/resolve/{commit}/{path}` (datasets under `{ep}/datasets/…`).
    pub fn file_url(&self, repo: &RepoId, kind: RepoKind, commit: &str, path: &str) -> Url {
        let prefix: &[&str] = match kind {
            RepoKind::Model => &[],
            RepoKind::Dataset => &["datasets"],
        };
        self.url(
            prefix
                .iter()
                .copied()
                .chain(Self::repo_segments(repo))
                .chain(["resolve", commit])
                .chain(path.split('/')),
        )
    }

    /// A small file's content (e.g. `model_index.json`), pinned to `commit`.
    pub fn small_file(
        &self,
        repo: &RepoId,
        kind: RepoKind,
        commit: &CommitSha,
        path: &str,
    ) -> Result<Vec<u8>, Error> {
        let url = self.file_url(repo, kind, commit.as_str(), path);
        Ok(self.get(&url, repo, Some(commit.as_str()), Some(path))?.0)
    }

    /// A GET with the token (the shared client retries transient failures).
    fn get(
        &self,
        url: &Url,
        repo: &RepoId,
        revision: Option<&str>,
        path: Option<&str>,
    ) -> Result<(Vec<u8>, reqwest::header::HeaderMap), Error> {
        self.get_once(url, repo, revision, path)
    }

    fn get_once(
        &self,
        url: &Url,
        repo: &RepoId,
        revision: Option<&str>,
        path: Option<&str>,
    ) -> Result<(Vec<u8>, reqwest::header::HeaderMap), Error> {
        let req = Request::get(url.clone()).bearer(self.token.as_deref());
        let resp = self.client.fetch_blocking(&req)?;
        if !resp.is_success() {
            let code = resp
                .headers
                .get("x-error-code")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            return Err(map_status(
                url,
                repo,
                revision,
                path,
                resp.status,
                code,
                &resp.headers,
            ));
        }
        Ok((resp.body.to_vec(), resp.headers))
    }
}

/// Hub errors from the status and `X-Error-Code`.
fn map_status(
    url: &Url,
    repo: &RepoId,
    revision: Option<&str>,
    path: Option<&str>,
    status: u16,
    code: Option<String>,
    headers: &reqwest::header::HeaderMap,
) -> Error {
    let url = url.clone();
    let repo = repo.clone();
    let revision = revision.unwrap_or("main").to_string();
    match code.as_deref() {
        Some("GatedRepo") => return Error::Gated { repo, url },
        Some("RepoNotFound") => return Error::RepoNotFound { repo, url },
        Some("RevisionNotFound") => {
            return Error::RevisionNotFound {
                repo,
                revision,
                url,
            }
        }
        Some("EntryNotFound") => {
            return Error::EntryNotFound {
                repo,
                revision,
                path: path.unwrap_or_default().to_string(),
                url,
            }
        }
        _ => {}
    }
    match (status, path) {
        (401 | 403, _) => Error::Gated { repo, url },
        (404, Some(path)) => Error::EntryNotFound {
            repo,
            revision,
            path: path.to_string(),
            url,
        },
        (404, None) => Error::RevisionNotFound {
            repo,
            revision,
            url,
        },
        _ => Error::Status {
            url,
            status,
            code,
            retry_after: super::http::retry::retry_after(headers),
        },
    }
}

/// The target of `<…>; rel="next"` in one `Link` header value (which may list several links).
fn next_link(value: &str) -> Option<String> {
    value.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then(|| target.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded() {
        let hub = Hub::new("http://127.0.0.1:9/mirror/", None).unwrap();
        let repo: RepoId = "org/name".parse().unwrap();
        assert_eq!(
            hub.file_url(&repo, RepoKind::Model, "abc", "unet/my file.json")
                .as_str(),
            "http://127.0.0.1:9/mirror/org/name/resolve/abc/unet/my%20file.json"
        );
        assert_eq!(
            hub.file_url(&repo, RepoKind::Dataset, "abc", "a.txt")
                .as_str(),
            "http://127.0.0.1:9/mirror/datasets/org/name/resolve/abc/a.txt"
        );
        let url = hub.url(["api", "models", "org", "name", "revision", "refs/pr/1"]);
        assert!(url.as_str().ends_with("/revision/refs%2Fpr%2F1"), "{url}");
    }

    #[test]
    fn foreign_links_are_rebased() {
        let hub = Hub::new("http://127.0.0.1:9/mirror", None).unwrap();
        let l = Url::parse("https://upstream.invalid/api/models/a/b/tree/c?cursor=x").unwrap();
        assert_eq!(
            hub.rebase(l).as_str(),
            "http://127.0.0.1:9/mirror/api/models/a/b/tree/c?cursor=x"
        );
        let l = Url::parse("http://127.0.0.1:9/mirror/api/x?cursor=y").unwrap();
        assert_eq!(hub.rebase(l.clone()), l);
    }

    #[test]
    fn link_header() {
        assert_eq!(
            next_link(r#"<https://h/api/x?cursor=a>; rel="next""#).as_deref(),
            Some("https://h/api/x?cursor=a")
        );
        assert_eq!(
            next_link(r#"<https://h/p>; rel="prev", <https://h/n>; rel="next""#).as_deref(),
            Some("https://h/n")
        );
        assert_eq!(next_link(r#"<https://h/p>; rel="prev""#), None);
    }

    #[test]
    fn settings_precedence() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hf_file\n").unwrap();
        let home = dir.path().to_string_lossy().to_string();
        let env = |pairs: Vec<(&'static str, String)>| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };
        let (ep, tok) = settings_from(None, env(vec![("HF_HOME", home.clone())])).unwrap();
        assert_eq!(ep, DEFAULT_ENDPOINT);
        assert_eq!(tok.as_deref(), Some("hf_file"));
        let (ep, tok) = settings_from(
            Some("http://flag"),
            env(vec![
                ("HF_ENDPOINT", "http://env".into()),
                ("HF_TOKEN", "hf_env".into()),
                ("HF_HOME", home),
            ]),
        )
        .unwrap();
        assert_eq!(
            (ep.as_str(), tok.as_deref()),
            ("http://flag", Some("hf_env"))
        );
        let missing = dir
            .path()
            .join("no-such-token")
            .to_string_lossy()
            .to_string();
        let err = settings_from(None, env(vec![("HF_TOKEN_PATH", missing.clone())])).unwrap_err();
        assert!(err.to_string().contains(&missing), "{err}");
        assert_eq!(
            (ep.as_str(), tok.as_deref()),
            ("http://flag", Some("hf_env"))
        );
    }
}
