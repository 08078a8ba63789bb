//! [`download_all`], remembering every file whose sha256 this run computed (while downloading it, or
//! while checking a cached copy) so that packing does not hash it a second time ([`crate::hashed`]).
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use super::download::{download_all, DownloadRequest, Downloaded, Progress};
use super::error::Error;
use crate::hashed::{self, Identity};

/// [`download_all`], recording each result in [`crate::hashed`]:
/// - a file downloaded now: its identity right after it was renamed into place (the downloader reports
///   `finish` after the rename), with the sha256 computed while it was written;
/// - a cached file the downloader hashed and kept: recorded only when its identity is the same before the
///   batch and after it, i.e. nothing wrote to it between the hash and now.
pub fn download_all_recorded(
    reqs: Vec<DownloadRequest>,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<Downloaded>, Error> {
    let before: Vec<Option<Identity>> = reqs.iter().map(|r| Identity::of_path(&r.dest)).collect();
    let mut dests: HashMap<String, Option<PathBuf>> = HashMap::new();
    for r in &reqs {
        // Two requests under one label: which file finished is ambiguous, so neither is recorded there.
        dests
            .entry(r.label.clone())
            .and_modify(|d| *d = None)
            .or_insert_with(|| Some(r.dest.clone()));
    }
    let targets: Vec<(PathBuf, String)> = reqs
        .iter()
        .map(|r| (r.dest.clone(), r.label.clone()))
        .collect();
    let recorder = Recorder {
        inner: progress,
        dests,
        finished: Mutex::new(HashMap::new()),
    };
    let done = download_all(reqs, jobs, &recorder)?;
    let finished = recorder
        .finished
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    for (((dest, label), got), before) in targets.iter().zip(&done).zip(before) {
        let identity = match finished.get(label) {
            Some(id) => Some(*id),
            None => before.filter(|b| Identity::of_path(dest) == Some(*b)),
        };
        if let Some(id) = identity.filter(|id| id.size() == got.size) {
            hashed::record(dest, id, got.sha256.clone());
        }
    }
    Ok(done)
}

/// Passes progress through; notes the identity of each file as its download finishes.
struct Recorder<'a> {
    inner: &'a dyn Progress,
    dests: HashMap<String, Option<PathBuf>>,
    finished: Mutex<HashMap<String, Identity>>,
}

impl Progress for Recorder<'_> {
    fn start(&self, label: &str, total: Option<u64>) {
        self.inner.start(label, total);
    }
    fn advance(&self, label: &str, bytes: u64) {
        self.inner.advance(label, bytes);
    }
    fn finish(&self, label: &str) {
        if let Some(Some(dest)) = self.dests.get(label) {
            if let Some(id) = Identity::of_path(dest) {
                let mut finished = self.finished.lock().unwrap_or_else(|e| e.into_inner());
                finished.insert(label.to_string(), id);
            }
        }
        self.inner.finish(label);
    }
    fn message(&self, msg: &str) {
        self.inner.message(msg);
    }
}
