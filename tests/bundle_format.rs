//! Story: "I bundle on the online host and the stock tools on the other side can read, check and unpack it."
#[path = "support/bundle_fixture.rs"]
mod fixture;

use std::process::Command;

use ferry::bundle::{self, MemberKind};
use fixture::*;

#[test]
fn gnu_tar_lists_members_in_order_with_fixed_owner_and_mtime() {
    let fx = fixture();
    let out = fx.path("demo.ferry.tar");
    fx.write(&out);
    let listing = run(Command::new("tar")
        .args(["--utc", "--numeric-owner", "-tvf"])
        .arg(&out));
    assert!(
        listing.status.success(),
        "{}",
        describe("tar -tvf", &listing)
    );
    let text = String::from_utf8(listing.stdout).unwrap();
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split(" 2023-11-14 22:13 ").nth(1).expect(l))
        .map(|n| n.split(" -> ").next().unwrap())
        .collect();
    let repo = "models/hub/models--org--tiny";
    let mut expected = vec![
        "ferry.json".to_string(),
        "SHA256SUMS".into(),
        "SHA256SUMS.minisig".into(),
        "models/".into(),
        "models/hub/".into(),
        format!("{repo}/"),
        format!("{repo}/blobs/"),
    ];
    let mut blobs: Vec<String> = fx.lock.models[0]
        .files
        .iter()
        .map(|f| format!("{repo}/blobs/{}", f.blob))
        .collect();
    blobs.sort();
    expected.extend(blobs);
    expected.extend([
        format!("{repo}/refs/"),
        format!("{repo}/refs/main"),
        format!("{repo}/snapshots/"),
        format!("{repo}/snapshots/{COMMIT}/"),
        format!("{repo}/snapshots/{COMMIT}/config.json"),
        format!("{repo}/snapshots/{COMMIT}/model.safetensors"),
        format!("{repo}/snapshots/{COMMIT}/sub/"),
        format!("{repo}/snapshots/{COMMIT}/sub/{LONG_FILE}"),
        "wheels/".into(),
        format!("wheels/{WHEEL}"),
        format!("wheels/{SDIST}"),
    ]);
    assert_eq!(names, expected, "listing:\n{text}");
    for line in text.lines() {
        let owner = line.split_whitespace().nth(1).unwrap();
        assert_eq!(owner, "0/0", "{line}");
        let mode = line.split_whitespace().next().unwrap();
        match &mode[..1] {
            "d" => assert_eq!(mode, "drwxr-xr-x", "{line}"),
            "l" => assert_eq!(mode, "lrwxrwxrwx", "{line}"),
            _ => assert_eq!(mode, "-rw-r--r--", "{line}"),
        }
    }
}

#[test]
fn stock_tools_unpack_check_and_verify() {
    require_minisign();
    let fx = fixture();
    let out = fx.path("demo.ferry.tar");
    fx.write(&out);
    let x = fx.path("x");
    std::fs::create_dir(&x).unwrap();
    let untar = run(Command::new("tar").arg("xf").arg(&out).current_dir(&x));
    assert!(untar.status.success(), "{}", describe("tar xf", &untar));
    let sums = run(Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(&x));
    assert!(sums.status.success(), "{}", describe("sha256sum -c", &sums));
    let mini = run(Command::new("minisign")
        .args(["-Vm", "SHA256SUMS", "-p"])
        .arg(&fx.public)
        .current_dir(&x));
    assert!(mini.status.success(), "{}", describe("minisign -Vm", &mini));
    // HF cache layout: refs/main without newline, snapshot links resolve into blobs.
    let repo = x.join("models/hub/models--org--tiny");
    assert_eq!(
        std::fs::read(repo.join("refs/main")).unwrap(),
        COMMIT.as_bytes()
    );
    let weights =
        std::fs::read(repo.join(format!("snapshots/{COMMIT}/model.safetensors"))).unwrap();
    assert_eq!(weights.len() as u64, fx.lock.models[0].files[1].size);
    assert!(std::fs::read(repo.join(format!("snapshots/{COMMIT}/sub/{LONG_FILE}"))).is_ok());
}

