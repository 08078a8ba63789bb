//! A hub on 127.0.0.1:0 serving one model repo whose only file is a large generated LFS blob, sent at a
//! steady pace in small writes through a small socket send buffer, and counting, per request, the body
//! bytes the kernel accepted. It is the judge of how much a kill -9 makes ferry fetch again.
//!
//! The content is generated, never stored: byte `i` is `PATTERN[i % PATTERN.len()]`, a pseudo-random
//! pattern whose length is not a power of two, so a byte served at the wrong offset changes the sha256.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::Digest;

/// Length of the repeating pattern (a prime).
const PATTERN_LEN: usize = 1_048_573;
/// Bytes per write while pacing.
const SLICE: usize = 32 << 10;
/// From this rate on, the server sends as fast as it can: 1 MiB writes, the kernel's own send buffer sizes.
pub const UNPACED: u64 = 1 << 30;
/// `SO_SNDBUF` of every accepted socket (the kernel doubles it): little sits in the server's kernel.
const SNDBUF: i32 = 64 << 10;

/// One request, as the server saw it; `sent` and `done` move while it is being served.
pub struct Served {
    pub path: String,
    pub range: Option<String>,
    pub status: u16,
    /// Body bytes the kernel accepted so far.
    pub sent: AtomicU64,
    /// The answer is over (sent whole, or the peer went away).
    pub done: AtomicBool,
    /// The client's port (the peer of the accepted socket) and ours.
    pub peer_port: u16,
    pub local_port: u16,
}

impl Served {
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
    /// `N` of a `Range: bytes=N-` header.
    pub fn range_start(&self) -> Option<u64> {
        range_start(self.range.as_deref()?)
    }
}

fn range_start(header: &str) -> Option<u64> {
    header
        .trim()
        .strip_prefix("bytes=")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

struct State {
    repo: String,
    file: String,
    size: u64,
    sha256: String,
    commit: String,
    pattern: Vec<u8>,
    bytes_per_sec: u64,
    log: Mutex<Vec<Arc<Served>>>,
    /// Bumped by [`PacedHub::cut`]: answers begun before stop sending.
    epoch: AtomicU64,
}

pub struct PacedHub {
    /// `http://127.0.0.1:PORT`: the endpoint to configure.
    pub url: String,
    pub repo: String,
    /// The one file's path in the repo.
    pub file: String,
    pub size: u64,
    /// sha256 (hex) of the file: also its blob name in the cache.
    pub sha256: String,
    state: Arc<State>,
}

impl PacedHub {
    /// Serve `repo` holding `file` of `size` bytes at `bytes_per_sec`.
    pub fn start(repo: &str, file: &str, size: u64, bytes_per_sec: u64) -> Self {
        let pattern = pattern();
        let sha256 = hex::encode(content_sha256(&pattern, size));
        let commit = hex::encode(sha1::Sha1::digest(format!("{repo}/{file}/{sha256}")));
        let state = Arc::new(State {
            repo: repo.to_string(),
            file: file.to_string(),
            size,
            sha256: sha256.clone(),
            commit,
            pattern,
            bytes_per_sec,
            log: Mutex::new(Vec::new()),
            epoch: AtomicU64::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let s = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || handle(stream, &s));
            }
        });
        PacedHub {
            url,
            repo: repo.to_string(),
            file: file.to_string(),
            size,
            sha256,
            state,
        }
    }

    /// Requests for the file's content, in arrival order.
    pub fn file_requests(&self) -> Vec<Arc<Served>> {
        let suffix = format!("/{}", self.file);
        self.state
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path.contains("/resolve/") && s.path.ends_with(&suffix))
            .cloned()
            .collect()
    }

    /// Stop sending every answer in progress (at the next write) and close its connection; later
    /// requests are served as usual. Returns once they are all over.
    pub fn cut(&self) {
        let log: Vec<Arc<Served>> = {
            let log = self.state.log.lock().unwrap();
            self.state.epoch.fetch_add(1, Ordering::SeqCst);
            log.clone()
        };
        let start = Instant::now();
        while !log.iter().all(|s| s.done.load(Ordering::SeqCst)) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "answers do not stop"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Body bytes of the file sent so far, over all requests.
    pub fn file_bytes_sent(&self) -> u64 {
        self.file_requests().iter().map(|s| s.sent()).sum()
    }

    /// The file's content from `start` (for checks in tests).
    pub fn content_at(&self, start: u64, len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len);
        fill(&self.state.pattern, start, len, &mut out);
        out
    }
}

