//! The one downloader for every file ferry carries (wheels and model blobs): bounded parallelism, streaming
//! to `DEST.incomplete` with sha256 computed on the way, resume with `Range`, retries with backoff, fail-over
//! between mirrors, and an atomic rename once the content is proven right.
//!
//! Network IO runs on a small tokio runtime; the file writes and hashing of each download run on a blocking
//! thread fed by a bounded channel, so memory stays flat for multi-GB files.
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_RANGE, LOCATION, RANGE, RETRY_AFTER};
use sha2::Digest;
use tokio::sync::{mpsc, oneshot};
use url::Url;

use super::error::{Error, UrlFailure};
use crate::types::Sha256;

/// Attempts per URL before moving to the next one.
pub(crate) const MAX_ATTEMPTS: u32 = 4;
/// Redirects followed by hand per request.
const MAX_REDIRECTS: usize = 10;
/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// One file to fetch.
#[derive(Clone, Debug)]
pub struct DownloadRequest {
    /// The same file, in fail-over order.
    pub urls: Vec<Url>,
    pub dest: PathBuf,
    pub sha256: Option<Sha256>,
    pub size: Option<u64>,
    /// Bearer token, sent only to the first URL's host (never across a redirect to another host).
    pub auth: Option<String>,
    /// Name shown in progress output and errors.
    pub label: String,
}

/// What a finished download was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Downloaded {
    pub sha256: Sha256,
    pub size: u64,
    /// The URL (from the request's list) that served it.
    pub url: Url,
    /// Retries needed across all URLs (0 for a clean first attempt or a cache hit).
    pub retries: u32,
    /// Bytes taken from an earlier `.incomplete` file instead of the network.
    pub resumed_bytes: u64,
}

/// Progress reporting, called by the downloader; implementations live outside the library's logic.
pub trait Progress: Sync {
    fn start(&self, label: &str, total: Option<u64>);
    fn advance(&self, label: &str, bytes: u64);
    fn finish(&self, label: &str);
    fn message(&self, msg: &str);
}

/// Reports nothing.
pub struct SilentProgress;

impl Progress for SilentProgress {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: &str, _: u64) {}
    fn finish(&self, _: &str) {}
    fn message(&self, _: &str) {}
}

/// Download every request, at most `jobs` at a time; results come back in request order. The first
/// failure stops the rest (their `.incomplete` files stay for a later resume).
pub fn download_all(
    reqs: Vec<DownloadRequest>,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<Downloaded>, Error> {
    if reqs.is_empty() {
        return Ok(Vec::new());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("<tokio runtime>", e))?;
    let client = super::http::download_client();
    runtime.block_on(async {
        futures_util::stream::iter(reqs.iter().map(|r| download_one(&client, r, progress)))
            .buffered(jobs.max(1))
            .try_collect()
            .await
    })
}

/// `DEST.incomplete`, next to DEST.
pub fn incomplete_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".incomplete");
    dest.with_file_name(name)
}

async fn download_one(
    client: &reqwest::Client,
    req: &DownloadRequest,
    progress: &dyn Progress,
) -> Result<Downloaded, Error> {
    let Some(first) = req.urls.first() else {
        return Err(Error::Download {
            label: req.label.clone(),
            tried: Vec::new(),
        });
    };
    if let Some(dir) = req.dest.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| Error::io(dir, e))?;
    }
    if let Some(expected) = &req.sha256 {
        if let Some((size, sha)) = hash_existing(req.dest.clone()).await? {
            if &sha == expected && req.size.is_none_or(|s| s == size) {
                return Ok(Downloaded {
                    sha256: sha,
                    size,
                    url: first.clone(),
                    retries: 0,
                    resumed_bytes: 0,
                });
            }
        }
    }

    let writer = Writer::spawn(incomplete_path(&req.dest));
    let (mut len, _) = writer.digest().await?;
    if req.size.is_some_and(|s| len > s) {
        writer.reset().await?;
        len = 0;
    }
    let resumed_bytes = len;
    progress.start(&req.label, req.size);
    progress.advance(&req.label, len);

    // A complete `.incomplete` from an interrupted run: when its hash can be checked, check it before
    // asking anyone.
    if len > 0 && req.size == Some(len) && req.sha256.is_some() {
        if verify(&writer, req, first).await.is_ok() {
            return finish(writer, req, first, 0, resumed_bytes, progress).await;
        }
        writer.reset().await?;
        len = 0;
        progress.start(&req.label, req.size);
    }

    let mut tried = Vec::new();
    let mut retries = 0;
    for url in &req.urls {
        let mut attempts = 0;
        let error = loop {
            attempts += 1;
            let result = match fetch_into(client, req, url, &mut len, &writer, progress).await {
                Ok(served) => verify(&writer, req, &served).await,
                Err(e) => Err(e),
            };
            let err = match result {
                Ok(()) => {
                    return finish(writer, req, url, retries, resumed_bytes, progress).await;
                }
                Err(e) => e,
            };
            if matches!(err, Error::HashMismatch { .. } | Error::SizeMismatch { .. }) {
                writer.reset().await?;
                len = 0;
                progress.start(&req.label, req.size);
                break err;
            }
            if !err.is_retryable() || attempts >= MAX_ATTEMPTS {
                break err;
            }
            retries += 1;
            let wait = backoff(attempts, err.retry_after());
            progress.message(&format!(
                "{}: {err}; retrying in {:.1}s",
                req.label,
                wait.as_secs_f64()
            ));
            tokio::time::sleep(wait).await;
        };
        tried.push(UrlFailure {
            url: url.clone(),
            attempts,
            error: Box::new(error),
        });
    }
    writer.close(len == 0).await;
    progress.message(&format!("failed {}", req.label));
    Err(Error::Download {
        label: req.label.clone(),
        tried,
    })
}

