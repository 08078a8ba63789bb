//! The network side: package index client, hub client, downloader. Only `lock` and `bundle` use it.
pub mod http;
pub mod index;
pub mod metadata;
pub mod range_reader;
pub mod simple;
pub mod sources;
