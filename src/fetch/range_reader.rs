//! `Read + Seek` over HTTP Range requests, so a wheel's zip directory and METADATA can be read
//! without downloading the wheel (for indexes without PEP 658 metadata files).
use std::io::{self, Read, Seek, SeekFrom};

use url::Url;

use super::error::Error;
use super::http::{self, Request};

const CHUNK: u64 = 256 * 1024;

pub struct RangeReader {
    client: &'static http::Client,
    url: Url,
    len: u64,
    pos: u64,
    /// One cached window: (start offset, bytes).
    window: (u64, Vec<u8>),
}

impl RangeReader {
    /// Learn the length with a one-byte range request; fail when the server ignores ranges.
    pub fn open(url: &Url) -> Result<Self, Error> {
        let client = http::client()?;
        let r = client.fetch_blocking(&Request::get(url.clone()).header("range", "bytes=0-0"))?;
        let bad = |message: String| Error::BadResponse {
            url: r.url.clone(),
            message,
        };
        if r.status != 206 {
            if !r.is_success() {
                return Err(r.error_for_status().expect_err("not a success"));
            }
            return Err(bad(format!(
                "HTTP {} to a Range request (server cannot serve partial content)",
                r.status
            )));
        }
        let len = r
            .headers
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit('/').next())
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| bad("Range response without a total length".into()))?;
        Ok(Self {
            client,
            url: url.clone(),
            len,
            pos: 0,
            window: (0, Vec::new()),
        })
    }

    fn fill(&mut self, at: u64, want: u64) -> io::Result<()> {
        // Read backwards-aligned windows near the end (zip directories live there).
        let start = if at + CHUNK >= self.len {
            self.len.saturating_sub(CHUNK.max(want))
        } else {
            at
        };
        let start = start.min(at);
        let end = (start + CHUNK.max(want + (at - start))).min(self.len) - 1;
        let req = Request::get(self.url.clone()).header("range", &format!("bytes={start}-{end}"));
        let r = self.client.fetch_blocking(&req).map_err(io::Error::other)?;
        if r.status != 206 {
            return Err(io::Error::other(format!(
                "{}: HTTP {} to a Range request",
                r.url, r.status
            )));
        }
        if r.body.len() as u64 != end - start + 1 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "short Range response",
            ));
        }
        self.window = (start, r.body.to_vec());
        Ok(())
    }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.len || buf.is_empty() {
            return Ok(0);
        }
        let (start, ref data) = self.window;
        let inside = self.pos >= start && self.pos < start + data.len() as u64;
        if !inside {
            self.fill(self.pos, buf.len() as u64)?;
        }
        let (start, ref data) = self.window;
        let off = (self.pos - start) as usize;
        let n = buf.len().min(data.len() - off);
        buf[..n].copy_from_slice(&data[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for RangeReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let new = match to {
            SeekFrom::Start(n) => n as i128,
            SeekFrom::End(d) => self.len as i128 + d as i128,
            SeekFrom::Current(d) => self.pos as i128 + d as i128,
        };
        if new < 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before start",
            ));
        }
        self.pos = new as u64;
        Ok(self.pos)
    }
}
