//! An sdist's `PKG-INFO` without downloading the whole archive: a `.tar.gz` is streamed and abandoned as soon
//! as `{name}-{version}/PKG-INFO` has gone by; a `.zip` is read through HTTP Range requests (its directory
//! sits at the end). Used for PEP 643 static metadata before anything is built.
use std::io::Read;

use url::Url;

use super::index::{error_chain, IndexClient, IndexError};
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
        let net = |message: String| IndexError::Network {
            url: redact(&file.url),
            message,
        };
        let zip = file.filename.to_ascii_lowercase().ends_with(".zip");
        if file.url.scheme() == "file" {
            let path = file
                .url
                .to_file_path()
                .map_err(|_| net("bad file URL".into()))?;
            let f = std::fs::File::open(&path).map_err(|e| net(e.to_string()))?;
            return if zip {
                from_zip(f).map_err(net)
            } else {
                from_tar_gz(f).map_err(net)
            };
        }
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if zip {
            if let Ok(reader) = RangeReader::open(self.http(), &file.url) {
                return from_zip(reader).map_err(net);
            }
            let body = self.stream(&file.url)?;
            let mut buf = Vec::new();
            body.take(512 << 20)
                .read_to_end(&mut buf)
                .map_err(|e| net(e.to_string()))?;
            return from_zip(std::io::Cursor::new(buf)).map_err(net);
        }
        from_tar_gz(self.stream(&file.url)?).map_err(net)
    }

    fn stream(&self, url: &Url) -> Result<reqwest::blocking::Response, IndexError> {
        let r = self
            .http()
            .get(url.clone())
            .send()
            .map_err(|e| IndexError::Network {
                url: redact(url),
                message: error_chain(&e),
            })?;
        if !r.status().is_success() {
            return Err(IndexError::Status {
                url: redact(url),
                status: r.status().as_u16(),
            });
        }
        Ok(r)
    }
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
