//! An sdist's `PKG-INFO` without downloading the whole archive: a `.tar.gz` is streamed and abandoned as soon
//! as `{name}-{version}/PKG-INFO` has gone by; a `.zip` is read through HTTP Range requests (its directory
//! sits at the end). Used for PEP 643 static metadata before anything is built.
use std::io::Read;

use bytes::Bytes;
use url::Url;

use super::error::Error;
use super::http::{self, Request};
use super::index::{IndexClient, IndexError};
use super::range_reader::RangeReader;
use super::simple::DistFile;
use super::sources::redact;

/// PKG-INFO larger than this is not metadata.
const MAX_PKG_INFO: u64 = 4 << 20;

/// `PKG-INFO` at the archive's top folder (`root/PKG-INFO`).
pub fn is_top_pkg_info(path: &str) -> bool {
    let mut parts = path.trim_start_matches("./").split('/');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(_), Some("PKG-INFO"), None)
    )
}

impl IndexClient {
    /// The bytes of the sdist's top-level PKG-INFO, `Ok(None)` when it has none.
    pub fn sdist_pkg_info(&self, file: &DistFile) -> Result<Option<Vec<u8>>, IndexError> {
        let bad = |message: String| IndexError::Parse {
            url: redact(&file.url),
            message,
        };
        let zip = file.filename.to_ascii_lowercase().ends_with(".zip");
        if file.url.scheme() == "file" {
            let path = file
                .url
                .to_file_path()
                .map_err(|_| bad("bad file URL".into()))?;
            let f = std::fs::File::open(&path).map_err(|e| bad(e.to_string()))?;
            return if zip { from_zip(f) } else { from_tar_gz(f) }.map_err(bad);
        }
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if zip {
            if let Ok(reader) = RangeReader::open(&file.url) {
                return from_zip(reader).map_err(bad);
            }
            let mut buf = Vec::new();
            stream(&file.url)?
                .take(512 << 20)
                .read_to_end(&mut buf)
                .map_err(|e| bad(e.to_string()))?;
            return from_zip(std::io::Cursor::new(buf)).map_err(bad);
        }
        from_tar_gz(stream(&file.url)?).map_err(bad)
    }
}

type Chunks = std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, Error>> + Send>>;

/// A response body read as it arrives; dropping it closes the connection.
struct BodyReader {
    chunks: Chunks,
    buf: Bytes,
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        use futures_util::StreamExt;
        while self.buf.is_empty() {
            match http::block_on(self.chunks.next()) {
                Some(Ok(b)) => self.buf = b,
                Some(Err(e)) => return Err(std::io::Error::other(e.to_string())),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

fn stream(url: &Url) -> Result<BodyReader, IndexError> {
    let client = http::client()?;
    let resp = http::block_on(client.send(&Request::get(url.clone())))?;
    if !(200..300).contains(&resp.status()) {
        return Err(resp.status_error().into());
    }
    Ok(BodyReader {
        chunks: Box::pin(resp.chunks()),
        buf: Bytes::new(),
    })
}

fn from_tar_gz(reader: impl Read) -> Result<Option<Vec<u8>>, String> {
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    for entry in ar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        if is_top_pkg_info(&path) {
            let mut buf = Vec::new();
            entry
                .by_ref()
                .take(MAX_PKG_INFO)
                .read_to_end(&mut buf)
                .map_err(|e| e.to_string())?;
            // Dropping the archive drops the response: the rest of the file is never read.
            return Ok(Some(buf));
        }
    }
    Ok(None)
}

fn from_zip(reader: impl Read + std::io::Seek) -> Result<Option<Vec<u8>>, String> {
    let mut z = zip::ZipArchive::new(reader).map_err(|e| format!("not a zip: {e}"))?;
    let Some(name) = (0..z.len())
        .filter_map(|i| {
            z.name_for_index(i)
                .and_then(Result::ok)
                .map(|n| n.into_owned())
        })
        .find(|n| is_top_pkg_info(n))
    else {
        return Ok(None);
    };
    let mut buf = Vec::new();
    z.by_name(&name)
        .map_err(|e| e.to_string())?
        .take(MAX_PKG_INFO)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_pkg_info_only() {
        assert!(is_top_pkg_info("demo-1.0/PKG-INFO"));
        assert!(is_top_pkg_info("./demo-1.0/PKG-INFO"));
        assert!(!is_top_pkg_info("demo-1.0/demo.egg-info/PKG-INFO"));
        assert!(!is_top_pkg_info("PKG-INFO"));
    }
}