/// The kernel's queues of a TCP connection on 127.0.0.1 from `local` to `remote` (ports), from
/// /proc/net/tcp: (bytes sent and not yet acknowledged or not yet sent, bytes received and not yet read).
pub fn tcp_queues(local: u16, remote: u16) -> Option<(u64, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want = |port: u16| format!("0100007F:{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[1] != want(local) || f[2] != want(remote) {
            return None;
        }
        let (tx, rx) = f[4].split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

fn pattern() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..PATTERN_LEN)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Append `len` bytes of the content from offset `start` to `out`.
fn fill(pattern: &[u8], start: u64, len: usize, out: &mut Vec<u8>) {
    let mut at = (start % pattern.len() as u64) as usize;
    let mut left = len;
    while left > 0 {
        let n = left.min(pattern.len() - at);
        out.extend_from_slice(&pattern[at..at + n]);
        left -= n;
        at = 0;
    }
}

fn content_sha256(pattern: &[u8], size: u64) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    let mut left = size;
    while left > 0 {
        let n = left.min(pattern.len() as u64) as usize;
        h.update(&pattern[..n]);
        left -= n as u64;
    }
    h.finalize().into()
}

fn set_sndbuf(stream: &TcpStream) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = SNDBUF;
    // SAFETY: a valid socket and a pointer to a c_int of the given length.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            &size as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

fn handle(mut stream: TcpStream, state: &State) {
    if state.bytes_per_sec < UNPACED {
        set_sndbuf(&stream);
    }
    let _ = stream.set_write_timeout(Some(Duration::from_millis(5)));
    let Some((method, path, headers)) = read_request(&stream) else {
        return;
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let range = header("range");
    let (status, extra, body) = route(state, &path, range.as_deref().and_then(range_start));
    let served = Arc::new(Served {
        path,
        range,
        status,
        sent: AtomicU64::new(0),
        done: AtomicBool::new(false),
        peer_port: stream.peer_addr().map(|a| a.port()).unwrap_or(0),
        local_port: stream.local_addr().map(|a| a.port()).unwrap_or(0),
    });
    let epoch = {
        let mut log = state.log.lock().unwrap();
        log.push(served.clone());
        state.epoch.load(Ordering::SeqCst)
    };
    let length = match &body {
        Body::Bytes(b) => b.len() as u64,
        Body::File { start } => state.size - start,
    };
    let mut head = format!("HTTP/1.1 {status} X\r\n");
    for (n, v) in &extra {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {length}\r\nconnection: close\r\n\r\n"
    ));
    if stream.write_all(head.as_bytes()).is_ok() && method != "HEAD" {
        match body {
            Body::Bytes(b) => {
                if stream.write_all(&b).is_ok() {
                    served.sent.store(b.len() as u64, Ordering::SeqCst);
                }
            }
            Body::File { start } => send_paced(&mut stream, state, start, &served, epoch),
        }
    }
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
    served.done.store(true, Ordering::SeqCst);
}