/// One request (following redirects by hand) streamed into `writer`, continuing from `len` bytes.
/// Returns the URL that finally served the body.
async fn fetch_into(
    client: &reqwest::Client,
    req: &DownloadRequest,
    url: &Url,
    len: &mut u64,
    writer: &Writer,
    progress: &dyn Progress,
) -> Result<Url, Error> {
    if url.scheme() == "file" {
        return copy_local(req, url, len, writer, progress).await;
    }
    let mut current = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let mut builder = client.get(current.clone());
        if let Some(token) = &req.auth {
            if same_host(&current, &req.urls[0]) {
                builder = builder.header(AUTHORIZATION, format!("Bearer {token}"));
            }
        }
        if *len > 0 {
            builder = builder.header(RANGE, format!("bytes={len}-"));
        }
        let resp = builder
            .send()
            .await
            .map_err(|e| Error::from_reqwest(&current, e))?;
        let status = resp.status().as_u16();
        if matches!(status, 301 | 302 | 303 | 307 | 308) {
            let mut next = resp
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| current.join(l).ok())
                .ok_or_else(|| Error::BadRedirect {
                    url: current.clone(),
                })?;
            // Credentials in the URL (a private index) stay with their host, like the bearer token.
            if same_host(&next, url) && next.username().is_empty() && !url.username().is_empty() {
                let _ = next.set_username(url.username());
                let _ = next.set_password(url.password());
            }
            current = next;
            continue;
        }
        match status {
            200 if *len > 0 => {
                // The server ignored the range: start over cleanly.
                writer.reset().await?;
                *len = 0;
                progress.start(&req.label, req.size);
            }
            200 => {}
            206 => {
                let start = content_range_start(resp.headers());
                if start != Some(*len) {
                    writer.reset().await?;
                    *len = 0;
                    progress.start(&req.label, req.size);
                    return Err(Error::Range {
                        url: current,
                        message: format!("asked for byte {len}, got range start {start:?}"),
                    });
                }
            }
            416 if *len > 0 => {
                writer.reset().await?;
                *len = 0;
                progress.start(&req.label, req.size);
                return Err(Error::Range {
                    url: current,
                    message: "416 range not satisfiable".into(),
                });
            }
            _ => return Err(status_error(current, resp.headers(), status)),
        }
        let content_length = resp.content_length();
        let start = *len;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                if e.is_timeout() {
                    Error::Timeout {
                        url: current.clone(),
                        message: "no data within the read timeout".into(),
                    }
                } else {
                    Error::Truncated {
                        url: current.clone(),
                        got: *len - start,
                        expected: content_length.unwrap_or(0),
                    }
                }
            })?;
            let n = chunk.len() as u64;
            if let Some(expected) = req.size.filter(|&s| *len + n > s) {
                // More than the file can hold: stop reading now rather than at the end.
                return Err(Error::SizeMismatch {
                    url: current,
                    expected,
                    actual: *len + n,
                });
            }
            writer.write(Box::new(chunk)).await?;
            *len += n;
            progress.advance(&req.label, n);
        }
        let got = *len - start;
        if let Some(expected) = content_length.filter(|&cl| got < cl) {
            return Err(Error::Truncated {
                url: current,
                got,
                expected,
            });
        }
        if let Some(size) = req.size.filter(|&s| *len < s) {
            return Err(Error::Truncated {
                url: current,
                got: *len,
                expected: size,
            });
        }
        return Ok(current);
    }
    Err(Error::TooManyRedirects {
        url: url.clone(),
        limit: MAX_REDIRECTS,
    })
}

