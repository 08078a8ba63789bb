//! The hub API that huggingface_hub (1.x, 2.x) and transformers call with `HF_ENDPOINT` set: repo info,
//! revision, tree (paginated with `Link`), `POST paths-info`, and `resolve` with the headers their download
//! code reads (`X-Repo-Commit`, `ETag`, `X-Linked-Etag`, `X-Linked-Size`, `Content-Length`, `Range`).
//! Errors carry `X-Error-Code` (`RepoNotFound`, `RevisionNotFound`, `EntryNotFound`), which is what those
//! clients turn into their own exceptions.
use std::collections::BTreeMap;

use hyper::{Method, StatusCode};

use super::catalog::{lfs_pointer, Catalog, Repo, RepoFile};
use super::http::{self, Body, Req};
use crate::types::RepoKind;

type Resp = hyper::Response<Body>;

fn error(status: StatusCode, code: &str, message: &str) -> Resp {
    let mut resp = http::bytes(
        status,
        "application/json",
        serde_json::json!({ "error": message }).to_string(),
    );
    http::set(&mut resp, "x-error-code", code);
    http::set(&mut resp, "x-error-message", message);
    resp
}

fn repo_not_found(id: &str) -> Resp {
    error(
        StatusCode::NOT_FOUND,
        "RepoNotFound",
        &format!("Repository not found: {id} is not in the bundles served here"),
    )
}

fn revision_not_found(id: &str, rev: &str) -> Resp {
    error(
        StatusCode::NOT_FOUND,
        "RevisionNotFound",
        &format!("Invalid rev id: {rev} (not bundled for {id})"),
    )
}

fn entry_not_found(id: &str, path: &str) -> Resp {
    error(
        StatusCode::NOT_FOUND,
        "EntryNotFound",
        &format!("Entry not found: {path} is not in the bundled {id}"),
    )
}

pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
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

