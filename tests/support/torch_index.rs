//! A local index shaped like the PyTorch wheel indexes, on 127.0.0.1:0: one PEP 503 HTML root per backend
//! (`BASE/cpu/`, `BASE/cu121/`, …), files with local versions whose `+` is written `%2B` in the hrefs,
//! sha256 fragments, no PEP 691 JSON, no PEP 658 metadata (readers fall back to Range requests).
#![allow(dead_code)]
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::wheels::sha256_hex;

/// project → files (filename, bytes).
type Root = BTreeMap<String, Vec<(String, Vec<u8>)>>;

#[derive(Default)]
struct State {
    /// backend → its root.
    roots: BTreeMap<String, Root>,
    log: Vec<String>,
    /// The path of each GET of a whole file (None for HEAD and ranged GETs), in order.
    gets: Vec<Option<String>>,
}

pub struct TorchIndex {
    /// `http://127.0.0.1:PORT/whl/`: give it as `--torch-index-base`.
    pub base: String,
    state: Arc<Mutex<State>>,
    _server: Arc<tiny_http::Server>,
}

impl TorchIndex {
    pub fn start() -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        for _ in 0..4 {
            let (server, state) = (server.clone(), state.clone());
            std::thread::spawn(move || {
                while let Ok(req) = server.recv() {
                    handle(req, &state);
                }
            });
        }
        TorchIndex {
            base: format!("http://127.0.0.1:{port}/whl/"),
            state,
            _server: server,
        }
    }

    /// `BASE/<backend>/`.
    pub fn root(&self, backend: &str) -> String {
        format!("{}{backend}/", self.base)
    }

    pub fn add(&self, backend: &str, project: &str, filename: &str, bytes: Vec<u8>) -> &Self {
        self.state
            .lock()
            .unwrap()
            .roots
            .entry(backend.into())
            .or_default()
            .entry(project.into())
            .or_default()
            .push((filename.into(), bytes));
        self
    }

    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// GETs of whole files (not HEAD, not ranged) whose path holds `needle`.
    pub fn whole_gets(&self, needle: &str) -> usize {
        let st = self.state.lock().unwrap();
        st.gets
            .iter()
            .flatten()
            .filter(|p| p.contains(needle))
            .count()
    }

    pub fn requested(&self, needle: &str) -> usize {
        self.log().iter().filter(|p| p.contains(needle)).count()
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn handle(req: tiny_http::Request, state: &Arc<Mutex<State>>) {
    let path = req.url().split('?').next().unwrap_or("").to_string();
    let range = req
        .headers()
        .iter()
        .find(|h| h.field.equiv("Range"))
        .map(|h| h.value.to_string());
    let mut st = state.lock().unwrap();
    st.log.push(path.clone());
    let whole = req.method() == &tiny_http::Method::Get && range.is_none();
    st.gets.push(whole.then(|| path.clone()));
    let html = |body: String| {
        tiny_http::Response::from_string(body)
            .with_header(tiny_http::Header::from_bytes("Content-Type", "text/html").unwrap())
    };
    let not_found = || tiny_http::Response::from_string("not found").with_status_code(404);
    let parts: Vec<&str> = path
        .trim_start_matches("/whl/")
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let Some(root) = parts.first().and_then(|b| st.roots.get(*b)) else {
        drop(st);
        let _ = req.respond(not_found());
        return;
    };
    let backend = parts[0];
    match parts.len() {
        1 => {
            let mut s = String::from("<!DOCTYPE html>\n<html><body>\n");
            for p in root.keys() {
                s.push_str(&format!("<a href=\"/whl/{backend}/{p}/\">{p}</a><br/>\n"));
            }
            s.push_str("</body></html>\n");
            drop(st);
            let _ = req.respond(html(s));
        }
        2 if path.ends_with('/') => {
            let Some(files) = root.get(parts[1]) else {
                drop(st);
                let _ = req.respond(not_found());
                return;
            };
            let mut s = String::from("<!DOCTYPE html>\n<html><body>\n");
            for (name, bytes) in files {
                s.push_str(&format!(
                    "<a href=\"/whl/{backend}/{}#sha256={}\">{name}</a><br/>\n",
                    name.replace('+', "%2B"),
                    sha256_hex(bytes)
                ));
            }
            s.push_str("</body></html>\n");
            drop(st);
            let _ = req.respond(html(s));
        }
        2 => {
            let name = decode(parts[1]);
            let Some(data) = root
                .values()
                .flatten()
                .find(|(n, _)| *n == name)
                .map(|(_, b)| b.clone())
            else {
                drop(st);
                let _ = req.respond(not_found());
                return;
            };
            drop(st);
            match range.as_deref().and_then(|r| parse_range(r, data.len())) {
                Some((start, end)) => {
                    let cr = tiny_http::Header::from_bytes(
                        "Content-Range",
                        format!("bytes {start}-{end}/{}", data.len()),
                    )
                    .unwrap();
                    let _ = req.respond(
                        tiny_http::Response::from_data(data[start..=end].to_vec())
                            .with_status_code(206)
                            .with_header(cr),
                    );
                }
                None => {
                    let _ = req.respond(tiny_http::Response::from_data(data));
                }
            }
        }
        _ => {
            drop(st);
            let _ = req.respond(not_found());
        }
    }
}

fn parse_range(r: &str, len: usize) -> Option<(usize, usize)> {
    let (a, b) = r.strip_prefix("bytes=")?.split_once('-')?;
    if a.is_empty() {
        let n: usize = b.parse().ok()?;
        return Some((len.saturating_sub(n), len - 1));
    }
    let start: usize = a.parse().ok()?;
    let end = match b.is_empty() {
        true => len - 1,
        false => b.parse::<usize>().ok()?.min(len - 1),
    };
    (start <= end && start < len).then_some((start, end))
}
