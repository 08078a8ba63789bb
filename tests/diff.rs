//! Story: the reviewer compares last month's bundle with this one before admitting it: what was added,
//! removed, upgraded or downgraded, which licences are new, which models moved to another commit, and how
//! the size changed; as text for people and `--json` for the import pipeline. Locks compare the same way.
mod support;

use support::review_world::{bundle, hub, index, keygen, model, target_args, MODEL};
use support::{ferry, ok};

#[test]
fn diff_of_two_bundles_and_of_two_locks() {
    let index = index();
    let hub = hub();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d);
    bundle(
        d,
        &index,
        Some(&hub),
        "app==1.0\nhelper==1.1\ndropme==1.0\n",
        "old.ferry.tar",
        &[],
    );
    let old_commit = hub.commit_of(MODEL);
    hub.add_model(MODEL, model(2));
    let new_commit = hub.commit_of(MODEL);
    bundle(
        d,
        &index,
        Some(&hub),
        "app==1.0\nhelper==1.0\nnewpkg==1.0\n",
        "new.ferry.tar",
        &[],
    );

    let out = ok(ferry(d).args(["diff", "old.ferry.tar", "new.ferry.tar", "--json"]));
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        r["packages"]["added"],
        serde_json::json!([{"name": "newpkg", "version": "1.0"}]),
        "{r:#}"
    );
    assert_eq!(
        r["packages"]["removed"],
        serde_json::json!([{"name": "dropme", "version": "1.0"}])
    );
    assert_eq!(
        r["packages"]["downgraded"],
        serde_json::json!([{"name": "helper", "old": "1.1", "new": "1.0"}])
    );
    assert_eq!(r["packages"]["upgraded"], serde_json::json!([]));
    assert_eq!(r["packages"]["unchanged"], 1);
    assert_eq!(
        r["licenses"]["new"],
        serde_json::json!([{"license": "GPL-3.0-only", "packages": ["newpkg"]}])
    );
    assert_eq!(r["licenses"]["unknown"], serde_json::json!([]));
    let changed = &r["models"]["changed"][0];
    assert_eq!(changed["repo"], MODEL);
    assert_eq!(changed["old_commit"], old_commit.as_str());
    assert_eq!(changed["new_commit"], new_commit.as_str());
    assert_eq!(
        changed["files_changed"],
        serde_json::json!(["model.safetensors"])
    );
    let size = &r["size"];
    assert_eq!(
        size["change"].as_i64().unwrap(),
        size["new"].as_i64().unwrap() - size["old"].as_i64().unwrap()
    );
    assert!(size["old"].as_u64().unwrap() > 0);
    assert!(size["new_bundle"].as_u64().unwrap() > size["new"].as_u64().unwrap());

    // The text form says the same for people.
    let text = ok(ferry(d).args(["diff", "old.ferry.tar", "new.ferry.tar"]));
    for line in [
        "packages: 1 added, 1 removed, 0 upgraded, 1 downgraded",
        "  + newpkg 1.0",
        "  - dropme 1.0",
        "  v helper 1.1 -> 1.0",
        "new licences:\n  GPL-3.0-only (newpkg)",
        &format!(
            "  ~ org/tiny {} -> {}",
            &old_commit[..12],
            &new_commit[..12]
        ),
        "size: ",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }

    // The other way round: helper is an upgrade, and dropme's licence is the new one.
    let back = ok(ferry(d).args(["diff", "new.ferry.tar", "old.ferry.tar", "--json"]));
    let b: serde_json::Value = serde_json::from_str(&back).unwrap();
    assert_eq!(b["packages"]["upgraded"][0]["name"], "helper");
    assert_eq!(
        b["licenses"]["new"],
        serde_json::json!([{"license": "Apache Software License", "packages": ["dropme"]}])
    );

    // Locks: the same package and model changes, licences read from the download cache.
    for (reqs, out) in [
        ("app==1.0\nhelper==1.1\ndropme==1.0\n", "old.lock"),
        ("app==1.0\nhelper==1.0\nnewpkg==1.0\n", "new.lock"),
    ] {
        std::fs::write(d.join("r.txt"), reqs).unwrap();
        ok(ferry(d)
            .args(["lock", "-r", "r.txt", "--index-url", &index.url, "-o", out])
            .args(target_args()));
    }
    let locks = ok(ferry(d).args(["diff", "old.lock", "new.lock", "--json"]));
    let l: serde_json::Value = serde_json::from_str(&locks).unwrap();
    assert_eq!(l["packages"]["added"], r["packages"]["added"]);
    assert_eq!(l["packages"]["removed"], r["packages"]["removed"]);
    assert_eq!(l["packages"]["downgraded"], r["packages"]["downgraded"]);
    assert_eq!(l["licenses"]["new"], r["licenses"]["new"], "{l:#}");
    assert_eq!(l["old"]["kind"], "lock");
}
