//! requirements.txt as pip reads it: logical lines (trailing `\`), comments, `${VAR}` expansion, nested
//! `-r`/`-c` files, option lines and per-requirement `--hash`. Markers stay unevaluated: they are evaluated
//! later, once per target.
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep508_rs::{PackageName, VersionOrUrl};

use super::{BinaryRule, Error, IndexOptions, Origin, Requirement};
use crate::types::Sha256;

/// Everything read from one requirements file and the files it includes.
#[derive(Clone, Debug, Default)]
pub struct RequirementsFile {
    pub requirements: Vec<Requirement>,
    /// Requirements read from `-c` files (and from `-r` files nested in them).
    pub constraints: Vec<Requirement>,
    pub options: IndexOptions,
    /// `file:line: …` warnings for lines skipped under `--skip-unbundlable`.
    pub skipped: Vec<String>,
}

/// Read `path` and every file it includes. With `skip_unbundlable`, editable, VCS and local-path lines are
/// recorded in `skipped` instead of failing the read.
pub fn read(path: &Path, skip_unbundlable: bool) -> Result<RequirementsFile, Error> {
    read_with_env(path, skip_unbundlable, &|name| std::env::var(name).ok())
}

/// [`read`] with an explicit environment for `${VAR}` expansion.
pub fn read_with_env(
    path: &Path,
    skip_unbundlable: bool,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<RequirementsFile, Error> {
    let mut reader = Reader {
        skip_unbundlable,
        env,
        stack: Vec::new(),
        out: RequirementsFile::default(),
    };
    reader.file(path, false)?;
    if reader
        .out
        .requirements
        .iter()
        .chain(&reader.out.constraints)
        .any(|r| !r.hashes.is_empty())
    {
        reader.out.options.require_hashes = true;
    }
    Ok(reader.out)
}

struct Reader<'a> {
    skip_unbundlable: bool,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// Canonical paths of the files being read, outermost first (cycle detection).
    stack: Vec<PathBuf>,
    out: RequirementsFile,
}

/// Where a line is, for messages.
struct Here<'p> {
    file: &'p Path,
    line: usize,
}

impl Here<'_> {
    fn error(&self, message: impl Into<String>) -> Error {
        Error::at(self.file, self.line, message)
    }
    fn origin(&self) -> Origin {
        Origin {
            file: self.file.to_path_buf(),
            line: self.line,
        }
    }
}

