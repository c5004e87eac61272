//! The command examples of the repository's READMEs, run by the tools' tests
//! (`tests/readme_commands.rs`) so that they cannot drift from the binaries.
//!
//! A README's ```` ```sh ```` block that invokes `iotsec-cloud` or `iotsec-device` (directly, or as
//! `cargo run -p NAME --`, which the tests read as the built binary) is a run of commands: each
//! line (a trailing `\` continues it; `#` starts a comment) is run in order by `sh` in one
//! scratch directory holding the test's fixtures (the files the examples name), with the built
//! binaries first on `PATH` and `HOME` pointing into the scratch directory. A command passes
//! when it exits 0 or 1 (the contract's accepted/rejected), not 2 (bad input or usage, e.g. a
//! flag that no longer exists) or anything else (a shell error). A command of such a block that
//! is neither a tool's nor listed in [`SKIPPED`] fails the test: every example is either run or
//! skipped for a stated reason.

use std::path::{Path, PathBuf};

/// Commands of those blocks that the tests do not run, with why (matched on the whole command).
pub const SKIPPED: &[(&str, &str)] = &[(
    "./test.sh",
    "the whole test suite: it installs packages and runs for many minutes",
)];

/// One command of a README's `sh` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadmeCommand {
    /// The README, relative to the repository.
    pub readme: PathBuf,
    /// Its line (1-based) where the command starts.
    pub line: usize,
    /// The command as `sh -c` runs it (`cargo run -p NAME --` replaced by `NAME`).
    pub command: String,
}

impl ReadmeCommand {
    /// The program the command starts (its first word).
    pub fn program(&self) -> &str {
        self.command.split_whitespace().next().unwrap_or_default()
    }

    /// Why the command is not run, if it is in [`SKIPPED`].
    pub fn skipped(&self) -> Option<&'static str> {
        let bare = self.command.split('#').next().unwrap_or_default().trim();
        SKIPPED
            .iter()
            .find(|(command, _)| *command == bare)
            .map(|(_, why)| *why)
    }
}

/// `cargo run [--release] -p NAME --` at the start of `command` becomes `NAME`.
fn as_binary(command: &str) -> String {
    let words: Vec<&str> = command.split_whitespace().collect();
    let (package, rest) = match words.as_slice() {
        ["cargo", "run", "-p", package, "--", rest @ ..]
        | ["cargo", "run", "--release", "-p", package, "--", rest @ ..] => (*package, rest),
        _ => return command.to_owned(),
    };
    std::iter::once(package)
        .chain(rest.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The commands of the `sh` blocks of `markdown` (the README at `readme`) that invoke one of
/// `tools`.
pub fn commands_in(readme: &Path, markdown: &str, tools: &[&str]) -> Vec<ReadmeCommand> {
    let mut found = Vec::new();
    let mut block: Option<Vec<ReadmeCommand>> = None;
    let mut pending: Option<ReadmeCommand> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start().starts_with("```");
        match &mut block {
            None if fence && line.trim() == "```sh" => block = Some(Vec::new()),
            None => {}
            Some(commands) if fence => {
                if commands.iter().any(|c| tools.contains(&c.program())) {
                    found.append(commands);
                }
                block = None;
            }
            Some(commands) => {
                let text = line.trim();
                let command = match pending.take() {
                    Some(mut started) => {
                        started.command.push(' ');
                        started.command.push_str(text);
                        started
                    }
                    None if text.is_empty() || text.starts_with('#') => continue,
                    None => ReadmeCommand {
                        readme: readme.to_path_buf(),
                        line: index + 1,
                        command: text.to_owned(),
                    },
                };
                match command.command.strip_suffix('\\') {
                    Some(head) => {
                        pending = Some(ReadmeCommand {
                            command: head.trim_end().to_owned(),
                            ..command
                        })
                    }
                    None => commands.push(ReadmeCommand {
                        command: as_binary(&command.command),
                        ..command
                    }),
                }
            }
        }
    }
    found
}

/// The README.md files under `root` (build directories and hidden ones left out), sorted.
pub fn readmes(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let path = entry.path();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            match entry.file_type() {
                Ok(t) if t.is_dir() => dirs.push(path),
                Ok(t) if t.is_file() && name == "README.md" => found.push(path),
                _ => {}
            }
        }
    }
    found.sort();
    found
}

