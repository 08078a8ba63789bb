//! Story: "the air-gapped host refuses a bundle that was tampered with, signed by someone else, or built to
//! escape its folder — and leaves nothing behind."
#[path = "support/bundle_fixture.rs"]
mod fixture;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferry::bundle::{self, sign, Entry};
use ferry::types::Sha256;
use fixture::*;
use tar::{EntryType, Header};

/// Offset and length of a member's data inside a tar file.
fn member_data(tar_bytes: &[u8], name: &str) -> (usize, usize) {
    let mut archive = tar::Archive::new(tar_bytes);
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        if e.path_bytes().as_ref() == name.as_bytes() {
            return (e.raw_file_position() as usize, e.size() as usize);
        }
    }
    panic!("no member {name}");
}

fn assert_refused(bundle: &Path, public: &Path, what: &str, needle: &str) {
    let (code, stdout, stderr) = ferry_verify(bundle, public);
    eprintln!("{what}: {}", stderr.trim_end());
    assert_eq!(
        code, 3,
        "{what}: expected exit 3\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{what}: stderr should name {needle:?}:\n{stderr}"
    );
}

#[test]
fn a_changed_byte_in_any_member_is_refused() {
    let fx = fixture();
    let good = fx.path("good.ferry.tar");
    fx.write(&good);
    let bytes = std::fs::read(&good).unwrap();
    let repo = "models/hub/models--org--tiny";
    let weights = format!("{repo}/blobs/{}", fx.lock.models[0].files[1].blob);
    let members = [
        ("ferry.json".to_string(), "ferry.json"),
        ("SHA256SUMS".to_string(), "SHA256SUMS"),
        ("SHA256SUMS.minisig".to_string(), "signature"),
        (format!("wheels/{WHEEL}"), WHEEL),
        (weights.clone(), weights.as_str()),
        (format!("{repo}/refs/main"), "refs/main"),
    ];
    for (member, needle) in &members {
        let (offset, len) = member_data(&bytes, member);
        let mut tampered = bytes.clone();
        let at = offset + len / 2;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let path = fx.path("tampered.ferry.tar");
        std::fs::write(&path, &tampered).unwrap();
        assert_refused(&path, &fx.public, member, needle);
        let dest = tempfile::tempdir().unwrap();
        assert!(bundle::extract(&path, &fx.public, dest.path()).is_err());
        assert!(
            tree(dest.path()).is_empty(),
            "{member}: {:?}",
            tree(dest.path())
        );
    }
}

#[test]
fn a_bundle_signed_by_another_key_is_refused_naming_both_keys() {
    let fx = fixture();
    let good = fx.path("good.ferry.tar");
    fx.write(&good);
    let other_pub = fx.path("other.pub");
    sign::generate(&fx.path("other.key"), &other_pub, false, false).unwrap();
    let other_id = sign::load_public_key(&other_pub)
        .unwrap()
        .key_id()
        .to_string();
    let ours = fx.key().key_id().to_string();
    let (code, _, stderr) = ferry_verify(&good, &other_pub);
    assert_eq!(code, 3, "{stderr}");
    assert!(
        stderr.contains(&ours) && stderr.contains(&other_id),
        "{stderr}"
    );
}

