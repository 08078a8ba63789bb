//! `ferry torrent`: BitTorrent v1 metainfo (BEP 3) for a bundle, one single-file torrent per bundle file (each
//! volume of a split bundle gets its own), with BEP 19 web seeds (`url-list`) pointing at `ferry serve` or any
//! static URL, so hosts fetch from each other and from the web seed when no peer has a piece.
mod bencode;

use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::Digest as _;

pub use bencode::Value;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bundle(#[from] crate::bundle::Error),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: already exists (use --force to replace it)", .0.display())]
    Exists(PathBuf),
    #[error("web seed '{0}' is not an http(s) URL")]
    BadUrl(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Bundle(e) if e.is_verification() => 3,
            Error::Exists(_) | Error::BadUrl(_) => 2,
            _ => 1,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub bundle: PathBuf,
    pub web_seeds: Vec<String>,
    pub trackers: Vec<String>,
    pub output: PathBuf,
    pub force: bool,
}

/// One torrent written.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub name: String,
    pub length: u64,
    pub piece_length: u64,
    pub info_hash: String,
}

/// Piece size for a file of `len` bytes: a power of two giving about 1500 pieces, from 256 KiB to 16 MiB.
pub fn piece_length(len: u64) -> u64 {
    (len / 1500).next_power_of_two().clamp(256 << 10, 16 << 20)
}

/// Write the torrent(s) of a bundle: `NAME.torrent`, or `NAME.000.torrent`, `NAME.001.torrent`, … for the
/// volumes of a split bundle.
pub fn write(settings: &Settings) -> Result<Vec<Written>, Error> {
    for url in &settings.web_seeds {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::BadUrl(url.clone()));
        }
    }
    // Only ferry bundles (their first members are readable), without loading them.
    crate::bundle::read_front(&settings.bundle)?;
    let stream = crate::bundle::TarStream::open(&settings.bundle)?;
    let volumes = stream.volumes();
    let split = volumes.len() > 1 || volumes[0].0.to_string_lossy().ends_with(".000");
    let mut outputs = Vec::new();
    for (i, (path, _, _)) in volumes.iter().enumerate() {
        let out = if split {
            volume_output(&settings.output, i)
        } else {
            settings.output.clone()
        };
        if out.exists() && !settings.force {
            return Err(Error::Exists(out));
        }
        outputs.push((path.clone(), out));
    }
    let mut written = Vec::new();
    for (file, out) in outputs {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let seeds: Vec<String> = settings
            .web_seeds
            .iter()
            .map(|u| seed_url(u, &name, split))
            .collect();
        written.push(write_one(&file, &name, &seeds, &settings.trackers, &out)?);
    }
    Ok(written)
}

/// The web seed of one volume: a URL ending in `/` is a folder (clients append the name); for a split
/// bundle, a file URL names the bundle, and each volume sits next to it.
fn seed_url(url: &str, name: &str, split: bool) -> String {
    if url.ends_with('/') || !split {
        return url.to_string();
    }
    match url.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{name}"),
        None => url.to_string(),
    }
}

fn volume_output(out: &Path, index: usize) -> PathBuf {
    let name = out.to_string_lossy();
    match name.strip_suffix(".torrent") {
        Some(base) => PathBuf::from(format!("{base}.{index:03}.torrent")),
        None => PathBuf::from(format!("{name}.{index:03}")),
    }
}

fn write_one(
    file: &Path,
    name: &str,
    seeds: &[String],
    trackers: &[String],
    out: &Path,
) -> Result<Written, Error> {
    let io = |source| Error::Io {
        path: file.to_path_buf(),
        source,
    };
    let length = std::fs::metadata(file).map_err(io)?.len();
    let piece = piece_length(length);
    let mut pieces = Vec::with_capacity((length / piece + 1) as usize * 20);
    let mut f = std::fs::File::open(file).map_err(io)?;
    let mut buf = vec![0u8; piece as usize];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match f.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e)),
            }
        }
        if filled == 0 {
            break;
        }
        pieces.extend_from_slice(&sha1::Sha1::digest(&buf[..filled]));
        if filled < buf.len() {
            break;
        }
    }
    let info = Value::dict([
        ("length", Value::Int(length as i64)),
        ("name", Value::str(name)),
        ("piece length", Value::Int(piece as i64)),
        ("pieces", Value::Bytes(pieces)),
    ]);
    let info_hash = hex::encode(sha1::Sha1::digest(info.encode()));
    let mut top = vec![
        ("info", info),
        ("created by", Value::str(crate::fetch::http::USER_AGENT)),
    ];
    if let Some(first) = trackers.first() {
        top.push(("announce", Value::str(first)));
        if trackers.len() > 1 {
            let tiers = trackers
                .iter()
                .map(|t| Value::List(vec![Value::str(t)]))
                .collect();
            top.push(("announce-list", Value::List(tiers)));
        }
    }
    if !seeds.is_empty() {
        top.push((
            "url-list",
            Value::List(seeds.iter().map(|s| Value::str(s)).collect()),
        ));
    }
    write_atomic(out, &Value::dict(top).encode()).map_err(|source| Error::Io {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(Written {
        path: out.to_path_buf(),
        name: name.to_string(),
        length,
        piece_length: piece,
        info_hash,
    })
}

/// Temp file in the destination folder, fsync, rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piece_sizes() {
        assert_eq!(piece_length(1000), 256 << 10);
        assert_eq!(piece_length(20 << 30), 16 << 20);
        assert_eq!(piece_length(3 << 30), 4 << 20);
    }

    #[test]
    fn seeds_for_volumes() {
        assert_eq!(
            seed_url("http://h:8080/bundles/t.ferry.tar", "t.ferry.tar.001", true),
            "http://h:8080/bundles/t.ferry.tar.001"
        );
        assert_eq!(seed_url("http://h/b/", "x", true), "http://h/b/");
        assert_eq!(
            seed_url("http://h/b/t.tar", "t.tar", false),
            "http://h/b/t.tar"
        );
        assert_eq!(
            volume_output(Path::new("team.torrent"), 2),
            PathBuf::from("team.002.torrent")
        );
    }
}
