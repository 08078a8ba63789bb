//! The one downloader for every file ferry carries (wheels and model blobs): bounded parallelism, streaming
//! to `DEST.incomplete` with sha256 computed on the way, resume with `Range`, retries with backoff, fail-over
//! between mirrors, and an atomic rename once the content is proven right.
//!
//! Network IO runs on the shared runtime and client ([`super::http`]); the file writes and hashing of each
//! download run on a blocking thread fed by a queue bounded in bytes ([`FILE_QUEUE_BYTES`] per download,
//! [`PROCESS_QUEUE_BYTES`] for all of them), so memory stays flat for multi-GB files and a kill -9 loses
//! little of what the network delivered: that queue, the HTTP client's read buffer and the kernel's
//! socket buffers. Every chunk goes to the `.incomplete` file (the page cache, which outlives the process)
//! as soon as the writer takes it, and the next run resumes from the file's length.
use std::io::{self, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, CONTENT_RANGE, RANGE};
use sha2::Digest;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};
use url::Url;

use super::error::{Error, UrlFailure};
use super::http::retry::{self, Budget};
use super::http::{self, Request};
use crate::types::{stream_sha256, Sha256};

pub use super::http::retry::{backoff, MAX_ATTEMPTS};

/// Bytes of one download received from the network and not yet written to its `.incomplete` file. The
/// HTTP client holds little besides: hyper reads into a buffer of at most ~400 KiB and hands over one chunk
/// at a time, so with the chunk waiting for room that is three socket reads at most (an HTTP/2 stream
/// holds at most its 2 MiB flow-control window instead).
pub const FILE_QUEUE_BYTES: usize = 2 << 20;
/// The same bound for all the downloads of the process together.
pub const PROCESS_QUEUE_BYTES: usize = 16 << 20;

/// One file to fetch.
#[derive(Clone, Debug)]
pub struct DownloadRequest {
    /// The same file, in fail-over order.
    pub urls: Vec<Url>,
    pub dest: PathBuf,
    pub sha256: Option<Sha256>,
    pub size: Option<u64>,
    /// Bearer token, sent only to the first URL's origin (never to a mirror or a redirect elsewhere).
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

/// Download every request, at most `jobs` at a time, on the shared client and runtime; results come back
/// in request order. Scheduling is unordered: one slow file never keeps the next from starting. The first
/// failure stops the rest (their `.incomplete` files stay for a later resume).
pub fn download_all(
    reqs: Vec<DownloadRequest>,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<Downloaded>, Error> {
    if reqs.is_empty() {
        return Ok(Vec::new());
    }
    let client = http::client()?;
    let received = AtomicU64::new(0);
    let received = &received;
    let mut done: Vec<(usize, Downloaded)> = http::block_on(async {
        futures_util::stream::iter(reqs.iter().enumerate().map(|(i, r)| async move {
            download_one(client, r, progress, received)
                .await
                .map(|d| (i, d))
        }))
        .buffer_unordered(jobs.max(1))
        .try_collect()
        .await
    })?;
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, d)| d).collect())
}

/// Bytes one attempt received, counted into the batch's total as they arrive.
struct Received<'a> {
    batch: &'a AtomicU64,
    mine: u64,
}

impl Received<'_> {
    fn add(&mut self, n: u64) {
        self.mine += n;
        self.batch.fetch_add(n, Ordering::Relaxed);
    }
}

/// `DEST.incomplete`, next to DEST.
pub fn incomplete_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".incomplete");
    dest.with_file_name(name)
}

