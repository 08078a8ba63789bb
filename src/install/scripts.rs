//! Scripts: `#!python` shebang rewriting for `.data/scripts`, and launchers for `console_scripts` /
//! `gui_scripts` entry points (entry_points.txt, an INI file).
use std::path::Path;

/// One generated launcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryPoint {
    pub name: String,
    pub module: String,
    /// Dotted attribute path inside the module (`main`, `cli.run`).
    pub attr: String,
    pub gui: bool,
}

/// Read `console_scripts` and `gui_scripts` from entry_points.txt. Malformed entries are returned as errors.
pub fn parse_entry_points(text: &str) -> Result<Vec<EntryPoint>, String> {
    let mut section = String::new();
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        let gui = match section.as_str() {
            "console_scripts" => false,
            "gui_scripts" => true,
            _ => continue,
        };
        let (name, value) = line.split_once('=').ok_or_else(|| {
            format!(
                "entry_points.txt line {}: expected 'name = module:attr'",
                i + 1
            )
        })?;
        let name = name.trim();
        // Drop `[extras]`.
        let value = value.split('[').next().unwrap_or("").trim();
        let (module, attr) = value
            .split_once(':')
            .map(|(m, a)| (m.trim(), a.trim()))
            .unwrap_or((value, ""));
        let ident_path = |s: &str| {
            !s.is_empty()
                && s.split('.').all(|p| {
                    !p.is_empty()
                        && !p.starts_with(|c: char| c.is_ascii_digit())
                        && p.chars().all(|c| c.is_alphanumeric() || c == '_')
                })
        };
        if name.is_empty()
            || name.contains(['/', '\\', '\0'])
            || name.starts_with('.')
            || !ident_path(module)
            || (!attr.is_empty() && !ident_path(attr))
        {
            return Err(format!(
                "entry_points.txt line {}: invalid entry point '{line}'",
                i + 1
            ));
        }
        out.push(EntryPoint {
            name: name.to_string(),
            module: module.to_string(),
            attr: attr.to_string(),
            gui,
        });
    }
    Ok(out)
}

/// The `#!` line (with newline) that runs `python`. Long paths or paths with spaces use the `/bin/sh` trampoline.
pub fn shebang(python: &Path) -> String {
    let p = python.to_string_lossy();
    if p.len() <= 127 && !p.contains([' ', '\t']) {
        format!("#!{p}\n")
    } else {
        format!("#!/bin/sh\n'''exec' \"{p}\" \"$0\" \"$@\"\n' '''\n")
    }
}

/// A launcher script for an entry point.
pub fn launcher(ep: &EntryPoint, python: &Path) -> String {
    let (import, call) = if ep.attr.is_empty() {
        (format!("import {}", ep.module), format!("{}()", ep.module))
    } else {
        let top = ep.attr.split('.').next().unwrap_or(&ep.attr);
        (
            format!("from {} import {}", ep.module, top),
            format!("{}()", ep.attr),
        )
    };
    format!(
        "{}# -*- coding: utf-8 -*-\nimport re\nimport sys\n{import}\nif __name__ == \"__main__\":\n    \
         sys.argv[0] = re.sub(r\"(-script\\.pyw|\\.exe)?$\", \"\", sys.argv[0])\n    sys.exit({call})\n",
        shebang(python)
    )
}

/// Launchers for a Windows venv, where ferry cannot write the usual `.exe` wrappers: `NAME-script.py` (the
/// same Python code as [`launcher`], no shebang) and `NAME.cmd`, which runs it with the venv's `python.exe`
/// (`pythonw.exe` for GUI scripts) from the folder the `.cmd` lives in, passing every argument on.
pub fn windows_launcher(ep: &EntryPoint, scripts_dir: &Path) -> Vec<(std::path::PathBuf, String)> {
    let body = launcher(ep, Path::new("python"));
    let body = body
        .split_once('\n')
        .map(|(_, rest)| rest.to_string())
        .unwrap_or(body);
    let python = if ep.gui { "pythonw.exe" } else { "python.exe" };
    let script = format!("{}-script.py", ep.name);
    let cmd = format!("@echo off\r\n\"%~dp0{python}\" \"%~dp0{script}\" %*\r\n");
    vec![
        (scripts_dir.join(&script), body),
        (scripts_dir.join(format!("{}.cmd", ep.name)), cmd),
    ]
}

/// Rewrite a `#!python` / `#!pythonw` first line to the venv interpreter; other content is returned unchanged.
pub fn rewrite_shebang(content: &[u8], python: &Path) -> Option<Vec<u8>> {
    let rest = content
        .strip_prefix(b"#!pythonw")
        .or_else(|| content.strip_prefix(b"#!python"))?;
    // Keep any arguments after the interpreter; drop the original line ending (shebang() adds \n).
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let args = String::from_utf8_lossy(&rest[..end])
        .trim_end_matches('\r')
        .to_string();
    let mut line = shebang(python);
    if !args.trim().is_empty() && line.ends_with('\n') && !line.contains("exec") {
        line.pop();
        line.push_str(&args);
        line.push('\n');
    }
    let mut out = line.into_bytes();
    out.extend_from_slice(rest.get(end + 1..).unwrap_or_default());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_points() {
        let text = "[console_scripts]\nhello = hello.cli:main\nx-y = pkg:obj.run [extra]\n\n[gui_scripts]\ng = pkg\n\n[other]\nz = q:r\n";
        let eps = parse_entry_points(text).unwrap();
        assert_eq!(eps.len(), 3);
        assert_eq!(eps[1].attr, "obj.run");
        assert!(eps[2].gui);
        assert!(parse_entry_points("[console_scripts]\n../x = a:b\n").is_err());
        assert!(parse_entry_points("[console_scripts]\nx = a;import os:b\n").is_err());
    }

    #[test]
    fn launcher_and_shebang() {
        let ep = EntryPoint {
            name: "h".into(),
            module: "pkg.cli".into(),
            attr: "obj.run".into(),
            gui: false,
        };
        let l = launcher(&ep, Path::new("/v/bin/python"));
        assert!(l.starts_with("#!/v/bin/python\n"));
        assert!(l.contains("from pkg.cli import obj\n"));
        assert!(l.contains("sys.exit(obj.run())"));
        let s = rewrite_shebang(b"#!python -u\nprint(1)\n", Path::new("/v/bin/python")).unwrap();
        assert_eq!(s, b"#!/v/bin/python -u\nprint(1)\n");
        assert!(rewrite_shebang(b"#!/bin/sh\n", Path::new("/p")).is_none());
        let long = rewrite_shebang(b"#!python\nx\n", Path::new("/a b/python")).unwrap();
        assert!(String::from_utf8(long)
            .unwrap()
            .starts_with("#!/bin/sh\n'''exec' \"/a b/python\""));
    }
}
