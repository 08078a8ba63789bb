//! The OCI distribution API over ferry's HTTP client: HEAD before upload, chunked uploads (`POST`, `PATCH`
//! with `Content-Range`, `PUT ?digest=`) that resume from the registry's `Range` after a failed chunk,
//! manifests, and blob downloads hashed while they stream (redirects to storage followed without credentials).
use std::path::Path;

use bytes::Bytes;
use sha2::Digest as _;
use tokio::io::AsyncWriteExt as _;

use super::auth::{self, Challenge, Credentials};
use super::{Error, Reference, MANIFEST_TYPE};
use crate::bundle::TarStream;
use crate::fetch::http;

/// Bytes per `PATCH` (`FERRY_OCI_CHUNK_SIZE` overrides, e.g. to test chunking).
fn chunk_size() -> u64 {
    std::env::var("FERRY_OCI_CHUNK_SIZE")
        .ok()
        .and_then(|v| crate::bundle::parse_size(&v).ok())
        .unwrap_or(64 << 20)
}

/// Tries per chunk before the upload gives up.
const TRIES: usize = 4;

pub struct Registry {
    client: &'static http::Client,
    base: url::Url,
    host: String,
    repo: String,
    creds: Option<Credentials>,
    /// The bearer token that worked last.
    token: tokio::sync::Mutex<Option<String>>,
    /// The registry asked for basic credentials: they ride in the URLs, and the shared client keeps them
    /// for this host only.
    basic: std::sync::atomic::AtomicBool,
    push: bool,
}

/// One request to build again on retry: the shared client's request and, for uploads, a streamed body.
type Built = (http::Request, Option<reqwest::Body>);

/// Where a blob's bytes are: a place in a bundle's stream.
#[derive(Clone)]
pub enum Source {
    Stream {
        stream: TarStream,
        offset: u64,
        size: u64,
    },
}

impl Source {
    fn size(&self) -> u64 {
        match self {
            Source::Stream { size, .. } => *size,
        }
    }

    /// `len` bytes from `from`, as a request body streamed in chunks.
    fn body(&self, from: u64, len: u64) -> reqwest::Body {
        match self {
            Source::Stream { stream, offset, .. } => {
                let chunks = futures_util::stream::unfold(
                    (stream.clone(), offset + from, len),
                    |(stream, pos, left)| async move {
                        if left == 0 {
                            return None;
                        }
                        let want = left.min(1 << 20) as usize;
                        let reader = stream.clone();
                        let read = tokio::task::spawn_blocking(move || {
                            reader.read_chunk(pos, want).map(Bytes::from)
                        })
                        .await
                        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
                        Some(match read {
                            Ok(b) => {
                                let n = b.len() as u64;
                                (Ok(b), (stream, pos + n, left - n))
                            }
                            Err(e) => (Err(e), (stream, pos, 0)),
                        })
                    },
                );
                reqwest::Body::wrap_stream(chunks)
            }
        }
    }
}

impl Registry {
    pub fn new(r: &Reference, plain_http: bool, push: bool) -> Result<Self, Error> {
        let scheme = if plain_http { "http" } else { "https" };
        let base = url::Url::parse(&format!("{scheme}://{}/", r.host))
            .map_err(|_| Error::Reference(r.to_string()))?;
        Ok(Registry {
            client: http::client()?,
            base,
            host: r.host.clone(),
            repo: r.repo.clone(),
            creds: auth::credentials(&r.host),
            token: tokio::sync::Mutex::new(None),
            basic: std::sync::atomic::AtomicBool::new(false),
            push,
        })
    }

    fn url(&self, path: &str) -> url::Url {
        let url = self
            .base
            .join(&format!("v2/{}/{path}", self.repo))
            .expect("valid path");
        self.with_credentials(url)
    }

    /// `url` with the stored credentials in it when the registry asked for basic auth.
    fn with_credentials(&self, mut url: url::Url) -> url::Url {
        if let (true, Some(c)) = (
            self.basic.load(std::sync::atomic::Ordering::Relaxed),
            &self.creds,
        ) {
            let _ = url.set_username(&c.user);
            let _ = url.set_password(Some(&c.password));
        }
        url
    }

