//! Tests of the requirements.txt reader.
use super::*;
use std::collections::HashMap;

struct Dir(tempfile::TempDir);

impl Dir {
    fn new() -> Self {
        Dir(tempfile::tempdir().unwrap())
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.path().join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        p
    }
}

fn read_text(text: &str) -> Result<RequirementsFile, Error> {
    let d = Dir::new();
    let p = d.write("requirements.txt", text);
    read_with_env(&p, false, &|_| None)
}

fn names(reqs: &[Requirement]) -> Vec<String> {
    reqs.iter().map(|r| r.req.name.to_string()).collect()
}

fn err(text: &str) -> String {
    read_text(text).unwrap_err().to_string()
}

/// Regressions found by fuzz/ (requirements target): pep508_rs panicked on these lines.
#[test]
fn lines_that_crashed_the_pep508_parser_are_errors() {
    let e = err("tqdm>=4.66\npackagi.>=22ng3\n");
    assert!(e.contains("requirements.txt:2"), "{e}");
    assert!(e.contains("must end with a letter or digit"), "{e}");
    let e = err("requests[socks-]>=2.31\n");
    assert!(
        e.contains("requirements.txt:1") && e.contains("extra name"),
        "{e}"
    );
    let e = err("# x\ncolorama>=0.4.6; sys_platform == 'win32' and\u{fffd}\u{fffd}\n");
    assert!(
        e.contains("requirements.txt:2") && e.contains("non-ASCII"),
        "{e}"
    );
}

/// Found by the broken-input table: an index URL that is no URL was taken as is.
#[test]
fn index_urls_must_be_urls() {
    let e = err("numpy\n--index-url not-a-url\n");
    assert!(
        e.contains("requirements.txt:2") && e.contains("not-a-url"),
        "{e}"
    );
    let e = err("--extra-index-url=ftp://127.0.0.1/simple\n");
    assert!(e.contains("requirements.txt:1") && e.contains("ftp"), "{e}");
    let r = read_text("-i file:///srv/simple\n--extra-index-url https://127.0.0.1:1/x\n").unwrap();
    assert_eq!(r.options.index_url.as_deref(), Some("file:///srv/simple"));
}

/// Regression found by fuzz/: a short option whose letter is not ASCII split inside a character.
#[test]
fn short_option_with_non_ascii_letter_is_an_error() {
    let e = err("-\u{4c7}nlyA .31\n");
    assert!(e.contains("requirements.txt:1"), "{e}");
    let e = err("-\u{e9}x\n");
    assert!(e.contains("requirements.txt:1"), "{e}");
}

const HASH: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn plain_requirements_with_extras_and_markers() {
    let f = read_text(
        "# a comment\nrequests[socks]>=2.31  # inline comment\n\ncolorama; sys_platform == \"win32\"\n",
    )
    .unwrap();
    assert_eq!(names(&f.requirements), ["requests", "colorama"]);
    assert_eq!(f.requirements[0].req.extras[0].to_string(), "socks");
    assert_eq!(f.requirements[0].origin.as_ref().unwrap().line, 2);
    assert_eq!(f.requirements[1].origin.as_ref().unwrap().line, 4);
    // The marker is kept, not evaluated here.
    assert!(f.requirements[1].req.marker.contents().is_some());
}

#[test]
fn continuation_lines_join_and_report_first_line() {
    let f = read_text(&format!(
        "tqdm\npackaging>=23 \\\n    --hash=sha256:{HASH} \\\n    --hash sha256:{}\n",
        HASH.to_uppercase()
    ))
    .unwrap();
    assert_eq!(names(&f.requirements), ["tqdm", "packaging"]);
    assert_eq!(f.requirements[1].origin.as_ref().unwrap().line, 2);
    assert_eq!(f.requirements[1].hashes.len(), 2);
    assert!(f.options.require_hashes);
    let e = err("tqdm \\\n  ==\n");
    assert!(e.contains("requirements.txt:1:"), "{e}");
}

#[test]
fn comment_needs_whitespace_before_hash_sign() {
    let f = read_text(&format!(
        "pkg @ https://example.invalid/pkg-1.0-py3-none-any.whl#sha256={HASH} # trailing\n"
    ))
    .unwrap();
    let Some(VersionOrUrl::Url(url)) = &f.requirements[0].req.version_or_url else {
        panic!("expected a URL requirement");
    };
    assert_eq!(
        url.raw().fragment(),
        Some(format!("sha256={HASH}").as_str())
    );
}

