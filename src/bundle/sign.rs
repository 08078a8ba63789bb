//! minisign-format keys and signatures.
//!
//! Keys are read and written with the `minisign` crate, so files from `minisign -G` (encrypted or `-W`) load
//! and ferry's keys work with the minisign CLI. Signing uses minisign's prehashed `ED` scheme, but the Ed25519
//! step is done with `ring` in its deterministic (RFC 8032) form: the `minisign` crate mixes random noise into
//! every signature, and a bundle must be byte-identical when rebuilt from the same lock and key.
use std::fmt;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use blake2::Digest;

use super::Error;

/// Environment variable holding the secret key's password.
pub const PASSWORD_ENV: &str = "FERRY_KEY_PASSWORD";

const SIG_UNTRUSTED_COMMENT: &str = "signature from ferry secret key";
const SECRET_KEY_COMMENT: &str = "ferry secret key (minisign format)";
/// Offsets in the serialized minisign secret key: sig_alg(2) kdf_alg(2) chk_alg(2) salt(32) ops(8) mem(8)
/// keynum(8) sk(64) chk(32).
const KDF_ALG_AT: usize = 2;
const KEYNUM_AT: usize = 54;
const SK_AT: usize = 62;
const SK_END: usize = 126;

/// A minisign key id, shown as minisign shows it: 16 uppercase hex digits of the little-endian number.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    fn from_slice(bytes: &[u8]) -> Self {
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[..8]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A decrypted secret key, ready to sign.
pub struct SecretKey {
    key_id: KeyId,
    pair: ring::signature::Ed25519KeyPair,
    public: minisign::PublicKey,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({})", self.key_id)
    }
}

/// A public key, with the file it came from (for error messages).
#[derive(Clone, Debug)]
pub struct PublicKey {
    key: minisign::PublicKey,
    path: PathBuf,
}

/// Why a signature did not check out.
#[derive(Debug)]
pub enum SignatureError {
    /// Not a minisign signature at all.
    Malformed(String),
    /// Made by another key.
    WrongKey { signed_by: KeyId },
    /// Right key, wrong bytes.
    Invalid(String),
}

/// Create a key pair. `password`: `None` asks for it (twice) on the terminal, unless `encrypted` is false.
pub fn generate(
    secret: &Path,
    public: &Path,
    encrypted: bool,
    force: bool,
) -> Result<KeyId, Error> {
    if !force {
        for path in [secret, public] {
            if path.exists() {
                return Err(Error::KeyExists {
                    path: path.to_path_buf(),
                });
            }
        }
    }
    let pair = if encrypted {
        let password = match std::env::var(PASSWORD_ENV) {
            Ok(password) => Some(password),
            Err(_) if std::io::stdin().is_terminal() => None,
            Err(_) => {
                return Err(Error::NoNewPassword {
                    path: secret.to_path_buf(),
                })
            }
        };
        minisign::KeyPair::generate_encrypted_keypair(password).map_err(|e| match e.kind() {
            minisign::ErrorKind::Generate if e.to_string().contains("match") => {
                Error::PasswordMismatch
            }
            _ => key_error(secret, e),
        })?
    } else {
        minisign::KeyPair::generate_unencrypted_keypair().map_err(|e| key_error(secret, e))?
    };
    let key_id = KeyId::from_slice(pair.pk.keynum());
    let public_text = pair
        .pk
        .to_box()
        .map_err(|e| key_error(public, e))?
        .to_bytes();
    let secret_text = pair
        .sk
        .to_box(Some(SECRET_KEY_COMMENT))
        .map_err(|e| key_error(secret, e))?
        .to_bytes();
    write_atomic(secret, &secret_text, 0o600, force)?;
    write_atomic(public, &public_text, 0o644, force)?;
    Ok(key_id)
}

/// Load a secret key; an encrypted one is decrypted with `FERRY_KEY_PASSWORD` or a password asked on the terminal.
pub fn load_secret_key(path: &Path) -> Result<SecretKey, Error> {
    load_secret_key_with(path, std::env::var(PASSWORD_ENV).ok())
}