    /// Send through the shared client, answering one 401 challenge (basic or bearer token) and retrying once.
    async fn send(&self, build: impl Fn() -> Built) -> Result<http::Response, Error> {
        for attempt in 0..2 {
            let (request, body) = build();
            let request = request.bearer(self.token.lock().await.as_deref());
            let resp = match body {
                Some(body) => self.client.send_streaming(&request, body).await?,
                None => self.client.send(&request).await?,
            };
            if resp.status() != 401 || attempt == 1 {
                return Ok(resp);
            }
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .and_then(auth::parse_challenge);
            match challenge {
                Some(Challenge::Basic) => {
                    if self.creds.is_none() {
                        return Err(self.no_credentials());
                    }
                    self.basic.store(true, std::sync::atomic::Ordering::Relaxed);
                    // The shared client keeps them for this registry's origin: every request that follows,
                    // the ones already in flight included, carries them; no other host ever sees them.
                    http::auth::take_credentials(&self.with_credentials(self.base.clone()));
                }
                Some(Challenge::Bearer {
                    realm,
                    service,
                    scope,
                }) => *self.token.lock().await = Some(self.token(&realm, service, scope).await?),
                None => return Ok(resp),
            }
        }
        unreachable!("the loop returns")
    }

    fn no_credentials(&self) -> Error {
        Error::Auth {
            host: self.host.clone(),
            message: "the registry asks for credentials and none are stored for it (log in with \
                      `docker login` or `podman login`, or set REGISTRY_AUTH_FILE)"
                .into(),
        }
    }

