//! One configured HTTP client for every request ferry makes.
use std::time::Duration;

/// `ferry/<version>` user agent.
pub const USER_AGENT: &str = concat!("ferry/", env!("CARGO_PKG_VERSION"));

/// Build the shared blocking client: connection reuse, HTTP/2 when offered, system CA roots (and
/// `SSL_CERT_FILE`/`PIP_CERT` bundles when set), proxies from the environment, bounded timeouts.
pub fn client() -> reqwest::blocking::Client {
    let read_timeout = std::env::var("FERRY_READ_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(60);
    let mut builder = reqwest::blocking::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(Duration::from_secs(20))
        .timeout(None)
        .read_timeout(Duration::from_secs(read_timeout))
        .pool_max_idle_per_host(16)
        // Redirects are followed by hand where auth must not leak (hub); elsewhere a few are fine.
        .redirect(reqwest::redirect::Policy::limited(10));
    for var in ["SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE"] {
        if let Ok(path) = std::env::var(var) {
            if let Ok(pem) = std::fs::read(&path) {
                if let Ok(certs) = reqwest::Certificate::from_pem_bundle(&pem) {
                    for c in certs {
                        builder = builder.add_root_certificate(c);
                    }
                }
            }
        }
    }
    builder.build().expect("HTTP client configuration is valid")
}
