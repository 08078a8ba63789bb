//! Validated newtypes for names and digests that have rules.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use pep440_rs::Version;
pub use pep508_rs::{ExtraName, PackageName};

/// Human size: `1.5 GiB`, `12.0 KiB`, `512 B`.
/// Seconds since the Unix epoch as a UTC civil date and time: (year, month, day, hour, minute, second)
/// (days to date by H. Hinnant's algorithm).
pub fn civil_utc(secs: u64) -> (i64, i64, i64, u64, u64, u64) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `1 file`, `3 files`: a count with its noun, singular or plural (`y` → `ies`).
pub fn plural(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else if let Some(stem) = noun
        .strip_suffix('y')
        .filter(|s| !s.ends_with(['a', 'e', 'o', 'u']))
    {
        format!("{n} {stem}ies")
    } else if noun.ends_with('s') || noun.ends_with("sh") || noun.ends_with("ch") {
        format!("{n} {noun}es")
    } else {
        format!("{n} {noun}s")
    }
}

/// Middle-truncate `text` to `width` characters with `…` (table cells that must fit the terminal).
pub fn fit(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width || width < 5 {
        return text.to_string();
    }
    let keep = width - 1;
    let head = keep / 2;
    let tail = keep - head;
    let chars: Vec<char> = text.chars().collect();
    let mut out: String = chars[..head].iter().collect();
    out.push('…');
    out.extend(&chars[n - tail..]);
    out
}

/// The width tables must fit: `COLUMNS` when set (none otherwise: full names for pipes and grep).
pub fn term_columns() -> Option<usize> {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c >= 20)
}

/// A lowercase hex SHA-256 digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256(String);

impl Sha256 {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(hex::encode(bytes))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Hash a byte slice (small inputs only; stream files with [`Sha256::of_file`]).
    pub fn digest(data: &[u8]) -> Self {
        use sha2::Digest;
        Self::from_bytes(&sha2::Sha256::digest(data))
    }

    /// Stream a file through SHA-256 (flat memory): its digest and length.
    pub fn of_file(path: &std::path::Path) -> std::io::Result<(Self, u64)> {
        Self::of_reader(std::fs::File::open(path)?)
    }

    /// Stream a reader through SHA-256: its digest and length.
    pub fn of_reader(mut reader: impl std::io::Read) -> std::io::Result<(Self, u64)> {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        let len = stream_sha256(&mut reader, &mut h, None)?;
        Ok((Self::from_bytes(&h.finalize()), len))
    }
}

/// The one streaming hash loop: feed everything `reader` yields into `hasher` (and copy it to `out`
/// when given), 1 MiB at a time. Returns the number of bytes read.
pub fn stream_sha256(
    reader: &mut dyn std::io::Read,
    hasher: &mut sha2::Sha256,
    mut out: Option<&mut dyn std::io::Write>,
) -> std::io::Result<u64> {
    use sha2::Digest;
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(len),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        if let Some(o) = out.as_mut() {
            o.write_all(&buf[..n])?;
        }
        len += n as u64;
    }
}

/// Percent-decode one URL path segment (`%2F` → `/`, `%2B` → `+`); invalid escapes stay as written and
/// invalid UTF-8 is replaced.
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

impl FromStr for Sha256 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s))
        } else {
            Err(format!("not a sha256 hex digest: '{s}'"))
        }
    }
}
impl TryFrom<String> for Sha256 {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}
impl From<Sha256> for String {
    fn from(s: Sha256) -> String {
        s.0
    }
}
impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.0)
    }
}

/// A Hugging Face repository id, `org/name` (or a bare `name` for legacy canonical repos).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoId(String);

impl RepoId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// `models--org--name`, the cache folder name.
    pub fn cache_folder(&self, kind: RepoKind) -> String {
        format!("{}--{}", kind.cache_prefix(), self.0.replace('/', "--"))
    }
}

impl FromStr for RepoId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok_part = |p: &str| {
            !p.is_empty()
                && p.len() <= 96
                && !p.starts_with(['-', '.'])
                && !p.ends_with(['-', '.'])
                && !p.contains("--")
                && !p.contains("..")
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        };
        let parts: Vec<&str> = s.split('/').collect();
        let valid = match parts.as_slice() {
            [name] => ok_part(name),
            [org, name] => ok_part(org) && ok_part(name),
            _ => false,
        };
        if valid {
            Ok(Self(s.to_string()))
        } else {
            Err(format!("not a valid Hugging Face repo id: '{s}'"))
        }
    }
}
impl TryFrom<String> for RepoId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}
impl From<RepoId> for String {
    fn from(s: RepoId) -> String {
        s.0
    }
}
impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RepoId({})", self.0)
    }
}

/// Model or dataset repository.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum RepoKind {
    #[default]
    Model,
    Dataset,
}

impl RepoKind {
    pub fn cache_prefix(self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }
    /// Path segment for `api/{segment}/…`.
    pub fn api_segment(self) -> &'static str {
        match self {
            RepoKind::Model => "models",
            RepoKind::Dataset => "datasets",
        }
    }
}

/// A 40-hex git commit sha.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CommitSha(String);

impl CommitSha {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl FromStr for CommitSha {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(format!("not a 40-hex commit sha: '{s}'"))
        }
    }
}
impl TryFrom<String> for CommitSha {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}
impl From<CommitSha> for String {
    fn from(s: CommitSha) -> String {
        s.0
    }
}
impl fmt::Display for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for CommitSha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CommitSha({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids() {
        assert!("openai/clip-vit-large-patch14".parse::<RepoId>().is_ok());
        assert!("gpt2".parse::<RepoId>().is_ok());
        assert!("a/b/c".parse::<RepoId>().is_err());
        assert!("../x".parse::<RepoId>().is_err());
        assert!("org/na me".parse::<RepoId>().is_err());
        let r: RepoId = "openai/clip".parse().unwrap();
        assert_eq!(r.cache_folder(RepoKind::Model), "models--openai--clip");
    }

    #[test]
    fn sha256_parse() {
        assert!("ab".parse::<Sha256>().is_err());
        let d = Sha256::digest(b"");
        assert_eq!(
            d.as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(d.as_str().parse::<Sha256>().unwrap(), d);
    }
}
