//! Registry credentials as docker and podman store them, and the two challenges a registry can answer 401 with:
//! `Basic` (send the credentials) and `Bearer realm=…,service=…,scope=…` (trade them for a token at the realm).
//! Secrets never reach a log line or an error message.
use std::path::PathBuf;

use base64::Engine as _;

/// user and password for one registry host.
#[derive(Clone)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ****)", self.user)
    }
}

/// The auth files in the order podman and docker read them: `$REGISTRY_AUTH_FILE`,
/// `$XDG_RUNTIME_DIR/containers/auth.json`, `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
fn auth_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE") {
        files.push(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("XDG_RUNTIME_DIR") {
        files.push(PathBuf::from(p).join("containers/auth.json"));
    }
    if let Some(p) = std::env::var_os("DOCKER_CONFIG") {
        files.push(PathBuf::from(p).join("config.json"));
    } else if let Some(home) = dirs::home_dir() {
        files.push(home.join(".docker/config.json"));
    }
    files
}

/// Credentials for `host` (`name[:port]`) from the first auth file that has them: its credential helper
/// for the host (`credHelpers`), else its default store (`credsStore`), else an inline `auths` entry.
pub fn credentials(host: &str) -> Option<Credentials> {
    auth_files().into_iter().find_map(|path| {
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        let helper = doc
            .get("credHelpers")
            .and_then(|h| h.get(host))
            .or_else(|| doc.get("credsStore"))
            .and_then(|h| h.as_str());
        match helper.and_then(|name| from_helper(name, host)) {
            Some(c) => Some(c),
            None => from_file(&doc, host),
        }
    })
}

/// How long a credential helper may take (it may ask a keychain or a cloud metadata service).
const HELPER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// The docker credential-helper protocol: run `docker-credential-NAME get` with the server on stdin; it
/// prints `{"ServerURL", "Username", "Secret"}`, or fails when it has nothing for that server. An identity
/// token (`Username` "<token>") is not a password: ferry does not use it.
fn from_helper(name: &str, host: &str) -> Option<Credentials> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    if name.is_empty() || name.contains(['/', '\\']) {
        return None;
    }
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| tracing::warn!("credential helper {program}: {e}"))
        .ok()?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(host.as_bytes());
    }
    let started = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < HELPER_TIMEOUT => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            _ => {
                tracing::warn!("credential helper {program} did not answer in time");
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        return None;
    }
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let user = doc.get("Username")?.as_str()?.to_string();
    let password = doc.get("Secret")?.as_str()?.to_string();
    if user == "<token>" || password.is_empty() {
        tracing::warn!("credential helper {program} gave an identity token for {host}, which ferry does not use");
        return None;
    }
    Some(Credentials { user, password })
}

fn from_file(doc: &serde_json::Value, host: &str) -> Option<Credentials> {
    let auths = doc.get("auths")?.as_object()?;
    let entry = auths.iter().find_map(|(key, value)| {
        let key = key
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let key = key.split('/').next().unwrap_or(key);
        (key == host).then_some(value)
    })?;
    if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        return Some(Credentials {
            user: user.to_string(),
            password: password.to_string(),
        });
    }
    Some(Credentials {
        user: entry.get("username")?.as_str()?.to_string(),
        password: entry.get("password")?.as_str()?.to_string(),
    })
}

/// A `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = std::collections::BTreeMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        params.insert(key, value.to_string());
        rest = next.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge::Bearer {
        realm: params.remove("realm")?,
        service: params.remove("service"),
        scope: params.remove("scope"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="http://127.0.0.1:9/token",service="reg",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:9/token".into(),
                service: Some("reg".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn auth_file_entries() {
        let text = r#"{"auths": {"https://reg.corp:5000/v1/": {"auth": "dXNlcjpwYXNzOndvcmQ="},
                       "other": {"username": "u", "password": "p"}}}"#;
        let c = from_file(&serde_json::from_str(text).unwrap(), "reg.corp:5000").unwrap();
        assert_eq!(
            (c.user.as_str(), c.password.as_str()),
            ("user", "pass:word")
        );
        let c = from_file(&serde_json::from_str(text).unwrap(), "other").unwrap();
        assert_eq!(c.user, "u");
        assert!(from_file(&serde_json::from_str(text).unwrap(), "nowhere").is_none());
        assert!(!format!("{c:?}").contains('p') || !format!("{c:?}").contains("\"p\""));
    }
}