#[test]
fn same_inputs_give_identical_bytes() {
    let fx = fixture();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    fx.write(&a.path().join("one.ferry.tar"));
    // Same lock, entries in another order, another folder: same bytes.
    let mut entries = fx.entries.clone();
    entries.reverse();
    let mut lock = fx.lock.clone();
    lock.packages.reverse();
    bundle::write(
        &lock,
        entries,
        &fx.key(),
        &b.path().join("two.ferry.tar"),
        &fx.options(),
    )
    .unwrap();
    let one = std::fs::read(a.path().join("one.ferry.tar")).unwrap();
    let two = std::fs::read(b.path().join("two.ferry.tar")).unwrap();
    assert_eq!(one.len(), two.len());
    assert!(one == two, "bundles differ");
}

#[test]
fn ferry_verify_and_extract_accept_the_bundle() {
    let fx = fixture();
    let out = fx.path("demo.ferry.tar");
    let summary = fx.write(&out);
    let (code, stdout, stderr) = ferry_verify(&out, &fx.public);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let key_id = fx.key().key_id().to_string();
    assert!(
        stdout.starts_with(&format!("OK: {} members, ", summary.members))
            && stdout
                .trim_end()
                .ends_with(&format!("signed by key {key_id}")),
        "{stdout}"
    );

    let dest = fx.path("staging");
    std::fs::create_dir(&dest).unwrap();
    let verified = bundle::extract(&out, &fx.public, &dest).unwrap();
    assert_eq!(verified.key_id, key_id);
    assert_eq!(verified.lock.name, "demo");
    assert_eq!(verified.members.len(), summary.members);
    let links = verified
        .members
        .iter()
        .filter(|m| m.kind == MemberKind::Symlink)
        .count();
    assert_eq!(links, 3);
    let wheel = dest.join(format!("wheels/{WHEEL}"));
    assert_eq!(
        std::fs::read(&wheel).unwrap(),
        std::fs::read(fx.path(&format!("src/{WHEEL}"))).unwrap()
    );
    // A second extract into the same, now full, folder is refused and touches nothing.
    let before = tree(&dest);
    let err = bundle::extract(&out, &fx.public, &dest).unwrap_err();
    assert!(err.to_string().contains("empty staging folder"), "{err}");
    assert_eq!(tree(&dest), before);
}

#[test]
fn split_volumes_concatenate_to_the_tar_and_verify_from_the_first() {
    let fx = fixture();
    let whole = fx.path("whole.ferry.tar");
    fx.write(&whole);
    let out = fx.path("split.ferry.tar");
    let mut opts = fx.options();
    opts.split = Some(bundle::parse_size("100K").unwrap());
    let summary = bundle::write(&fx.lock, fx.entries.clone(), &fx.key(), &out, &opts).unwrap();
    assert!(summary.volumes.len() >= 3, "{:?}", summary.volumes);
    let mut joined = Vec::new();
    for (i, v) in summary.volumes.iter().enumerate() {
        assert!(v.to_string_lossy().ends_with(&format!(".{i:03}")));
        let bytes = std::fs::read(v).unwrap();
        assert!(bytes.len() as u64 <= 100 * 1024);
        joined.extend(bytes);
    }
    assert!(
        joined == std::fs::read(&whole).unwrap(),
        "cat of the parts is not the tar"
    );
    assert!(!out.exists());

    let first = fx.path("split.ferry.tar.000");
    let (code, stdout, stderr) = ferry_verify(&first, &fx.public);
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    let (code, _, stderr) = ferry_verify(&out, &fx.public);
    assert_eq!(code, 0, "verify by base name: {stderr}");
    let inspect = ferry(&[&"inspect", &first, &"--json"]);
    assert!(
        inspect.status.success(),
        "{}",
        describe("inspect .000", &inspect)
    );
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(
        v["volumes"].as_array().unwrap().len(),
        summary.volumes.len()
    );

    // A missing middle volume, then a missing last one: a clear error naming it.
    let middle = fx.path("split.ferry.tar.001");
    std::fs::rename(&middle, fx.path("moved")).unwrap();
    let (code, _, stderr) = ferry_verify(&first, &fx.public);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("missing volume") && stderr.contains("split.ferry.tar.001"),
        "{stderr}"
    );
    std::fs::rename(fx.path("moved"), &middle).unwrap();
    let last = summary.volumes.last().unwrap();
    std::fs::remove_file(last).unwrap();
    let (code, _, stderr) = ferry_verify(&first, &fx.public);
    assert_ne!(code, 0);
    assert!(
        stderr.contains("missing volume")
            && stderr.contains(&*last.file_name().unwrap().to_string_lossy()),
        "{stderr}"
    );
}

