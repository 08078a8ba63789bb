//! The one door to the network: one tokio runtime and one reqwest client per process (one connection pool,
//! TLS roots, proxies from the environment), one auth layer ([`auth`]), one retry policy ([`retry`]) and one
//! error type ([`crate::fetch::Error`], naming the URL and saying whether a retry can help).
//!
//! Everything that talks HTTP goes through here: the index client, the hub client, the downloader, and
//! anything that serves, pushes or pulls later.
//!
//! ```no_run
//! use ferry::fetch::http::{self, Request};
//! # fn main() -> Result<(), ferry::fetch::Error> {
//! let url = url::Url::parse("http://127.0.0.1:8080/simple/demo/").unwrap();
//! // Blocking callers: the same client, driven on the shared runtime.
//! let page = http::block_on(http::client()?.fetch(&Request::get(url.clone()).accept("text/html")))?;
//! assert!(page.status == 200 || page.status == 404);
//! // Async callers: `http::handle()` is the shared runtime; spawn on it and await `client.send(...)`.
//! let _ = http::handle();
//! # Ok(()) }
//! ```
//!
//! Requests follow redirects by hand (at most 10): credentials are looked up for each hop's own host, and a
//! bearer token goes only to the origin of the URL first asked for.
pub mod auth;
pub mod retry;

use std::future::Future;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, LOCATION};
pub use reqwest::Method;
use url::Url;

use super::error::Error;

/// `ferry/<version>` user agent.
pub const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));
/// Redirects followed per request.
pub const MAX_REDIRECTS: usize = 10;
/// Time allowed to open a connection (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Seconds without progress before a read is abandoned (`FERRY_READ_TIMEOUT`, default 60).
pub fn read_timeout() -> Duration {
    let secs = std::env::var("FERRY_READ_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs.max(1))
}

/// The process-wide runtime (two worker threads; file IO of downloads runs on its blocking pool).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ferry-net")
            .enable_all()
            .build()
            .expect("the tokio runtime starts")
    })
}

/// A handle to the shared runtime, for spawning network tasks from async code (servers, publishers).
pub fn handle() -> tokio::runtime::Handle {
    runtime().handle().clone()
}

/// Run a future to completion on the shared runtime from synchronous code. Inside a task of the shared
/// runtime it blocks in place (the worker hands its other tasks to another thread) instead of panicking.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(future))
        }
        _ => runtime().block_on(future),
    }
}

/// The process-wide client. Fails when a CA bundle named by `SSL_CERT_FILE`, `PIP_CERT` or
/// `REQUESTS_CA_BUNDLE` cannot be read or holds no certificate.
pub fn client() -> Result<&'static Client, Error> {
    static CLIENT: OnceLock<Result<Client, (PathBuf, String)>> = OnceLock::new();
    CLIENT
        .get_or_init(Client::build)
        .as_ref()
        .map_err(|(path, message)| Error::CaBundle {
            path: path.clone(),
            message: message.clone(),
        })
}

/// Extra CA bundles named by `SSL_CERT_FILE`, `PIP_CERT` or `REQUESTS_CA_BUNDLE` (system roots are
/// always used too).
fn extra_roots() -> Result<Vec<reqwest::Certificate>, (PathBuf, String)> {
    let mut out = Vec::new();
    for var in ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"] {
        let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) else {
            continue;
        };
        let path = PathBuf::from(path);
        let pem = std::fs::read(&path).map_err(|e| (path.clone(), format!("{var}: {e}")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| (path.clone(), format!("{var}: not a PEM bundle: {e}")))?;
        if certs.is_empty() {
            return Err((path, format!("{var}: no certificate in the file")));
        }
        out.extend(certs);
    }
    Ok(out)
}

/// One request: method, URL, headers, optional body, optional bearer token.
///
/// Do not put `Authorization` in `headers`: use [`Request::bearer`] (sent to the first URL's origin only)
/// or configure credentials ([`auth::take_credentials`], netrc).
#[derive(Clone, Debug)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    bearer: Option<String>,
}

impl Request {
    pub fn new(method: Method, url: Url) -> Self {
        Request {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            bearer: None,
        }
    }
    pub fn get(url: Url) -> Self {
        Self::new(Method::GET, url)
    }
    pub fn head(url: Url) -> Self {
        Self::new(Method::HEAD, url)
    }
    /// Add a header (names and values that are not valid HTTP are ignored).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            self.headers.insert(n, v);
        }
        self
    }
    pub fn accept(self, value: &str) -> Self {
        self.header(ACCEPT.as_str(), value)
    }
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Some(body.into());
        self
    }
    /// A bearer token for the origin of this request's URL (never sent after a redirect elsewhere).
    pub fn bearer(mut self, token: Option<&str>) -> Self {
        self.bearer = token.map(str::to_string);
        self
    }
}

/// A response whose body has not been read yet.
pub struct Response {
    /// The URL that answered (after redirects), without credentials.
    pub url: Url,
    pub inner: reqwest::Response,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.inner.status().as_u16()
    }
    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }
    /// An `Error::Status` for this response (with `X-Error-Code` and `Retry-After`).
    pub fn status_error(&self) -> Error {
        status_error(self.url.clone(), self.headers(), self.status())
    }
    /// The whole body (small responses only; stream large ones with [`Response::chunks`]).
    pub async fn bytes(self) -> Result<Bytes, Error> {
        let url = self.url;
        self.inner
            .bytes()
            .await
            .map_err(|e| Error::from_reqwest(&url, e))
    }
    /// The body as a stream of chunks, each error naming the URL.
    pub fn chunks(self) -> impl futures_util::Stream<Item = Result<Bytes, Error>> {
        use futures_util::StreamExt;
        let url = self.url;
        self.inner
            .bytes_stream()
            .map(move |c| c.map_err(|e| Error::from_reqwest(&url, e)))
    }
}

