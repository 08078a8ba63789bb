//! `ferry serve`.
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundles: Vec<PathBuf>,
    pub public: PathBuf,
    pub listen: String,
    pub export: Option<PathBuf>,
}

pub fn run(settings: Settings) -> Result<(), crate::Error> {
    // Tree pages as the hub pages them; tests make them small to exercise `Link` pagination.
    let page_size = std::env::var("FERRY_SERVE_PAGE_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(crate::serve::PAGE_SIZE);
    let serve = crate::serve::Settings {
        bundles: settings.bundles,
        public: settings.public,
        listen: settings.listen,
        export: settings.export,
        access_log: !super::is_quiet(),
        page_size,
    };
    crate::serve::run(serve, |addr| {
        // One line on stdout that scripts (and tests) can wait for.
        println!("ferry serve: listening on http://{addr}/");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    })?;
    Ok(())
}