/// Split `segs` into (repo id, marker, rest) where the id is one or two segments followed by one of `markers`.
fn split_repo<'a>(
    segs: &'a [&'a str],
    markers: &[&str],
) -> Option<(String, &'a str, &'a [&'a str])> {
    for n in [2, 1] {
        if segs.len() > n && markers.contains(&segs[n]) {
            return Some((segs[..n].join("/"), segs[n], &segs[n + 1..]));
        }
    }
    None
}

fn kind_of(segment: &str) -> Option<RepoKind> {
    match segment {
        "models" => Some(RepoKind::Model),
        "datasets" => Some(RepoKind::Dataset),
        _ => None,
    }
}

/// `/api/{models|datasets}/…`.
pub fn api(catalog: &Catalog, req: &Req, rest: &str, page_size: usize) -> Resp {
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let Some(kind) = segs.first().and_then(|s| kind_of(s)) else {
        return error(StatusCode::NOT_FOUND, "EntryNotFound", "no such API");
    };
    let segs = &segs[1..];
    let (id, marker, rest) = match split_repo(segs, &["revision", "tree", "paths-info"]) {
        Some(found) => found,
        None if (1..=2).contains(&segs.len()) => (segs.join("/"), "info", &segs[segs.len()..]),
        None => return error(StatusCode::NOT_FOUND, "EntryNotFound", "no such API"),
    };
    let id = percent_decode(&id);
    let Some(repo) = catalog.repo(kind, &id) else {
        return repo_not_found(&id);
    };
    let rev = match marker {
        "info" => "main".to_string(),
        // The revision is one (encoded) segment; tolerate an unencoded `refs/pr/1` for `revision`.
        "revision" => percent_decode(&rest.join("/")),
        _ => rest.first().map(|r| percent_decode(r)).unwrap_or_default(),
    };
    let Some(commit) = repo.resolve(&rev) else {
        return revision_not_found(&id, &rev);
    };
    let files = &repo.commits[commit];
    match marker {
        "info" | "revision" if req.method == Method::GET || req.is_head() => {
            let blobs = req
                .query_values("blobs")
                .iter()
                .any(|v| v == "true" || v == "1");
            info(repo, commit, files, blobs)
        }
        "tree" if req.method == Method::GET => {
            let path: Vec<String> = rest.iter().skip(1).map(|s| percent_decode(s)).collect();
            tree(req, repo, files, &path.join("/"), page_size)
        }
        "paths-info" if req.method == Method::POST => paths_info(req, files),
        _ => http::text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
    }
}

/// `/{repo}/resolve/{rev}/{path}` (kind Model) or `/datasets/{repo}/resolve/…`.
pub fn resolve(catalog: &Catalog, req: &Req, kind: RepoKind, path: &str) -> Option<Resp> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (id, _, rest) = split_repo(&segs, &["resolve"])?;
    if req.method != Method::GET && !req.is_head() {
        return Some(http::text(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed\n",
        ));
    }
    let id = percent_decode(&id);
    let Some(repo) = catalog.repo(kind, &id) else {
        return Some(repo_not_found(&id));
    };
    let Some((rev, file_path)) = rest.split_first() else {
        return Some(entry_not_found(&id, ""));
    };
    let rev = percent_decode(rev);
    let Some(commit) = repo.resolve(&rev) else {
        return Some(revision_not_found(&id, &rev));
    };
    let file_path: Vec<String> = file_path.iter().map(|s| percent_decode(s)).collect();
    let file_path = file_path.join("/");
    let Some(file) = repo.commits[commit].get(&file_path) else {
        let mut resp = entry_not_found(&id, &file_path);
        http::set(&mut resp, "x-repo-commit", commit);
        return Some(resp);
    };
    let stream = &catalog.sources[file.blob.source].stream;
    let mut resp = http::content(
        req,
        stream,
        file.blob.offset,
        file.blob.size,
        content_type(&file_path),
    );
    http::set(&mut resp, "x-repo-commit", commit);
    http::set(&mut resp, "etag", &format!("\"{}\"", file.etag));
    if file.lfs {
        http::set(&mut resp, "x-linked-etag", &format!("\"{}\"", file.etag));
        http::set(&mut resp, "x-linked-size", &file.blob.size.to_string());
    }
    Some(resp)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, e)| e) {
        Some("json") => "application/json",
        Some("txt") | Some("md") | Some("model") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn info(repo: &Repo, commit: &str, files: &BTreeMap<String, RepoFile>, blobs: bool) -> Resp {
    let siblings: Vec<serde_json::Value> = files
        .iter()
        .map(|(path, f)| {
            if !blobs {
                return serde_json::json!({ "rfilename": path });
            }
            let mut s =
                serde_json::json!({ "rfilename": path, "size": f.blob.size, "blobId": f.oid });
            if f.lfs {
                s["lfs"] = serde_json::json!({
                    "sha256": f.blob.sha256.to_string(),
                    "size": f.blob.size,
                    "pointerSize": lfs_pointer(f.blob.sha256.as_str(), f.blob.size).len(),
                });
            }
            s
        })
        .collect();
    let total: u64 = files.values().map(|f| f.blob.size).sum();
    http::json(&serde_json::json!({
        "_id": commit,
        "id": repo.id,
        "modelId": repo.id,
        "sha": commit,
        "private": false,
        "gated": false,
        "disabled": false,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "siblings": siblings,
        "usedStorage": total,
    }))
}

fn file_entry(path: &str, f: &RepoFile) -> serde_json::Value {
    let mut e =
        serde_json::json!({ "type": "file", "oid": f.oid, "size": f.blob.size, "path": path });
    if f.lfs {
        e["lfs"] = serde_json::json!({
            "oid": f.blob.sha256.to_string(),
            "size": f.blob.size,
            "pointerSize": lfs_pointer(f.blob.sha256.as_str(), f.blob.size).len(),
        });
    }
    e
}

fn folder_entry(path: &str) -> serde_json::Value {
    let oid = super::catalog::git_blob_sha1(format!("tree {path}").as_bytes());
    serde_json::json!({ "type": "directory", "oid": oid, "size": 0, "path": path })
}

/// Every entry (files and the folders they imply), sorted by path.
fn entries(files: &BTreeMap<String, RepoFile>) -> BTreeMap<String, Option<&RepoFile>> {
    let mut all = BTreeMap::new();
    for (path, f) in files {
        let parts: Vec<&str> = path.split('/').collect();
        for i in 1..parts.len() {
            all.entry(parts[..i].join("/")).or_insert(None);
        }
        all.insert(path.clone(), Some(f));
    }
    all
}

fn tree(
    req: &Req,
    repo: &Repo,
    files: &BTreeMap<String, RepoFile>,
    base: &str,
    page_size: usize,
) -> Resp {
    let recursive = req
        .query_values("recursive")
        .iter()
        .any(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let all = entries(files);
    if !base.is_empty() && !matches!(all.get(base), Some(None)) {
        return entry_not_found(&repo.id, base);
    }
    let prefix = if base.is_empty() {
        String::new()
    } else {
        format!("{base}/")
    };
    let listed: Vec<serde_json::Value> = all
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix))
        .filter(|(p, _)| recursive || !p[prefix.len()..].contains('/'))
        .map(|(p, f)| match f {
            Some(f) => file_entry(p, f),
            None => folder_entry(p),
        })
        .collect();
    let cursor: usize = req
        .query_values("cursor")
        .first()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let page: Vec<serde_json::Value> = listed
        .iter()
        .skip(cursor)
        .take(page_size.max(1))
        .cloned()
        .collect();
    let mut resp = http::json(&serde_json::Value::Array(page));
    if cursor + page_size < listed.len() {
        let mut query: Vec<(String, String)> = url::form_urlencoded::parse(req.query.as_bytes())
            .filter(|(k, _)| k != "cursor")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        query.push(("cursor".into(), (cursor + page_size).to_string()));
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        // An absolute URL on the host the client used: huggingface_hub follows it as given.
        let host = req.header("host").unwrap_or("localhost");
        let link = format!("<http://{host}{}?{query}>; rel=\"next\"", req.path);
        http::set(&mut resp, "link", &link);
    }
    resp
}

fn paths_info(req: &Req, files: &BTreeMap<String, RepoFile>) -> Resp {
    let mut paths: Vec<String> = url::form_urlencoded::parse(&req.body)
        .filter(|(k, _)| k == "paths" || k == "paths[]")
        .map(|(_, v)| v.into_owned())
        .collect();
    if paths.is_empty() {
        // Some clients send JSON.
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&req.body) {
            paths = v["paths"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|p| p.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    let all = entries(files);
    let found: Vec<serde_json::Value> = paths
        .iter()
        .map(|p| p.trim_matches('/'))
        .filter_map(|p| match all.get(p)? {
            Some(f) => Some(file_entry(p, f)),
            None => Some(folder_entry(p)),
        })
        .collect();
    http::json(&serde_json::Value::Array(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes() {
        assert_eq!(percent_decode("refs%2Fpr%2F1"), "refs/pr/1");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41"), "A");
    }
}