#[test]
fn a_file_that_changed_after_hashing_aborts_the_write() {
    let fx = fixture();
    std::fs::write(fx.path(&format!("src/{SDIST}")), b"tampered on disk").unwrap();
    let out = fx.path("demo.ferry.tar");
    let err =
        bundle::write(&fx.lock, fx.entries.clone(), &fx.key(), &out, &fx.options()).unwrap_err();
    assert!(matches!(err, bundle::Error::SourceChanged { .. }), "{err}");
    assert!(err.to_string().contains(SDIST), "{err}");
    assert!(!out.exists());
    let leftovers: Vec<String> = tree(fx.dir.path())
        .into_iter()
        .filter(|p| p.contains("ferry-partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_file_rewritten_with_its_size_and_mtime_kept_is_caught_by_the_pack() {
    // This process never hashed the file (a warm cache packed by a new process): the pack hashes the bytes
    // that landed in the bundle and refuses, naming the file and the member; no volume is left behind.
    let fx = fixture();
    let weights = fx.path("src/model.safetensors");
    let mtime = std::fs::metadata(&weights).unwrap().modified().unwrap();
    let mut bytes = std::fs::read(&weights).unwrap();
    bytes[150_000] ^= 1;
    std::fs::write(&weights, &bytes).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&weights)
        .unwrap();
    f.set_modified(mtime).unwrap();
    drop(f);
    let meta = std::fs::metadata(&weights).unwrap();
    assert_eq!(meta.modified().unwrap(), mtime);
    let member = fx
        .entries
        .iter()
        .find_map(|e| match e {
            bundle::Entry::File { member, path, .. } if *path == weights => Some(member.clone()),
            _ => None,
        })
        .unwrap();
    for split in [None, Some(64 * 1024)] {
        let out = fx.path("demo.ferry.tar");
        let opts = bundle::WriteOptions {
            split,
            ..fx.options()
        };
        let err = bundle::write(&fx.lock, fx.entries.clone(), &fx.key(), &out, &opts).unwrap_err();
        assert!(matches!(err, bundle::Error::SourceChanged { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&*weights.to_string_lossy()) && text.contains(&member),
            "{text}"
        );
        let leftovers: Vec<String> = tree(fx.dir.path())
            .into_iter()
            .filter(|p| p.contains("ferry-partial") || p.contains("demo.ferry.tar"))
            .collect();
        assert!(leftovers.is_empty(), "{split:?}: {leftovers:?}");
    }
}

#[test]
fn inspect_shows_the_manifest_without_extracting() {
    let fx = fixture();
    let out = fx.path("demo.ferry.tar");
    fx.write(&out);
    let human = ferry(&[&"inspect", &out]);
    assert!(human.status.success(), "{}", describe("inspect", &human));
    let text = String::from_utf8(human.stdout).unwrap();
    for needle in [
        "demo",
        WHEEL,
        "needs a compiler on the target",
        "no wheel for manylinux_2_28_x86_64",
        "org/tiny@main",
        "old-org/tiny",
        "added because the training config",
        &fx.key().key_id().to_string(),
        "2023-11-14 22:13:20 UTC",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let json = ferry(&[&"inspect", &out, &"--json"]);
    assert!(
        json.status.success(),
        "{}",
        describe("inspect --json", &json)
    );
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["name"], "demo");
    assert_eq!(v["signer_key_id"], fx.key().key_id().to_string());
    assert_eq!(v["packages"].as_array().unwrap().len(), 2);
    assert_eq!(v["models"][0]["files"], 3);
    assert_eq!(v["totals"]["packages"], 2);
}

#[test]
fn keygen_writes_a_key_pair_minisign_can_use() {
    require_minisign();
    let dir = tempfile::tempdir().unwrap();
    let (sk, pk) = (dir.path().join("k.key"), dir.path().join("k.pub"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.args(["keygen", "-s"]).arg(&sk).arg("-p").arg(&pk);
    cmd.env("FERRY_KEY_PASSWORD", "hunter2");
    let out = run(&mut cmd);
    assert!(out.status.success(), "{}", describe("ferry keygen", &out));
    let again = run(&mut cmd);
    assert_eq!(
        again.status.code(),
        Some(1),
        "{}",
        describe("keygen again", &again)
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&sk).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // minisign signs with ferry's encrypted key, ferry's public key checks it.
    std::fs::write(dir.path().join("f"), b"payload").unwrap();
    let mut sign = Command::new("minisign");
    sign.args(["-S", "-s"])
        .arg(&sk)
        .args(["-m", "f"])
        .current_dir(dir.path());
    sign.stdin(std::process::Stdio::piped());
    let mut child = sign.stdout(std::process::Stdio::piped()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hunter2\n").unwrap();
    let signed = child.wait_with_output().unwrap();
    assert!(
        signed.status.success(),
        "{}",
        describe("minisign -S", &signed)
    );
    let sig = std::fs::read_to_string(dir.path().join("f.minisig")).unwrap();
    let public = bundle::sign::load_public_key(&pk).unwrap();
    public.verify(b"payload", &sig).unwrap();
    // And the unencrypted variant loads without a password.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.args(["keygen", "--unencrypted", "--force", "-s"])
        .arg(&sk)
        .arg("-p")
        .arg(&pk)
        .env_remove("FERRY_KEY_PASSWORD");
    let out = run(&mut cmd);
    assert!(
        out.status.success(),
        "{}",
        describe("keygen --unencrypted", &out)
    );
    bundle::sign::load_secret_key_with(&sk, None).unwrap();
}

#[test]
fn the_writer_refuses_entries_that_disagree_with_the_lock() {
    let fx = fixture();
    let out = fx.path("demo.ferry.tar");
    let write = |entries: Vec<bundle::Entry>| {
        bundle::write(&fx.lock, entries, &fx.key(), &out, &fx.options()).unwrap_err()
    };
    // A package of the lock without its file.
    let entries: Vec<_> = fx
        .entries
        .iter()
        .filter(|e| !e.member().ends_with(WHEEL))
        .cloned()
        .collect();
    let err = write(entries);
    assert!(err.to_string().contains(WHEEL), "{err}");
    // A model file without its snapshot symlink.
    let entries: Vec<_> = fx
        .entries
        .iter()
        .filter(|e| {
            !e.member()
                .ends_with("snapshots/0123456789abcdef0123456789abcdef01234567/config.json")
        })
        .cloned()
        .collect();
    let err = write(entries);
    assert!(err.to_string().contains("snapshot symlink"), "{err}");
    // An unsafe member name.
    let mut entries = fx.entries.clone();
    entries.push(bundle::Entry::Symlink {
        member: "models/hub/models--org--tiny/snapshots/x/evil".into(),
        target: "../../../../../etc/passwd".into(),
    });
    let err = write(entries);
    assert!(err.to_string().contains("evil"), "{err}");
    assert!(!out.exists());
}
