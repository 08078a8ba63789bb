//! Story: a bundle for another host takes exactly the wheels that host's pip would take. ferry's tag lists
//! for a table of targets are compared with the ones `packaging.tags` (the code pip runs) computes for the
//! same host, run by the test venv's Python.
mod support;

use ferry::target::Target;

/// The judge: packaging's own generators. Linux tags come from `_manylinux`/`_musllinux.platform_tags`
/// with the glibc/musl version of the *target* (packaging reads the running host's; we tell it the target's).
const JUDGE: &str = r#"
import json, sys
try:
    from packaging import tags, _manylinux, _musllinux
except ImportError:
    from pip._vendor.packaging import tags, _manylinux, _musllinux
py, abi, plat = sys.argv[1], sys.argv[2], sys.argv[3]
major, minor = (int(x) for x in py.split("."))
for legacy, glibc in (("manylinux2014_", "2_17"), ("manylinux2010_", "2_12"), ("manylinux1_", "2_5")):
    if plat.startswith(legacy):
        plat = f"manylinux_{glibc}_" + plat[len(legacy):]
kind, _, rest = plat.partition("_")
if kind == "manylinux":
    g_major, g_minor, arch = rest.split("_", 2)
    _manylinux._get_glibc_version = lambda: (int(g_major), int(g_minor))
    _manylinux._have_compatible_abi = lambda executable, archs: True
    plats = list(_manylinux.platform_tags([arch]))
elif kind == "musllinux":
    m_major, m_minor, arch = rest.split("_", 2)
    _musllinux._get_musl_version = lambda executable: _musllinux._MuslVersion(int(m_major), int(m_minor))
    plats = list(_musllinux.platform_tags([arch]))
elif kind == "macosx":
    v_major, v_minor, arch = rest.split("_", 2)
    plats = list(tags.mac_platforms((int(v_major), int(v_minor)), arch))
else:
    plats = [plat]
out = [str(t) for t in tags.cpython_tags((major, minor), [abi], plats)]
out += [str(t) for t in tags.compatible_tags((major, minor), f"cp{major}{minor}", plats)]
print(json.dumps(out))
"#;

