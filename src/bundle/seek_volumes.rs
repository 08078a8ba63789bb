//! Random access over the volumes of a (split) bundle: [`verify`](super::verify) walks the headers through
//! [`SeekVolumes`] and hashes files in parallel through [`Parts::read_at`].
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::Digest as _;

use super::volumes::{self, VolumeIoError};
use super::Error;
use crate::types::Sha256;

/// Read size of the parallel hashers in [`super::verify`].
const HASH_CHUNK: usize = 1 << 20;

/// The volumes, opened once, readable at any offset of the whole tar stream from any thread.
pub(super) struct Parts {
    /// (file, path, offset of its first byte in the stream, length)
    files: Vec<(File, PathBuf, u64, u64)>,
    total: u64,
}

impl Parts {
    /// Read from stream offset `pos` (within one volume); 0 at the end.
    pub(super) fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Some((file, path, start, len)) = self
            .files
            .iter()
            .find(|(_, _, start, len)| pos >= *start && pos < start + len)
        else {
            return Ok(0);
        };
        let want = buf.len().min((start + len - pos) as usize);
        loop {
            match read_at(file, &mut buf[..want], pos - start) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(volume_error(path, e)),
                Ok(n) => return Ok(n),
            }
        }
    }

    /// sha256 and length of `size` bytes from `offset` (shorter if the stream ends first).
    pub(super) fn hash_range(&self, offset: u64, size: u64) -> io::Result<(Sha256, u64)> {
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; HASH_CHUNK.min(size as usize).max(1)];
        let mut done = 0u64;
        while done < size {
            let want = buf.len().min((size - done) as usize);
            let n = self.read_at(offset + done, &mut buf[..want])?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            done += n as u64;
        }
        Ok((Sha256::from_bytes(&hasher.finalize()), done))
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

fn volume_error(path: &Path, source: io::Error) -> io::Error {
    io::Error::new(
        source.kind(),
        VolumeIoError {
            path: path.to_path_buf(),
            source,
        },
    )
}

/// The volumes as one seekable stream, so the tar reader can skip file data it does not need.
pub(super) struct SeekVolumes {
    pub(super) parts: Arc<Parts>,
    pos: u64,
}

impl SeekVolumes {
    pub(super) fn open(volumes: &[PathBuf]) -> Result<Self, Error> {
        let mut files = Vec::new();
        let mut total = 0;
        for p in volumes {
            let file = File::open(p).map_err(|e| Error::io(p, e))?;
            let len = file.metadata().map_err(|e| Error::io(p, e))?.len();
            files.push((file, p.clone(), total, len));
            total += len;
        }
        Ok(SeekVolumes {
            parts: Arc::new(Parts { files, total }),
            pos: 0,
        })
    }
}

impl Read for SeekVolumes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.parts.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for SeekVolumes {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.parts.total.checked_add_signed(d),
        };
        self.pos =
            pos.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before 0"))?;
        Ok(self.pos)
    }
}

pub(super) fn next_volume(last: &Path) -> PathBuf {
    let name = last.to_string_lossy();
    match name.rsplit_once('.') {
        Some((base, n)) if n.chars().all(|c| c.is_ascii_digit()) => {
            let next = n.parse::<usize>().unwrap_or(0) + 1;
            volumes::volume_name(Path::new(base), next)
        }
        _ => volumes::volume_name(last, 1),
    }
}

/// Random read access to a bundle's whole tar stream (all its volumes), shared across threads: `serve` reads
/// members from it by offset, `push` uploads them, without extracting anything.
#[derive(Clone)]
pub struct TarStream {
    parts: Arc<Parts>,
}

impl TarStream {
    /// Open the bundle a user named (a file, or the first volume of a split bundle).
    pub fn open(bundle: &Path) -> Result<Self, Error> {
        let volumes = volumes::resolve(bundle)?;
        Ok(TarStream {
            parts: SeekVolumes::open(&volumes)?.parts,
        })
    }