/// A `file:` URL (a `--find-links` folder): stream the local file through the same writer and checks.
async fn copy_local(
    req: &DownloadRequest,
    url: &Url,
    len: &mut u64,
    writer: &Writer,
    progress: &dyn Progress,
) -> Result<Url, Error> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let path = url
        .to_file_path()
        .map_err(|_| Error::BadRedirect { url: url.clone() })?;
    let mut f = tokio::fs::File::open(&path)
        .await
        .map_err(|e| Error::io(&path, e))?;
    f.seek(std::io::SeekFrom::Start(*len))
        .await
        .map_err(|e| Error::io(&path, e))?;
    loop {
        let mut buf = vec![0u8; 1 << 20];
        let n = f.read(&mut buf).await.map_err(|e| Error::io(&path, e))?;
        if n == 0 {
            break;
        }
        buf.truncate(n);
        writer.write(Box::new(buf)).await?;
        *len += n as u64;
        progress.advance(&req.label, n as u64);
    }
    Ok(url.clone())
}

/// Size and sha256 against the request's expectations.
async fn verify(writer: &Writer, req: &DownloadRequest, served: &Url) -> Result<(), Error> {
    let (size, sha) = writer.digest().await?;
    if let Some(expected) = req.size.filter(|&s| s != size) {
        return Err(Error::SizeMismatch {
            url: served.clone(),
            expected,
            actual: size,
        });
    }
    if let Some(expected) = req.sha256.as_ref().filter(|&e| *e != sha) {
        return Err(Error::HashMismatch {
            url: served.clone(),
            expected: expected.clone(),
            actual: sha,
        });
    }
    Ok(())
}

async fn finish(
    writer: Writer,
    req: &DownloadRequest,
    url: &Url,
    retries: u32,
    resumed_bytes: u64,
    progress: &dyn Progress,
) -> Result<Downloaded, Error> {
    let (size, sha256) = writer.digest().await?;
    writer.commit(req.dest.clone()).await?;
    progress.finish(&req.label);
    Ok(Downloaded {
        sha256,
        size,
        url: url.clone(),
        retries,
        resumed_bytes,
    })
}

fn same_host(a: &Url, b: &Url) -> bool {
    a.host_str() == b.host_str() && a.port_or_known_default() == b.port_or_known_default()
}

/// `bytes START-END/TOTAL` → START.
fn content_range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes")?.trim();
    range.split('-').next()?.trim().parse().ok()
}

fn status_error(url: Url, headers: &HeaderMap, status: u16) -> Error {
    let code = headers
        .get("x-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let retry_after = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    Error::Status {
        url,
        status,
        code,
        retry_after,
    }
}

/// Exponential backoff with jitter (base `FERRY_RETRY_BASE_MS`, default 500 ms), or the server's
/// `Retry-After` (capped) when it gave one.
pub(crate) fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after {
        return after.min(MAX_RETRY_AFTER);
    }
    let base = std::env::var("FERRY_RETRY_BASE_MS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(500);
    let exp = base.saturating_mul(1 << attempt.saturating_sub(1).min(6));
    let capped = exp.min(base.max(1).saturating_mul(20));
    let jitter = random_u64() % (capped / 2 + 1);
    Duration::from_millis(capped / 2 + jitter + capped / 4)
}

fn random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Size and sha256 of an existing file, `None` when it does not exist.
async fn hash_existing(path: PathBuf) -> Result<Option<(u64, Sha256)>, Error> {
    tokio::task::spawn_blocking(move || match std::fs::File::open(&path) {
        Ok(mut f) => {
            let mut hasher = sha2::Sha256::new();
            let size = hash_into(&mut f, &mut hasher).map_err(|e| Error::io(&path, e))?;
            Ok(Some((size, Sha256::from_bytes(&hasher.finalize()))))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, e)),
    })
    .await
    .expect("hashing task does not panic")
}

fn hash_into(reader: &mut impl Read, hasher: &mut sha2::Sha256) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

/// Bytes as the HTTP client received them, handed to the writer thread without a copy.
type Chunk = Box<dyn AsRef<[u8]> + Send>;

enum Cmd {
    Write(Chunk),
    Reset(oneshot::Sender<io::Result<()>>),
    Digest(oneshot::Sender<io::Result<(u64, Sha256)>>),
    Commit(PathBuf, oneshot::Sender<io::Result<()>>),
    Close { remove: bool },
}