impl Reader<'_> {
    fn file(&mut self, path: &Path, constraint: bool) -> Result<(), Error> {
        let text = fs::read_to_string(path).map_err(|e| Error::File {
            file: path.to_path_buf(),
            message: format!("cannot read requirements file: {e}"),
        })?;
        self.stack.push(canonical(path));
        for (line, content) in logical_lines(&text) {
            let content = expand_vars(&content, self.env);
            let here = Here { file: path, line };
            self.line(&here, &content, constraint)?;
        }
        self.stack.pop();
        Ok(())
    }

    fn line(&mut self, here: &Here, content: &str, constraint: bool) -> Result<(), Error> {
        let (args, options) = break_args_options(content);
        if args.is_empty() {
            self.options_line(here, &options, constraint)
        } else {
            self.requirement_line(here, &args, &options, constraint)
        }
    }

    fn options_line(&mut self, here: &Here, options: &str, constraint: bool) -> Result<(), Error> {
        let words = split_words(options).map_err(|m| here.error(m))?;
        let mut words = words.into_iter();
        while let Some(word) = words.next() {
            let (name, inline) = split_option(&word);
            let value = |words: &mut std::vec::IntoIter<String>| -> Result<String, Error> {
                match inline.clone().or_else(|| words.next()) {
                    Some(v) if !v.is_empty() => Ok(v),
                    _ => Err(here.error(format!("option '{name}' needs a value"))),
                }
            };
            let opts = &mut self.out.options;
            match name.as_str() {
                "-r" | "--requirement" => {
                    let v = value(&mut words)?;
                    self.include(here, &v, constraint)?;
                }
                "-c" | "--constraint" => {
                    let v = value(&mut words)?;
                    self.include(here, &v, true)?;
                }
                "-e" | "--editable" => {
                    let v = value(&mut words)?;
                    self.unbundlable(here, &format!("-e {v}"), "editable")?;
                }
                "-i" | "--index-url" => {
                    let v = value(&mut words)?;
                    opts.index_url = Some(index_url(here, &name, v)?);
                }
                "--extra-index-url" => {
                    let v = value(&mut words)?;
                    opts.extra_index_urls.push(index_url(here, &name, v)?);
                }
                "-f" | "--find-links" => {
                    let v = value(&mut words)?;
                    let link = find_link(here.file, &v);
                    opts.find_links.push(link);
                }
                "--no-index" => opts.no_index = true,
                "--pre" => opts.pre = true,
                "--prefer-binary" => opts.prefer_binary = true,
                "--require-hashes" => opts.require_hashes = true,
                "--only-binary" => {
                    let v = value(&mut words)?;
                    binary_rule(&v, &mut opts.only_binary, &mut opts.no_binary)
                        .map_err(|m| here.error(m))?;
                }
                "--no-binary" => {
                    let v = value(&mut words)?;
                    binary_rule(&v, &mut opts.no_binary, &mut opts.only_binary)
                        .map_err(|m| here.error(m))?;
                }
                "--trusted-host" => {
                    value(&mut words)?;
                }
                "--hash" => {
                    return Err(here.error("'--hash' must follow a requirement on the same line"))
                }
                _ if name.starts_with('-') => {
                    return Err(here.error(format!("unknown option '{name}'")))
                }
                _ => {
                    return Err(here.error(format!(
                        "unexpected '{word}' after an option (put each requirement on its own line)"
                    )))
                }
            }
        }
        Ok(())
    }

    fn include(&mut self, here: &Here, target: &str, constraint: bool) -> Result<(), Error> {
        if target.contains("://") {
            return Err(here.error(format!(
                "remote requirements file '{target}' is not supported; download it and name the local copy"
            )));
        }
        let path = match here.file.parent() {
            Some(dir) if Path::new(target).is_relative() => dir.join(target),
            _ => PathBuf::from(target),
        };
        let key = canonical(&path);
        if let Some(start) = self.stack.iter().position(|p| *p == key) {
            let chain: Vec<String> = self.stack[start..]
                .iter()
                .chain(std::iter::once(&key))
                .map(|p| p.display().to_string())
                .collect();
            return Err(here.error(format!(
                "'{target}' is already being read (include cycle: {})",
                chain.join(" -> ")
            )));
        }
        if !path.is_file() {
            return Err(here.error(format!(
                "cannot read included file '{}': no such file",
                path.display()
            )));
        }
        self.file(&path, constraint)
    }

    fn requirement_line(
        &mut self,
        here: &Here,
        args: &str,
        options: &str,
        constraint: bool,
    ) -> Result<(), Error> {
        let hashes = requirement_options(here, options)?;
        if let Some(kind) = unbundlable_kind(args) {
            return self.unbundlable(here, args, kind);
        }
        if args.starts_with("http://") || args.starts_with("https://") {
            return Err(here.error(format!(
                "'{args}' has no package name; write it as NAME @ URL"
            )));
        }
        let req = super::pep508::parse_requirement(args)
            .map_err(|e| here.error(format!("invalid requirement '{args}': {e}")))?;
        if let Some(VersionOrUrl::Url(url)) = &req.version_or_url {
            let scheme = url.raw().scheme();
            if scheme == "file" {
                return self.unbundlable(here, args, "a local path");
            }
            if scheme.contains('+') {
                return self.unbundlable(here, args, "a VCS URL");
            }
            if scheme != "http" && scheme != "https" {
                return Err(here.error(format!(
                    "unsupported URL scheme '{scheme}' in '{args}' (only http and https can be fetched)"
                )));
            }
        }
        let requirement = Requirement {
            req,
            hashes,
            origin: Some(here.origin()),
        };
        if constraint {
            self.out.constraints.push(requirement);
        } else {
            self.out.requirements.push(requirement);
        }
        Ok(())
    }

    fn unbundlable(&mut self, here: &Here, text: &str, kind: &str) -> Result<(), Error> {
        if self.skip_unbundlable {
            self.out.skipped.push(format!(
                "{}: skipped '{text}': {kind} cannot be bundled",
                here.origin()
            ));
            Ok(())
        } else {
            Err(here.error(format!(
                "'{text}' is {kind} and cannot be bundled (editable/VCS/local path requirements are not \
                 on an index); use --skip-unbundlable to skip it"
            )))
        }
    }
}

