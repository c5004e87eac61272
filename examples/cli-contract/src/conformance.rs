//! A check of the contract over every subcommand of a tool, found by walking its `--help`
//! (so a subcommand added later is covered without touching the test): for each command path,
//! `--help` exits 0 with help on stdout, and an unknown flag exits 2 with nothing on stdout and
//! one `error:` line on stderr. The tools' `tests/contract.rs` call [`violations`].

use std::process::Command;

/// What `bin PATH... --help` prints on stdout (empty when it does not run).
pub fn help(bin: &str, path: &[String]) -> String {
    match Command::new(bin).args(path).arg("--help").output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(_) => String::new(),
    }
}

/// The command paths under `path` (depth first), from the `Commands:` sections of `--help`.
pub fn command_paths(bin: &str, path: &[String]) -> Vec<Vec<String>> {
    let help = help(bin, path);
    if help.is_empty() {
        return Vec::new();
    }
    let mut paths = vec![path.to_vec()];
    let mut in_commands = false;
    for line in help.lines() {
        if line.starts_with("Commands:") {
            in_commands = true;
            continue;
        }
        if in_commands {
            // Entries are indented two spaces: "  name  description".
            let Some(entry) = line.strip_prefix("  ").filter(|e| !e.starts_with(' ')) else {
                if !line.starts_with(' ') {
                    in_commands = false;
                }
                continue;
            };
            let Some(name) = entry.split_whitespace().next() else {
                continue;
            };
            if name == "help" {
                continue;
            }
            let mut child = path.to_vec();
            child.push(name.to_owned());
            paths.extend(command_paths(bin, &child));
        }
    }
    paths
}

/// Every breach of the contract's help and usage rules, one line each (empty: none).
pub fn violations(bin: &str) -> Vec<String> {
    let mut found = Vec::new();
    for path in command_paths(bin, &[]) {
        let shown = if path.is_empty() {
            "(top level)".to_owned()
        } else {
            path.join(" ")
        };
        match Command::new(bin).args(&path).arg("--help").output() {
            Ok(o) if o.status.code() == Some(0) && !o.stdout.is_empty() => {}
            Ok(o) => found.push(format!("{shown} --help: exit {:?}", o.status.code())),
            Err(e) => found.push(format!("{shown} --help: {e}")),
        }
        match Command::new(bin).args(&path).arg("--no-such-flag").output() {
            Ok(o) => {
                let stderr = String::from_utf8_lossy(&o.stderr);
                let lines = stderr.trim_end().lines().count();
                if o.status.code() != Some(2)
                    || !o.stdout.is_empty()
                    || lines != 1
                    || !stderr.starts_with("error:")
                {
                    found.push(format!(
                        "{shown} --no-such-flag: exit {:?}, {} stdout bytes, {lines} stderr lines: {stderr:?}",
                        o.status.code(),
                        o.stdout.len()
                    ));
                }
            }
            Err(e) => found.push(format!("{shown} --no-such-flag: {e}")),
        }
    }
    found
}

/// Every subcommand whose `--help` repeats the global `--format` option, which the top-level
/// help describes once, one line each (empty: none).
pub fn repeated_global_format(bin: &str) -> Vec<String> {
    command_paths(bin, &[])
        .into_iter()
        .filter(|path| !path.is_empty())
        .filter(|path| help(bin, path).contains("--format <"))
        .map(|path| path.join(" "))
        .collect()
}

/// What bash completes for the command line `words` (the last one being completed) with the
/// script of `bin completions bash` loaded, as a user pressing TAB would see it; `None` when
/// bash does not run.
pub fn bash_completes(bin: &str, words: &[&str]) -> Option<Vec<String>> {
    let name = std::path::Path::new(bin).file_name()?.to_str()?.to_owned();
    let quoted: Vec<String> = words
        .iter()
        .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
        .collect();
    let cword = words.len().checked_sub(1)?;
    let cur = quoted.last()?.clone();
    let prev = cword
        .checked_sub(1)
        .and_then(|i| quoted.get(i))
        .cloned()
        .unwrap_or_else(|| format!("'{name}'"));
    let script = format!(
        "source <('{bin}' completions bash) || exit 3\n\
         COMP_WORDS=('{name}' {words}); COMP_CWORD={cword_all}\n\
         _{function} '{name}' {cur} {prev}\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words = quoted.join(" "),
        cword_all = cword + 1,
        function = name.replace('-', "__"),
    );
    let out = Command::new("bash").arg("-c").arg(script).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

/// The man pages `bin man --out DIR` must write: one per command path (`help` left out), named
/// as git names its pages (`iotsec-cloud-pki-init.1`), sorted.
pub fn expected_man_pages(bin: &str) -> Vec<String> {
    let name = std::path::Path::new(bin)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let mut pages: Vec<String> = command_paths(bin, &[])
        .into_iter()
        .map(|path| {
            let mut page = name.clone();
            for part in path {
                page.push('-');
                page.push_str(&part);
            }
            page + ".1"
        })
        .collect();
    pages.sort();
    pages
}
