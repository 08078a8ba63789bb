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
                    let v = value(&mut words)?;
                    opts.trusted_hosts.push(v);
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
pub(crate) fn binary_rule(
    value: &str,
    target: &mut BinaryRule,
    other: &mut BinaryRule,
) -> Result<(), String> {
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
mod tests;