    /// The bearer token flow: GET the realm with service and scope, with basic credentials when stored.
    async fn token(
        &self,
        realm: &str,
        service: Option<String>,
        scope: Option<String>,
    ) -> Result<String, Error> {
        let actions = if self.push { "pull,push" } else { "pull" };
        let wanted = format!("repository:{}:{actions}", self.repo);
        let mut url = url::Url::parse(realm).map_err(|_| Error::Auth {
            host: self.host.clone(),
            message: format!("token realm '{realm}' is not a URL"),
        })?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = &service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", &wanted);
            if let Some(s) = scope.filter(|s| *s != wanted) {
                q.append_pair("scope", &s);
            }
        }
        if let Some(c) = &self.creds {
            // The shared client sends them to the realm's host only.
            let _ = url.set_username(&c.user);
            let _ = url.set_password(Some(&c.password));
        }
        let fetched = self.client.fetch(&http::Request::get(url)).await?;
        if !fetched.is_success() {
            return Err(Error::Auth {
                host: self.host.clone(),
                message: format!("token service {realm} answered {}", fetched.status),
            });
        }
        let doc: serde_json::Value =
            serde_json::from_slice(&fetched.body).map_err(|e| Error::Auth {
                host: self.host.clone(),
                message: format!("token service {realm}: {e}"),
            })?;
        doc.get("token")
            .or_else(|| doc.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| Error::Auth {
                host: self.host.clone(),
                message: format!("token service {realm} returned no token"),
            })
    }

    pub async fn blob_exists(&self, digest: &str) -> Result<bool, Error> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self
            .send(|| (http::Request::head(url.clone()), None))
            .await?;
        match resp.status() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(status_error(url.as_str(), resp).await),
        }
    }

    /// Upload one blob in chunks; a failed chunk is retried from where the registry says the upload stands.
    pub async fn upload(&self, digest: &str, source: &Source) -> Result<(), Error> {
        let start_url = self.url("blobs/uploads/");
        let resp = self
            .send(|| {
                (
                    http::Request::new(http::Method::POST, start_url.clone()),
                    None,
                )
            })
            .await?;
        if resp.status() != 202 {
            return Err(status_error(start_url.as_str(), resp).await);
        }
        let mut location = self.location(&resp, start_url.as_str())?;
        let size = source.size();
        let chunk = chunk_size();
        let mut done = 0u64;
        let mut failures = 0;
        while done < size {
            let len = chunk.min(size - done);
            let url = location.clone();
            let result = self
                .send(|| {
                    let request = http::Request::new(http::Method::PATCH, url.clone())
                        .header("content-type", "application/octet-stream")
                        .header("content-length", &len.to_string())
                        .header("content-range", &format!("{done}-{}", done + len - 1));
                    (request, Some(source.body(done, len)))
                })
                .await;
            match result {
                Ok(resp) if resp.status() == 202 => {
                    location = self.location(&resp, url.as_str())?;
                    done += len;
                    failures = 0;
                }
                failed => {
                    failures += 1;
                    let err = match failed {
                        Ok(resp) => status_error(url.as_str(), resp).await,
                        Err(e) => e,
                    };
                    if failures >= TRIES {
                        return Err(err);
                    }
                    tracing::warn!("{err}; resuming the upload");
                    tokio::time::sleep(std::time::Duration::from_millis(500 * failures as u64))
                        .await;
                    // Ask where the upload stands and go on from there.
                    let status = self
                        .send(|| (http::Request::get(url.clone()), None))
                        .await?;
                    if status.status() != 204 {
                        return Err(err);
                    }
                    done = status
                        .headers()
                        .get("range")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|r| r.rsplit('-').next()?.parse::<u64>().ok())
                        .map_or(0, |end| end + 1);
                    location = self.location(&status, url.as_str())?;
                }
            }
        }
        let mut finish = location.clone();
        finish.query_pairs_mut().append_pair("digest", digest);
        let resp = self
            .send(|| {
                let request = http::Request::new(http::Method::PUT, finish.clone())
                    .header("content-type", "application/octet-stream")
                    .body(Bytes::new());
                (request, None)
            })
            .await?;
        if resp.status() != 201 {
            return Err(status_error(finish.as_str(), resp).await);
        }
        Ok(())
    }

    fn location(&self, resp: &http::Response, from: &str) -> Result<url::Url, Error> {
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Http {
                url: from.to_string(),
                message: "upload answer without Location".into(),
            })?;
        let url = self.base.join(loc).map_err(|_| Error::Http {
            url: from.to_string(),
            message: format!("bad Location '{loc}'"),
        })?;
        Ok(self.with_credentials(url))
    }

    /// PUT the manifest under `reference`; returns its digest.
    pub async fn put_manifest(&self, reference: &str, body: &[u8]) -> Result<String, Error> {
        let url = self.url(&format!("manifests/{reference}"));
        let body = Bytes::copy_from_slice(body);
        let resp = self
            .send(|| {
                let request = http::Request::new(http::Method::PUT, url.clone())
                    .header("content-type", MANIFEST_TYPE)
                    .body(body.clone());
                (request, None)
            })
            .await?;
        if resp.status() != 201 {
            return Err(status_error(url.as_str(), resp).await);
        }
        Ok(format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(&body))
        ))
    }

    pub async fn get_manifest(&self, reference: &str) -> Result<Vec<u8>, Error> {
        let url = self.url(&format!("manifests/{reference}"));
        let resp = self
            .send(|| (http::Request::get(url.clone()).accept(MANIFEST_TYPE), None))
            .await?;
        if !(200..300).contains(&resp.status()) {
            return Err(status_error(url.as_str(), resp).await);
        }
        Ok(resp.bytes().await?.to_vec())
    }

    /// Download a blob into `dest`, hashing as it streams; a digest that does not match is an error and
    /// leaves no file.
    pub async fn download(&self, digest: &str, size: u64, dest: &Path) -> Result<(), Error> {
        // The shared client follows a redirect to storage itself, without the registry's credentials.
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self
            .send(|| (http::Request::get(url.clone()), None))
            .await?;
        let url = resp.url.clone();
        if !(200..300).contains(&resp.status()) {
            return Err(status_error(url.as_str(), resp).await);
        }
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| Error::io(dest, e))?;
        let mut hasher = sha2::Sha256::new();
        let mut got = 0u64;
        let mut chunks = std::pin::pin!(resp.chunks());
        while let Some(chunk) = futures_util::StreamExt::next(&mut chunks).await {
            let chunk = chunk?;
            hasher.update(&chunk);
            got += chunk.len() as u64;
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::io(dest, e))?;
        }
        file.sync_all().await.map_err(|e| Error::io(dest, e))?;
        let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
        if actual != digest || got != size {
            let _ = tokio::fs::remove_file(dest).await;
            return Err(Error::Digest {
                what: format!("blob {url} ({got} of {size} bytes)"),
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(())
    }
}

/// A registry error answer: the status and the registry's own error codes.
async fn status_error(url: &str, resp: http::Response) -> Error {
    let status = resp.status();
    let text = String::from_utf8_lossy(&resp.bytes().await.unwrap_or_default()).into_owned();
    // Never echo credentials that ride in a URL.
    let url = url::Url::parse(url).map_or(url.to_string(), |u| {
        crate::fetch::http::auth::strip(&u).to_string()
    });
    let message = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            let errors = v.get("errors")?.as_array()?;
            Some(
                errors
                    .iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e["code"].as_str().unwrap_or("?"),
                            e["message"].as_str().unwrap_or("")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })
        .unwrap_or_else(|| text.chars().take(300).collect());
    Error::Status {
        url,
        status,
        message,
    }
}