#[test]
fn keys_made_by_the_minisign_cli_sign_bundles_ferry_verifies() {
    require_minisign();
    let fx = fixture();
    let dir = fx.dir.path();
    // `minisign -G -W`: no password.
    let out = run(Command::new("minisign")
        .args(["-G", "-W", "-p", "w.pub", "-s", "w.key"])
        .current_dir(dir));
    assert!(out.status.success(), "{}", describe("minisign -G -W", &out));
    let key = sign::load_secret_key_with(&dir.join("w.key"), None).unwrap();
    let bundle_w = dir.join("w.ferry.tar");
    bundle::write(&fx.lock, fx.entries.clone(), &key, &bundle_w, &fx.options()).unwrap();
    let (code, stdout, stderr) = ferry_verify(&bundle_w, &dir.join("w.pub"));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // `minisign -G`: scrypt-encrypted, password on stdin.
    let mut child = Command::new("minisign")
        .args(["-G", "-p", "e.pub", "-s", "e.key"])
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"pa55word\npa55word\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe("minisign -G", &out));
    let wrong = sign::load_secret_key_with(&dir.join("e.key"), Some("nope".into())).unwrap_err();
    assert!(
        matches!(wrong, bundle::Error::WrongPassword { .. }),
        "{wrong}"
    );
    assert!(wrong.to_string().contains("e.key"), "{wrong}");
    let key = sign::load_secret_key_with(&dir.join("e.key"), Some("pa55word".into())).unwrap();
    let bundle_e = dir.join("e.ferry.tar");
    bundle::write(&fx.lock, fx.entries.clone(), &key, &bundle_e, &fx.options()).unwrap();
    let (code, stdout, stderr) = ferry_verify(&bundle_e, &dir.join("e.pub"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains(&key.key_id().to_string()));
    // The -W key's public key does not accept it.
    assert_refused(
        &bundle_e,
        &dir.join("w.pub"),
        "wrong key",
        &key.key_id().to_string(),
    );
}

/// A member of a hand-built (possibly hostile) tar.
#[derive(Clone)]
enum Raw {
    File(String, Vec<u8>),
    Symlink(String, String),
    Hardlink(String, String),
    CharDevice(String),
    /// A regular file whose ustar name says one thing and whose PAX `path` says another.
    PaxFile {
        header_name: String,
        pax_path: String,
        data: Vec<u8>,
    },
    /// A symlink with a harmless link name and a PAX `linkpath` pointing elsewhere.
    PaxSymlink {
        name: String,
        target: String,
        pax_linkpath: String,
    },
    /// A regular file whose header declares far more bytes than follow.
    Huge(String),
}

/// The fixture's own members as raw members.
fn good_members(fx: &Fixture) -> Vec<Raw> {
    let mut raws: Vec<Raw> = fx
        .entries
        .iter()
        .map(|e| match e {
            Entry::File { member, path, .. } => {
                Raw::File(member.clone(), std::fs::read(path).unwrap())
            }
            Entry::Symlink { member, target } => Raw::Symlink(member.clone(), target.clone()),
        })
        .collect();
    raws.sort_by(|a, b| name_of(a).cmp(name_of(b)));
    raws
}

fn name_of(raw: &Raw) -> &str {
    match raw {
        Raw::File(n, _)
        | Raw::Symlink(n, _)
        | Raw::Hardlink(n, _)
        | Raw::CharDevice(n)
        | Raw::Huge(n) => n,
        Raw::PaxFile { header_name, .. } => header_name,
        Raw::PaxSymlink { name, .. } => name,
    }
}

/// A header with a name written byte for byte (no checks), as an attacker would.
fn raw_header(kind: EntryType, name: &str, size: u64) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_mtime(MTIME);
    let field = &mut h.as_old_mut().name;
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
    h
}

