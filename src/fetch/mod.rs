//! The network side: package index client, hub client, downloader. Only `lock` and `bundle` use it.
pub mod download;
pub mod error;
pub mod http;

pub use error::Error;