/// `--hash=sha256:…` options after a requirement (the only per-requirement option ferry honours).
fn requirement_options(here: &Here, options: &str) -> Result<Vec<Sha256>, Error> {
    let words = split_words(options).map_err(|m| here.error(m))?;
    let mut words = words.into_iter();
    let mut hashes = Vec::new();
    while let Some(word) = words.next() {
        let (name, inline) = split_option(&word);
        if name != "--hash" {
            return Err(here.error(format!(
                "unsupported option '{name}' on a requirement line (only --hash is allowed here)"
            )));
        }
        let value = inline
            .or_else(|| words.next())
            .ok_or_else(|| here.error("option '--hash' needs a value like sha256:<hex>"))?;
        let (algo, hex) = value
            .split_once(':')
            .ok_or_else(|| here.error(format!("--hash '{value}' must look like sha256:<hex>")))?;
        if !algo.eq_ignore_ascii_case("sha256") {
            return Err(here.error(format!(
                "--hash algorithm '{algo}' is not supported (use sha256)"
            )));
        }
        let digest = hex
            .parse::<Sha256>()
            .map_err(|m| here.error(format!("--hash: {m}")))?;
        hashes.push(digest);
    }
    Ok(hashes)
}

/// pip's `--only-binary`/`--no-binary` handling: `:all:`, `:none:` and comma lists; naming a package in one
/// rule removes it from the other.
fn binary_rule(value: &str, target: &mut BinaryRule, other: &mut BinaryRule) -> Result<(), String> {
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item {
            ":all:" => {
                *target = BinaryRule::All;
                *other = BinaryRule::None;
            }
            ":none:" => *target = BinaryRule::None,
            name => {
                let name = PackageName::from_str(name)
                    .map_err(|e| format!("invalid package name '{name}' in binary rule: {e}"))?;
                if let BinaryRule::Packages(v) = other {
                    v.retain(|n| *n != name);
                    if v.is_empty() {
                        *other = BinaryRule::None;
                    }
                }
                match target {
                    BinaryRule::All => {}
                    BinaryRule::None => *target = BinaryRule::Packages(vec![name]),
                    BinaryRule::Packages(v) => {
                        if !v.contains(&name) {
                            v.push(name);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// What makes a requirement line impossible to bundle, judged on its text before parsing.
fn unbundlable_kind(args: &str) -> Option<&'static str> {
    let spec = args.split(';').next().unwrap_or(args).trim();
    let location = match spec.split_once('@') {
        Some((_, url)) if !spec.contains("://") || spec.find('@') < spec.find("://") => url.trim(),
        _ => spec,
    };
    let lower = location.to_ascii_lowercase();
    const VCS: &[&str] = &["git+", "hg+", "svn+", "bzr+", "git://"];
    if VCS.iter().any(|p| lower.starts_with(p)) {
        return Some("a VCS URL");
    }
    if lower.starts_with("file:") {
        return Some("a local path");
    }
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return None;
    }
    let drive = location.len() > 2
        && location.as_bytes()[0].is_ascii_alphabetic()
        && location.as_bytes()[1] == b':'
        && matches!(location.as_bytes()[2], b'\\' | b'/');
    let looks_like_path = location.starts_with(['.', '/', '~', '\\'])
        || drive
        || location.contains('/')
        || location.contains('\\');
    const ARCHIVES: &[&str] = &[".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar"];
    let archive = ARCHIVES.iter().any(|ext| {
        lower
            .split(['[', ' '])
            .next()
            .is_some_and(|s| s.ends_with(ext))
    });
    (looks_like_path || archive).then_some("a local path")
}

/// pip resolves a relative `-f` path against the requirements file's folder when it exists there.
fn find_link(file: &Path, value: &str) -> String {
    if value.contains("://") {
        return value.to_string();
    }
    match file.parent() {
        Some(dir) if Path::new(value).is_relative() && dir.join(value).exists() => {
            dir.join(value).display().to_string()
        }
        _ => value.to_string(),
    }
}

fn canonical(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Logical lines as pip builds them: backslash continuations joined, comments removed, blank lines dropped.
/// Each carries the number of the physical line where it starts.
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let is_comment = raw.trim_start().starts_with('#');
        if raw.ends_with('\\') && !is_comment {
            let part = raw.trim_end_matches('\\');
            match &mut pending {
                Some((_, joined)) => joined.push_str(part),
                None => pending = Some((number, part.to_string())),
            }
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((number, String::new()));
        if is_comment && !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(raw);
        out.push((start, joined));
    }
    if let Some(rest) = pending {
        out.push(rest);
    }
    out.into_iter()
        .filter_map(|(n, line)| {
            let line = strip_comment(&line).trim().to_string();
            (!line.is_empty()).then_some((n, line))
        })
        .collect()
}

/// Remove a `#` comment that starts the line or follows whitespace (`x.whl#sha256=…` keeps its fragment).
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

/// `${NAME}` with NAME in `[A-Z0-9_]+` is replaced by the variable's value when it is set and not empty.
fn expand_vars(line: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let name_len = after
            .bytes()
            .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
            .count();
        let value = (name_len > 0 && after[name_len..].starts_with('}'))
            .then(|| env(&after[..name_len]))
            .flatten()
            .filter(|v| !v.is_empty());
        match value {
            Some(v) => {
                out.push_str(&v);
                rest = &after[name_len + 1..];
            }
            None => {
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// pip's split of a line into the requirement (words before the first `-word`) and its options.
fn break_args_options(line: &str) -> (String, String) {
    let tokens: Vec<&str> = line.split(' ').collect();
    let n = tokens
        .iter()
        .position(|t| t.starts_with('-'))
        .unwrap_or(tokens.len());
    (
        tokens[..n].join(" ").trim().to_string(),
        tokens[n..].join(" ").trim().to_string(),
    )
}

/// The value of `--index-url`/`--extra-index-url`, checked.
fn index_url(here: &Here, option: &str, value: String) -> Result<String, Error> {
    super::check_index_url(option, &value).map_err(|m| here.error(m))?;
    Ok(value)
}

/// `--name=value` → (`--name`, Some(value)); `-rfile`/`-r=file` → (`-r`, Some(file)); `--flag` → (`--flag`, None).
fn split_option(word: &str) -> (String, Option<String>) {
    if word.starts_with("--") {
        match word.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (word.to_string(), None),
        }
    } else if let Some((at, _)) = word.char_indices().nth(2).filter(|_| word.starts_with('-')) {
        // At the second character, not byte: a non-ASCII option letter must not be split.
        let (n, v) = word.split_at(at);
        (
            n.to_string(),
            Some(v.strip_prefix('=').unwrap_or(v).to_string()),
        )
    } else {
        (word.to_string(), None)
    }
}

/// Shell-like word split with single and double quotes (pip splits option lines with shlex).
fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => word.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            None => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unbalanced quote in '{s}'"));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
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
        let r =
            read_text("-i file:///srv/simple\n--extra-index-url https://127.0.0.1:1/x\n").unwrap();
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
}
