//! The package index: PEP 503 HTML and PEP 691 JSON simple pages (chosen by `Accept`), with sha256 hashes,
//! `requires-python`, PEP 700 sizes and PEP 658/714 core metadata, and the files under `/files/`.
use hyper::StatusCode;

use super::catalog::{Catalog, Dist, Project};
use super::http::{self, Body, Req};
use crate::types::PackageName;

const JSON: &str = "application/vnd.pypi.simple.v1+json";
const HTML: &str = "text/html; charset=utf-8";

/// `/simple/…`.
pub fn route(catalog: &Catalog, req: &Req, rest: &str) -> hyper::Response<Body> {
    let json = wants_json(req.header("accept"));
    let page = if rest.is_empty() {
        Some(index(catalog, json))
    } else {
        let name = rest.trim_end_matches('/');
        let normalized = name
            .parse::<PackageName>()
            .map(|n| n.to_string())
            .unwrap_or_default();
        if !normalized.is_empty() && normalized != name || !rest.ends_with('/') {
            // PEP 503: the canonical URL is the normalized name with a trailing slash.
            if catalog.projects.contains_key(&normalized) {
                let mut resp = http::text(StatusCode::MOVED_PERMANENTLY, "moved\n");
                http::set(&mut resp, "location", &format!("/simple/{normalized}/"));
                return resp;
            }
        }
        catalog
            .projects
            .get(&normalized)
            .map(|p| project(p, &normalized, json))
    };
    let resp = match page {
        Some((ct, body)) => {
            let mut resp = http::bytes(StatusCode::OK, ct, body);
            http::set(&mut resp, "vary", "Accept");
            resp
        }
        None => http::text(StatusCode::NOT_FOUND, "no such project\n"),
    };
    if req.is_head() {
        http::without_body(resp)
    } else {
        resp
    }
}

/// `/files/FILENAME` and `/files/FILENAME.metadata`.
pub fn file(catalog: &Catalog, req: &Req, name: &str) -> hyper::Response<Body> {
    if let Some(dist) = catalog.dist(name) {
        let stream = &catalog.sources[dist.blob.source].stream;
        let ct = if name.ends_with(".whl") {
            "application/zip"
        } else {
            "application/octet-stream"
        };
        return http::content(req, stream, dist.blob.offset, dist.blob.size, ct);
    }
    if let Some(metadata) = name
        .strip_suffix(".metadata")
        .and_then(|wheel| catalog.dist(wheel))
        .and_then(|d| d.metadata.clone())
    {
        let resp = http::bytes(StatusCode::OK, "text/plain; charset=utf-8", metadata);
        return if req.is_head() {
            http::without_body(resp)
        } else {
            resp
        };
    }
    http::text(StatusCode::NOT_FOUND, "no such file\n")
}

/// Whether the client prefers PEP 691 JSON, by the q-values of its `Accept` header.
fn wants_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let (mut json, mut html) = (-1.0f32, -1.0f32);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        match media.as_str() {
            "application/vnd.pypi.simple.v1+json" | "application/vnd.pypi.simple.latest+json" => {
                json = json.max(q)
            }
            "application/vnd.pypi.simple.v1+html"
            | "application/vnd.pypi.simple.latest+html"
            | "text/html"
            | "*/*" => html = html.max(q),
            _ => {}
        }
    }
    json > 0.0 && json >= html
}

fn index(catalog: &Catalog, json: bool) -> (&'static str, Vec<u8>) {
    if json {
        let projects: Vec<serde_json::Value> = catalog
            .projects
            .values()
            .map(|p| serde_json::json!({ "name": p.name }))
            .collect();
        let v = serde_json::json!({ "meta": { "api-version": "1.1" }, "projects": projects });
        return (JSON, v.to_string().into_bytes());
    }
    let mut html = String::from(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.1\">\n\
         <title>Simple index</title>\n</head>\n<body>\n",
    );
    for (normalized, p) in &catalog.projects {
        html.push_str(&format!(
            "<a href=\"{normalized}/\">{}</a><br>\n",
            html_escape::encode_text(&p.name)
        ));
    }
    html.push_str("</body>\n</html>\n");
    (HTML, html.into_bytes())
}

/// A project page. File URLs are relative (`../../files/NAME`), so the pages work behind any proxy prefix.
pub fn project(p: &Project, normalized: &str, json: bool) -> (&'static str, Vec<u8>) {
    if json {
        let files: Vec<serde_json::Value> = p.files.values().map(json_file).collect();
        let mut versions: Vec<&str> = p.files.values().map(|d| d.version.as_str()).collect();
        versions.sort();
        versions.dedup();
        let v = serde_json::json!({
            "meta": { "api-version": "1.1" },
            "name": normalized,
            "files": files,
            "versions": versions,
        });
        return (JSON, v.to_string().into_bytes());
    }
    (
        HTML,
        project_html(p, normalized, "../../files/").into_bytes(),
    )
}

/// PEP 503 page of one project, with file links under `files_prefix`.
pub fn project_html(p: &Project, normalized: &str, files_prefix: &str) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.1\">\n\
         <title>Links for {}</title>\n</head>\n<body>\n<h1>Links for {}</h1>\n",
        html_escape::encode_text(normalized),
        html_escape::encode_text(normalized)
    );
    for d in p.files.values() {
        let mut attrs = String::new();
        if let Some(rp) = &d.requires_python {
            attrs.push_str(&format!(
                " data-requires-python=\"{}\"",
                html_escape::encode_double_quoted_attribute(rp)
            ));
        }
        if let Some(sha) = d.metadata_sha256() {
            attrs.push_str(&format!(
                " data-core-metadata=\"sha256={sha}\" data-dist-info-metadata=\"sha256={sha}\""
            ));
        }
        html.push_str(&format!(
            "<a href=\"{files_prefix}{}#sha256={}\"{attrs}>{}</a><br>\n",
            url_escape(&d.filename),
            d.blob.sha256,
            html_escape::encode_text(&d.filename)
        ));
    }
    html.push_str("</body>\n</html>\n");
    html
}

fn json_file(d: &Dist) -> serde_json::Value {
    let metadata = match d.metadata_sha256() {
        Some(sha) => serde_json::json!({ "sha256": sha.to_string() }),
        None => serde_json::json!(false),
    };
    let mut v = serde_json::json!({
        "filename": d.filename,
        "url": format!("../../files/{}", url_escape(&d.filename)),
        "hashes": { "sha256": d.blob.sha256.to_string() },
        "core-metadata": metadata,
        "dist-info-metadata": metadata,
        "size": d.blob.size,
        "yanked": false,
    });
    if let Some(rp) = &d.requires_python {
        v["requires-python"] = serde_json::json!(rp);
    }
    v
}

/// Percent-encode what may not stand in a URL path segment (`+` of local versions included).
pub fn url_escape(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        assert!(wants_json(Some(
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
        )));
        assert!(!wants_json(Some("text/html")));
        assert!(!wants_json(None));
        assert!(!wants_json(Some(
            "application/vnd.pypi.simple.v1+json;q=0.1, text/html"
        )));
    }

    #[test]
    fn escapes_local_versions() {
        assert_eq!(
            url_escape("torch-2.5.1+cpu-cp310-cp310-linux_x86_64.whl"),
            "torch-2.5.1%2Bcpu-cp310-cp310-linux_x86_64.whl"
        );
    }
}
