//! One tar stream over one file or over volumes `NAME.000`, `NAME.001`, …: writing into temp files that are
//! renamed at the end, and reading the parts back in sequence.
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tempfile::NamedTempFile;

use super::Error;

/// The largest volume ferry writes: FAT32 holds at most 4 GiB − 1 byte per file.
pub const MAX_VOLUME: u64 = 4 * 1024 * 1024 * 1024 - 1;

/// Parse a size: bytes (`1048576`) or a number with a binary unit: `512K`, `4000M`, `2G`, `1T`
/// (also `KB`/`KiB`, any case).
pub fn parse_size(text: &str) -> Result<u64, Error> {
    let invalid = || Error::InvalidSize(text.to_string());
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return Err(invalid()),
    };
    let size = number.checked_mul(1u64 << shift).ok_or_else(invalid)?;
    if size == 0 {
        return Err(invalid());
    }
    Ok(size)
}

/// The name of volume `index` of a split bundle named `base`.
pub(crate) fn volume_name(base: &Path, index: usize) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".{index:03}"));
    PathBuf::from(name)
}

/// A stretch of the stream as it lies in one volume file, to be read back with positional reads.
pub(crate) struct Region {
    pub(crate) file: Arc<File>,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// Why [`VolumeWriter::copy_from`] stopped: reading the source, or writing the volume.
#[derive(Debug)]
pub(crate) enum CopyError {
    Source(io::Error),
    Output(io::Error),
}

/// Writes the stream into temp files in the output's folder; [`VolumeWriter::commit`] fsyncs and renames them.
/// Dropped without commit, nothing remains.
pub(crate) struct VolumeWriter {
    dir: PathBuf,
    out: PathBuf,
    limit: Option<u64>,
    parts: Vec<NamedTempFile>,
    /// A second handle on each part, for reading back what was written (positional reads only).
    readers: Vec<Arc<File>>,
    in_current: u64,
    total: u64,
    /// Copy file data with `copy_file_range` (off after the kernel refused it once, or when forced off).
    kernel_copy: bool,
    /// Bytes the kernel copied (tests check which path ran).
    kernel_copied: u64,
    /// Buffer of the read/write fallback.
    buf: Vec<u8>,
    synced: bool,
}

/// Read size of the read/write fallback of [`VolumeWriter::copy_from`].
const FALLBACK_CHUNK: usize = 1 << 20;

impl VolumeWriter {
    pub(crate) fn new(out: &Path, split: Option<u64>) -> Result<Self, Error> {
        let dir = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Ok(VolumeWriter {
            dir,
            out: out.to_path_buf(),
            limit: split.map(|n| n.min(MAX_VOLUME)),
            parts: Vec::new(),
            readers: Vec::new(),
            in_current: 0,
            total: 0,
            kernel_copy: !kernel_copy_disabled(),
            kernel_copied: 0,
            buf: Vec::new(),
            synced: false,
        })
    }

    /// Use the read/write fallback of [`VolumeWriter::copy_from`] only (tests).
    #[cfg(test)]
    pub(crate) fn without_kernel_copy(mut self) -> Self {
        self.kernel_copy = false;
        self
    }

    #[cfg(test)]
    pub(crate) fn kernel_copied(&self) -> u64 {
        self.kernel_copied
    }

    fn open_next(&mut self) -> io::Result<()> {
        let tmp = tempfile::Builder::new()
            .prefix(".ferry-partial-")
            .tempfile_in(&self.dir)?;
        self.readers.push(Arc::new(tmp.as_file().try_clone()?));
        self.parts.push(tmp);
        self.in_current = 0;
        Ok(())
    }

    /// Bytes the current part can still take (opening the next part when this one is full).
    fn room(&mut self, want: u64) -> io::Result<u64> {
        match self.limit {
            Some(limit) => {
                if self.parts.is_empty() || self.in_current >= limit {
                    self.open_next()?;
                }
                Ok((limit - self.in_current).min(want))
            }
            None => {
                if self.parts.is_empty() {
                    self.open_next()?;
                }
                Ok(want)
            }
        }
    }

    pub(crate) fn total(&self) -> u64 {
        self.total
    }

