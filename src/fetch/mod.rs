//! The network side: package index client, hub client, downloader. Only `lock` and `bundle` use it.
pub mod http;
