//! The network side: package index client, hub client, downloader. Only `lock` and `bundle` use it.
// Errors carry their URL (a `Url` is ~90 bytes); they are boxed where they join the crate's error.
#![allow(clippy::result_large_err)]

pub mod cache;
pub mod download;
pub mod error;
pub mod http;
pub mod hub;
pub mod hub_select;
pub mod index;
pub mod metadata;
pub mod mirrors;
pub mod models;
pub mod pick;
pub mod plain_url;
pub mod range_reader;
pub mod routing;
pub mod sdist_info;
pub mod simple;
pub mod sources;

pub use error::Error;
