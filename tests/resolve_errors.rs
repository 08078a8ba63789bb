//! Story: when nothing fits, the error names the requirement as written (file:line), the target, the index,
//! the reason for each version in range, and the versions that exist, never the solver's internals.
mod support;

use support::index_server::{IndexServer, Mode};
use support::wheels::WheelSpec;
use support::{fails, ferry};

fn wheel(server: &IndexServer, spec: WheelSpec) {
    server.add(spec.name, &spec.filename(), spec.build());
}

/// Lock `requirements` (written to requirements.txt) for one target; the error text.
fn lock_error(
    s: &IndexServer,
    requirements: &str,
    python: &str,
    platform: &str,
    extra: &[&str],
) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.txt"), requirements).unwrap();
    let err = fails(
        ferry(dir.path())
            .args(["lock", "-r", "requirements.txt", "-o", "ferry.lock"])
            .args(["--index-url", &s.url])
            .args(["--python-version", python, "--platform", platform])
            .args(extra),
        1,
    );
    assert!(
        !dir.path().join("ferry.lock").exists(),
        "no half-written lock"
    );
    for internal in ["your requirements", "post0.dev0", "∅", "Root", "[0]"] {
        assert!(
            !err.contains(internal),
            "solver internals ({internal}) in:\n{err}"
        );
    }
    err
}

#[test]
fn no_wheel_for_the_platform_lists_the_platforms_that_have_one() {
    let s = IndexServer::start(Mode::Json);
    for v in ["0.45.0", "0.46.0", "0.46.1"] {
        wheel(
            &s,
            WheelSpec::new("bnb", v).tag("py3-none-manylinux_2_24_x86_64"),
        );
        wheel(&s, WheelSpec::new("bnb", v).tag("py3-none-win_amd64"));
    }
    let err = lock_error(
        &s,
        "# quantization\n\nbnb==0.46.0\n",
        "3.10",
        "macosx_14_0_arm64",
        &[],
    );
    assert!(err.contains("requirements.txt:3"), "{err}");
    assert!(err.contains("bnb==0.46.0"), "{err}");
    assert!(err.contains("cp310-macosx_14_0_arm64"), "{err}");
    assert!(
        err.contains("no wheel for macosx_14_0_arm64 and no sdist; wheels exist for manylinux_2_24_x86_64, win_amd64"),
        "{err}"
    );
    assert!(err.contains(&s.url), "index searched: {err}");
    assert!(
        err.contains("0.45.0") && err.contains("0.46.1"),
        "versions that exist: {err}"
    );
}

#[test]
fn requires_python_is_named() {
    let s = IndexServer::start(Mode::Json);
    wheel(&s, WheelSpec::new("newpy", "1.0"));
    wheel(&s, WheelSpec::new("newpy", "2.0").requires_python(">=3.11"));
    s.set_requires_python("newpy-2.0-py3-none-any.whl", ">=3.11");
    let err = lock_error(&s, "newpy>=2\n", "3.10", "manylinux_2_28_x86_64", &[]);
    assert!(err.contains("requirements.txt:1: newpy>=2"), "{err}");
    assert!(err.contains("newpy 2.0: requires Python >=3.11"), "{err}");
    assert!(err.contains("1.0"), "{err}");
}

#[test]
fn yanked_and_only_prereleases_are_named() {
    let s = IndexServer::start(Mode::Json);
    wheel(&s, WheelSpec::new("yk", "1.0"));
    wheel(&s, WheelSpec::new("yk", "2.0"));
    s.set_yanked("yk-2.0-py3-none-any.whl");
    let err = lock_error(&s, "yk>=2\n", "3.10", "manylinux_2_28_x86_64", &[]);
    assert!(err.contains("requirements.txt:1: yk>=2"), "{err}");
    assert!(err.contains("yk 2.0: yanked"), "{err}");

    let s = IndexServer::start(Mode::Html);
    wheel(&s, WheelSpec::new("pre", "1.0"));
    wheel(&s, WheelSpec::new("pre", "2.0b1"));
    s.set_yanked("pre-2.0b1-py3-none-any.whl");
    let err = lock_error(&s, "pre>1.0\n", "3.10", "manylinux_2_28_x86_64", &[]);
    assert!(err.contains("only pre-releases match: 2.0b1"), "{err}");
    assert!(err.contains("pre 2.0b1: yanked"), "{err}");
}

#[test]
fn a_build_forced_by_no_binary_says_so() {
    let s = IndexServer::start(Mode::Json);
    wheel(&s, WheelSpec::new("wheelonly", "1.0"));
    let err = lock_error(
        &s,
        "--no-binary wheelonly\nwheelonly\n",
        "3.10",
        "manylinux_2_28_x86_64",
        &[],
    );
    assert!(err.contains("requirements.txt:2: wheelonly"), "{err}");
    assert!(
        err.contains("--no-binary forces a build from source, and there is no sdist"),
        "{err}"
    );
}

#[test]
fn conflicting_dependencies_name_who_asked() {
    let s = IndexServer::start(Mode::Json);
    wheel(&s, WheelSpec::new("a", "1.0").requires(&["c<2"]));
    wheel(&s, WheelSpec::new("b", "1.0").requires(&["c>=2"]));
    wheel(&s, WheelSpec::new("c", "1.0"));
    wheel(&s, WheelSpec::new("c", "2.0"));
    let err = lock_error(&s, "a\nb\n", "3.10", "win_amd64", &[]);
    assert!(
        err.contains("c<2 (required by a 1.0, asked for at requirements.txt:1)"),
        "{err}"
    );
    assert!(
        err.contains("c>=2 (required by b 1.0, asked for at requirements.txt:2)"),
        "{err}"
    );
    assert!(err.contains("cp310-win_amd64"), "{err}");
}

#[test]
fn requires_python_only_in_the_metadata_is_honoured() {
    // An index page without data-requires-python: the wheel's METADATA is the only place that says it.
    let s = IndexServer::start(Mode::Html);
    wheel(&s, WheelSpec::new("metapy", "1.0"));
    wheel(
        &s,
        WheelSpec::new("metapy", "2.0").requires_python(">=3.11"),
    );
    let err = lock_error(&s, "metapy>=2\n", "3.10", "win_amd64", &[]);
    assert!(err.contains("requirements.txt:1: metapy>=2"), "{err}");
    assert!(err.contains("metapy 2.0: requires Python >=3.11"), "{err}");
    // Unpinned, the older release that fits is taken.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "metapy\n").unwrap();
    support::ok(
        ferry(dir.path())
            .args(["lock", "-r", "requirements.txt", "-o", "ferry.lock"])
            .args(["--index-url", &s.url])
            .args(["--python-version", "3.10", "--platform", "win_amd64"]),
    );
    let lock = std::fs::read_to_string(dir.path().join("ferry.lock")).unwrap();
    assert!(lock.contains("metapy-1.0-py3-none-any.whl"), "{lock}");
}
