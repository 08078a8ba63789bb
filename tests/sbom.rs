//! Story: the security office reads a CycloneDX SBOM before import. Every bundle carries `sbom.cdx.json`
//! (spec 1.6, signed through SHA256SUMS): wheels with purl, sha256 and the licence from their METADATA,
//! the model with its `pkg:huggingface` purl at the locked commit, each file's sha256 and the licence from
//! its model card, and the dependency graph. CycloneDX's own validator is the judge.
mod support;

use std::path::Path;
use std::process::Command;

use support::review_world::{bundle, hub, index, json, keygen, sha256sum, untar, MODEL};
use support::{describe, ok, test_python};

/// cyclonedx-python-lib's strict JSON validator for spec 1.6: None when valid, else its complaint.
fn cyclonedx_errors(path: &Path) -> Option<String> {
    let script = "import sys\n\
from cyclonedx.schema import SchemaVersion\n\
from cyclonedx.validation.json import JsonStrictValidator\n\
err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
print(err if err else 'valid')\n\
sys.exit(1 if err else 0)\n";
    let mut cmd = Command::new(test_python());
    cmd.args(["-c", script]).arg(path);
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    match out.status.code() {
        Some(0) => {
            assert_eq!(stdout.trim(), "valid");
            None
        }
        Some(1) => Some(stdout),
        _ => panic!(
            "the validator did not run (scripts/setup-test-env.sh installs it): {}",
            describe(&cmd, &out)
        ),
    }
}

fn component<'a>(sbom: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no component {name}: {sbom:#}"))
}

#[test]
fn sbom_names_every_wheel_and_model_file_with_licences_and_validates() {
    let index = index();
    let hub = hub();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    keygen(d);
    bundle(
        d,
        &index,
        Some(&hub),
        "app==1.0\ndropme==1.0\n",
        "a.ferry.tar",
        &[],
    );
    let ext = untar(d, "a.ferry.tar", "ext");
    let path = ext.join("sbom.cdx.json");
    assert_eq!(cyclonedx_errors(&path), None);

    // The judge can say no: a copy with a malformed serial number and hash algorithm is refused.
    let mut broken = json(&path);
    broken["serialNumber"] = "not-a-uuid".into();
    broken["components"][0]["hashes"][0]["alg"] = "sha256".into();
    let broken_path = d.join("broken.cdx.json");
    std::fs::write(&broken_path, serde_json::to_vec(&broken).unwrap()).unwrap();
    assert!(cyclonedx_errors(&broken_path).is_some());

    let sbom = json(&path);
    assert_eq!(sbom["specVersion"], "1.6");
    assert_eq!(sbom["metadata"]["timestamp"], "2023-11-14T22:13:20Z");

    // Wheels: purl, the file's sha256, licence by precedence.
    let app = component(&sbom, "app");
    assert_eq!(
        app["purl"],
        "pkg:pypi/app@1.0?file_name=app-1.0-py3-none-any.whl"
    );
    assert_eq!(app["licenses"], serde_json::json!([{"expression": "MIT"}]));
    assert_eq!(
        app["hashes"][0]["content"],
        sha256sum(&ext.join("wheels/app-1.0-py3-none-any.whl"))
    );
    let helper = component(&sbom, "helper");
    assert_eq!(
        helper["licenses"],
        serde_json::json!([{"license": {"name": "BSD-3-Clause"}}])
    );
    let dropme = component(&sbom, "dropme");
    assert_eq!(
        dropme["licenses"],
        serde_json::json!([{"license": {"name": "Apache Software License"}}])
    );

    // The model: purl at the locked commit, licence from the card, every file's sha256.
    let commit = hub.commit_of(MODEL);
    let model = component(&sbom, MODEL);
    assert_eq!(model["type"], "machine-learning-model");
    assert_eq!(model["purl"], format!("pkg:huggingface/org/tiny@{commit}"));
    assert_eq!(
        model["licenses"],
        serde_json::json!([{"license": {"name": "apache-2.0"}}])
    );
    let files = model["components"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["README.md", "config.json", "model.safetensors"]);
    let snapshot = ext.join(format!("models/hub/models--org--tiny/snapshots/{commit}"));
    for f in files {
        let file = snapshot.join(f["name"].as_str().unwrap());
        assert_eq!(f["hashes"][0]["content"], sha256sum(&file), "{f:#}");
    }

    // The graph: the bundle needs what was asked for; app needs helper.
    let deps = sbom["dependencies"].as_array().unwrap();
    let of = |r: &str| {
        deps.iter()
            .find(|d| d["ref"] == r)
            .unwrap_or_else(|| panic!("no dependencies entry for {r}"))["dependsOn"]
            .clone()
    };
    assert_eq!(
        of(app["bom-ref"].as_str().unwrap()),
        serde_json::json!([helper["bom-ref"]])
    );
    let root = of(sbom["metadata"]["component"]["bom-ref"].as_str().unwrap());
    for c in [app, dropme, model] {
        assert!(root.as_array().unwrap().contains(&c["bom-ref"]), "{root:#}");
    }

    // Signed: listed in SHA256SUMS with its hash.
    let sums = std::fs::read_to_string(ext.join("SHA256SUMS")).unwrap();
    assert!(
        sums.contains(&format!("{}  sbom.cdx.json\n", sha256sum(&path))),
        "{sums}"
    );
    ok(Command::new("sha256sum")
        .args(["-c", "--quiet", "SHA256SUMS"])
        .current_dir(&ext));

    // Reproducible: the same inputs give the same bytes (serial number included); other inputs another
    // serial number.
    let again = d.join("again");
    std::fs::create_dir_all(&again).unwrap();
    std::fs::copy(d.join("k"), again.join("k")).unwrap();
    std::fs::copy(d.join("k.pub"), again.join("k.pub")).unwrap();
    bundle(
        &again,
        &index,
        Some(&hub),
        "app==1.0\ndropme==1.0\n",
        "a.ferry.tar",
        &[],
    );
    assert_eq!(
        sha256sum(&d.join("a.ferry.tar")),
        sha256sum(&again.join("a.ferry.tar")),
        "the same lock must give the same bundle bytes"
    );
    bundle(d, &index, Some(&hub), "app==1.0\n", "b.ferry.tar", &[]);
    let other = json(&untar(d, "b.ferry.tar", "ext-b").join("sbom.cdx.json"));
    assert_ne!(other["serialNumber"], sbom["serialNumber"]);
}