    /// Append `len` bytes of `src` from `src_offset` on, with `copy_file_range` where the kernel does it
    /// (no copy through user space), else positional reads and writes. Returns where the bytes went, in
    /// stream order; fewer than `len` bytes only when `src` ended first. Anything buffered in front of this
    /// writer must be flushed before.
    pub(crate) fn copy_from(
        &mut self,
        src: &File,
        mut src_offset: u64,
        len: u64,
    ) -> Result<Vec<Region>, CopyError> {
        let mut regions: Vec<Region> = Vec::new();
        let mut left = len;
        while left > 0 {
            let room = self.room(left).map_err(CopyError::Output)?;
            let n = self.copy_into_current(src, src_offset, room)?;
            if n == 0 {
                break;
            }
            let file = self.readers.last().expect("a part is open");
            match regions.last_mut() {
                Some(r) if Arc::ptr_eq(&r.file, file) => r.len += n,
                _ => regions.push(Region {
                    file: file.clone(),
                    offset: self.in_current,
                    len: n,
                }),
            }
            self.in_current += n;
            self.total += n;
            src_offset += n;
            left -= n;
        }
        Ok(regions)
    }

    /// Copy up to `len` bytes into the current part at its end; 0 at the end of `src`.
    fn copy_into_current(&mut self, src: &File, offset: u64, len: u64) -> Result<u64, CopyError> {
        let part = self.parts.last_mut().expect("a part is open").as_file_mut();
        if self.kernel_copy {
            match kernel_copy(src, offset, part, len) {
                Ok(n) => {
                    self.kernel_copied += n;
                    return Ok(n);
                }
                Err(e) if kernel_copy_unsupported(&e) => {
                    tracing::debug!("copy_file_range unavailable ({e}); copying through a buffer");
                    self.kernel_copy = false;
                }
                Err(e) => return Err(CopyError::Output(e)),
            }
        }
        if self.buf.is_empty() {
            self.buf = vec![0u8; FALLBACK_CHUNK];
        }
        let want = len.min(FALLBACK_CHUNK as u64) as usize;
        let n = loop {
            match read_at(src, &mut self.buf[..want], offset) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other.map_err(CopyError::Source)?,
            }
        };
        part.write_all(&self.buf[..n]).map_err(CopyError::Output)?;
        Ok(n as u64)
    }

    /// Make every part 0644 and fsync it (the data is on disk; nothing is under its final name yet).
    pub(crate) fn sync(&mut self) -> Result<(), Error> {
        if self.parts.is_empty() {
            self.open_next().map_err(|e| Error::io(&self.dir, e))?;
        }
        for part in &self.parts {
            // Temp files start 0600; a bundle is for others to read (SPEC: 0644).
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                part.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(0o644))
                    .map_err(|e| Error::io(part.path(), e))?;
            }
            part.as_file()
                .sync_all()
                .map_err(|e| Error::io(part.path(), e))?;
        }
        self.synced = true;
        Ok(())
    }

    /// fsync every part (unless [`VolumeWriter::sync`] did), then rename them to their final names.
    /// Returns those names.
    pub(crate) fn commit(mut self) -> Result<Vec<PathBuf>, Error> {
        if !self.synced {
            self.sync()?;
        }
        self.readers.clear();
        let split = self.limit.is_some();
        let mut names = Vec::new();
        for (i, part) in std::mem::take(&mut self.parts).into_iter().enumerate() {
            let name = if split {
                volume_name(&self.out, i)
            } else {
                self.out.clone()
            };
            part.persist(&name).map_err(|e| Error::io(&name, e.error))?;
            names.push(name);
        }
        if split {
            // Volumes of an older, longer bundle under the same name would be read as part of this one.
            let mut i = names.len();
            while std::fs::remove_file(volume_name(&self.out, i)).is_ok() {
                i += 1;
            }
        }
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(names)
    }
}

impl Write for VolumeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let room = self.room(buf.len() as u64)? as usize;
        let part = self.parts.last_mut().expect("a part is open");
        let n = part.write(&buf[..room])?;
        self.in_current += n as u64;
        self.total += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.parts.last_mut() {
            Some(p) => p.flush(),
            None => Ok(()),
        }
    }
}

/// `FERRY_TEST_NO_COPY_RANGE=1` forces the read/write fallback. Debug builds only: a release build ignores it.
fn kernel_copy_disabled() -> bool {
    cfg!(debug_assertions) && std::env::var_os("FERRY_TEST_NO_COPY_RANGE").is_some_and(|v| v == "1")
}

