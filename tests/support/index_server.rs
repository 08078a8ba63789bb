//! A real package index on 127.0.0.1:0: PEP 691 JSON and PEP 503 HTML project pages, PEP 658
//! `.metadata` files, file downloads with Range, and injected faults.
#![allow(dead_code)]
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Cursor;
use std::sync::{Arc, Mutex};

use super::wheels::sha256_hex;

#[derive(Clone)]
pub struct File {
    pub filename: String,
    pub bytes: Vec<u8>,
    /// Bytes actually served (differs from `bytes` for a corrupt file).
    pub served: Option<Vec<u8>>,
    pub requires_python: Option<String>,
    pub yanked: bool,
    /// PEP 658 metadata text.
    pub metadata: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// PEP 691 JSON when asked for, HTML otherwise.
    Json,
    /// PEP 503 HTML only (an old mirror).
    Html,
}

#[derive(Default)]
struct State {
    projects: BTreeMap<String, Vec<File>>,
    /// Paths that answer 500 the next N times.
    fail: HashMap<String, u32>,
    log: Vec<(String, Option<String>)>,
    no_hashes: bool,
    no_metadata: bool,
    /// `Authorization` value every request must carry (401 otherwise).
    require_auth: Option<String>,
    /// Every `Authorization` header received, with its path.
    auth_seen: Vec<(String, String)>,
    /// Answer file requests with a 302 to this base URL (a storage host elsewhere).
    redirect_files: Option<String>,
    /// Milliseconds every answer waits (a far-away mirror).
    delay_ms: u64,
    /// Bytes per second of file bodies (a slow link).
    rate: Option<u64>,
    /// Files listed on the project page whose download answers 404 (a stale mirror).
    gone: HashSet<String>,
    /// After this many file downloads, every file download answers 500 (a mirror failing mid-run).
    fail_files_after: Option<usize>,
    files_answered: usize,
    /// Bytes of whole-file answers (no Range) sent.
    full_bytes: u64,
}

pub struct IndexServer {
    pub url: String,
    pub mode: Mode,
    state: Arc<Mutex<State>>,
    _server: Arc<tiny_http::Server>,
}

