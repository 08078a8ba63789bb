//! Files that are not on a hub, carried under `files/`: local files a config names (hashed where they are),
//! and plain URLs on hosts that are not a hub (a model site's download link), whose name comes from the
//! server's Content-Disposition, else the URL's last segment. A URL's file is downloaded once into the cache
//! at lock time so the lock pins its sha256 and size. No hub token is ever sent to these hosts.
use std::path::{Path, PathBuf};

use sha2::Digest as _;
use url::Url;

use super::download::{self, DownloadRequest, Progress};
use super::error::Error;
use super::http::Request;
use super::sources::redact;
use crate::inputs::{FileRequest, FileSource};
use crate::lock::LockedFile;
use crate::types::Sha256;

/// A URL with, when bundling a lock, the name, sha256 and size the lock pinned.
pub type UrlPin = (Url, Option<(String, Sha256, u64)>);
/// A bundle member staged from disk: `(member, path, sha256, size)`.
pub type StagedMember = (String, PathBuf, Sha256, u64);

/// Member folder of these files in a bundle.
pub const BUNDLE_FILES_DIR: &str = "files";

/// Pin every file: hash local ones where they are, download URL ones into the cache.
pub fn lock_files(
    reqs: &[FileRequest],
    cache: &Path,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<LockedFile>, Error> {
    let mut out: Vec<LockedFile> = Vec::new();
    let urls: Vec<UrlPin> = reqs
        .iter()
        .filter_map(|r| match &r.source {
            FileSource::Url(u) => Some((u.clone(), None)),
            FileSource::Local(_) => None,
        })
        .collect();
    let fetched = fetch_all(&urls, cache, jobs, progress)?;
    let mut fetched = fetched.into_iter();
    for r in reqs {
        let locked = match &r.source {
            FileSource::Local(path) => {
                progress.message(&format!("hashing {}", path.display()));
                let (sha256, size) = Sha256::of_file(path).map_err(|e| Error::io(path, e))?;
                LockedFile {
                    name: r.name.clone().unwrap_or_else(|| "file".into()),
                    source: path.display().to_string(),
                    sha256,
                    size,
                    origins: vec![r.origin.clone()],
                }
            }
            FileSource::Url(_) => {
                let f = fetched.next().expect("one download per URL");
                LockedFile {
                    name: f.name,
                    source: redact(&f.url),
                    sha256: f.sha256,
                    size: f.size,
                    origins: vec![r.origin.clone()],
                }
            }
        };
        match out.iter_mut().find(|f| f.name == locked.name) {
            Some(f) if f.sha256 == locked.sha256 => {
                for o in locked.origins {
                    if !f.origins.contains(&o) {
                        f.origins.push(o);
                    }
                }
            }
            Some(f) => {
                return Err(Error::Config(format!(
                    "two different files would be {BUNDLE_FILES_DIR}/{}: {} ({}) and {} ({})",
                    f.name,
                    f.source,
                    f.origins.join(", "),
                    locked.source,
                    locked.origins.join(", ")
                )))
            }
            None => out.push(locked),
        }
    }
    Ok(out)
}

/// The bundle members for locked files: `(member, path on disk, sha256, size)`. Local files are read where
/// the lock says (their content must still match), URL files come from the cache or are downloaded again.
pub fn stage_files(
    files: &[LockedFile],
    cache: &Path,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<StagedMember>, Error> {
    let mut out = Vec::new();
    let mut urls = Vec::new();
    for f in files {
        if !crate::inputs::reference::safe_relative(&f.name) {
            return Err(Error::Config(format!(
                "lock: unsafe file name '{}'",
                f.name
            )));
        }
        if f.is_url() {
            let url: Url = f
                .source
                .parse()
                .map_err(|e| Error::Config(format!("lock: bad URL {}: {e}", f.source)))?;
            urls.push((url, Some((f.name.clone(), f.sha256.clone(), f.size))));
            continue;
        }
        let path = PathBuf::from(&f.source);
        let (sha, size) = Sha256::of_file(&path).map_err(|e| Error::io(&path, e))?;
        if sha != f.sha256 || size != f.size {
            return Err(Error::Config(format!(
                "{}: changed since it was locked (sha256 {sha}, the lock says {}); run `ferry lock` again",
                path.display(),
                f.sha256
            )));
        }
        out.push((format!("{BUNDLE_FILES_DIR}/{}", f.name), path, sha, size));
    }
    for d in fetch_all(&urls, cache, jobs, progress)? {
        out.push((
            format!("{BUNDLE_FILES_DIR}/{}", d.name),
            d.path,
            d.sha256,
            d.size,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// A plain-URL file fetched into the cache.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub url: Url,
    /// The file name (safe: one path segment).
    pub name: String,
    pub path: PathBuf,
    pub sha256: Sha256,
    pub size: u64,
}

/// Where a URL's file lives in the cache: `CACHE/files/<first 16 hex of sha256(url)>/NAME`.
pub fn cache_path(cache: &Path, url: &Url, name: &str) -> PathBuf {
    let key = hex::encode(sha2::Sha256::digest(url.as_str().as_bytes()));
    cache.join("files").join(&key[..16]).join(name)
}

/// Name and download every URL (`expected`: the pins of a lock, when bundling one).
pub fn fetch_all(
    urls: &[UrlPin],
    cache: &Path,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Vec<Fetched>, Error> {
    let mut names = Vec::new();
    for (url, pinned) in urls {
        let name = match pinned {
            Some((name, _, _)) => name.clone(),
            None => file_name(url)?,
        };
        names.push(name);
    }
    let reqs: Vec<DownloadRequest> = urls
        .iter()
        .zip(&names)
        .map(|((url, pinned), name)| DownloadRequest {
            urls: vec![url.clone()],
            dest: cache_path(cache, url, name),
            sha256: pinned.as_ref().map(|(_, sha, _)| sha.clone()),
            size: pinned.as_ref().map(|(_, _, size)| *size),
            auth: None,
            label: name.clone(),
        })
        .collect();
    let done = download::download_all(reqs.clone(), jobs, progress)?;
    Ok(urls
        .iter()
        .zip(names)
        .zip(reqs)
        .zip(done)
        .map(|(((u, name), r), d)| Fetched {
            url: u.0.clone(),
            name,
            path: r.dest,
            sha256: d.sha256,
            size: d.size,
        })
        .collect())
}

/// Ask the server for the file's name: `HEAD` (redirects followed), falling back to a one-byte `GET`
/// for servers that refuse `HEAD`; the URL's last segment when no Content-Disposition says.
fn file_name(url: &Url) -> Result<String, Error> {
    let client = super::http::client()?;
    let mut resp = client.fetch_blocking(&Request::head(url.clone()))?;
    if !resp.is_success() {
        resp = client.fetch_blocking(&Request::get(url.clone()).header("range", "bytes=0-0"))?;
    }
    let resp = resp.error_for_status()?;
    let from_header = resp
        .headers
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .and_then(content_disposition_name);
    // After redirects the final URL often names the file better than a `/download/123` link.
    let from_url = last_segment(&resp.url).or_else(|| last_segment(url));
    Ok(from_header
        .or(from_url)
        .unwrap_or_else(|| "download".to_string()))
}

/// `filename*=UTF-8''…` (RFC 6266/5987) wins over `filename="…"`; only a safe single segment is kept.
pub fn content_disposition_name(header: &str) -> Option<String> {
    let mut plain = None;
    let mut extended = None;
    for part in header.split(';').map(str::trim) {
        let Some((key, value)) = part.split_once('=') else {
            continue;
        };
        let value = value.trim();
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = value.splitn(3, '\'').nth(2).unwrap_or(value);
                extended = Some(crate::types::percent_decode(encoded.trim_matches('"')));
            }
            "filename" => plain = Some(value.trim_matches('"').replace("\\\"", "\"")),
            _ => {}
        }
    }
    extended.or(plain).and_then(|n| safe_name(&n))
}

fn last_segment(url: &Url) -> Option<String> {
    let seg = url.path_segments()?.rev().find(|s| !s.is_empty())?;
    safe_name(&crate::types::percent_decode(seg))
}

/// One path segment that cannot escape its folder; path parts sent by a server are dropped.
fn safe_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let ok = !base.is_empty()
        && base != "."
        && base != ".."
        && !base.starts_with('.')
        && !base.chars().any(|c| c.is_control());
    ok.then(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_headers() {
        assert_eq!(
            content_disposition_name("attachment; filename=\"chara.safetensors\"").as_deref(),
            Some("chara.safetensors")
        );
        assert_eq!(
            content_disposition_name(
                "attachment; filename=\"x.bin\"; filename*=UTF-8''my%20lora.safetensors"
            )
            .as_deref(),
            Some("my lora.safetensors")
        );
        assert_eq!(
            content_disposition_name("attachment; filename=\"../../etc/passwd\"").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            content_disposition_name("attachment; filename=\"..\""),
            None
        );
        assert_eq!(content_disposition_name("inline"), None);
        let u: Url = "http://h.example/a/b/model%20v2.safetensors?x=1"
            .parse()
            .unwrap();
        assert_eq!(last_segment(&u).as_deref(), Some("model v2.safetensors"));
    }
}