/// Load a secret key with this password (`None`: ask on the terminal if the key is encrypted).
pub fn load_secret_key_with(path: &Path, password: Option<String>) -> Result<SecretKey, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (create a key pair with `ferry keygen`)"
        } else {
            ""
        };
        bad_key(path, &format!("cannot read the secret key: {e}{hint}"))
    })?;
    let encoded = text
        .lines()
        .nth(1)
        .map(str::trim)
        .ok_or_else(|| bad_key(path, "not a minisign secret key (expected two lines)"))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad_key(path, "not a minisign secret key (bad base64)"))?;
    if raw.len() < SK_END + 32 || &raw[..2] != b"Ed" {
        return Err(bad_key(path, "not a minisign Ed25519 secret key"));
    }
    let encrypted = raw[KDF_ALG_AT..KDF_ALG_AT + 2] != [0, 0];
    let bytes = if encrypted {
        let password = match password {
            Some(password) => Some(password),
            None if std::io::stdin().is_terminal() => None,
            None => {
                return Err(Error::NoPassword {
                    path: path.to_path_buf(),
                })
            }
        };
        let boxed = minisign::SecretKeyBox::from_string(&text).map_err(|e| key_error(path, e))?;
        minisign::SecretKey::from_box(boxed, password)
            .map_err(|e| match e.kind() {
                minisign::ErrorKind::Verify => Error::WrongPassword {
                    path: path.to_path_buf(),
                },
                _ => key_error(path, e),
            })?
            .to_bytes()
    } else {
        // `minisign -G -W` leaves the checksum zeroed, which the minisign crate calls corrupted: check it
        // only when present.
        let chk = &raw[SK_END..SK_END + 32];
        if chk.iter().any(|b| *b != 0) {
            let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
            h.update(&raw[..2]);
            h.update(&raw[KEYNUM_AT..SK_END]);
            if h.finalize().as_slice() != chk {
                return Err(bad_key(path, "corrupted secret key (checksum mismatch)"));
            }
        }
        raw
    };
    let key_id = KeyId::from_slice(&bytes[KEYNUM_AT..KEYNUM_AT + 8]);
    let sk = &bytes[SK_AT..SK_END];
    let pair = ring::signature::Ed25519KeyPair::from_seed_and_public_key(&sk[..32], &sk[32..])
        .map_err(|_| bad_key(path, "corrupted secret key (seed and public half disagree)"))?;
    let mut public = b"Ed".to_vec();
    public.extend_from_slice(&bytes[KEYNUM_AT..KEYNUM_AT + 8]);
    public.extend_from_slice(&sk[32..]);
    let public = minisign::PublicKey::from_bytes(&public).map_err(|e| key_error(path, e))?;
    Ok(SecretKey {
        key_id,
        pair,
        public,
    })
}

/// Load a public key: a minisign `.pub` file (two lines) or the bare base64 line `minisign -P` takes.
pub fn load_public_key(path: &Path) -> Result<PublicKey, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::NoPublicKey {
            path: path.to_path_buf(),
        },
        _ => Error::io(path, e),
    })?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let key = match lines.as_slice() {
        [line] => minisign::PublicKey::from_base64(line.trim()),
        _ => minisign::PublicKey::from_box(
            minisign::PublicKeyBox::from_string(&text).map_err(|e| key_error(path, e))?,
        ),
    }
    .map_err(|_| bad_key(path, "not a minisign public key"))?;
    Ok(PublicKey {
        key,
        path: path.to_path_buf(),
    })
}

impl SecretKey {
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey {
            key: self.public.clone(),
            path: PathBuf::from("(secret key)"),
        }
    }

    /// The public key in minisign's `.pub` file format.
    pub fn public_key_text(&self) -> String {
        self.public
            .to_box()
            .map(|b| b.to_string())
            .unwrap_or_default()
    }

    /// Sign `data` as `minisign -S` does (prehashed `ED`), with a fixed trusted comment. Deterministic.
    pub fn sign(&self, data: &[u8], trusted_comment: &str) -> Result<String, Error> {
        if trusted_comment.contains(['\n', '\r']) || trusted_comment.trim() != trusted_comment {
            return Err(Error::TrustedComment(trusted_comment.to_string()));
        }
        let prehash = blake2::Blake2b512::digest(data);
        let signature = self.pair.sign(&prehash);
        let mut sig_line = Vec::with_capacity(74);
        sig_line.extend_from_slice(b"ED");
        sig_line.extend_from_slice(&self.key_id.0);
        sig_line.extend_from_slice(signature.as_ref());
        let mut global_input = signature.as_ref().to_vec();
        global_input.extend_from_slice(trusted_comment.as_bytes());
        let global = self.pair.sign(&global_input);
        let b64 = base64::engine::general_purpose::STANDARD;
        let text = format!(
            "untrusted comment: {SIG_UNTRUSTED_COMMENT}\n{}\ntrusted comment: {trusted_comment}\n{}\n",
            b64.encode(&sig_line),
            b64.encode(global.as_ref()),
        );
        // Never hand out a signature minisign would refuse.
        self.public_key()
            .verify(data, &text)
            .map_err(|e| Error::SelfCheck {
                key_id: self.key_id.to_string(),
                message: e.to_string(),
            })?;
        Ok(text)
    }
}

