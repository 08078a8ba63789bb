//! The one auth layer: credentials for a host, from `user:password@` in a configured URL or from netrc
//! (`NETRC`, else `~/.netrc`), and bearer tokens for one origin (the hub's).
//!
//! Credentials are taken out of URLs as soon as the URLs are configured ([`take_credentials`]), so no URL
//! that reaches a lock, a bundle, a log line or an error carries a secret. The client asks [`basic_for`]
//! on every hop of a request, so a redirect to another host never gets them.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{OnceLock, RwLock};

use url::Url;

use crate::fetch::Error;

/// `scheme://host:port` of a URL: the unit credentials belong to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin(String);

impl Origin {
    pub fn of(url: &Url) -> Self {
        Origin(format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or_default().to_ascii_lowercase(),
            url.port_or_known_default().unwrap_or(0)
        ))
    }
}

/// A user name and password (the password may be absent: `user@host`).
#[derive(Clone, PartialEq, Eq)]
pub struct Basic {
    pub user: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for Basic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Basic({}:****)", self.user)
    }
}

fn store() -> &'static RwLock<HashMap<Origin, Basic>> {
    static STORE: OnceLock<RwLock<HashMap<Origin, Basic>>> = OnceLock::new();
    STORE.get_or_init(Default::default)
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Remember the `user:password@` of `url` for its origin and return the URL without them.
pub fn take_credentials(url: &Url) -> Url {
    if url.username().is_empty() && url.password().is_none() {
        return url.clone();
    }
    let basic = Basic {
        user: decode(url.username()),
        password: url.password().map(decode),
    };
    store()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert(Origin::of(url), basic);
    strip(url)
}

/// `url` without user and password.
pub fn strip(url: &Url) -> Url {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u
}

/// Credentials to send to `url`'s host: remembered from a configured URL, else from netrc.
pub fn basic_for(url: &Url) -> Result<Option<Basic>, Error> {
    if let Some(b) = store()
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(&Origin::of(url))
    {
        return Ok(Some(b.clone()));
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Ok(None);
    }
    let netrc = netrc()?;
    Ok(url.host_str().and_then(|h| netrc.lookup(h)))
}

/// The netrc file: `NETRC` when set (then it must be readable), else `~/.netrc` when it exists.
fn netrc() -> Result<&'static Netrc, Error> {
    static NETRC: OnceLock<Result<Netrc, (PathBuf, String)>> = OnceLock::new();
    let loaded = NETRC.get_or_init(|| {
        let (path, required) = match std::env::var_os("NETRC") {
            Some(p) => (PathBuf::from(p), true),
            None => match dirs::home_dir() {
                Some(h) => (h.join(".netrc"), false),
                None => return Ok(Netrc::default()),
            },
        };
        read_netrc(&path, required).map_err(|e| (path, e.to_string()))
    });
    loaded
        .as_ref()
        .map_err(|(path, message)| Error::Credentials {
            path: path.clone(),
            message: message.clone(),
        })
}

fn read_netrc(path: &Path, required: bool) -> std::io::Result<Netrc> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Netrc::parse(&text)),
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Netrc::default()),
        Err(e) => Err(e),
    }
}

/// `machine HOST login USER password PASS` entries and an optional `default` entry.
#[derive(Debug, Default)]
pub struct Netrc {
    machines: Vec<(String, Basic)>,
    default: Option<Basic>,
}

impl Netrc {
    /// Parse netrc text (tokens separated by whitespace; `macdef` bodies skipped up to a blank line).
    pub fn parse(text: &str) -> Self {
        let mut out = Netrc::default();
        // Drop macro definitions first: their bodies are free text.
        let mut cleaned = String::new();
        let mut in_macro = false;
        for line in text.lines() {
            if in_macro {
                in_macro = !line.trim().is_empty();
                continue;
            }
            if line.split_whitespace().next() == Some("macdef") {
                in_macro = true;
                continue;
            }
            let line = line.split('#').next().unwrap_or_default();
            cleaned.push_str(line);
            cleaned.push('\n');
        }
        let mut tokens = cleaned.split_whitespace();
        // (machine or None for default, login, password)
        let mut current: Option<(Option<String>, Basic)> = None;
        let flush = |out: &mut Netrc, cur: Option<(Option<String>, Basic)>| match cur {
            Some((Some(host), b)) => out.machines.push((host.to_ascii_lowercase(), b)),
            Some((None, b)) => out.default = Some(b),
            None => {}
        };
        while let Some(tok) = tokens.next() {
            let empty = Basic {
                user: String::new(),
                password: None,
            };
            match tok {
                "machine" => {
                    flush(&mut out, current.take());
                    current = tokens.next().map(|h| (Some(h.to_string()), empty));
                }
                "default" => {
                    flush(&mut out, current.take());
                    current = Some((None, empty));
                }
                "login" => {
                    if let (Some((_, b)), Some(v)) = (current.as_mut(), tokens.next()) {
                        b.user = v.to_string();
                    }
                }
                "password" => {
                    if let (Some((_, b)), Some(v)) = (current.as_mut(), tokens.next()) {
                        b.password = Some(v.to_string());
                    }
                }
                "account" => {
                    tokens.next();
                }
                _ => {}
            }
        }
        flush(&mut out, current);
        out
    }

    /// The entry for `host`, else the default entry.
    pub fn lookup(&self, host: &str) -> Option<Basic> {
        let host = host.to_ascii_lowercase();
        self.machines
            .iter()
            .find(|(h, _)| *h == host)
            .map(|(_, b)| b.clone())
            .or_else(|| self.default.clone())
    }
}

/// `Basic …` header value.
pub fn basic_header(b: &Basic) -> String {
    use base64::Engine;
    let raw = format!("{}:{}", b.user, b.password.as_deref().unwrap_or_default());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netrc_entries_and_default() {
        let n = Netrc::parse(
            "# comment\nmachine idx.example login alice password s3cret\n\
             macdef init\ncd /tmp\n\nmachine Other.example\n  login bob\n  password pw2\ndefault login anon password x\n",
        );
        assert_eq!(
            n.lookup("IDX.example"),
            Some(Basic {
                user: "alice".into(),
                password: Some("s3cret".into())
            })
        );
        assert_eq!(n.lookup("other.example").unwrap().user, "bob");
        assert_eq!(n.lookup("third.example").unwrap().user, "anon");
        assert!(!format!("{:?}", n.lookup("idx.example")).contains("s3cret"));
    }

    #[test]
    fn credentials_leave_the_url_and_stay_with_their_origin() {
        let url = Url::parse("http://u%40x:p%2Fw@127.0.0.7:8123/simple/").unwrap();
        let clean = take_credentials(&url);
        assert_eq!(clean.as_str(), "http://127.0.0.7:8123/simple/");
        let page = Url::parse("http://127.0.0.7:8123/files/a.whl").unwrap();
        let b = basic_for(&page).unwrap().unwrap();
        assert_eq!(
            (b.user.as_str(), b.password.as_deref()),
            ("u@x", Some("p/w"))
        );
        let other = Url::parse("http://127.0.0.7:8124/files/a.whl").unwrap();
        assert!(store().read().unwrap().get(&Origin::of(&other)).is_none());
    }
}
