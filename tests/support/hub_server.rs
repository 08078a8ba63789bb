//! A hub-compatible HTTP server on 127.0.0.1:0 for tests, with a second "storage" server (reached as
//! `localhost`, a different host name) that LFS files redirect to, as the real hub does. It serves repos the
//! test builds (real safetensors, configs, tokenizer files) through the revision, tree (paginated) and
//! resolve endpoints, honours `Range`, logs every request, and injects faults on demand.
//!
//! Hand-written over `std::net` rather than a server crate so faults are real: a truncated body is a
//! connection closed short of its `Content-Length`, a stall is a socket that stops sending.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha1::Digest as _;

/// Extensions stored in LFS (served through the storage host).
const LFS_EXTENSIONS: [&str; 8] = [
    "safetensors",
    "bin",
    "ckpt",
    "msgpack",
    "onnx",
    "h5",
    "pt",
    "pth",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Hub,
    Storage,
}

/// One repo at one commit.
#[derive(Clone, Debug, Default)]
pub struct Repo {
    pub files: BTreeMap<String, Vec<u8>>,
    /// Extra revision names (besides `main` and the commit) that resolve to the commit.
    pub refs: BTreeSet<String>,
    /// Files need `authorization: Bearer <token>` (the listing APIs stay public, as for a gated repo).
    pub gated_token: Option<String>,
}

impl Repo {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.insert(path.to_string(), content.into());
        self
    }
    pub fn gated(mut self, token: &str) -> Self {
        self.gated_token = Some(token.to_string());
        self
    }
    pub fn with_ref(mut self, name: &str) -> Self {
        self.refs.insert(name.to_string());
        self
    }
    /// A deterministic commit sha for this content.
    pub fn commit(&self) -> String {
        let mut h = sha1::Sha1::new();
        for (p, c) in &self.files {
            h.update(p.as_bytes());
            h.update(git_sha1(c).as_bytes());
        }
        hex::encode(h.finalize())
    }
    pub fn is_lfs(path: &str) -> bool {
        path.rsplit_once('.')
            .is_some_and(|(_, ext)| LFS_EXTENSIONS.contains(&ext))
    }
}

pub fn git_sha1(content: &[u8]) -> String {
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

pub fn sha256_hex(content: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(content))
}

/// What to do wrong, and how many times.
#[derive(Clone, Debug)]
pub enum FaultKind {
    /// Answer with this status.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    TooMany { retry_after: u64 },
    /// Send the full `Content-Length` but only this many body bytes, then close.
    Truncate(usize),
    /// Send this many body bytes, then stop sending for `secs`, then close.
    Stall { after: usize, secs: u64 },
    /// Serve the body with one byte changed.
    Corrupt,
    /// Ignore `Range` and answer 200 with the whole body.
    IgnoreRange,
    /// Send the full `Content-Length` but only half the body bytes (at least one), then close.
    CutShort,
}

#[derive(Clone, Debug)]
struct Fault {
    path_contains: String,
    kind: FaultKind,
    remaining: usize,
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    pub role: Role,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub status: u16,
    pub body_bytes: u64,
}