/// One `copy_file_range` from `src` at `offset` to `dst` at its file position (which it advances).
#[cfg(target_os = "linux")]
fn kernel_copy(src: &File, offset: u64, dst: &mut File, len: u64) -> io::Result<u64> {
    use std::os::unix::io::AsRawFd;
    let mut off_in =
        i64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // The kernel copies at most about 2 GiB per call anyway.
    let len = len.min(1 << 30) as usize;
    loop {
        // SAFETY: both descriptors are open for the duration of the call; `off_in` is a valid i64 the
        // kernel updates; a null output offset means "the file position of `dst`".
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                &mut off_in,
                dst.as_raw_fd(),
                std::ptr::null_mut(),
                len,
                0,
            )
        };
        if n >= 0 {
            return Ok(n as u64);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn kernel_copy(_: &File, _: u64, _: &mut File, _: u64) -> io::Result<u64> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// The errors after which the read/write copy takes over: no such syscall, files on different
/// filesystems (older kernels), a filesystem or file kind that cannot do it.
fn kernel_copy_unsupported(e: &io::Error) -> bool {
    #[cfg(target_os = "linux")]
    if let Some(code) = e.raw_os_error() {
        return [
            libc::EXDEV,
            libc::ENOSYS,
            libc::EINVAL,
            libc::EOPNOTSUPP,
            libc::ENOTSUP,
        ]
        .contains(&code);
    }
    e.kind() == io::ErrorKind::Unsupported
}

/// Read at `offset` without moving the file position (other threads read the same file).
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        std::os::windows::fs::FileExt::seek_read(file, buf, offset)
    }
}

/// An I/O error of the volume files themselves (as opposed to a malformed archive).
#[derive(Debug)]
pub(crate) struct VolumeIoError {
    pub(crate) path: PathBuf,
    pub(crate) source: io::Error,
}

impl std::fmt::Display for VolumeIoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}
impl std::error::Error for VolumeIoError {}

/// The volumes of the bundle a user named: `x.ferry.tar`, `x.ferry.tar.000`, or `x.ferry.tar` when only
/// `x.ferry.tar.000`… exist. A gap in the numbering is an error.
pub(crate) fn resolve(bundle: &Path) -> Result<Vec<PathBuf>, Error> {
    let name = bundle.to_string_lossy();
    let base = match name.strip_suffix(".000") {
        Some(base) => PathBuf::from(base),
        None if bundle.is_file() => return Ok(vec![bundle.to_path_buf()]),
        None if volume_name(bundle, 0).is_file() => bundle.to_path_buf(),
        None => {
            return Err(Error::io(
                bundle,
                io::Error::new(io::ErrorKind::NotFound, "no such bundle"),
            ))
        }
    };
    let mut parts = Vec::new();
    while volume_name(&base, parts.len()).is_file() {
        parts.push(volume_name(&base, parts.len()));
    }
    if parts.is_empty() {
        return Err(Error::io(
            volume_name(&base, 0),
            io::Error::new(io::ErrorKind::NotFound, "no such bundle volume"),
        ));
    }
    // A later volume present after a missing one: say which one is missing.
    let missing = volume_name(&base, parts.len());
    for later in parts.len() + 1..parts.len() + 1000 {
        if volume_name(&base, later).exists() {
            return Err(Error::MissingVolume {
                first: parts[0].clone(),
                missing,
            });
        }
    }
    Ok(parts)
}

/// Reads the volumes in sequence as one stream.
pub(crate) struct VolumeReader {
    parts: Vec<PathBuf>,
    next: usize,
    current: Option<(File, PathBuf)>,
    total_len: u64,
}

impl VolumeReader {
    pub(crate) fn open(parts: Vec<PathBuf>) -> Result<Self, Error> {
        let mut total_len = 0;
        for p in &parts {
            total_len += std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len();
        }
        Ok(VolumeReader {
            parts,
            next: 0,
            current: None,
            total_len,
        })
    }

    /// Sum of the volumes' lengths.
    pub(crate) fn total_len(&self) -> u64 {
        self.total_len
    }

    pub(crate) fn is_split(&self) -> bool {
        self.parts.len() > 1 || self.parts[0].to_string_lossy().ends_with(".000")
    }

    pub(crate) fn parts(&self) -> &[PathBuf] {
        &self.parts
    }
}

impl Read for VolumeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.current.is_none() {
                let Some(path) = self.parts.get(self.next).cloned() else {
                    return Ok(0);
                };
                self.next += 1;
                let file = File::open(&path).map_err(|e| wrap(&path, e))?;
                self.current = Some((file, path));
            }
            let (file, path) = self.current.as_mut().expect("open");
            match file.read(buf) {
                Ok(0) if !buf.is_empty() => self.current = None,
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(wrap(path, e)),
            }
        }
    }
}

fn wrap(path: &Path, source: io::Error) -> io::Error {
    io::Error::new(
        source.kind(),
        VolumeIoError {
            path: path.to_path_buf(),
            source,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4000M").unwrap(), 4000 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("512K").unwrap(), 512 << 10);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert_eq!(parse_size("3gib").unwrap(), 3 << 30);
        for bad in ["", "0", "M", "12X", "-1", "1.5G", "99999999999T"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