    /// One plain file as a stream (a wheel built at install time, a file of an extracted bundle).
    pub fn of_file(path: &Path) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(TarStream {
            parts: Arc::new(Parts {
                files: vec![(file, path.to_path_buf(), 0, len)],
                total: len,
            }),
        })
    }

    /// Length of the whole stream.
    pub fn len(&self) -> u64 {
        self.parts.total
    }

    pub fn is_empty(&self) -> bool {
        self.parts.total == 0
    }

    /// The volume files: (path, offset of their first byte in the stream, length).
    pub fn volumes(&self) -> Vec<(PathBuf, u64, u64)> {
        self.parts
            .files
            .iter()
            .map(|(_, p, start, len)| (p.clone(), *start, *len))
            .collect()
    }

    /// Read at stream offset `pos`; fewer bytes than asked at a volume boundary, 0 at the end.
    pub fn read_at(&self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.parts.read_at(pos, buf)
    }

    /// Exactly `want` bytes from stream offset `pos` (across volume boundaries); an error if the stream
    /// ends first.
    pub fn read_chunk(&self, pos: u64, want: usize) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            let n = self.read_at(pos + filled as u64, &mut buf[filled..])?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "bundle ends inside a member",
                ));
            }
            filled += n;
        }
        Ok(buf)
    }

    /// [`TarStream::slice`] read through a buffer of `capacity` bytes: many small reads (a zip reader's
    /// headers, an 8 KiB inflater) become few positional reads. Reads larger than the buffer bypass it.
    pub fn buffered(&self, offset: u64, len: u64, capacity: usize) -> BufSlice {
        BufSlice {
            slice: self.slice(offset, len),
            buf: Vec::new(),
            capacity: capacity.max(1),
            buf_at: 0,
        }
    }

    /// A reader (with seek) over `len` bytes from `offset`: one member's data.
    pub fn slice(&self, offset: u64, len: u64) -> Slice {
        Slice {
            stream: self.clone(),
            start: offset,
            len,
            pos: 0,
        }
    }
}

/// `len` bytes of a [`TarStream`] from `start`, as a file of its own.
#[derive(Clone)]
pub struct Slice {
    stream: TarStream,
    start: u64,
    len: u64,
    pos: u64,
}

impl Read for Slice {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(left as usize);
        let n = self
            .stream
            .read_at(self.start + self.pos, &mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "bundle ends inside a member",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Slice {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
        };
        self.pos =
            pos.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before 0"))?;
        Ok(self.pos)
    }
}

impl Slice {
    /// Length of the slice.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A [`Slice`] with a read buffer. Cloning gives an independent reader (own position, empty buffer) over the
/// same bytes, so threads can share one parsed zip archive.
pub struct BufSlice {
    slice: Slice,
    buf: Vec<u8>,
    capacity: usize,
    /// Slice offset of `buf[0]`.
    buf_at: u64,
}

impl Clone for BufSlice {
    fn clone(&self) -> Self {
        BufSlice {
            slice: self.slice.clone(),
            buf: Vec::new(),
            capacity: self.capacity,
            buf_at: 0,
        }
    }
}

impl BufSlice {
    pub fn len(&self) -> u64 {
        self.slice.len
    }

    pub fn is_empty(&self) -> bool {
        self.slice.len == 0
    }
}

impl Read for BufSlice {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let pos = self.slice.pos;
        let end = self.buf_at + self.buf.len() as u64;
        if pos >= self.buf_at && pos < end {
            let from = (pos - self.buf_at) as usize;
            let n = out.len().min(self.buf.len() - from);
            out[..n].copy_from_slice(&self.buf[from..from + n]);
            self.slice.pos += n as u64;
            return Ok(n);
        }
        if out.len() >= self.capacity {
            return self.slice.read(out);
        }
        let want = (self.capacity as u64).min(self.slice.len.saturating_sub(pos)) as usize;
        if want == 0 || out.is_empty() {
            return Ok(0);
        }
        self.buf.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            let n = self.slice.stream.read_at(
                self.slice.start + pos + filled as u64,
                &mut self.buf[filled..],
            )?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        self.buf.truncate(filled);
        self.buf_at = pos;
        if filled == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "bundle ends inside a member",
            ));
        }
        let n = out.len().min(filled);
        out[..n].copy_from_slice(&self.buf[..n]);
        self.slice.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BufSlice {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.slice.seek(to)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffered_slice_reads_and_seeks_like_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let stream = TarStream::of_file(&path).unwrap();
        let mut r = stream.buffered(1000, 50_000, 4096);
        let mut small = [0u8; 100];
        r.read_exact(&mut small).unwrap();
        assert_eq!(&small[..], &data[1000..1100]);
        r.seek(SeekFrom::Start(10)).unwrap();
        r.read_exact(&mut small).unwrap();
        assert_eq!(&small[..], &data[1010..1110]);
        r.seek(SeekFrom::End(-10)).unwrap();
        let mut rest = Vec::new();
        r.clone().read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &data[50_990..51_000], "a clone keeps the position");
        rest.clear();
        r.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, &data[50_990..51_000]);
        let mut big = vec![0u8; 8192];
        r.seek(SeekFrom::Start(0)).unwrap();
        r.read_exact(&mut big).unwrap();
        assert_eq!(big, &data[1000..9192]);
    }
}
