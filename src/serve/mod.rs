//! `ferry serve`: verified bundles as a private package index (PEP 503/691/658), a Hugging Face hub endpoint
//! (`HF_ENDPOINT`) and a web seed for the bundle files, read-only, straight from the tars.
mod catalog;
mod export;
mod http;
mod hub;
mod simple;

use std::net::SocketAddr;
use std::path::PathBuf;

use hyper::StatusCode;

pub use catalog::{wheel_metadata, Catalog};
pub use export::export;

use crate::types::RepoKind;
use http::{App, Body, Req};

/// Tree entries per page, as the hub pages them.
pub const PAGE_SIZE: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bundle(#[from] crate::bundle::Error),
    #[error("{name} differs between {} and {}: refusing to serve two different files under one name", first.display(), second.display())]
    Conflict {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{}: member {member} is named in ferry.json but missing", bundle.display())]
    Missing { bundle: PathBuf, member: String },
    #[error("cannot listen on {listen}: {source}")]
    Bind {
        listen: String,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: already exists and is not empty (ferry writes a fresh export folder)", .0.display())]
    ExportExists(PathBuf),
    #[error("async runtime: {0}")]
    Runtime(String),
}

impl Error {
    /// Exit code per SPEC: 3 when a bundle fails verification, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Bundle(e) if e.is_verification() => 3,
            Error::Bundle(e) if e.is_usage() => 2,
            Error::Conflict { .. } | Error::Missing { .. } => 3,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundles: Vec<PathBuf>,
    pub public: PathBuf,
    pub listen: String,
    pub export: Option<PathBuf>,
    pub access_log: bool,
    pub page_size: usize,
}

/// Verify and merge the bundles; then write the static export, or serve until SIGTERM / ctrl-c.
/// `ready` is told the bound address once the server answers.
pub fn run(settings: Settings, ready: impl FnOnce(SocketAddr)) -> Result<(), Error> {
    let catalog = Catalog::load(&settings.bundles, &settings.public)?;
    if let Some(dir) = &settings.export {
        return export(&catalog, dir);
    }
    let app = App {
        catalog,
        access_log: settings.access_log,
        page_size: settings.page_size.max(1),
    };
    http::run(app, &settings.listen, ready)
}

/// Every request goes through here.
fn route(app: &App, req: &Req) -> hyper::Response<Body> {
    let catalog = &app.catalog;
    let path = req.path.as_str();
    if let Some(rest) = path.strip_prefix("/simple/") {
        return simple::route(catalog, req, rest);
    }
    if path == "/simple" {
        let mut resp = http::text(StatusCode::MOVED_PERMANENTLY, "moved\n");
        http::set(&mut resp, "location", "/simple/");
        return resp;
    }
    if let Some(name) = path.strip_prefix("/files/") {
        return simple::file(catalog, req, &hub::percent_decode(name));
    }
    if let Some(name) = path.strip_prefix("/bundles/") {
        return bundle_file(catalog, req, &hub::percent_decode(name));
    }
    if let Some(rest) = path.strip_prefix("/api/") {
        return hub::api(catalog, req, rest, app.page_size);
    }
    if path == "/" {
        return home(catalog);
    }
    if let Some(rest) = path.strip_prefix("/datasets/") {
        if let Some(resp) = hub::resolve(catalog, req, RepoKind::Dataset, rest) {
            return resp;
        }
    }
    if let Some(resp) = hub::resolve(catalog, req, RepoKind::Model, &path[1..]) {
        return resp;
    }
    http::text(StatusCode::NOT_FOUND, "not found\n")
}

/// `/bundles/NAME`: the bundle files themselves, for BEP 19 web seeds and plain downloads.
fn bundle_file(catalog: &Catalog, req: &Req, name: &str) -> hyper::Response<Body> {
    if name.is_empty() {
        let mut lines = String::new();
        for (n, f) in &catalog.bundle_files {
            lines.push_str(&format!("{n} {}\n", f.size));
        }
        return http::text(StatusCode::OK, &lines);
    }
    let Some(file) = catalog.bundle_files.get(name) else {
        return http::text(StatusCode::NOT_FOUND, "no such bundle file\n");
    };
    // Each volume is served on its own: find its place in its bundle's stream.
    for source in &catalog.sources {
        if let Some((_, start, len)) = source
            .stream
            .volumes()
            .into_iter()
            .find(|(p, _, _)| *p == file.path)
        {
            return http::content(req, &source.stream, start, len, "application/x-tar");
        }
    }
    http::text(StatusCode::NOT_FOUND, "no such bundle file\n")
}

fn home(catalog: &Catalog) -> hyper::Response<Body> {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><title>ferry serve</title></head><body>\n\
         <h1>ferry serve</h1>\n<p><a href=\"/simple/\">Package index</a> (pip/uv <code>--index-url</code>)</p>\n<h2>Models</h2>\n<ul>\n",
    );
    for ((kind, id), repo) in &catalog.repos {
        html.push_str(&format!(
            "<li>{}{} ({} revision(s))</li>\n",
            if *kind == RepoKind::Dataset {
                "datasets/"
            } else {
                ""
            },
            html_escape::encode_text(id),
            repo.commits.len()
        ));
    }
    html.push_str("</ul>\n<h2>Bundles</h2>\n<ul>\n");
    for (name, f) in &catalog.bundle_files {
        html.push_str(&format!(
            "<li><a href=\"/bundles/{0}\">{0}</a> ({1})</li>\n",
            html_escape::encode_text(name),
            crate::types::human_size(f.size)
        ));
    }
    html.push_str("</ul>\n</body></html>\n");
    http::bytes(StatusCode::OK, "text/html; charset=utf-8", html)
}
