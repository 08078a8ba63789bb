//! The network side: package index client, hub client, downloader. Only `lock` and `bundle` use it.
pub mod download;
pub mod error;
pub mod http;
pub mod hub;
pub mod hub_select;
pub mod models;

pub use error::Error;
