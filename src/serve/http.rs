//! The HTTP side of `serve`: hyper on tokio, one task per connection, file bodies streamed from the bundles in
//! chunks (never whole in memory), `Range`, an access log line per request, and a clean stop on SIGTERM or
//! ctrl-c (stop accepting, let running responses finish).
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt as _;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

use super::catalog::Catalog;
use super::Error;
use crate::bundle::TarStream;

pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Bytes read from a bundle per chunk of a response body.
const CHUNK: usize = 256 << 10;
/// How long running responses may take to finish after a stop signal.
const DRAIN: Duration = Duration::from_secs(10);
/// Largest request body read (POST paths-info).
pub const MAX_REQUEST_BODY: usize = 4 << 20;

/// What a handler sees of a request.
pub struct Req {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }

    /// Values of a query parameter, percent-decoded.
    pub fn query_values(&self, key: &str) -> Vec<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
            .collect()
    }
}

/// Shared state of the running server.
pub struct App {
    pub catalog: Catalog,
    pub access_log: bool,
    /// Tree entries per page.
    pub page_size: usize,
}

/// Bind, answer until SIGTERM or ctrl-c, then drain. `ready` is called with the bound address.
pub fn run(app: App, listen: &str, ready: impl FnOnce(SocketAddr)) -> Result<(), Error> {
    // The process's one runtime, shared with the network client.
    crate::fetch::http::block_on(serve(Arc::new(app), listen, ready))
}

async fn serve(app: Arc<App>, listen: &str, ready: impl FnOnce(SocketAddr)) -> Result<(), Error> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| Error::Bind {
            listen: listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind {
        listen: listen.to_string(),
        source,
    })?;
    ready(addr);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    let stop = stop_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = socket.set_nodelay(true);
                let app = Arc::clone(&app);
                let mut stop_rx = stop_rx.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let app = Arc::clone(&app);
                        async move { Ok::<_, Infallible>(handle(&app, peer, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(socket), service);
                    tokio::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop_rx.changed() => {
                            conn.as_mut().graceful_shutdown();
                            let _ = conn.await;
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
    eprintln!("ferry serve: stopped");
    Ok(())
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn handle(app: &App, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let line = format!(
        "{} {}",
        parts.method,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let body = match http_body_util::Limited::new(body, MAX_REQUEST_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let resp = text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large\n");
            log(app, peer, &line, &resp, started);
            return resp;
        }
    };
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_string(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers: parts.headers,
        body,
    };
    let resp = super::route(app, &req);
    log(app, peer, &line, &resp, started);
    resp
}

fn log(app: &App, peer: SocketAddr, line: &str, resp: &Response<Body>, started: Instant) {
    if !app.access_log {
        return;
    }
    let len = resp
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    eprintln!(
        "{peer} \"{line}\" {} {len} {:.3}s",
        resp.status().as_u16(),
        started.elapsed().as_secs_f64()
    );
}

/// A response with a small in-memory body.
pub fn bytes(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let body: Bytes = body.into();
    let len = body.len();
    let mut resp = Response::new(
        Full::new(body)
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *resp.status_mut() = status;
    set(&mut resp, "content-type", content_type);
    set(&mut resp, "content-length", &len.to_string());
    resp
}

pub fn text(status: StatusCode, body: &str) -> Response<Body> {
    bytes(status, "text/plain; charset=utf-8", body.to_string())
}

pub fn json(value: &serde_json::Value) -> Response<Body> {
    bytes(StatusCode::OK, "application/json", value.to_string())
}

/// The body of a HEAD answer: the headers of the GET, no bytes.
pub fn without_body(mut resp: Response<Body>) -> Response<Body> {
    *resp.body_mut() = Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed_unsync();
    resp
}

pub fn set(resp: &mut Response<Body>, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        resp.headers_mut().insert(n, v);
    }
}

/// `len` bytes from `offset` of a bundle's stream, honouring a single `Range`; HEAD gets the headers only.
pub fn content(
    req: &Req,
    stream: &TarStream,
    offset: u64,
    len: u64,
    content_type: &str,
) -> Response<Body> {
    let range = req.header("range").map(|r| parse_range(r, len));
    let (status, start, count) = match range {
        None | Some(Range::Ignore) => (StatusCode::OK, 0, len),
        Some(Range::Unsatisfiable) => {
            let mut resp = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            set(&mut resp, "content-range", &format!("bytes */{len}"));
            return resp;
        }
        Some(Range::Bytes(a, b)) => (StatusCode::PARTIAL_CONTENT, a, b - a + 1),
    };
    let body = if req.is_head() || count == 0 {
        Full::new(Bytes::new())
            .map_err(|never| match never {})
            .boxed_unsync()
    } else {
        stream_body(stream.clone(), offset + start, count)
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    set(&mut resp, "content-type", content_type);
    set(&mut resp, "content-length", &count.to_string());
    set(&mut resp, "accept-ranges", "bytes");
    if status == StatusCode::PARTIAL_CONTENT {
        set(
            &mut resp,
            "content-range",
            &format!("bytes {start}-{}/{len}", start + count - 1),
        );
    }
    resp
}

/// A body read from the stream one chunk at a time on the blocking pool: memory stays at one chunk per
/// response, whatever the file's size.
fn stream_body(stream: TarStream, offset: u64, len: u64) -> Body {
    let chunks =
        futures_util::stream::unfold((stream, offset, len), |(stream, pos, left)| async move {
            if left == 0 {
                return None;
            }
            let want = (left as usize).min(CHUNK);
            let reader = stream.clone();
            let read =
                tokio::task::spawn_blocking(move || reader.read_chunk(pos, want).map(Bytes::from))
                    .await
                    .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            match read {
                Ok(chunk) => {
                    let n = chunk.len() as u64;
                    Some((Ok(Frame::data(chunk)), (stream, pos + n, left - n)))
                }
                // One error ends the body (the client sees a short response), then the stream stops.
                Err(e) => {
                    tracing::warn!("reading the bundle: {e}");
                    Some((Err(e), (stream, pos, 0)))
                }
            }
        });
    BodyExt::boxed_unsync(StreamBody::new(chunks.boxed()))
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Inclusive byte range.
    Bytes(u64, u64),
    Unsatisfiable,
    /// Not a single byte range we honour: answer the whole file.
    Ignore,
}

fn parse_range(header: &str, len: u64) -> Range {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Range::Ignore;
    };
    if spec.contains(',') {
        return Range::Ignore;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Range::Ignore;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        // Suffix: the last N bytes.
        return match b.parse::<u64>() {
            Ok(0) => Range::Unsatisfiable,
            Ok(n) if len == 0 => {
                let _ = n;
                Range::Unsatisfiable
            }
            Ok(n) => Range::Bytes(len.saturating_sub(n), len - 1),
            Err(_) => Range::Ignore,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return Range::Ignore;
    };
    if start >= len {
        return Range::Unsatisfiable;
    }
    let end = if b.is_empty() {
        len - 1
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e.min(len - 1),
            _ => return Range::Ignore,
        }
    };
    Range::Bytes(start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Range::Bytes(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Range::Bytes(90, 99));
        assert_eq!(parse_range("bytes=90-200", 100), Range::Bytes(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Range::Bytes(90, 99));
        assert_eq!(parse_range("bytes=-200", 100), Range::Bytes(0, 99));
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Range::Ignore);
        assert_eq!(parse_range("items=0-1", 100), Range::Ignore);
        assert_eq!(parse_range("bytes=5-1", 100), Range::Ignore);
    }
}