fn normalize(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c == '-' || c == '_' || c == '.' {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

impl IndexServer {
    pub fn start(mode: Mode) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        for _ in 0..4 {
            let (server, state) = (server.clone(), state.clone());
            std::thread::spawn(move || {
                while let Ok(req) = server.recv() {
                    handle(req, &state, mode);
                }
            });
        }
        IndexServer {
            url: format!("http://127.0.0.1:{port}/simple/"),
            mode,
            state,
            _server: server,
        }
    }

    pub fn base(&self) -> String {
        self.url.trim_end_matches("simple/").to_string()
    }

    /// Serve a file for a project (wheel metadata is taken from the wheel for PEP 658).
    pub fn add(&self, project: &str, filename: &str, bytes: Vec<u8>) -> &Self {
        let metadata = filename
            .ends_with(".whl")
            .then(|| wheel_metadata(&bytes))
            .flatten();
        self.add_file(
            project,
            File {
                filename: filename.into(),
                bytes,
                served: None,
                requires_python: None,
                yanked: false,
                metadata,
            },
        )
    }

    pub fn add_file(&self, project: &str, file: File) -> &Self {
        self.state
            .lock()
            .unwrap()
            .projects
            .entry(normalize(project))
            .or_default()
            .push(file);
        self
    }

    pub fn set_yanked(&self, filename: &str) {
        self.edit(filename, |f| f.yanked = true);
    }
    pub fn set_requires_python(&self, filename: &str, rp: &str) {
        self.edit(filename, |f| f.requires_python = Some(rp.into()));
    }
    /// Serve other bytes than the listed hash says.
    pub fn corrupt(&self, filename: &str) {
        self.edit(filename, |f| {
            let mut b = f.bytes.clone();
            let n = b.len() / 2;
            b[n] ^= 0xff;
            f.served = Some(b);
        });
    }
    fn edit(&self, filename: &str, change: impl Fn(&mut File)) {
        let mut st = self.state.lock().unwrap();
        for files in st.projects.values_mut() {
            for f in files.iter_mut().filter(|f| f.filename == filename) {
                change(f);
            }
        }
    }
    /// The next `times` requests for `path` (e.g. "/simple/demo/") answer 500.
    pub fn fail(&self, path: &str, times: u32) {
        self.state.lock().unwrap().fail.insert(path.into(), times);
    }
    pub fn without_hashes(&self) {
        self.state.lock().unwrap().no_hashes = true;
    }
    pub fn without_metadata(&self) {
        self.state.lock().unwrap().no_metadata = true;
    }
    /// Demand HTTP basic auth with these credentials on every request.
    pub fn require_basic_auth(&self, user: &str, password: &str) {
        use base64::Engine;
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.state.lock().unwrap().require_auth = Some(format!("Basic {token}"));
    }
    /// `Authorization` headers received: (path, value).
    pub fn authorization_seen(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().auth_seen.clone()
    }
    /// Redirect every `/files/NAME` request to `BASE/files/NAME`.
    pub fn redirect_files_to(&self, base: &str) {
        self.state.lock().unwrap().redirect_files = Some(base.trim_end_matches('/').to_string());
    }
    /// Every answer waits this long.
    pub fn set_delay_ms(&self, ms: u64) {
        self.state.lock().unwrap().delay_ms = ms;
    }
    /// File bodies are sent at this many bytes per second.
    pub fn set_rate(&self, bytes_per_sec: u64) {
        self.state.lock().unwrap().rate = Some(bytes_per_sec);
    }
    /// List `filename` but answer 404 when it is downloaded.
    pub fn gone(&self, filename: &str) {
        self.state.lock().unwrap().gone.insert(filename.into());
    }
    /// Serve `n` file downloads, then answer 500 to every file download.
    pub fn fail_files_after(&self, n: usize) {
        self.state.lock().unwrap().fail_files_after = Some(n);
    }
    /// Bytes sent in whole-file answers (requests without Range).
    pub fn full_bytes(&self) -> u64 {
        self.state.lock().unwrap().full_bytes
    }
    /// Requests seen: (path, Range header).
    pub fn log(&self) -> Vec<(String, Option<String>)> {
        self.state.lock().unwrap().log.clone()
    }
    pub fn requested(&self, suffix: &str) -> usize {
        self.log()
            .iter()
            .filter(|(p, _)| p.ends_with(suffix))
            .count()
    }
}

fn wheel_metadata(bytes: &[u8]) -> Option<String> {
    use std::io::Read;
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).ok()?;
    let name = z
        .file_names()
        .flatten()
        .find(|n| n.ends_with(".dist-info/METADATA"))?
        .into_owned();
    let mut s = String::new();
    z.by_name(&name).ok()?.read_to_string(&mut s).ok()?;
    Some(s)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn handle(req: tiny_http::Request, state: &Arc<Mutex<State>>, mode: Mode) {
    let path = req.url().split('?').next().unwrap_or("").to_string();
    let header = |name: &'static str| {
        req.headers()
            .iter()
            .find(|h| h.field.equiv(name))
            .map(|h| h.value.to_string())
    };
    let range = header("Range");
    let accept = header("Accept").unwrap_or_default();
    let delay = state.lock().unwrap().delay_ms;
    if delay > 0 {
        std::thread::sleep(std::time::Duration::from_millis(delay));
    }
    let mut st = state.lock().unwrap();
    st.log.push((path.clone(), range.clone()));
    let auth = header("Authorization");
    if let Some(a) = &auth {
        st.auth_seen.push((path.clone(), a.clone()));
    }
    if st.require_auth.is_some() && st.require_auth != auth {
        drop(st);
        let www =
            tiny_http::Header::from_bytes("WWW-Authenticate", "Basic realm=\"test\"").unwrap();
        let _ = req.respond(
            tiny_http::Response::from_string("authentication required")
                .with_status_code(401)
                .with_header(www),
        );
        return;
    }
    if let (Some(base), Some(name)) = (&st.redirect_files, path.strip_prefix("/files/")) {
        let to = format!("{base}/files/{name}");
        drop(st);
        let loc = tiny_http::Header::from_bytes("Location", to.as_bytes()).unwrap();
        let _ = req.respond(tiny_http::Response::empty(302).with_header(loc));
        return;
    }
    if let Some(n) = st.fail.get_mut(&path) {
        if *n > 0 {
            *n -= 1;
            drop(st);
            let _ = req.respond(
                tiny_http::Response::from_string("injected failure").with_status_code(500),
            );
            return;
        }
    }
    let ct = |v: &str| tiny_http::Header::from_bytes("Content-Type", v).unwrap();
    if let Some(project) = path
        .strip_prefix("/simple/")
        .map(|p| p.trim_end_matches('/'))
    {
        let Some(files) = st
            .projects
            .get(&normalize(project))
            .filter(|_| normalize(project) == project)
            .cloned()
        else {
            drop(st);
            let _ =
                req.respond(tiny_http::Response::from_string("not found").with_status_code(404));
            return;
        };
        let (no_hashes, no_metadata) = (st.no_hashes, st.no_metadata);
        drop(st);
        let json = mode == Mode::Json && accept.contains("application/vnd.pypi.simple.v1+json");
        let body = if json {
            let files: Vec<serde_json::Value> = files
                .iter()
                .map(|f| {
                    let mut o = serde_json::json!({
                        "filename": f.filename,
                        "url": format!("../../files/{}", f.filename),
                        "hashes": if no_hashes { serde_json::json!({}) } else { serde_json::json!({"sha256": sha256_hex(&f.bytes)}) },
                        "size": f.bytes.len(),
                    });
                    if let Some(rp) = &f.requires_python {
                        o["requires-python"] = rp.clone().into();
                    }
                    if f.yanked {
                        o["yanked"] = "yanked for the test".into();
                    }
                    if let (Some(m), false) = (&f.metadata, no_metadata) {
                        o["core-metadata"] = serde_json::json!({"sha256": sha256_hex(m.as_bytes())});
                    }
                    o
                })
                .collect();
            serde_json::json!({"meta": {"api-version": "1.1"}, "name": project, "files": files})
                .to_string()
        } else {
            let mut s = String::from("<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.0\"></head><body>\n");
            for f in &files {
                let hash = if no_hashes {
                    String::new()
                } else {
                    format!("#sha256={}", sha256_hex(&f.bytes))
                };
                let mut attrs = String::new();
                if let Some(rp) = &f.requires_python {
                    attrs.push_str(&format!(" data-requires-python=\"{}\"", html_escape(rp)));
                }
                if f.yanked {
                    attrs.push_str(" data-yanked=\"\"");
                }
                if let (Some(m), false) = (&f.metadata, no_metadata) {
                    attrs.push_str(&format!(
                        " data-core-metadata=\"sha256={}\"",
                        sha256_hex(m.as_bytes())
                    ));
                }
                s.push_str(&format!(
                    "<a href=\"/files/{0}{hash}\"{attrs}>{0}</a><br/>\n",
                    f.filename
                ));
            }
            s.push_str("</body></html>\n");
            s
        };
        let content_type = if json {
            "application/vnd.pypi.simple.v1+json"
        } else {
            "text/html"
        };
        let _ = req.respond(tiny_http::Response::from_string(body).with_header(ct(content_type)));
        return;
    }
    if let Some(name) = path.strip_prefix("/files/") {
        let all: Vec<File> = st.projects.values().flatten().cloned().collect();
        let no_metadata = st.no_metadata;
        let download = !name.ends_with(".metadata");
        if download && st.gone.contains(name) {
            drop(st);
            let _ = req.respond(tiny_http::Response::from_string("gone").with_status_code(404));
            return;
        }
        if download {
            st.files_answered += 1;
            if st.fail_files_after.is_some_and(|n| st.files_answered > n) {
                drop(st);
                let _ = req.respond(
                    tiny_http::Response::from_string("mirror failing").with_status_code(500),
                );
                return;
            }
        }
        let rate = st.rate;
        drop(st);
        if let Some(wheel) = name.strip_suffix(".metadata") {
            if let Some(m) = all
                .iter()
                .find(|f| f.filename == wheel)
                .and_then(|f| f.metadata.clone())
                .filter(|_| !no_metadata)
            {
                let _ = req.respond(tiny_http::Response::from_string(m));
                return;
            }
        }
        let Some(f) = all.iter().find(|f| f.filename == name) else {
            let _ =
                req.respond(tiny_http::Response::from_string("no such file").with_status_code(404));
            return;
        };
        let data = f.served.clone().unwrap_or_else(|| f.bytes.clone());
        if let Some((start, end)) = range.as_deref().and_then(|r| parse_range(r, data.len())) {
            let part = data[start..=end].to_vec();
            let cr = tiny_http::Header::from_bytes(
                "Content-Range",
                format!("bytes {start}-{end}/{}", data.len()),
            )
            .unwrap();
            let _ = req.respond(throttled(part, rate, 206).with_header(cr));
        } else {
            state.lock().unwrap().full_bytes += data.len() as u64;
            let _ = req.respond(throttled(data, rate, 200));
        }
        return;
    }
    drop(st);
    let _ = req.respond(tiny_http::Response::from_string("not found").with_status_code(404));
}