/// The file from `start`, `SLICE` bytes at a time, never ahead of `bytes_per_sec`.
fn send_paced(stream: &mut TcpStream, state: &State, start: u64, served: &Served, epoch: u64) {
    let began = Instant::now();
    let mut at = start;
    let mut buf = Vec::new();
    while at < state.size {
        let sent = at - start;
        let due = Duration::from_secs_f64(sent as f64 / state.bytes_per_sec as f64);
        if let Some(wait) = due.checked_sub(began.elapsed()) {
            std::thread::sleep(wait);
        }
        let slice = if state.bytes_per_sec < UNPACED {
            SLICE
        } else {
            1 << 20
        };
        let n = (state.size - at).min(slice as u64) as usize;
        buf.clear();
        fill(&state.pattern, at, n, &mut buf);
        let mut off = 0;
        while off < n {
            // A write blocked on a full socket comes back every few milliseconds to look at `cut`.
            if state.epoch.load(Ordering::SeqCst) != epoch {
                return;
            }
            match stream.write(&buf[off..]) {
                Ok(0) => return,
                Ok(w) => {
                    off += w;
                    served.sent.fetch_add(w as u64, Ordering::SeqCst);
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => return,
            }
        }
        at += n as u64;
    }
}

enum Body {
    Bytes(Vec<u8>),
    File { start: u64 },
}

fn json(v: serde_json::Value) -> (u16, Headers, Body) {
    (
        200,
        vec![("content-type".into(), "application/json".into())],
        Body::Bytes(v.to_string().into_bytes()),
    )
}

fn not_found(code: &str) -> (u16, Headers, Body) {
    (
        404,
        vec![("x-error-code".into(), code.into())],
        Body::Bytes(b"{\"error\": \"not found\"}".to_vec()),
    )
}

fn route(state: &State, path: &str, range: Option<u64>) -> (u16, Headers, Body) {
    let (path, _query) = path.split_once('?').unwrap_or((path, ""));
    let rev_ok = |rev: &str| rev == "main" || rev == state.commit;
    let api = format!("/api/models/{}/", state.repo);
    if let Some(rest) = path.strip_prefix(&api) {
        let (what, rev) = rest.split_once('/').unwrap_or((rest, "main"));
        if !rev_ok(rev.trim_end_matches('/')) {
            return not_found("RevisionNotFound");
        }
        let lfs =
            serde_json::json!({ "oid": state.sha256, "size": state.size, "pointerSize": 134 });
        return match what {
            "revision" => json(serde_json::json!({
                "id": state.repo, "sha": state.commit, "private": false, "gated": false,
                "siblings": [{ "rfilename": state.file, "size": state.size,
                    "lfs": { "sha256": state.sha256, "size": state.size, "pointerSize": 134 } }],
            })),
            "tree" => json(serde_json::json!([{
                "type": "file", "path": state.file, "size": state.size,
                "oid": hex::encode(sha1::Sha1::digest(state.sha256.as_bytes())), "lfs": lfs,
            }])),
            _ => not_found("EntryNotFound"),
        };
    }
    let resolve = format!("/{}/resolve/", state.repo);
    let Some(rest) = path.strip_prefix(&resolve) else {
        return not_found("RepoNotFound");
    };
    let Some((rev, file)) = rest.split_once('/') else {
        return not_found("EntryNotFound");
    };
    if !rev_ok(rev) || file != state.file {
        return not_found("EntryNotFound");
    }
    let mut headers: Headers = vec![
        ("accept-ranges".into(), "bytes".into()),
        ("etag".into(), format!("\"{}\"", state.sha256)),
        ("x-linked-etag".into(), format!("\"{}\"", state.sha256)),
        ("x-linked-size".into(), state.size.to_string()),
        ("x-repo-commit".into(), state.commit.clone()),
        ("content-type".into(), "application/octet-stream".into()),
    ];
    match range {
        None => (200, headers, Body::File { start: 0 }),
        Some(start) if start >= state.size => (
            416,
            vec![("content-range".into(), format!("bytes */{}", state.size))],
            Body::Bytes(Vec::new()),
        ),
        Some(start) => {
            headers.push((
                "content-range".into(),
                format!("bytes {start}-{}/{}", state.size - 1, state.size),
            ));
            (206, headers, Body::File { start })
        }
    }
}

/// Header names and values, as sent.
type Headers = Vec<(String, String)>;

/// Method, target and headers of the request on `stream`.
fn read_request(stream: &TcpStream) -> Option<(String, String, Headers)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_string(), v.trim().to_string()));
        }
    }
    Some((method, target, headers))
}