#[test]
fn env_vars_expand_only_braced_uppercase() {
    let d = Dir::new();
    let p = d.write(
        "r.txt",
        "-i ${INDEX}/simple\n--extra-index-url http://127.0.0.1:1/${lower}/x\npkg==${VERSION}\n",
    );
    let env: HashMap<&str, &str> = [("INDEX", "http://127.0.0.1:1"), ("VERSION", "1.2")].into();
    let f = read_with_env(&p, false, &|k| env.get(k).map(|v| v.to_string())).unwrap();
    assert_eq!(
        f.options.index_url.as_deref(),
        Some("http://127.0.0.1:1/simple")
    );
    assert_eq!(
        f.options.extra_index_urls,
        ["http://127.0.0.1:1/${lower}/x"]
    );
    assert_eq!(f.requirements[0].req.to_string(), "pkg==1.2");
}

#[test]
fn options_lines() {
    let f = read_text(
        "-i http://127.0.0.1:1/a\n--index-url=http://127.0.0.1:1/b\n--extra-index-url http://127.0.0.1:2\n\
         --no-index\n-f ./wheels\n--find-links=http://127.0.0.1:3/links\n--pre --prefer-binary\n\
         --trusted-host example.invalid\n--only-binary :all:\n--no-binary foo,Bar_Baz\n--require-hashes\n",
    )
    .unwrap();
    let o = &f.options;
    assert_eq!(
        o.index_url.as_deref(),
        Some("http://127.0.0.1:1/b"),
        "last -i wins"
    );
    assert_eq!(o.extra_index_urls, ["http://127.0.0.1:2"]);
    assert_eq!(o.find_links, ["./wheels", "http://127.0.0.1:3/links"]);
    assert!(o.no_index && o.pre && o.prefer_binary && o.require_hashes);
    assert_eq!(o.only_binary, BinaryRule::All);
    let bar: PackageName = "bar-baz".parse().unwrap();
    assert!(o.no_binary.applies(&bar));
}

#[test]
fn binary_rules_exclude_each_other() {
    let (mut only, mut no) = (BinaryRule::None, BinaryRule::None);
    binary_rule(":all:", &mut no, &mut only).unwrap();
    binary_rule("numpy", &mut only, &mut no).unwrap();
    assert_eq!(no, BinaryRule::All);
    binary_rule(":none:", &mut no, &mut only).unwrap();
    assert_eq!(no, BinaryRule::None);
    binary_rule("numpy", &mut no, &mut only).unwrap();
    assert_eq!(
        only,
        BinaryRule::None,
        "naming it in --no-binary removes it from --only-binary"
    );
}

#[test]
fn find_links_relative_to_the_file_when_present() {
    let d = Dir::new();
    fs::create_dir_all(d.0.path().join("sub/wheels")).unwrap();
    let p = d.write("sub/r.txt", "-f wheels\n-f missing\n");
    let f = read_with_env(&p, false, &|_| None).unwrap();
    assert_eq!(
        f.options.find_links[0],
        d.0.path().join("sub/wheels").display().to_string()
    );
    assert_eq!(f.options.find_links[1], "missing");
}

#[test]
fn includes_and_constraints_relative_to_including_file() {
    let d = Dir::new();
    d.write("sub/base.txt", "packaging\n-c ../pins.txt\n");
    d.write("pins.txt", "packaging==24.1\n-r more-pins.txt\n");
    d.write("more-pins.txt", "tqdm<5\n");
    d.write("other.txt", "pyyaml\n");
    let p = d.write(
        "r.txt",
        "-r sub/base.txt\n--requirement=other.txt\n-rother.txt\nrequests\n",
    );
    let f = read_with_env(&p, false, &|_| None).unwrap();
    assert_eq!(
        names(&f.requirements),
        ["packaging", "pyyaml", "pyyaml", "requests"]
    );
    assert_eq!(names(&f.constraints), ["packaging", "tqdm"]);
    let o = f.constraints[1].origin.as_ref().unwrap();
    assert!(o.file.ends_with("more-pins.txt") && o.line == 1);
}

