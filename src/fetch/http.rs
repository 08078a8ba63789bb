//! One configured HTTP client for every request ferry makes.
use std::time::Duration;

/// `ferry/<version>` user agent.
pub const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));

/// Seconds without progress before a read is abandoned (`FERRY_READ_TIMEOUT`, default 60).
pub fn read_timeout() -> Duration {
    let secs = std::env::var("FERRY_READ_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    Duration::from_secs(secs.max(1))
}

/// Extra CA bundles named by `SSL_CERT_FILE`, `PIP_CERT` or `REQUESTS_CA_BUNDLE` (system roots are always used).
fn extra_roots() -> Vec<reqwest::Certificate> {
    let mut out = Vec::new();
    for var in ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"] {
        if let Some(pem) = std::env::var_os(var).and_then(|p| std::fs::read(p).ok()) {
            out.extend(reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default());
        }
    }
    out
}

/// Blocking client for small requests (index pages, metadata, hub API): connection reuse, HTTP/2 when
/// offered, system CA roots, proxies from the environment, a bounded total time per request.
pub fn client() -> reqwest::blocking::Client {
    let mut builder = reqwest::blocking::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(20))
        .timeout(read_timeout() * 2)
        .pool_max_idle_per_host(16)
        .redirect(reqwest::redirect::Policy::limited(10));
    for c in extra_roots() {
        builder = builder.add_root_certificate(c);
    }
    builder.build().expect("HTTP client configuration is valid")
}

/// Async client for large downloads: no total timeout, a read timeout that catches stalled servers,
/// redirects NOT followed (the caller follows them so credentials never go to another host).
pub fn download_client() -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(20))
        .read_timeout(read_timeout())
        .pool_max_idle_per_host(16)
        .redirect(reqwest::redirect::Policy::none());
    for c in extra_roots() {
        builder = builder.add_root_certificate(c);
    }
    builder.build().expect("HTTP client configuration is valid")
}
