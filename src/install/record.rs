//! RECORD files (PEP 376/427): `path,sha256=<urlsafe-b64-nopad>,size` lines, CSV-quoted when needed.
use base64::Engine;
use sha2::Digest;

/// One RECORD row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordEntry {
    pub path: String,
    /// `sha256=...` (or another `algo=...`), empty for RECORD itself.
    pub hash: String,
    pub size: Option<u64>,
}

/// The RECORD form of a sha256 digest.
pub fn record_hash(digest: &[u8]) -> String {
    format!(
        "sha256={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

pub fn hash_bytes(data: &[u8]) -> String {
    record_hash(&sha2::Sha256::digest(data))
}

/// Parse RECORD text. Returns the row number (1-based) of a malformed row as the error.
pub fn parse(text: &str) -> Result<Vec<RecordEntry>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields =
            split_csv(line).ok_or_else(|| format!("RECORD line {}: bad quoting", i + 1))?;
        let [path, hash, size] = fields.as_slice() else {
            return Err(format!(
                "RECORD line {}: expected 3 fields, found {}",
                i + 1,
                fields.len()
            ));
        };
        let size = if size.is_empty() {
            None
        } else {
            Some(
                size.parse()
                    .map_err(|_| format!("RECORD line {}: bad size '{size}'", i + 1))?,
            )
        };
        out.push(RecordEntry {
            path: path.clone(),
            hash: hash.clone(),
            size,
        });
    }
    Ok(out)
}

/// Render RECORD rows (sorted by the caller), quoting like Python's csv module.
pub fn render(entries: &[RecordEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&quote(&e.path));
        out.push(',');
        out.push_str(&e.hash);
        out.push(',');
        if let Some(size) = e.size {
            out.push_str(&size.to_string());
        }
        out.push('\n');
    }
    out
}

fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// Split one CSV line (RFC 4180 quoting, no embedded newlines).
fn split_csv(line: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (false, '"') if at_start => {
                quoted = true;
                at_start = false;
            }
            (true, '"') => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cur.push('"');
                } else {
                    quoted = false;
                }
            }
            (false, ',') => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
            }
            (_, c) => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return None;
    }
    fields.push(cur);
    Some(fields)
}

/// Check a `/`-separated relative path from an untrusted source: no absolute paths, no `..`, no drive letters,
/// no backslashes, no NUL, no empty or `.` components. Returns the reason it is unsafe.
pub fn check_relative(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("empty path");
    }
    if path.starts_with('/') {
        return Err("absolute path");
    }
    if path.contains('\\') {
        return Err("backslash in path");
    }
    if path.contains('\0') {
        return Err("NUL in path");
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic() {
        return Err("drive letter");
    }
    for part in path.trim_end_matches('/').split('/') {
        match part {
            ".." => return Err("'..' component"),
            "" | "." => return Err("empty or '.' component"),
            p if p.contains(':') => return Err("':' in path component"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_with_quotes() {
        let rows = vec![
            RecordEntry {
                path: "a,b/c.py".into(),
                hash: hash_bytes(b"x"),
                size: Some(1),
            },
            RecordEntry {
                path: "pkg-1.0.dist-info/RECORD".into(),
                hash: String::new(),
                size: None,
            },
        ];
        let text = render(&rows);
        assert!(text.starts_with("\"a,b/c.py\",sha256="));
        assert!(text.ends_with("pkg-1.0.dist-info/RECORD,,\n"));
        assert_eq!(parse(&text).unwrap(), rows);
    }

    #[test]
    fn hash_form() {
        // sha256 of the empty string, urlsafe base64 without padding.
        assert_eq!(
            hash_bytes(b""),
            "sha256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }

    #[test]
    fn unsafe_paths() {
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "C:/x",
            "c:x",
            "a\\b",
            "a//b",
            "./a",
            "",
        ] {
            assert!(check_relative(bad).is_err(), "{bad}");
        }
        for good in ["a", "a/b.py", "pkg-1.0.data/scripts/x", "a/"] {
            assert!(check_relative(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn bad_rows() {
        assert!(parse("a,b\n").is_err());
        assert!(parse("a,sha256=x,notanumber\n").is_err());
        assert!(parse("\"a,b,c\n").is_err());
    }
}