/// The `.incomplete` file of one download, owned by a blocking thread that writes and hashes.
struct Writer {
    tx: mpsc::Sender<Cmd>,
    path: PathBuf,
}

impl Writer {
    fn spawn(path: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel(32);
        let thread_path = path.clone();
        tokio::task::spawn_blocking(move || writer_loop(thread_path, rx));
        Writer { tx, path }
    }

    fn stopped(&self) -> Error {
        Error::io(&self.path, io::Error::other("file writer stopped"))
    }

    async fn write(&self, data: Chunk) -> Result<(), Error> {
        self.tx
            .send(Cmd::Write(data))
            .await
            .map_err(|_| self.stopped())
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<io::Result<T>>) -> Cmd,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| self.stopped())?;
        answer
            .await
            .map_err(|_| self.stopped())?
            .map_err(|e| Error::io(&self.path, e))
    }

    /// Bytes written so far and their sha256 (including a resumed prefix).
    async fn digest(&self) -> Result<(u64, Sha256), Error> {
        self.request(Cmd::Digest).await
    }

    async fn reset(&self) -> Result<(), Error> {
        self.request(Cmd::Reset).await
    }

    /// fsync, then rename to `dest`.
    async fn commit(self, dest: PathBuf) -> Result<(), Error> {
        self.request(|reply| Cmd::Commit(dest, reply)).await
    }

    /// Stop; remove the file when it holds nothing worth resuming.
    async fn close(self, remove: bool) {
        let _ = self.tx.send(Cmd::Close { remove }).await;
    }
}

struct WriterState {
    file: io::BufWriter<std::fs::File>,
    hasher: sha2::Sha256,
    len: u64,
}

impl WriterState {
    /// Open (or create) the file and hash what it already holds.
    fn open(path: &Path) -> io::Result<Self> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let mut hasher = sha2::Sha256::new();
        let len = hash_into(&mut file, &mut hasher)?;
        file.seek(io::SeekFrom::Start(len))?;
        Ok(WriterState {
            file: io::BufWriter::with_capacity(1 << 18, file),
            hasher,
            len,
        })
    }

    fn reset(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let f = self.file.get_mut();
        f.set_len(0)?;
        f.seek(io::SeekFrom::Start(0))?;
        self.hasher = sha2::Sha256::new();
        self.len = 0;
        Ok(())
    }

    fn commit(mut self, path: &Path, dest: &Path) -> io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_all()?;
        drop(self.file);
        std::fs::rename(path, dest)?;
        if let Some(dir) = dest.parent() {
            // Make the rename itself durable; not every filesystem allows opening a directory.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

fn copy_err(e: &io::Error) -> io::Error {
    io::Error::new(e.kind(), e.to_string())
}

fn writer_loop(path: PathBuf, mut rx: mpsc::Receiver<Cmd>) {
    let mut state = WriterState::open(&path);
    while let Some(cmd) = rx.blocking_recv() {
        match cmd {
            Cmd::Write(data) => {
                let data = (*data).as_ref();
                if let Ok(s) = &mut state {
                    let written = s.file.write_all(data);
                    match written {
                        Ok(()) => {
                            s.hasher.update(data);
                            s.len += data.len() as u64;
                        }
                        Err(e) => state = Err(e),
                    }
                }
            }
            Cmd::Reset(reply) => {
                let result = match &mut state {
                    Ok(s) => s.reset(),
                    Err(e) => Err(copy_err(e)),
                };
                let _ = reply.send(result);
            }
            Cmd::Digest(reply) => {
                let answer = match &state {
                    Ok(s) => Ok((s.len, Sha256::from_bytes(&s.hasher.clone().finalize()))),
                    Err(e) => Err(copy_err(e)),
                };
                let _ = reply.send(answer);
            }
            Cmd::Commit(dest, reply) => {
                let result = state.and_then(|s| s.commit(&path, &dest));
                let _ = reply.send(result);
                return;
            }
            Cmd::Close { remove } => {
                drop(state);
                if remove {
                    let _ = std::fs::remove_file(&path);
                }
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_is_a_sibling() {
        assert_eq!(
            incomplete_path(Path::new("/a/b/x.whl")),
            PathBuf::from("/a/b/x.whl.incomplete")
        );
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        assert_eq!(
            backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(backoff(1, Some(Duration::from_secs(3600))), MAX_RETRY_AFTER);
        assert!(backoff(1, None) <= backoff(4, None) + Duration::from_millis(500));
    }

    #[test]
    fn content_range() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_RANGE, "bytes 100-199/200".parse().unwrap());
        assert_eq!(content_range_start(&h), Some(100));
    }
}