impl Logged {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct State {
    repos: Mutex<BTreeMap<(String, String), Repo>>,
    faults: Mutex<Vec<Fault>>,
    log: Mutex<Vec<Logged>>,
    page_size: AtomicUsize,
    hub_base: Mutex<String>,
    storage_base: Mutex<String>,
    /// Answer the tree API with a bare 404, as a mirror without it would.
    no_tree_api: std::sync::atomic::AtomicBool,
    /// Requests seen by both servers, and faults due on a given request number (1-based).
    requests: AtomicUsize,
    nth_faults: Mutex<Vec<(usize, FaultKind)>>,
    /// Faults due on every Nth request (first match wins).
    periodic_faults: Mutex<Vec<(usize, FaultKind)>>,
    /// Put this origin in `Link` headers instead of our own (a mirror passing upstream links through).
    link_origin: Mutex<Option<String>>,
    /// Milliseconds every answer of the hub role waits (a far-away mirror).
    delay_ms: std::sync::atomic::AtomicU64,
}

pub struct HubServer {
    /// `http://127.0.0.1:PORT`: the endpoint to configure.
    pub url: String,
    /// `http://localhost:PORT`: where LFS files redirect.
    pub storage_url: String,
    state: Arc<State>,
}

impl HubServer {
    pub fn start() -> Self {
        let state = Arc::new(State::default());
        state.page_size.store(3, Ordering::SeqCst);
        let hub = TcpListener::bind("127.0.0.1:0").unwrap();
        let storage = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", hub.local_addr().unwrap().port());
        let storage_url = format!("http://localhost:{}", storage.local_addr().unwrap().port());
        *state.hub_base.lock().unwrap() = url.clone();
        *state.storage_base.lock().unwrap() = storage_url.clone();
        for (listener, role) in [(hub, Role::Hub), (storage, Role::Storage)] {
            let state = state.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let state = state.clone();
                    std::thread::spawn(move || handle(stream, role, &state));
                }
            });
        }
        HubServer {
            url,
            storage_url,
            state,
        }
    }

    /// Every answer of the hub (not the storage host) waits this long.
    pub fn set_delay_ms(&self, ms: u64) {
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Serve `repo` as model repo `id`.
    pub fn add_model(&self, id: &str, repo: Repo) -> &Self {
        self.add("models", id, repo)
    }

    pub fn add_dataset(&self, id: &str, repo: Repo) -> &Self {
        self.add("datasets", id, repo)
    }

    fn add(&self, kind: &str, id: &str, repo: Repo) -> &Self {
        self.state
            .repos
            .lock()
            .unwrap()
            .insert((kind.to_string(), id.to_string()), repo);
        self
    }

    pub fn commit_of(&self, id: &str) -> String {
        self.state.repos.lock().unwrap()[&("models".to_string(), id.to_string())].commit()
    }

    /// Tree listing page size.
    pub fn set_page_size(&self, n: usize) {
        self.state.page_size.store(n.max(1), Ordering::SeqCst);
    }

    pub fn disable_tree_api(&self) {
        self.state.no_tree_api.store(true, Ordering::SeqCst);
    }

    pub fn set_link_origin(&self, origin: &str) {
        *self.state.link_origin.lock().unwrap() = Some(origin.to_string());
    }

    /// Misbehave `times` times on requests whose path contains `path_contains`.
    pub fn fault(&self, path_contains: &str, kind: FaultKind, times: usize) {
        self.state.faults.lock().unwrap().push(Fault {
            path_contains: path_contains.to_string(),
            kind,
            remaining: times,
        });
    }

    /// Misbehave on the `n`th request either server receives (1-based), whatever it asks for.
    pub fn fail_nth(&self, n: usize, kind: FaultKind) {
        self.state.nth_faults.lock().unwrap().push((n, kind));
    }

    /// Inject `kind` on every `n`th request to either server (counted together, 1-based); earlier calls
    /// win when several periods meet.
    pub fn fail_every(&self, n: usize, kind: FaultKind) {
        self.state.periodic_faults.lock().unwrap().push((n, kind));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path_contains: &str) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.path.contains(path_contains))
            .collect()
    }

    /// Whether the storage host ever received an `Authorization` header.
    pub fn storage_saw_authorization(&self) -> bool {
        self.log()
            .iter()
            .any(|l| l.role == Role::Storage && l.header("authorization").is_some())
    }
}

struct Request {
    path: String,
    query: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Whether `Range` and body faults apply (file content).
    content: bool,
}

impl Response {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
            content: false,
        }
    }
    fn json(value: serde_json::Value) -> Self {
        Response::new(200, value.to_string()).header("content-type", "application/json")
    }
    fn error(status: u16, code: &str, message: &str) -> Self {
        Response::new(status, serde_json::json!({ "error": message }).to_string())
            .header("x-error-code", code)
            .header("content-type", "application/json")
    }
    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let target = line.split_whitespace().nth(1)?.to_string();
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
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    Some(Request {
        path,
        query,
        headers,
    })
}

