//! Where the installer reads the bundle's files: straight from the verified bundle (every member is a
//! contiguous, uncompressed byte range of its volumes, read with positional reads; nothing is extracted), or
//! from a folder that holds an extracted bundle (library callers and tests).
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::error::{Error, IoContext};
use crate::bundle::{BufSlice, Member, MemberKind, TarStream};

/// Read buffer for wheels: the zip reader's headers and the inflater's 8 KiB reads are served from it.
pub const WHEEL_BUFFER: usize = 256 << 10;

/// The bundle's files, by member name (`wheels/x.whl`, `models/hub/…/blobs/…`, `files/NAME`).
pub enum Source {
    Folder(PathBuf),
    Bundle {
        path: PathBuf,
        stream: TarStream,
        /// member → (offset in the tar stream, length).
        members: HashMap<String, (u64, u64)>,
        /// The identity of every volume, taken before verification.
        stamp: Vec<(PathBuf, Option<VolumeStamp>)>,
    },
}

/// What identifies a volume's content without reading it: length and modification time, and on Unix the
/// inode and the change time, which no unprivileged process can set back (a file rewritten in place, or
/// replaced by another one, always shows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
    #[cfg(unix)]
    changed: (i64, i64),
}

impl VolumeStamp {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        Some(VolumeStamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino()),
            #[cfg(unix)]
            changed: (meta.ctime(), meta.ctime_nsec()),
        })
    }
}

/// The identity of each volume (to notice a bundle changed after it was verified).
pub fn stamp_volumes(volumes: &[(PathBuf, u64, u64)]) -> Vec<(PathBuf, Option<VolumeStamp>)> {
    volumes
        .iter()
        .map(|(p, _, _)| (p.clone(), VolumeStamp::of(p)))
        .collect()
}

impl Source {
    /// An extracted bundle in `dir`.
    pub fn folder(dir: &Path) -> Self {
        Source::Folder(dir.to_path_buf())
    }

    /// The verified bundle at `path` (opened as `stream`), with its `members` from the verification pass and
    /// the volumes' `stamp` taken before that pass.
    pub fn bundle(
        path: &Path,
        stream: TarStream,
        members: &[Member],
        stamp: Vec<(PathBuf, Option<VolumeStamp>)>,
    ) -> Self {
        let members = members
            .iter()
            .filter(|m| m.kind == MemberKind::File)
            .map(|m| (m.path.clone(), (m.offset, m.size)))
            .collect();
        Source::Bundle {
            path: path.to_path_buf(),
            stream,
            members,
            stamp,
        }
    }

    /// Whether the bundle's member hashes were checked by this process (then they are not hashed again).
    pub fn verified(&self) -> bool {
        matches!(self, Source::Bundle { .. })
    }

    pub fn contains(&self, member: &str) -> bool {
        match self {
            Source::Folder(dir) => join(dir, member).is_file(),
            Source::Bundle { members, .. } => members.contains_key(member),
        }
    }

    /// How to name a member in messages.
    pub fn describe(&self, member: &str) -> String {
        match self {
            Source::Folder(dir) => join(dir, member).display().to_string(),
            Source::Bundle { path, .. } => format!("{}:{member}", path.display()),
        }
    }

    /// A reader over one member, buffered by `buffer` bytes (reads at least that large bypass the buffer).
    pub fn open(&self, member: &str, buffer: usize) -> io::Result<BufSlice> {
        match self {
            Source::Folder(dir) => {
                let path = join(dir, member);
                let stream = TarStream::of_file(&path)?;
                let len = stream.len();
                Ok(stream.buffered(0, len, buffer))
            }
            Source::Bundle {
                stream, members, ..
            } => {
                let (offset, len) = members
                    .get(member)
                    .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not in the bundle"))?;
                Ok(stream.buffered(*offset, *len, buffer))
            }
        }
    }

    /// The bundle's `wheels/` as a folder (for `pip wheel --find-links` when an sdist is built): the folder
    /// itself when extracted, else the wheels and sdists copied into `scratch/wheels`. Only sdist builds
    /// need this.
    pub fn wheels_folder(&self, scratch: &Path) -> Result<PathBuf, Error> {
        let members = match self {
            Source::Folder(dir) => return Ok(dir.join("wheels")),
            Source::Bundle { members, .. } => members,
        };
        let out = scratch.join("wheels");
        if out.is_dir() {
            return Ok(out);
        }
        std::fs::create_dir_all(&out).at(&out)?;
        for name in members.keys() {
            let Some(file) = name.strip_prefix("wheels/") else {
                continue;
            };
            if file.contains('/') {
                continue;
            }
            let dest = out.join(file);
            let mut src = self.open(name, 0).at(&dest)?;
            let mut f = std::fs::File::create(&dest).at(&dest)?;
            copy(&mut src, &mut f).at(&dest)?;
        }
        Ok(out)
    }

    /// Fails when a volume changed (length, times, inode) since it was verified: a bundle still being
    /// copied, or rewritten or replaced in between.
    pub fn check_unchanged(&self) -> Result<(), Error> {
        let Source::Bundle { stamp, .. } = self else {
            return Ok(());
        };
        let now = stamp_volumes(
            &stamp
                .iter()
                .map(|(p, _)| (p.clone(), 0, 0))
                .collect::<Vec<_>>(),
        );
        for (before, after) in stamp.iter().zip(&now) {
            if before != after {
                return Err(Error::io(
                    &before.0,
                    io::Error::other("the bundle changed while it was being installed"),
                ));
            }
        }
        Ok(())
    }
}

fn join(dir: &Path, member: &str) -> PathBuf {
    member.split('/').fold(dir.to_path_buf(), |p, s| p.join(s))
}

/// Copy through a 1 MiB buffer; returns the bytes copied.
pub fn copy(src: &mut impl Read, out: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = match src.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..got])?;
        n += got as u64;
    }
}