/// Every README command under `root` that invokes one of `tools`, in file and line order.
pub fn commands(root: &Path, tools: &[&str]) -> Vec<ReadmeCommand> {
    readmes(root)
        .iter()
        .flat_map(|path| {
            let markdown = std::fs::read_to_string(path).unwrap_or_default();
            let relative = path.strip_prefix(root).unwrap_or(path);
            commands_in(relative, &markdown, tools)
        })
        .collect()
}

/// How long one README command may run before it counts as hanging.
pub const COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `command` with `sh` in `dir`, `bin_dir` first on `PATH` and `HOME` at `dir/home`:
/// `Err` says how it failed the rule of this module.
pub fn run(command: &ReadmeCommand, dir: &Path, bin_dir: &Path) -> Result<(), String> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let shown = format!(
        "{}:{}: `{}`",
        command.readme.display(),
        command.line,
        command.command
    );
    let path = match std::env::var_os("PATH") {
        Some(rest) => std::env::join_paths(
            std::iter::once(bin_dir.to_path_buf()).chain(std::env::split_paths(&rest)),
        )
        .map_err(|e| format!("{shown}: PATH: {e}"))?,
        None => bin_dir.as_os_str().to_owned(),
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&command.command)
        .current_dir(dir)
        .env("PATH", path)
        .env("HOME", dir.join("home"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{shown}: starting sh: {e}"))?;
    // Drain both pipes while waiting, so a chatty command cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < COMMAND_TIMEOUT => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{shown}: still running after {} s (a long-running example belongs in SKIPPED)",
                    COMMAND_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("{shown}: waiting: {e}")),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status.code() {
        Some(0 | 1) => {}
        other => {
            return Err(format!(
                "{shown}: exit {other:?} (0 or 1 expected): {}",
                stderr.trim()
            ));
        }
    }
    if command.command.contains("--format json")
        && !stdout.trim().is_empty()
        && serde_json::from_str::<serde_json::Value>(&stdout).is_err()
    {
        return Err(format!(
            "{shown}: --format json printed no JSON document: {stdout}"
        ));
    }
    Ok(())
}

/// Runs, in order, every README command under `root` that starts `tool` (the binary at
/// `bin`), in `scratch` after copying the files of `fixtures` into it: the commands run, and
/// every failure (including a command of those blocks that is neither a tool's nor skipped).
pub fn run_all(
    root: &Path,
    bin: &Path,
    fixtures: &Path,
    scratch: &Path,
) -> (Vec<String>, Vec<String>) {
    const TOOLS: &[&str] = &["iotsec-cloud", "iotsec-device"];
    let tool = bin
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bin_dir = bin.parent().unwrap_or(Path::new("."));
    let (mut ran, mut failures) = (Vec::new(), Vec::new());
    let prepared = std::fs::create_dir_all(scratch.join("home")).and_then(|()| {
        for entry in std::fs::read_dir(fixtures)? {
            let entry = entry?;
            std::fs::copy(entry.path(), scratch.join(entry.file_name()))?;
        }
        Ok(())
    });
    if let Err(e) = prepared {
        failures.push(format!(
            "copying the fixtures {} into {}: {e}",
            fixtures.display(),
            scratch.display()
        ));
        return (ran, failures);
    }
    for command in commands(root, TOOLS) {
        if command.skipped().is_some()
            || (command.program() != tool && TOOLS.contains(&command.program()))
        {
            continue;
        }
        if command.program() != tool {
            failures.push(format!(
                "{}:{}: `{}` is neither a tool's command nor in readme_commands::SKIPPED",
                command.readme.display(),
                command.line,
                command.command
            ));
            continue;
        }
        match run(&command, scratch, bin_dir) {
            Ok(()) => ran.push(command.command),
            Err(failure) => failures.push(failure),
        }
    }
    (ran, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_that_invoke_a_tool_are_read_as_commands() {
        let md = "x\n```sh\ncargo run -p iotsec-cloud -- demo   # note\n./test.sh\n\
                  # comment\niotsec-cloud acl lint \\\n    --policy p.toml\n```\n\
                  ```sh\ncargo build\n```\n```text\niotsec-cloud nope\n```\n";
        let found = commands_in(Path::new("R.md"), md, &["iotsec-cloud"]);
        let shown: Vec<(usize, &str)> =
            found.iter().map(|c| (c.line, c.command.as_str())).collect();
        assert_eq!(
            shown,
            [
                (3, "iotsec-cloud demo # note"),
                (4, "./test.sh"),
                (6, "iotsec-cloud acl lint --policy p.toml"),
            ]
        );
        assert_eq!(found[0].program(), "iotsec-cloud");
        assert!(found[1].skipped().is_some());
        assert!(found[0].skipped().is_none());
    }
}