/// A body sent at `rate` bytes per second (at once without a rate).
struct Throttled {
    data: Cursor<Vec<u8>>,
    rate: Option<u64>,
}

impl std::io::Read for Throttled {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let max = match self.rate {
            Some(r) => buf.len().min(4096).min(r.max(1) as usize),
            None => buf.len(),
        };
        let n = self.data.read(&mut buf[..max])?;
        if let (Some(r), true) = (self.rate, n > 0) {
            std::thread::sleep(std::time::Duration::from_secs_f64(
                n as f64 / r.max(1) as f64,
            ));
        }
        Ok(n)
    }
}

fn throttled(data: Vec<u8>, rate: Option<u64>, status: u16) -> tiny_http::Response<Throttled> {
    let len = data.len();
    tiny_http::Response::new(
        tiny_http::StatusCode(status),
        Vec::new(),
        Throttled {
            data: Cursor::new(data),
            rate,
        },
        Some(len),
        None,
    )
}

fn parse_range(r: &str, len: usize) -> Option<(usize, usize)> {
    let spec = r.strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    if a.is_empty() {
        let n: usize = b.parse().ok()?;
        return Some((len.saturating_sub(n), len - 1));
    }
    let start: usize = a.parse().ok()?;
    let end = if b.is_empty() {
        len - 1
    } else {
        b.parse::<usize>().ok()?.min(len - 1)
    };
    (start <= end && start < len).then_some((start, end))
}

/// Names every project served, for assertions.
pub fn projects(server: &IndexServer) -> HashSet<String> {
    server
        .state
        .lock()
        .unwrap()
        .projects
        .keys()
        .cloned()
        .collect()
}