/// `received` counts the bytes every download of this batch received: a failure while the others keep
/// receiving is the server being flaky, not down (see [`Budget::failed_while`]).
async fn download_one(
    client: &http::Client,
    req: &DownloadRequest,
    progress: &dyn Progress,
    received: &AtomicU64,
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
        if let Some((size, sha, identity)) = hash_existing(req.dest.clone()).await? {
            if &sha == expected && req.size.is_none_or(|s| s == size) {
                // Nothing wrote to it while it was hashed: packing it later need not hash it again.
                if let Some(id) = identity {
                    crate::hashed::record(&req.dest, id, sha.clone());
                }
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
    // Registered mirrors first (dropped ones left out), then the request's own URLs.
    let urls = super::mirrors::expand(&req.urls);
    for (n, url) in urls.iter().enumerate() {
        let more = n + 1 < urls.len();
        if more && super::mirrors::is_dropped(url) {
            continue;
        }
        // Bytes from another server resume only when the sha256 proves it is the same file.
        if len > 0 && n > 0 && req.sha256.is_none() {
            writer.reset().await?;
            len = 0;
            progress.start(&req.label, req.size);
        }
        let mirror = more && super::mirrors::is_mirror(url);
        let mut attempts = 0;
        let mut budget = Budget::starting_at(len);
        // Bytes the batch (and this file) received since the first attempt on this URL: when others kept
        // receiving while this file failed, the server is flaky rather than down.
        let batch_start = received.load(Ordering::Relaxed);
        let mut mine = Received {
            batch: received,
            mine: 0,
        };
        let error = loop {
            attempts += 1;
            let fetched =
                fetch_into(client, req, url, &mut len, &writer, progress, &mut mine).await;
            let result = match fetched {
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
                if mirror {
                    super::mirrors::drop_mirror(url, &err);
                }
                break err;
            }
            // A failing mirror is dropped for the rest of the run: the next one serves its files.
            if mirror && super::mirrors::is_mirror_failure(&err) {
                if super::mirrors::drop_mirror(url, &err) {
                    progress.message(&format!("dropping mirror {url}: {err}"));
                }
                break err;
            }
            // An attempt that received new bytes does not use up the budget.
            let others = received.load(Ordering::Relaxed) - batch_start > mine.mine;
            if !err.is_retryable() || !budget.failed_while(len, others) {
                break err;
            }
            retries += 1;
            let wait = retry::backoff(budget.failures(), err.retry_after());
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

/// One request (the client follows redirects) streamed into `writer`, continuing from `len` bytes.
/// Returns the URL that finally served the body.
async fn fetch_into(
    client: &http::Client,
    req: &DownloadRequest,
    url: &Url,
    len: &mut u64,
    writer: &Writer,
    progress: &dyn Progress,
    received: &mut Received<'_>,
) -> Result<Url, Error> {
    if url.scheme() == "file" {
        return copy_local(req, url, len, writer, progress).await;
    }
    // The token belongs to the first URL's origin; fail-over mirrors elsewhere do not get it.
    let same_origin = http::auth::Origin::of(url) == http::auth::Origin::of(&req.urls[0]);
    let mut request = Request::get(url.clone()).bearer(req.auth.as_deref().filter(|_| same_origin));
    if *len > 0 {
        request = request.header(RANGE.as_str(), &format!("bytes={len}-"));
    }
    let resp = client.send(&request).await?;
    let current = resp.url.clone();
    match resp.status() {
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
        _ => return Err(resp.status_error()),
    }
    let content_length = resp.inner.content_length();
    let start = *len;
    let mut body = resp.chunks();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| match e {
            Error::Timeout { .. } => Error::Timeout {
                url: current.clone(),
                message: "no data within the read timeout".into(),
            },
            _ => Error::Truncated {
                url: current.clone(),
                got: *len - start,
                expected: content_length.unwrap_or(0),
            },
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
        writer.write(Box::new(chunk), n as usize).await?;
        *len += n;
        received.add(n);
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
    Ok(current)
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
        writer.write(Box::new(buf), n).await?;
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
    // Hashed while it was written: packing it later need not hash it again (while it keeps this identity).
    if let Some(id) = crate::hashed::Identity::of_path(&req.dest).filter(|id| id.size() == size) {
        crate::hashed::record(&req.dest, id, sha256.clone());
    }
    progress.finish(&req.label);
    Ok(Downloaded {
        sha256,
        size,
        url: url.clone(),
        retries,
        resumed_bytes,
    })
}

/// `bytes START-END/TOTAL` → START.
fn content_range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes")?.trim();
    range.split('-').next()?.trim().parse().ok()
}

/// Size and sha256 of an existing file, `None` when it does not exist; with its identity when it was the
/// same before and after the hash (nothing wrote to it meanwhile).
async fn hash_existing(
    path: PathBuf,
) -> Result<Option<(u64, Sha256, Option<crate::hashed::Identity>)>, Error> {
    tokio::task::spawn_blocking(move || {
        let before = crate::hashed::Identity::of_path(&path);
        match Sha256::of_file(&path) {
            Ok((sha, size)) => {
                let same = before
                    .filter(|b| crate::hashed::Identity::of_path(&path) == Some(*b))
                    .filter(|b| b.size() == size);
                Ok(Some((size, sha, same)))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path, e)),
        }
    })
    .await
    .expect("hashing task does not panic")
}

/// Bytes as the HTTP client received them, handed to the writer thread without a copy.
type Chunk = Box<dyn AsRef<[u8]> + Send>;

/// Room a queued chunk takes in its download's queue and in the process's, given back when the writer
/// thread has written it (or dropped it).
struct Held {
    _file: OwnedSemaphorePermit,
    _process: OwnedSemaphorePermit,
}

/// The queue budget all downloads share (see [`PROCESS_QUEUE_BYTES`]).
fn process_queue() -> &'static Arc<Semaphore> {
    static QUEUE: OnceLock<Arc<Semaphore>> = OnceLock::new();
    QUEUE.get_or_init(|| Arc::new(Semaphore::new(PROCESS_QUEUE_BYTES)))
}

/// The byte budget of one download's queue, inside the process's.
struct Queue {
    file: Arc<Semaphore>,
    process: Arc<Semaphore>,
    process_cap: usize,
}

impl Queue {
    fn new() -> Self {
        Self::within(process_queue().clone(), PROCESS_QUEUE_BYTES)
    }

    fn within(process: Arc<Semaphore>, process_cap: usize) -> Self {
        Queue {
            file: Arc::new(Semaphore::new(FILE_QUEUE_BYTES)),
            process,
            process_cap,
        }
    }

    /// Room for a chunk of `len` bytes, waiting until there is: first in this download's queue, then in
    /// the process's. A chunk larger than a whole budget waits until that queue is empty, then goes alone.
    async fn reserve(&self, len: usize) -> Held {
        let take = |cap: usize| len.clamp(1, cap) as u32;
        let file = self.file.clone().acquire_many_owned(take(FILE_QUEUE_BYTES));
        let file = file.await.expect("the queue is never closed");
        let process = self
            .process
            .clone()
            .acquire_many_owned(take(self.process_cap));
        let process = process.await.expect("the queue is never closed");
        Held {
            _file: file,
            _process: process,
        }
    }
}

enum Cmd {
    Write(Chunk, Held),
    Reset(oneshot::Sender<io::Result<()>>),
    Digest(oneshot::Sender<io::Result<(u64, Sha256)>>),
    Commit(PathBuf, oneshot::Sender<io::Result<()>>),
    Close {
        remove: bool,
        done: oneshot::Sender<()>,
    },
}

/// The `.incomplete` file of one download, owned by a blocking thread that writes and hashes. Commands go
/// through an unbounded channel; what bounds it is the byte budget every `Write` holds until written.
struct Writer {
    tx: mpsc::UnboundedSender<Cmd>,
    path: PathBuf,
    queue: Queue,
}

impl Writer {
    fn spawn(path: PathBuf) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let thread_path = path.clone();
        tokio::task::spawn_blocking(move || writer_loop(thread_path, rx));
        Writer {
            tx,
            path,
            queue: Queue::new(),
        }
    }

    fn stopped(&self) -> Error {
        Error::io(&self.path, io::Error::other("file writer stopped"))
    }

    /// Queue `len` bytes for the file, waiting while this download's or the process's queue is full.
    async fn write(&self, data: Chunk, len: usize) -> Result<(), Error> {
        let held = self.queue.reserve(len).await;
        self.tx
            .send(Cmd::Write(data, held))
            .map_err(|_| self.stopped())
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<io::Result<T>>) -> Cmd,
    ) -> Result<T, Error> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(make(reply)).map_err(|_| self.stopped())?;
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

    /// Stop (and wait until the file is closed); remove the file when it holds nothing worth resuming.
    async fn close(self, remove: bool) {
        let (done, closed) = oneshot::channel();
        if self.tx.send(Cmd::Close { remove, done }).is_ok() {
            let _ = closed.await;
        }
    }
}

/// The open `.incomplete` file. Chunks go straight to the file, unbuffered: what the writer took is in
/// the kernel's hands, where a kill -9 does not lose it.
struct WriterState {
    file: std::fs::File,
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
        let len = stream_sha256(&mut file, &mut hasher, None)?;
        file.seek(io::SeekFrom::Start(len))?;
        Ok(WriterState { file, hasher, len })
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.hasher.update(data);
        self.len += data.len() as u64;
        Ok(())
    }

    fn reset(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.seek(io::SeekFrom::Start(0))?;
        self.hasher = sha2::Sha256::new();
        self.len = 0;
        Ok(())
    }

    fn commit(self, path: &Path, dest: &Path) -> io::Result<()> {
        self.file.sync_all()?;
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

fn writer_loop(path: PathBuf, mut rx: mpsc::UnboundedReceiver<Cmd>) {
    let mut state = WriterState::open(&path);
    while let Some(cmd) = rx.blocking_recv() {
        match cmd {
            Cmd::Write(data, held) => {
                if let Ok(s) = &mut state {
                    if let Err(e) = s.write((*data).as_ref()) {
                        state = Err(e);
                    }
                }
                // The queue has room again once the bytes are the kernel's.
                drop(held);
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
            Cmd::Close { remove, done } => {
                drop(state);
                if remove {
                    let _ = std::fs::remove_file(&path);
                }
                let _ = done.send(());
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
    fn content_range() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_RANGE, "bytes 100-199/200".parse().unwrap());
        assert_eq!(content_range_start(&h), Some(100));
    }

    /// Whether `fut` finishes without waiting.
    fn ready<F: std::future::Future>(fut: F) -> Option<F::Output> {
        futures_util::FutureExt::now_or_never(fut)
    }

    #[test]
    fn queue_is_bounded_by_bytes_not_chunks() {
        let process = Arc::new(Semaphore::new(PROCESS_QUEUE_BYTES));
        let q = Queue::within(process.clone(), PROCESS_QUEUE_BYTES);
        // Small chunks: as many as fit in the byte budget, then the next one waits.
        let chunk = 64 << 10;
        let mut held: Vec<Held> = (0..FILE_QUEUE_BYTES / chunk)
            .map(|_| ready(q.reserve(chunk)).expect("room"))
            .collect();
        assert!(ready(q.reserve(1)).is_none(), "the file's queue is full");
        held.pop();
        assert!(
            ready(q.reserve(chunk)).is_some(),
            "a written chunk makes room"
        );
        drop(held);
        // A chunk larger than the whole budget goes alone once the queue is empty.
        let big = ready(q.reserve(FILE_QUEUE_BYTES * 3)).expect("an empty queue takes it");
        assert!(ready(q.reserve(1)).is_none());
        drop(big);
        assert_eq!(process.available_permits(), PROCESS_QUEUE_BYTES);
    }

    #[test]
    fn all_downloads_share_the_process_budget() {
        let process = Arc::new(Semaphore::new(PROCESS_QUEUE_BYTES));
        let queues: Vec<Queue> = (0..PROCESS_QUEUE_BYTES / FILE_QUEUE_BYTES + 1)
            .map(|_| Queue::within(process.clone(), PROCESS_QUEUE_BYTES))
            .collect();
        let (last, full) = queues.split_last().unwrap();
        let held: Vec<Held> = full
            .iter()
            .map(|q| ready(q.reserve(FILE_QUEUE_BYTES)).expect("room"))
            .collect();
        assert!(
            ready(last.reserve(1)).is_none(),
            "{} MiB in flight at most",
            PROCESS_QUEUE_BYTES >> 20
        );
        drop(held);
        assert!(ready(last.reserve(FILE_QUEUE_BYTES)).is_some());
    }

    /// The writer takes what was queued, in order, into the file; a resumed file is hashed from disk.
    #[test]
    fn writer_resumes_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.incomplete");
        std::fs::write(&path, b"hello ").unwrap();
        let (len, sha) = http::block_on(async {
            let w = Writer::spawn(path.clone());
            for part in [&b"wor"[..], b"ld"] {
                w.write(Box::new(part.to_vec()), part.len()).await.unwrap();
            }
            let digest = w.digest().await.unwrap();
            w.close(false).await;
            digest
        });
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
        assert_eq!(len, 11);
        assert_eq!(
            sha,
            Sha256::from_bytes(&sha2::Sha256::digest(b"hello world"))
        );
    }
}