fn take_fault(state: &State, path: &str) -> Option<FaultKind> {
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some((_, kind)) = state
        .nth_faults
        .lock()
        .unwrap()
        .iter()
        .find(|(at, _)| *at == n)
    {
        return Some(kind.clone());
    }
    if let Some((_, kind)) = state
        .periodic_faults
        .lock()
        .unwrap()
        .iter()
        .find(|(every, _)| n % every == 0)
    {
        return Some(kind.clone());
    }
    let mut faults = state.faults.lock().unwrap();
    let f = faults
        .iter_mut()
        .find(|f| f.remaining > 0 && path.contains(&f.path_contains))?;
    f.remaining -= 1;
    Some(f.kind.clone())
}

fn handle(mut stream: TcpStream, role: Role, state: &State) {
    let Some(req) = read_request(&stream) else {
        return;
    };
    let full_path = if req.query.is_empty() {
        req.path.clone()
    } else {
        format!("{}?{}", req.path, req.query)
    };
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 && role == Role::Hub {
        std::thread::sleep(Duration::from_millis(delay));
    }
    let fault = take_fault(state, &full_path);
    let mut resp = match &fault {
        Some(FaultKind::Status(s)) => Response::error(*s, "Injected", "injected failure"),
        Some(FaultKind::TooMany { retry_after }) => {
            Response::error(429, "TooManyRequests", "slow down")
                .header("retry-after", retry_after.to_string())
        }
        _ => match role {
            Role::Hub => route_hub(&req, state),
            Role::Storage => route_storage(&req, state),
        },
    };
    let mut body_fault = fault.filter(|_| resp.content);
    // Range on file content.
    let total = resp.body.len();
    let range = req.header("range").map(str::to_string);
    if resp.content && resp.status == 200 {
        if let Some(start) = range.as_deref().and_then(parse_range_start) {
            if matches!(body_fault, Some(FaultKind::IgnoreRange)) {
                body_fault = None;
            } else if start >= total {
                resp = Response::new(416, "").header("content-range", format!("bytes */{total}"));
            } else {
                resp.status = 206;
                resp.body.drain(..start);
                resp.headers.push((
                    "content-range".into(),
                    format!("bytes {start}-{}/{total}", total - 1),
                ));
            }
        }
        resp.headers.push(("accept-ranges".into(), "bytes".into()));
    }
    if let Some(FaultKind::Corrupt) = body_fault {
        if let Some(b) = resp.body.first_mut() {
            *b ^= 0xff;
        }
    }
    let mut head = format!("HTTP/1.1 {} X\r\n", resp.status);
    for (n, v) in &resp.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        resp.body.len()
    ));
    let sent = match body_fault {
        Some(FaultKind::Truncate(n)) => n.min(resp.body.len()),
        Some(FaultKind::CutShort) => (resp.body.len() / 2).max(1).min(resp.body.len()),
        Some(FaultKind::Stall { after, .. }) => after.min(resp.body.len()),
        _ => resp.body.len(),
    };
    // Logged before anything is sent, so a client that has its answer always finds it in the log.
    state.log.lock().unwrap().push(Logged {
        role,
        path: full_path,
        headers: req.headers.clone(),
        status: resp.status,
        body_bytes: sent as u64,
    });
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&resp.body[..sent]);
    let _ = stream.flush();
    if let Some(FaultKind::Stall { secs, .. }) = body_fault {
        std::thread::sleep(Duration::from_secs(secs));
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn parse_range_start(v: &str) -> Option<usize> {
    v.trim()
        .strip_prefix("bytes=")?
        .split('-')
        .next()?
        .parse()
        .ok()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Find `(kind, repo id, rest)` for `segs`, where the repo id is one or two segments followed by `marker`.
fn split_repo<'a>(segs: &'a [String], markers: &[&str]) -> Option<(String, &'a str, &'a [String])> {
    for n in [2, 1] {
        if segs.len() > n && markers.contains(&segs[n].as_str()) {
            return Some((segs[..n].join("/"), segs[n].as_str(), &segs[n + 1..]));
        }
    }
    None
}

fn lookup(state: &State, kind: &str, id: &str) -> Option<Repo> {
    state
        .repos
        .lock()
        .unwrap()
        .get(&(kind.to_string(), id.to_string()))
        .cloned()
}

fn resolve_rev(repo: &Repo, rev: &str) -> Option<String> {
    let commit = repo.commit();
    (rev == "main" || rev == commit || repo.refs.contains(rev)).then_some(commit)
}

fn route_hub(req: &Request, state: &State) -> Response {
    let segs: Vec<String> = req
        .path
        .trim_start_matches('/')
        .split('/')
        .map(str::to_string)
        .collect();
    if segs.first().map(String::as_str) == Some("api") && segs.len() > 2 {
        let kind = segs[1].clone();
        let Some((id, marker, rest)) = split_repo(&segs[2..], &["revision", "tree"]) else {
            return Response::error(404, "EntryNotFound", "no such route");
        };
        let Some(repo) = lookup(state, &kind, &id) else {
            return Response::error(404, "RepoNotFound", "Repository not found");
        };
        let rev = percent_decode(rest.first().map(String::as_str).unwrap_or("main"));
        let Some(commit) = resolve_rev(&repo, &rev) else {
            return Response::error(404, "RevisionNotFound", "Invalid rev id");
        };
        return match marker {
            "revision" => revision_json(&id, &repo, &commit, req.query.contains("blobs=true")),
            _ if state.no_tree_api.load(Ordering::SeqCst) => Response::new(404, "Not Found"),
            _ => tree_page(req, state, &repo),
        };
    }
    let (kind, segs) = if segs.first().map(String::as_str) == Some("datasets") {
        ("datasets", &segs[1..])
    } else {
        ("models", &segs[..])
    };
    let Some((id, _, rest)) = split_repo(segs, &["resolve"]) else {
        return Response::error(404, "EntryNotFound", "no such route");
    };
    let Some(repo) = lookup(state, kind, &id) else {
        return Response::error(404, "RepoNotFound", "Repository not found");
    };
    let Some((rev, path)) = rest.split_first() else {
        return Response::error(404, "EntryNotFound", "no path");
    };
    let Some(commit) = resolve_rev(&repo, &percent_decode(rev)) else {
        return Response::error(404, "RevisionNotFound", "Invalid rev id");
    };
    if let Some(token) = &repo.gated_token {
        if req.header("authorization") != Some(&format!("Bearer {token}")) {
            return Response::error(401, "GatedRepo", "Access to this repo is restricted");
        }
    }
    let path: Vec<String> = path.iter().map(|s| percent_decode(s)).collect();
    let path = path.join("/");
    let Some(content) = repo.files.get(&path) else {
        return Response::error(404, "EntryNotFound", "Entry not found");
    };
    if Repo::is_lfs(&path) {
        let sha = sha256_hex(content);
        let location = format!("{}/blobs/{sha}", state.storage_base.lock().unwrap());
        return Response::new(302, "")
            .header("location", location)
            .header("x-repo-commit", commit)
            .header("x-linked-etag", format!("\"{sha}\""))
            .header("x-linked-size", content.len().to_string())
            .header("etag", format!("\"{}\"", git_sha1(content)));
    }
    let mut resp = Response::new(200, content.clone())
        .header("x-repo-commit", commit)
        .header("etag", format!("\"{}\"", git_sha1(content)));
    resp.content = true;
    resp
}

fn route_storage(req: &Request, state: &State) -> Response {
    let Some(sha) = req.path.strip_prefix("/blobs/") else {
        return Response::new(404, "not found");
    };
    let repos = state.repos.lock().unwrap();
    let found = repos
        .values()
        .flat_map(|r| r.files.values())
        .find(|c| sha256_hex(c) == sha);
    match found {
        Some(c) => {
            let mut resp = Response::new(200, c.clone());
            resp.content = true;
            resp
        }
        None => Response::new(404, "no such blob"),
    }
}

fn lfs_pointer(content: &[u8]) -> String {
    format!(
        "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize {}\n",
        sha256_hex(content),
        content.len()
    )
}

fn file_entry(path: &str, content: &[u8]) -> serde_json::Value {
    if Repo::is_lfs(path) {
        let pointer = lfs_pointer(content);
        serde_json::json!({
            "type": "file", "path": path, "size": content.len(), "oid": git_sha1(pointer.as_bytes()),
            "lfs": { "oid": sha256_hex(content), "size": content.len(), "pointerSize": pointer.len() },
        })
    } else {
        serde_json::json!({ "type": "file", "path": path, "size": content.len(), "oid": git_sha1(content) })
    }
}

fn revision_json(id: &str, repo: &Repo, commit: &str, blobs: bool) -> Response {
    let siblings: Vec<serde_json::Value> = repo
        .files
        .iter()
        .map(|(p, c)| {
            if !blobs {
                return serde_json::json!({ "rfilename": p });
            }
            let e = file_entry(p, c);
            let mut s = serde_json::json!({ "rfilename": p, "size": c.len(), "blobId": e["oid"] });
            if let Some(lfs) = e.get("lfs") {
                s["lfs"] = serde_json::json!({
                    "sha256": lfs["oid"], "size": lfs["size"], "pointerSize": lfs["pointerSize"],
                });
            }
            s
        })
        .collect();
    Response::json(serde_json::json!({
        "_id": "0", "id": id, "sha": commit, "private": false,
        "gated": if repo.gated_token.is_some() { serde_json::json!("manual") } else { serde_json::json!(false) },
        "siblings": siblings,
    }))
}

fn tree_page(req: &Request, state: &State, repo: &Repo) -> Response {
    let mut entries: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    for (p, c) in &repo.files {
        let mut dir = String::new();
        for part in p.split('/').collect::<Vec<_>>().split_last().unwrap().1 {
            if !dir.is_empty() {
                dir.push('/');
            }
            dir.push_str(part);
            entries.insert(
                dir.clone(),
                serde_json::json!({ "type": "directory", "path": dir, "size": 0, "oid": "0".repeat(40) }),
            );
        }
        entries.insert(p.clone(), file_entry(p, c));
    }
    let cursor: usize = req
        .query
        .split('&')
        .find_map(|kv| kv.strip_prefix("cursor="))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let size = state.page_size.load(Ordering::SeqCst);
    let all: Vec<serde_json::Value> = entries.into_values().collect();
    let page: Vec<serde_json::Value> = all.iter().skip(cursor).take(size).cloned().collect();
    let mut resp = Response::json(serde_json::Value::Array(page));
    if cursor + size < all.len() {
        let link = format!(
            "<{}{}?recursive=true&cursor={}>; rel=\"next\"",
            state
                .link_origin
                .lock()
                .unwrap()
                .clone()
                .unwrap_or_else(|| state.hub_base.lock().unwrap().clone()),
            req.path,
            cursor + size
        );
        resp = resp.header("link", link);
    }
    resp
}

/// A real safetensors file: 8-byte little-endian header length, JSON header, F32 tensor data.
pub fn safetensors(tensors: &[(&str, &[usize])], seed: u8) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), serde_json::json!({ "format": "pt" }));
    let mut offset = 0usize;
    let mut data = Vec::new();
    for (name, shape) in tensors {
        let n: usize = shape.iter().product();
        for i in 0..n {
            let v = (i as f32 + seed as f32) * 0.001;
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            name.to_string(),
            serde_json::json!({ "dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n * 4] }),
        );
        offset += n * 4;
    }
    let mut h = serde_json::Value::Object(header).to_string().into_bytes();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    out
}

fn json(v: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(&v).unwrap()
}

/// Tokenizer files of a CLIP tokenizer (tiny).
fn tokenizer_files(repo: Repo, folder: &str) -> Repo {
    let p = |f: &str| {
        if folder.is_empty() {
            f.to_string()
        } else {
            format!("{folder}/{f}")
        }
    };
    repo.file(
        &p("vocab.json"),
        json(
            serde_json::json!({ "a": 0, "b": 1, "ab": 2, "a</w>": 3, "b</w>": 4, "ab</w>": 5, "<|startoftext|>": 6, "<|endoftext|>": 7 }),
        ),
    )
    .file(&p("merges.txt"), "#version: 0.2\na b\na b</w>\n")
    .file(
        &p("tokenizer_config.json"),
        json(serde_json::json!({ "model_max_length": 77 })),
    )
    .file(
        &p("special_tokens_map.json"),
        json(serde_json::json!({ "bos_token": "<|startoftext|>" })),
    )
}

/// A Stable Diffusion style diffusers pipeline repo with every format and precision a real one has.
pub fn diffusers_repo() -> Repo {
    let model_index = serde_json::json!({
        "_class_name": "StableDiffusionPipeline",
        "_diffusers_version": "0.30.0",
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "requires_safety_checker": true,
        "safety_checker": [null, null],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    });
    let st = |seed: u8| safetensors(&[("w", &[4, 8]), ("b", &[8])], seed);
    let repo = Repo::new()
        .file("model_index.json", json(model_index))
        .file("README.md", "# test pipeline\n")
        .file(".gitattributes", "*.safetensors filter=lfs\n")
        .file("v1-5-pruned.ckpt", vec![1u8; 300])
        .file("v1-5-pruned-emaonly.safetensors", st(90))
        .file(
            "feature_extractor/preprocessor_config.json",
            json(serde_json::json!({ "crop_size": 224 })),
        )
        .file("safety_checker/config.json", json(serde_json::json!({})))
        .file("safety_checker/model.safetensors", st(80))
        .file(
            "scheduler/scheduler_config.json",
            json(serde_json::json!({ "_class_name": "PNDMScheduler" })),
        )
        .file(
            "text_encoder/config.json",
            json(serde_json::json!({ "hidden_size": 8 })),
        )
        .file("text_encoder/model.safetensors", st(1))
        .file("text_encoder/model.fp16.safetensors", st(2))
        .file("text_encoder/pytorch_model.bin", vec![3u8; 200])
        .file("text_encoder/flax_model.msgpack", vec![4u8; 200])
        .file(
            "unet/config.json",
            json(serde_json::json!({ "sample_size": 64 })),
        )
        .file("unet/diffusion_pytorch_model.safetensors", st(5))
        .file("unet/diffusion_pytorch_model.fp16.safetensors", st(6))
        .file("unet/diffusion_pytorch_model.bin", vec![7u8; 200])
        .file("unet/diffusion_pytorch_model.non_ema.bin", vec![8u8; 200])
        .file(
            "vae/config.json",
            json(serde_json::json!({ "latent_channels": 4 })),
        )
        .file("vae/diffusion_pytorch_model.safetensors", st(9))
        .file("vae/diffusion_pytorch_model.fp16.safetensors", st(10))
        .file("onnx/unet/model.onnx", vec![11u8; 100])
        .file("onnx/vae_decoder/model.onnx", vec![12u8; 100]);
    tokenizer_files(repo, "tokenizer")
}

/// A transformers model repo carrying its weights in four formats, as many CLIP repos do.
pub fn text_model_repo() -> Repo {
    let repo = Repo::new()
        .file(
            "config.json",
            json(serde_json::json!({ "model_type": "clip" })),
        )
        .file(
            "preprocessor_config.json",
            json(serde_json::json!({ "crop_size": 224 })),
        )
        .file("model.safetensors", safetensors(&[("w", &[16, 16])], 20))
        .file("pytorch_model.bin", vec![21u8; 500])
        .file("tf_model.h5", vec![22u8; 500])
        .file("flax_model.msgpack", vec![23u8; 500]);
    tokenizer_files(repo, "")
}

/// A Flux.1 repo shaped like the real one: single-file transformer and autoencoder at the root, plus the
/// diffusers folders (with their own text encoders and tokenizers) and `model_index.json`.
pub fn flux_repo() -> Repo {
    let st = |seed: u8| safetensors(&[("w", &[8, 8])], seed);
    let model_index = serde_json::json!({
        "_class_name": "FluxPipeline",
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "text_encoder_2": ["transformers", "T5EncoderModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "tokenizer_2": ["transformers", "T5TokenizerFast"],
        "transformer": ["diffusers", "FluxTransformer2DModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    });
    let repo = Repo::new()
        .file("model_index.json", json(model_index))
        .file("README.md", "# flux test\n")
        .file("flux1-dev.safetensors", st(40))
        .file("ae.safetensors", st(41))
        .file(
            "scheduler/scheduler_config.json",
            json(serde_json::json!({ "shift": 3.0 })),
        )
        .file(
            "text_encoder/config.json",
            json(serde_json::json!({ "model_type": "clip" })),
        )
        .file("text_encoder/model.safetensors", st(42))
        .file(
            "text_encoder_2/config.json",
            json(serde_json::json!({ "model_type": "t5" })),
        )
        .file("text_encoder_2/model.safetensors", st(43))
        .file(
            "transformer/config.json",
            json(serde_json::json!({ "num_layers": 1 })),
        )
        .file("transformer/diffusion_pytorch_model.safetensors", st(44))
        .file(
            "vae/config.json",
            json(serde_json::json!({ "latent_channels": 16 })),
        )
        .file("vae/diffusion_pytorch_model.safetensors", st(45));
    let repo = tokenizer_files(repo, "tokenizer");
    t5_tokenizer_files(repo, "tokenizer_2")
}

/// Separate text encoder files, as the usual Flux text-encoder repos hold them.
pub fn flux_text_encoders_repo() -> Repo {
    Repo::new()
        .file("clip_l.safetensors", safetensors(&[("w", &[4, 4])], 50))
        .file("t5xxl_fp16.safetensors", safetensors(&[("w", &[8, 4])], 51))
        .file(
            "t5xxl_fp8_e4m3fn.safetensors",
            safetensors(&[("w", &[4, 2])], 52),
        )
        .file("README.md", "# text encoders\n")
}

/// A T5 tokenizer repo shaped like google/t5-v1_1-xxl: tokenizer files next to big weights (`big` bytes)
/// that a tokenizer never opens.
pub fn t5_tokenizer_repo(big: usize) -> Repo {
    let repo = Repo::new()
        .file(
            "config.json",
            json(serde_json::json!({ "model_type": "t5", "vocab_size": 8, "d_model": 8 })),
        )
        .file("pytorch_model.bin", vec![7u8; big])
        .file("tf_model.h5", vec![8u8; big / 4]);
    t5_tokenizer_files(repo, "")
}

/// A T5 (Unigram) tokenizer that transformers loads without sentencepiece: tokenizer.json and configs.
fn t5_tokenizer_files(repo: Repo, folder: &str) -> Repo {
    let p = |f: &str| {
        if folder.is_empty() {
            f.to_string()
        } else {
            format!("{folder}/{f}")
        }
    };
    let special = |id: u32, content: &str| {
        serde_json::json!({ "id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true })
    };
    let metaspace = serde_json::json!({ "type": "Metaspace", "replacement": "\u{2581}",
        "prepend_scheme": "always", "split": true });
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, "<pad>"), special(1, "</s>"), special(2, "<unk>")],
        "normalizer": null,
        "pre_tokenizer": metaspace,
        "post_processor": { "type": "TemplateProcessing",
            "single": [{ "Sequence": { "id": "A", "type_id": 0 } }, { "SpecialToken": { "id": "</s>", "type_id": 0 } }],
            "pair": [{ "Sequence": { "id": "A", "type_id": 0 } }, { "SpecialToken": { "id": "</s>", "type_id": 0 } },
                     { "Sequence": { "id": "B", "type_id": 0 } }, { "SpecialToken": { "id": "</s>", "type_id": 0 } }],
            "special_tokens": { "</s>": { "id": "</s>", "ids": [1], "tokens": ["</s>"] } } },
        "decoder": metaspace,
        "model": { "type": "Unigram", "unk_id": 2, "byte_fallback": false, "vocab": [
            ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u{2581}a", -1.0], ["\u{2581}b", -1.0],
            ["a", -2.0], ["b", -2.0], ["\u{2581}", -3.0]] },
    });
    repo.file(&p("tokenizer.json"), json(tokenizer))
        .file(
            &p("tokenizer_config.json"),
            json(serde_json::json!({ "tokenizer_class": "T5Tokenizer", "model_max_length": 512,
                "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>", "extra_ids": 0 })),
        )
        .file(
            &p("special_tokens_map.json"),
            json(serde_json::json!({ "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>" })),
        )
}

/// An SD pipeline whose safety checker is a real component (as in the original SD 1.x repos).
pub fn pipeline_with_safety_checker() -> Repo {
    let mut repo = diffusers_repo();
    let index: serde_json::Value = serde_json::from_slice(&repo.files["model_index.json"]).unwrap();
    let mut index = index.as_object().unwrap().clone();
    index.insert(
        "safety_checker".into(),
        serde_json::json!(["stable_diffusion", "StableDiffusionSafetyChecker"]),
    );
    repo.files.insert(
        "model_index.json".into(),
        json(serde_json::Value::Object(index)),
    );
    repo
}