impl PublicKey {
    pub fn key_id(&self) -> KeyId {
        KeyId::from_slice(self.key.keynum())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Check a minisign signature of `data`; returns the trusted comment.
    pub fn verify(&self, data: &[u8], signature: &str) -> Result<String, SignatureError> {
        let sig = parse_signature(signature)?;
        let signed_by = KeyId::from_slice(sig.keynum());
        if signed_by != self.key_id() {
            return Err(SignatureError::WrongKey { signed_by });
        }
        if !sig.is_prehashed() {
            return Err(SignatureError::Invalid(
                "legacy (non-prehashed) signatures are not accepted".into(),
            ));
        }
        minisign::verify(
            &self.key,
            &sig,
            std::io::Cursor::new(data),
            true,
            false,
            false,
        )
        .map_err(|e| SignatureError::Invalid(e.to_string()))?;
        sig.trusted_comment()
            .map_err(|e| SignatureError::Malformed(e.to_string()))
    }
}

/// The key id a signature names (unverified), for `inspect`.
pub fn signature_key_id(signature: &str) -> Result<KeyId, SignatureError> {
    Ok(KeyId::from_slice(parse_signature(signature)?.keynum()))
}

fn parse_signature(text: &str) -> Result<minisign::SignatureBox, SignatureError> {
    use base64::Engine;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < 4 {
        return Err(SignatureError::Malformed(
            "expected four lines (comment, signature, trusted comment, global signature)".into(),
        ));
    }
    // Check the binary lengths first: the minisign crate indexes into them without checking.
    let decoded = |line: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(line.trim())
            .ok()
    };
    if decoded(lines[1]).map(|b| b.len()) != Some(2 + 8 + 64) {
        return Err(SignatureError::Malformed(
            "the signature line is not 74 bytes of base64".into(),
        ));
    }
    if decoded(lines[3]).map(|b| b.len()) != Some(64) {
        return Err(SignatureError::Malformed(
            "the global signature is not 64 bytes of base64".into(),
        ));
    }
    minisign::SignatureBox::from_string(text).map_err(|e| SignatureError::Malformed(e.to_string()))
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::Malformed(m) => write!(f, "malformed signature: {m}"),
            SignatureError::WrongKey { signed_by } => write!(f, "signed by key {signed_by}"),
            SignatureError::Invalid(m) => write!(f, "{m}"),
        }
    }
}

fn key_error(path: &Path, e: minisign::PError) -> Error {
    bad_key(path, &e.to_string())
}

fn bad_key(path: &Path, message: &str) -> Error {
    Error::Key {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Temp file next to `path`, fsync, rename; `mode` set before the name appears.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32, overwrite: bool) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    set_mode(tmp.as_file(), mode).map_err(|e| Error::io(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::io(path, e))?;
    let result = if overwrite {
        tmp.persist(path).map(|_| ())
    } else {
        tmp.persist_noclobber(path).map(|_| ())
    };
    result.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            Error::KeyExists {
                path: path.to_path_buf(),
            }
        } else {
            Error::io(path, e.error)
        }
    })
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_file: &std::fs::File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unencrypted_round_trip_is_deterministic() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        let id = generate(&sk, &pk, false, false).unwrap();
        assert!(matches!(
            generate(&sk, &pk, false, false),
            Err(Error::KeyExists { .. })
        ));
        let secret = load_secret_key_with(&sk, None).unwrap();
        let public = load_public_key(&pk).unwrap();
        assert_eq!(secret.key_id(), id);
        assert_eq!(public.key_id(), id);
        assert_eq!(id.to_string().len(), 16);
        let a = secret.sign(b"hello", "fixed comment").unwrap();
        let b = secret.sign(b"hello", "fixed comment").unwrap();
        assert_eq!(a, b);
        assert_eq!(public.verify(b"hello", &a).unwrap(), "fixed comment");
        assert!(matches!(
            public.verify(b"hellO", &a),
            Err(SignatureError::Invalid(_))
        ));
        assert_eq!(signature_key_id(&a).unwrap(), id);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&sk).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn encrypted_key_needs_the_right_password() {
        let dir = tempfile::tempdir().unwrap();
        let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
        let pair = minisign::KeyPair::generate_encrypted_keypair(Some("pw".into())).unwrap();
        std::fs::write(&sk, pair.sk.to_box(None).unwrap().to_bytes()).unwrap();
        std::fs::write(&pk, pair.pk.to_box().unwrap().to_bytes()).unwrap();
        let err = load_secret_key_with(&sk, Some("nope".into())).unwrap_err();
        assert!(matches!(err, Error::WrongPassword { .. }), "{err}");
        assert!(err.to_string().contains("k.key"));
        let secret = load_secret_key_with(&sk, Some("pw".into())).unwrap();
        let sig = secret.sign(b"data", "c").unwrap();
        load_public_key(&pk).unwrap().verify(b"data", &sig).unwrap();
    }
}