/// Write a tar signed with the fixture's key: ferry.json, SHA256SUMS over `listed` (plus ferry.json),
/// the signature, then `members` in the given order.
fn build(fx: &Fixture, listed: &[(String, Vec<u8>)], members: &[Raw]) -> PathBuf {
    let manifest = fx.lock.to_json();
    let mut sums: Vec<(String, Sha256)> = listed
        .iter()
        .map(|(n, d)| (n.clone(), Sha256::digest(d)))
        .collect();
    sums.push(("ferry.json".into(), Sha256::digest(manifest.as_bytes())));
    sums.sort();
    let sums: String = sums.iter().map(|(n, s)| format!("{s}  {n}\n")).collect();
    let signature = fx.key().sign(sums.as_bytes(), "hostile").unwrap();
    let path = fx.path("hostile.ferry.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
    for (name, data) in [
        ("ferry.json", manifest.as_bytes()),
        ("SHA256SUMS", sums.as_bytes()),
        ("SHA256SUMS.minisig", signature.as_bytes()),
    ] {
        let mut h = raw_header(EntryType::Regular, "", data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    }
    for raw in members {
        match raw {
            Raw::File(name, data) if name.len() >= 100 => {
                let mut h = raw_header(EntryType::Regular, "", data.len() as u64);
                b.append_data(&mut h, name, &data[..]).unwrap();
            }
            Raw::File(name, data) => {
                let mut h = raw_header(EntryType::Regular, name, data.len() as u64);
                h.set_cksum();
                b.append(&h, &data[..]).unwrap();
            }
            Raw::Symlink(name, target) if name.len() >= 100 => {
                let mut h = raw_header(EntryType::Symlink, "", 0);
                b.append_link(&mut h, name, target).unwrap();
            }
            Raw::Symlink(name, target) | Raw::Hardlink(name, target) => {
                let kind = if matches!(raw, Raw::Symlink(..)) {
                    EntryType::Symlink
                } else {
                    EntryType::Link
                };
                let mut h = raw_header(kind, name, 0);
                h.set_link_name_literal(target).unwrap();
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            Raw::CharDevice(name) => {
                let mut h = raw_header(EntryType::Char, name, 0);
                h.set_device_major(1).unwrap();
                h.set_device_minor(3).unwrap();
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            Raw::PaxFile {
                header_name,
                pax_path,
                data,
            } => {
                b.append_pax_extensions([("path", pax_path.as_bytes())])
                    .unwrap();
                let mut h = raw_header(EntryType::Regular, header_name, data.len() as u64);
                h.set_cksum();
                b.append(&h, &data[..]).unwrap();
            }
            Raw::PaxSymlink {
                name,
                target,
                pax_linkpath,
            } => {
                b.append_pax_extensions([("linkpath", pax_linkpath.as_bytes())])
                    .unwrap();
                let mut h = raw_header(EntryType::Symlink, name, 0);
                h.set_link_name_literal(target).unwrap();
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
            Raw::Huge(name) => {
                let mut h = raw_header(EntryType::Regular, name, 1 << 40);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
        }
    }
    b.finish().unwrap();
    path
}

fn listed_files(members: &[Raw]) -> Vec<(String, Vec<u8>)> {
    members
        .iter()
        .filter_map(|r| match r {
            Raw::File(n, d) => Some((n.clone(), d.clone())),
            _ => None,
        })
        .collect()
}

/// `ferry verify` exits 3 naming `needle`, and `extract` leaves `dest` empty.
fn assert_hostile_refused(fx: &Fixture, path: &Path, what: &str, needle: &str) {
    assert_refused(path, &fx.public, what, needle);
    let dest = fx.path(&format!("dest-{}", what.replace(' ', "-")));
    std::fs::create_dir(&dest).unwrap();
    let err = bundle::extract(path, &fx.public, &dest).unwrap_err();
    assert!(err.is_verification(), "{what}: {err}");
    assert!(
        tree(&dest).is_empty(),
        "{what}: left behind {:?}",
        tree(&dest)
    );
}

#[test]
fn hand_built_good_tar_is_accepted() {
    // The hostile builder itself makes valid bundles when asked to.
    let fx = fixture();
    let good = good_members(&fx);
    let path = build(&fx, &listed_files(&good), &good);
    let (code, stdout, stderr) = ferry_verify(&path, &fx.public);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn hostile_members_are_refused_and_extract_leaves_nothing() {
    let fx = fixture();
    let good = good_members(&fx);
    let wheel_member = format!("wheels/{WHEEL}");
    let wheel = std::fs::read(fx.path(&format!("src/{WHEEL}"))).unwrap();
    let snap = format!("models/hub/models--org--tiny/snapshots/{COMMIT}");
    let cases: Vec<(&str, Vec<Raw>, &str)> = vec![
        (
            "dotdot",
            vec![Raw::File("wheels/../../x".into(), b"x".to_vec())],
            "wheels/../../x",
        ),
        (
            "dotdot listed",
            vec![Raw::File("wheels/../../x".into(), b"x".to_vec())],
            "wheels/../../x",
        ),
        (
            "absolute",
            vec![Raw::File("/tmp/ferry-abs-x".into(), b"x".to_vec())],
            "/tmp/ferry-abs-x",
        ),
        (
            "symlink escaping",
            vec![Raw::Symlink(
                format!("{snap}/evil"),
                "../../../../../../etc/passwd".into(),
            )],
            "evil",
        ),
        (
            "symlink into another repo",
            vec![Raw::Symlink(
                format!("{snap}/other"),
                "../../../models--org--other/blobs/x".into(),
            )],
            "other",
        ),
        (
            "symlink outside models",
            vec![Raw::Symlink("wheels/link.whl".into(), WHEEL.into())],
            "wheels/link.whl",
        ),
        (
            "hardlink",
            vec![Raw::Hardlink(
                "wheels/hard.whl".into(),
                wheel_member.clone(),
            )],
            "hard link",
        ),
        (
            "char device",
            vec![Raw::CharDevice("wheels/null".into())],
            "device",
        ),
        (
            "duplicate",
            vec![Raw::File(wheel_member.clone(), wheel.clone())],
            "duplicate",
        ),
        (
            "unlisted",
            vec![Raw::File(
                "wheels/extra-1.0-py3-none-any.whl".into(),
                b"extra".to_vec(),
            )],
            "extra-1.0",
        ),
        (
            "outside the layout",
            vec![Raw::File("evil.sh".into(), b"#!/bin/sh".to_vec())],
            "evil.sh",
        ),
        (
            "pax path override",
            vec![Raw::PaxFile {
                header_name: "wheels/innocent.whl".into(),
                pax_path: "../../escaped".into(),
                data: b"x".to_vec(),
            }],
            "escaped",
        ),
        (
            "pax linkpath override",
            vec![Raw::PaxSymlink {
                name: format!("{snap}/paxlink"),
                target: "../../blobs/x".into(),
                pax_linkpath: "/etc/shadow".into(),
            }],
            "paxlink",
        ),
        (
            "pax hides a bad header name",
            vec![Raw::PaxFile {
                header_name: "../../hidden".into(),
                pax_path: "wheels/innocent.whl".into(),
                data: b"x".to_vec(),
            }],
            "hidden",
        ),
        (
            "file through a symlink",
            vec![
                Raw::Symlink(format!("{snap}/dir"), "../../blobs".into()),
                Raw::File(format!("{snap}/dir/planted"), b"x".to_vec()),
            ],
            "planted",
        ),
        (
            "file in place of a folder",
            vec![Raw::File(
                "models/hub/models--org--other".into(),
                b"x".to_vec(),
            )],
            "models--org--other",
        ),
        (
            "file inside a file",
            vec![
                Raw::File(format!("{snap}/plain"), b"x".to_vec()),
                Raw::File(format!("{snap}/plain/nested"), b"y".to_vec()),
            ],
            "nested",
        ),
        (
            "huge declared size",
            vec![Raw::Huge("wheels/huge.whl".into())],
            "huge.whl",
        ),
    ];
    for (what, bad, needle) in cases {
        let mut members = good.clone();
        members.extend(bad.clone());
        // The member checks run before the SHA256SUMS lookup, so the bad members need not be listed; one case
        // lists its bad name to show SHA256SUMS itself is checked too.
        let mut listed = listed_files(&good);
        if what == "dotdot listed" || what == "file inside a file" {
            listed.extend(listed_files(&bad));
        }
        let path = build(&fx, &listed, &members);
        assert_hostile_refused(&fx, &path, what, needle);
    }

    // A listed member that is not in the tar.
    let members: Vec<Raw> = good
        .iter()
        .filter(|r| name_of(r) != wheel_member)
        .cloned()
        .collect();
    let path = build(&fx, &listed_files(&good), &members);
    assert_hostile_refused(&fx, &path, "missing", &wheel_member);
}
