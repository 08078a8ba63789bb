//! PEP 508 requirement parsing that never panics. pep508_rs 0.9.2 panics on some malformed input instead of
//! returning an error (found by `fuzz/`); requirements files and downloaded metadata are untrusted, so every
//! requirement string goes through [`parse_requirement`]. The checks below only reject input that pep508_rs
//! would have to reject anyway; all the grammar stays in pep508_rs.
use std::fmt;
use std::str::FromStr;

use pep508_rs::{Requirement, VerbatimUrl};

/// Why a requirement string is invalid, with the 1-based column it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pep508Error {
    pub message: String,
    pub column: usize,
}

impl fmt::Display for Pep508Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at column {})", self.message, self.column)
    }
}

/// Parse one PEP 508 requirement.
pub fn parse_requirement(text: &str) -> Result<Requirement<VerbatimUrl>, Pep508Error> {
    known_panics(text)?;
    // A backstop for panics not known yet: an error naming the input instead of a crash.
    match std::panic::catch_unwind(|| Requirement::<VerbatimUrl>::from_str(text)) {
        Ok(Ok(req)) => Ok(req),
        Ok(Err(e)) => Err(Pep508Error {
            message: e.message.to_string(),
            column: column(text, e.start),
        }),
        Err(_) => Err(Pep508Error {
            message: "not a valid requirement (the PEP 508 parser failed on it)".into(),
            column: 1,
        }),
    }
}

fn column(text: &str, byte: usize) -> usize {
    text.get(..byte).map_or(byte, |s| s.chars().count()) + 1
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// Input on which pep508_rs 0.9.2 panics:
/// - a name or extra ending in `.`, `-` or `_` followed by more text (`pkg. >=1`, `pkg[extra-]`): it builds the
///   name and then `expect`s it to validate;
/// - a non-ASCII character after a marker expression (`pkg; os_name == "a" €`): it slices by a char count.
fn known_panics(text: &str) -> Result<(), Pep508Error> {
    let start = text.len() - text.trim_start().len();
    let rest = &text[start..];
    let name_len = rest.find(|c| !is_name_char(c)).unwrap_or(rest.len());
    let name = &rest[..name_len];
    if name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        bad_identifier_end(text, start, name, "package name")?;
        let after = rest[name_len..].trim_start();
        if let Some(inner) = after.strip_prefix('[') {
            let inner_at = text.len() - inner.len();
            let inner = &inner[..inner.find(']').unwrap_or(inner.len())];
            let mut at = inner_at;
            for part in inner.split(',') {
                let lead = part.len() - part.trim_start().len();
                let trimmed = part.trim_start();
                let extra = &trimmed[..trimmed.find(|c| !is_name_char(c)).unwrap_or(trimmed.len())];
                if extra.starts_with(|c: char| c.is_ascii_alphanumeric()) {
                    bad_identifier_end(text, at + lead, extra, "extra name")?;
                }
                at += part.len() + 1;
            }
        }
    }
    if let Some(semicolon) = text.find(';') {
        if let Some((i, c)) = text[semicolon..]
            .char_indices()
            .find(|(_, c)| !c.is_ascii())
        {
            return Err(Pep508Error {
                message: format!("non-ASCII character '{c}' in the marker"),
                column: column(text, semicolon + i),
            });
        }
    }
    Ok(())
}

fn bad_identifier_end(text: &str, at: usize, ident: &str, what: &str) -> Result<(), Pep508Error> {
    match ident.chars().last() {
        Some(last @ ('.' | '-' | '_')) => Err(Pep508Error {
            message: format!("{what} '{ident}' must end with a letter or digit, not '{last}'"),
            column: column(text, at + ident.len() - 1),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_requirements_parse() {
        for text in [
            "requests",
            "requests[socks, security]>=2.31 ; python_version >= '3.8'",
            "zope.interface>=5",
            "typing_extensions",
            "demo @ http://127.0.0.1:9/demo-1.0-py3-none-any.whl",
            "numpy==1.26; platform_release == 'ümlaut'x", // invalid, but an error, not a panic
        ] {
            let _ = parse_requirement(text);
        }
        assert!(parse_requirement("zope.interface>=5").is_ok());
        assert!(parse_requirement("pkg[a.b,c-d]").is_ok());
    }

    /// Regression: pep508_rs panicked with "`PackageName` validation should match PEP 508 parsing".
    #[test]
    fn name_ending_in_punctuation_is_an_error() {
        for text in [
            "packagi. >=1",
            "pkg-[x]",
            "pkg_;python_version>'3'",
            "pkg.",
            "  pkg- ",
        ] {
            let e = parse_requirement(text).unwrap_err();
            assert!(
                e.message.contains("must end with a letter or digit"),
                "{text}: {e}"
            );
        }
        let e = parse_requirement("packagi. >=1").unwrap_err();
        assert_eq!(e.column, 8);
    }

    /// Regression: pep508_rs panicked on `ExtraName::new(..).expect(..)`.
    #[test]
    fn extra_ending_in_punctuation_is_an_error() {
        for text in ["pkg[extra-]", "pkg[ok, bad. ]", "pkg [a_]>=1"] {
            let e = parse_requirement(text).unwrap_err();
            assert!(e.message.contains("extra name"), "{text}: {e}");
        }
    }

    /// Regression: pep508_rs sliced a string by a char count after a marker ("not a char boundary").
    #[test]
    fn non_ascii_after_a_marker_is_an_error() {
        for text in [
            "numpy>=1.20; python_version >= \"3.9\" and\u{fffd}\u{fffd} extra == \"fast\"",
            "x; os_name == \"a\" \u{20ac}",
        ] {
            let e = parse_requirement(text).unwrap_err();
            assert!(e.message.contains("non-ASCII"), "{text}: {e}");
        }
    }
}