#[test]
fn include_cycle_is_an_error() {
    let d = Dir::new();
    d.write("b.txt", "tqdm\n-r a.txt\n");
    let p = d.write("a.txt", "-r b.txt\n");
    let e = read_with_env(&p, false, &|_| None).unwrap_err().to_string();
    assert!(e.contains("b.txt:2:") && e.contains("cycle"), "{e}");
}

#[test]
fn missing_include_and_unreadable_file() {
    let e = err("-r nope.txt\n");
    assert!(
        e.contains("requirements.txt:1:") && e.contains("nope.txt"),
        "{e}"
    );
    let e = read(Path::new("/nonexistent/ferry/r.txt"), false).unwrap_err();
    assert!(matches!(e, Error::File { .. }), "{e}");
}

#[test]
fn hashes() {
    let f = read_text(&format!("tqdm==4.66.0 --hash=sha256:{HASH}\n")).unwrap();
    assert_eq!(f.requirements[0].hashes[0].as_str(), HASH);
    assert!(f.options.require_hashes);
    let e = err(&format!("tqdm\ntqdm==4.66.0 --hash=md5:{}\n", &HASH[..32]));
    assert!(
        e.contains("requirements.txt:2:") && e.contains("md5"),
        "{e}"
    );
    let e = err("tqdm --hash=sha256:abc\n");
    assert!(e.contains(":1:") && e.contains("sha256"), "{e}");
    let e = err("tqdm --hash\n");
    assert!(e.contains("needs a value"), "{e}");
    let e = err("tqdm --global-option=x\n");
    assert!(e.contains("--global-option"), "{e}");
}

#[test]
fn unbundlable_lines_fail_or_skip() {
    let cases = [
        "-e ./mypkg",
        "--editable=git+https://example.invalid/x.git",
        "./pkg",
        "../pkg[extra]",
        "/abs/x-1.0-py3-none-any.whl",
        "file:///abs/dir",
        "pkg @ file:///abs/dir",
        "git+https://example.invalid/x.git@main#egg=x",
        "pkg @ git+https://example.invalid/x.git@v1",
        "x-1.0-py3-none-any.whl",
        "C:\\pkgs\\x.whl",
    ];
    for case in cases {
        let e = err(&format!("tqdm\n{case}\n"));
        assert!(
            e.contains("requirements.txt:2:")
                && e.contains("cannot be bundled")
                && e.contains("--skip-unbundlable"),
            "{case}: {e}"
        );
    }
    let d = Dir::new();
    let p = d.write("r.txt", &format!("tqdm\n{}\n", cases.join("\n")));
    let f = read_with_env(&p, true, &|_| None).unwrap();
    assert_eq!(names(&f.requirements), ["tqdm"]);
    assert_eq!(f.skipped.len(), cases.len());
    assert!(f.skipped[0].contains("r.txt:2:"), "{}", f.skipped[0]);
}

#[test]
fn direct_urls_allowed() {
    let f = read_text("pkg @ https://example.invalid/pkg-1.0-py3-none-any.whl\n").unwrap();
    assert!(matches!(
        f.requirements[0].req.version_or_url,
        Some(VersionOrUrl::Url(_))
    ));
    let e = err("https://example.invalid/pkg-1.0-py3-none-any.whl\n");
    assert!(e.contains(":1:") && e.contains("NAME @ URL"), "{e}");
}

#[test]
fn malformed_lines_and_unknown_options() {
    let e = err("tqdm\n\nrequests >= = 2\n");
    assert!(
        e.contains("requirements.txt:3:") && e.contains("requests >= = 2"),
        "{e}"
    );
    let e = err("--index-urll http://127.0.0.1:1\n");
    assert!(
        e.contains(":1:") && e.contains("unknown option '--index-urll'"),
        "{e}"
    );
    let e = err("-i\n");
    assert!(e.contains("needs a value"), "{e}");
    let e = err("-r https://example.invalid/r.txt\n");
    assert!(e.contains("remote"), "{e}");
}

#[test]
fn comment_lines_end_continuations() {
    let lines = logical_lines("a \\\n# c \\\nb\n  # only comment\nc\\");
    assert_eq!(
        lines,
        [(1, "a".to_string()), (3, "b".into()), (5, "c".into())]
    );
}