fn packaging_tags(python: &str, platform: &str) -> Vec<String> {
    let short = python.trim_end_matches('t');
    let abi = format!(
        "cp{}{}",
        short.replace('.', ""),
        if python.ends_with('t') { "t" } else { "" }
    );
    let out = std::process::Command::new(support::test_python())
        .args(["-c", JUDGE, short, &abi, platform])
        .output()
        .expect("run the test venv's python (scripts/setup-test-env.sh)");
    assert!(
        out.status.success(),
        "packaging judge failed for {python} {platform}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn ferry_tags(python: &str, platform: &str) -> Vec<String> {
    Target::new(python, vec![platform.to_string()])
        .unwrap_or_else(|e| panic!("{python} {platform}: {e}"))
        .tags()
        .iter()
        .map(|t| t.to_string())
        .collect()
}

/// Targets whose list must equal packaging's, tag for tag and in order.
const EXACT: &[(&str, &str)] = &[
    ("3.10", "manylinux_2_28_x86_64"),
    ("3.11", "manylinux_2_17_x86_64"),
    ("3.12", "manylinux_2_31_aarch64"),
    ("3.10", "manylinux2014_aarch64"),
    ("3.9", "manylinux_2_5_x86_64"),
    ("3.12", "musllinux_1_2_x86_64"),
    ("3.11", "musllinux_1_1_aarch64"),
    ("3.10", "win_amd64"),
    ("3.12", "win32"),
    ("3.12", "win_arm64"),
    ("3.13t", "win_amd64"),
    ("3.13t", "manylinux_2_28_x86_64"),
    ("3.14t", "macosx_15_0_arm64"),
];

#[test]
fn linux_and_windows_lists_equal_packaging() {
    for (py, plat) in EXACT.iter().filter(|(_, p)| !p.starts_with("macosx")) {
        let want = packaging_tags(py, plat);
        let got = ferry_tags(py, plat);
        assert!(want.len() > 20, "judge gave too few tags: {want:?}");
        if got != want {
            let first = got.iter().zip(&want).position(|(a, b)| a != b);
            panic!(
                "{py} {plat}: ferry has {} tags, packaging {}; first difference at {first:?}:\nferry:     {:?}\npackaging: {:?}",
                got.len(),
                want.len(),
                first.map(|i| &got[i]),
                first.map(|i| &want[i]),
            );
        }
    }
}

/// macOS: packaging's list in packaging's order, plus only `fat32` on x86_64 (which uv also accepts), right
/// after `fat3`.
#[test]
fn macos_lists_follow_packaging_plus_uv_formats() {
    let table: &[(&str, &str)] = &[
        ("3.12", "macosx_14_0_arm64"),
        ("3.10", "macosx_11_0_arm64"),
        ("3.11", "macosx_13_0_x86_64"),
        ("3.9", "macosx_10_15_x86_64"),
        ("3.8", "macosx_10_9_x86_64"),
        ("3.14t", "macosx_15_0_arm64"),
    ];
    for (py, plat) in table {
        let want = packaging_tags(py, plat);
        let got = ferry_tags(py, plat);
        let extra_ok = |t: &str| {
            let p = t.rsplit('-').next().unwrap();
            plat.ends_with("x86_64") && p.ends_with("_fat32")
        };
        let ours: Vec<&String> = got.iter().filter(|t| !extra_ok(t)).collect();
        let theirs: Vec<&String> = want.iter().collect();
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{py} {plat}: ferry lists {} packaging tags, packaging {}",
            ours.len(),
            theirs.len()
        );
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a, b, "{py} {plat}: tag {i} differs");
        }
        // The extra sits next to its family: fat32 right after fat3.
        for (i, t) in got.iter().enumerate().filter(|(_, t)| extra_ok(t)) {
            let prev = &got[i - 1];
            assert!(prev.ends_with("_fat3"), "{py} {plat}: {t} follows {prev}");
        }
    }
}

#[test]
fn arm64_mac_takes_universal2_from_every_older_release() {
    let got = ferry_tags("3.12", "macosx_14_0_arm64");
    for t in [
        "cp312-cp312-macosx_14_0_arm64",
        "cp312-cp312-macosx_10_9_universal2",
        "cp312-abi3-macosx_10_9_universal2",
        "py3-none-macosx_10_9_universal2",
    ] {
        assert!(got.iter().any(|g| g == t), "{t} missing");
    }
    assert!(!got.iter().any(|g| g.ends_with("macosx_10_9_arm64")));
    assert!(!got.iter().any(|g| g.ends_with("_universal")));
    assert!(!got.iter().any(|g| g.ends_with("x86_64")));
}

#[test]
fn free_threaded_takes_its_own_abi_only() {
    let got = ferry_tags("3.13t", "manylinux_2_28_x86_64");
    assert_eq!(got[0], "cp313-cp313t-manylinux_2_28_x86_64");
    assert!(!got
        .iter()
        .any(|t| t.contains("-cp313-") || t.contains("-abi3-")));
    let t = Target::new("3.13t", vec!["win_amd64".into()]).unwrap();
    assert_eq!(t.id(), "cp313t-win_amd64");
    assert!(Target::new("3.12t", vec!["win_amd64".into()]).is_err());
    // Markers see plain 3.13.
    let env = t.marker_env();
    let m: pep508_rs::MarkerTree = "python_version == '3.13'".parse().unwrap();
    assert!(m.evaluate(&env, &[]));
}

#[test]
fn mobile_platforms_are_refused_with_a_reason() {
    for (plat, os) in [
        ("ios_13_0_arm64_iphoneos", "iOS"),
        ("android_21_arm64_v8a", "Android"),
    ] {
        let err = Target::new("3.13", vec![plat.into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains(plat) && err.contains(os), "{err}");
        assert!(err.contains("Linux, macOS and Windows"), "{err}");
    }
}
