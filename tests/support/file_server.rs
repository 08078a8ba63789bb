//! A plain download server on 127.0.0.1:0 (a model site, not a hub): `GET`/`HEAD /api/download/models/ID`
//! redirects to `/files/ID`, which answers with the content and `Content-Disposition: attachment;
//! filename="NAME"`; `/direct/NAME` serves a file with no Content-Disposition (named by the URL). Logs paths
//! and whether an `Authorization` header came along.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct State {
    /// id → (file name, content)
    files: BTreeMap<String, (String, Vec<u8>)>,
    log: Vec<(String, String, bool)>,
}

pub struct FileServer {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl FileServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let state = Arc::new(Mutex::new(State::default()));
        let s = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || handle(stream, &s));
            }
        });
        FileServer { url, state }
    }

    /// Serve `content` as download `id`, named `name` by Content-Disposition.
    pub fn add(&self, id: &str, name: &str, content: impl Into<Vec<u8>>) {
        self.state
            .lock()
            .unwrap()
            .files
            .insert(id.to_string(), (name.to_string(), content.into()));
    }

    /// (method, path, had Authorization) for every request.
    pub fn log(&self) -> Vec<(String, String, bool)> {
        self.state.lock().unwrap().log.clone()
    }
}

fn handle(stream: std::net::TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut auth = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if h.to_ascii_lowercase().starts_with("authorization:") {
            auth = true;
        }
    }
    let path_only = path.split('?').next().unwrap_or_default().to_string();
    let (status, headers, body) = {
        let mut st = state.lock().unwrap();
        st.log.push((method.clone(), path.clone(), auth));
        if let Some(id) = path_only.strip_prefix("/api/download/models/") {
            (
                302,
                vec![("location".to_string(), format!("/files/{id}"))],
                Vec::new(),
            )
        } else if let Some(id) = path_only.strip_prefix("/files/") {
            match st.files.get(id) {
                Some((name, content)) => (
                    200,
                    vec![(
                        "content-disposition".to_string(),
                        format!("attachment; filename=\"{name}\""),
                    )],
                    content.clone(),
                ),
                None => (404, vec![], b"no such file".to_vec()),
            }
        } else if let Some(name) = path_only.strip_prefix("/direct/") {
            match st.files.values().find(|(n, _)| n == name) {
                Some((_, content)) => (200, vec![], content.clone()),
                None => (404, vec![], b"no such file".to_vec()),
            }
        } else {
            (404, vec![], b"not found".to_vec())
        }
    };
    let mut head = format!("HTTP/1.1 {status} X\r\n");
    for (n, v) in &headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut stream = stream;
    let _ = stream.write_all(head.as_bytes());
    if method != "HEAD" {
        let _ = stream.write_all(&body);
    }
    let _ = stream.flush();
}
