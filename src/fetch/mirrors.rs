//! Fail-over between mirrors during one run: which other mirrors hold each file, and which mirrors were
//! dropped. Filled by the mirror choice (`crate::mirrors`) before downloads start; the downloader asks it
//! for a file's URLs in order and tells it when a mirror fails.
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use url::Url;

use super::error::Error;

#[derive(Default)]
struct State {
    /// A file URL → the same file on every mirror, best first.
    files: HashMap<String, Vec<Url>>,
    /// A URL prefix (a hub endpoint) → the same prefix on every mirror, best first.
    prefixes: Vec<(String, Vec<String>)>,
    /// Origins (`scheme://host:port`) of the mirrors taking part.
    mirrors: HashSet<String>,
    /// Origins dropped for the rest of the run.
    dropped: HashSet<String>,
    /// Why each dropped mirror was dropped, in order.
    notes: Vec<String>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

/// Register one file's URLs on every mirror, best first, under the URL the lock names.
pub fn add_file(key: &Url, urls: Vec<Url>) {
    let mut st = STATE.lock().unwrap();
    let st = st.get_or_insert_with(State::default);
    st.mirrors.extend(urls.iter().map(origin));
    st.files.insert(key.to_string(), urls);
}

/// Register a URL prefix and its equivalents on the other mirrors, best first.
pub fn add_prefix(prefixes: Vec<Url>) {
    let Some(first) = prefixes.first() else {
        return;
    };
    let mut st = STATE.lock().unwrap();
    let st = st.get_or_insert_with(State::default);
    st.mirrors.extend(prefixes.iter().map(origin));
    st.prefixes.push((
        first.to_string(),
        prefixes.iter().map(|u| u.to_string()).collect(),
    ));
}

/// Whether fail-over between mirrors is set up for this URL.
pub fn is_mirror(url: &Url) -> bool {
    STATE
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|s| s.mirrors.contains(&origin(url)))
}

/// The URLs to try for a file, in order: the registered mirrors (dropped ones left out, unless none is
/// left), then the request's own other URLs.
pub fn expand(urls: &[Url]) -> Vec<Url> {
    let st = STATE.lock().unwrap();
    let Some(st) = st.as_ref() else {
        return urls.to_vec();
    };
    let Some(first) = urls.first() else {
        return Vec::new();
    };
    let mut out: Vec<Url> = match st.files.get(first.as_str()) {
        Some(list) => list.clone(),
        None => st
            .prefixes
            .iter()
            .find(|(p, _)| first.as_str().starts_with(p.as_str()))
            .map(|(p, all)| {
                let rest = &first.as_str()[p.len()..];
                all.iter()
                    .filter_map(|a| Url::parse(&format!("{a}{rest}")).ok())
                    .collect()
            })
            .unwrap_or_default(),
    };
    for u in urls {
        if !out.contains(u) {
            out.push(u.clone());
        }
    }
    let alive: Vec<Url> = out
        .iter()
        .filter(|u| !st.dropped.contains(&origin(u)))
        .cloned()
        .collect();
    if alive.is_empty() {
        out
    } else {
        alive
    }
}

/// Whether an error on a mirror means the mirror is failing (5xx, a stall, a cut body, 404 for a file it
/// lists, a wrong hash) rather than something the next mirror would hit too.
pub fn is_mirror_failure(err: &Error) -> bool {
    match err {
        Error::Status { status, .. } => *status >= 500 || *status == 404 || *status == 410,
        Error::Timeout { .. }
        | Error::Truncated { .. }
        | Error::HashMismatch { .. }
        | Error::SizeMismatch { .. }
        | Error::Range { .. } => true,
        other => other.is_retryable(),
    }
}

/// Drop the mirror of `url` for the rest of the run. Returns false when it was dropped already.
pub fn drop_mirror(url: &Url, err: &Error) -> bool {
    let mut st = STATE.lock().unwrap();
    let Some(st) = st.as_mut() else { return false };
    let o = origin(url);
    if !st.mirrors.contains(&o) || !st.dropped.insert(o.clone()) {
        return false;
    }
    st.notes.push(format!("dropped mirror {o}: {err}"));
    true
}

/// Mirrors dropped so far, with the reason.
pub fn dropped() -> Vec<String> {
    STATE
        .lock()
        .unwrap()
        .as_ref()
        .map(|s| s.notes.clone())
        .unwrap_or_default()
}

/// Whether the mirror of `url` was dropped.
pub fn is_dropped(url: &Url) -> bool {
    STATE
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|s| s.dropped.contains(&origin(url)))
}