/// A small response read whole.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub url: Url,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Fetched {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// `Err(Error::Status)` unless 2xx.
    pub fn error_for_status(self) -> Result<Self, Error> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(status_error(self.url, &self.headers, self.status))
        }
    }
    /// `Content-Type`, or "".
    pub fn content_type(&self) -> &str {
        self.headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// The shared client; get it with [`client`].
pub struct Client {
    http: reqwest::Client,
}

impl Client {
    fn build() -> Result<Client, (PathBuf, String)> {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(read_timeout())
            .pool_max_idle_per_host(16)
            .pool_idle_timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::none());
        for c in extra_roots()? {
            builder = builder.add_root_certificate(c);
        }
        let http = builder
            .build()
            .map_err(|e| (PathBuf::from("<TLS setup>"), super::error::error_chain(&e)))?;
        Ok(Client { http })
    }

    /// One attempt: send, following redirects by hand, and return the final response whatever its
    /// status. Credentials in `req.url` are remembered for its host and never sent elsewhere.
    pub async fn send(&self, req: &Request) -> Result<Response, Error> {
        let first = auth::take_credentials(&req.url);
        let first_origin = auth::Origin::of(&first);
        let mut current = first.clone();
        for _ in 0..=MAX_REDIRECTS {
            let mut builder = self
                .http
                .request(req.method.clone(), current.clone())
                .headers(req.headers.clone());
            builder = match (&req.bearer, auth::Origin::of(&current) == first_origin) {
                (Some(token), true) => builder.header(AUTHORIZATION, format!("Bearer {token}")),
                _ => match auth::basic_for(&current)? {
                    Some(b) => builder.header(AUTHORIZATION, auth::basic_header(&b)),
                    None => builder,
                },
            };
            if let Some(body) = &req.body {
                builder = builder.body(body.clone());
            }
            let resp = builder
                .send()
                .await
                .map_err(|e| Error::from_reqwest(&current, e))?;
            let status = resp.status().as_u16();
            if matches!(status, 301 | 302 | 303 | 307 | 308) {
                let next = resp
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| current.join(l).ok())
                    .ok_or_else(|| Error::BadRedirect {
                        url: current.clone(),
                    })?;
                // A Location with credentials in it is a URL we never configured: drop them.
                current = auth::strip(&next);
                continue;
            }
            return Ok(Response {
                url: current,
                inner: resp,
            });
        }
        Err(Error::TooManyRedirects {
            url: first,
            limit: MAX_REDIRECTS,
        })
    }

    /// One attempt with a streamed body (an upload, e.g. a registry blob chunk): credentials and bearer token
    /// as in [`Client::send`]; redirects are not followed (a stream cannot be sent twice), the caller sees them.
    pub async fn send_streaming(
        &self,
        req: &Request,
        body: reqwest::Body,
    ) -> Result<Response, Error> {
        let url = auth::take_credentials(&req.url);
        let mut builder = self
            .http
            .request(req.method.clone(), url.clone())
            .headers(req.headers.clone());
        builder = match &req.bearer {
            Some(token) => builder.header(AUTHORIZATION, format!("Bearer {token}")),
            None => match auth::basic_for(&url)? {
                Some(b) => builder.header(AUTHORIZATION, auth::basic_header(&b)),
                None => builder,
            },
        };
        let resp = builder
            .body(body)
            .send()
            .await
            .map_err(|e| Error::from_reqwest(&url, e))?;
        Ok(Response { url, inner: resp })
    }

    /// Send and read the whole body, retrying (backoff, `Retry-After`) while the failure is transient:
    /// network errors, cut bodies, 5xx, 408, 429. The final answer comes back whatever its status.
    pub async fn fetch(&self, req: &Request) -> Result<Fetched, Error> {
        let mut budget = retry::Budget::new();
        loop {
            let err = match self.fetch_once(req).await {
                Ok(f) if !status_is_retryable(f.status) => return Ok(f),
                Ok(f) => status_error(f.url, &f.headers, f.status),
                Err(e) if e.is_retryable() => e,
                Err(e) => return Err(e),
            };
            if !budget.failed(0) {
                return Err(err);
            }
            let wait = retry::backoff(budget.failures(), err.retry_after());
            tracing::warn!("{err}; retrying in {:.1}s", wait.as_secs_f64());
            tokio::time::sleep(wait).await;
        }
    }

    async fn fetch_once(&self, req: &Request) -> Result<Fetched, Error> {
        let resp = self.send(req).await?;
        let (url, status, headers) = (resp.url.clone(), resp.status(), resp.headers().clone());
        let body = resp.bytes().await?;
        Ok(Fetched {
            url,
            status,
            headers,
            body,
        })
    }

    /// [`Client::fetch`] from synchronous code.
    pub fn fetch_blocking(&self, req: &Request) -> Result<Fetched, Error> {
        block_on(self.fetch(req))
    }
}

fn status_is_retryable(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

/// `Error::Status` from a response's status and headers.
pub fn status_error(url: Url, headers: &HeaderMap, status: u16) -> Error {
    let code = headers
        .get("x-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Error::Status {
        url,
        status,
        code,
        retry_after: retry::retry_after(headers),
    }
}
