//! The output contract shared by the iotsec command-line tools (README.md, "Command-line contract"):
//!
//! - `--format json` prints machine-readable results on stdout, `--format text` (default) prints
//!   them for people;
//! - exit code 0 = accepted / allowed / pass, 1 = rejected / denied / fail,
//!   2 = bad input or usage, with a one-line reason on stderr.
//!
//! A subcommand returns `Result<Report, BadInput>`; [`finish`] prints it and picks the exit code.

pub mod clock;
pub mod completions;
pub mod conformance;
pub mod info;
pub mod input;
pub mod json_fields;
pub mod man_pages;
pub mod progress;
pub mod readme_commands;

pub use progress::Progress;

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

/// How results are printed on stdout, for a tool with commands that report findings
/// (`iotsec-cloud`); the variants' docs are the values `--help` lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Short lines for people.
    #[default]
    Text,
    /// One JSON document for programs.
    Json,
    /// A SARIF 2.1.0 log of findings (`sbom gate`; other commands exit 2).
    Sarif,
}

/// How results are printed on stdout, for a tool none of whose commands reports findings
/// (`iotsec-device`): `--help` offers only what it prints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum TextOrJson {
    /// Short lines for people.
    #[default]
    Text,
    /// One JSON document for programs.
    Json,
}

impl From<TextOrJson> for Format {
    fn from(format: TextOrJson) -> Self {
        match format {
            TextOrJson::Text => Format::Text,
            TextOrJson::Json => Format::Json,
        }
    }
}

/// The decision a command reached on valid input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted, allowed or passed: exit code 0.
    Accepted,
    /// Rejected, denied or failed: exit code 1.
    Rejected,
}

impl Outcome {
    /// The process exit code for this outcome.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Accepted => 0,
            Outcome::Rejected => 1,
        }
    }
}

/// The result of a command that understood its input.
#[derive(Debug, Clone)]
pub struct Report {
    /// Accepted or rejected.
    pub outcome: Outcome,
    /// What `--format json` prints.
    pub json: serde_json::Value,
    /// What `--format text` prints (one or more lines).
    pub text: String,
}

/// Bad input or usage: exit code 2 with a one-line reason on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput(pub String);

impl BadInput {
    /// Builds a reason from anything displayable (an error of a library crate, say).
    pub fn new(reason: impl fmt::Display) -> Self {
        BadInput(reason.to_string())
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bounded(&one_line(&self.0), MAX_REASON_CHARS))
    }
}

/// Longest one-line reason printed on stderr, in characters: a reason may quote its input
/// (a parser's error shows the offending line), and that input may be hundreds of megabytes.
pub const MAX_REASON_CHARS: usize = 400;

/// Longest quotation of input inside a reason ([`snippet`]), in characters.
pub const MAX_SNIPPET_CHARS: usize = 80;

/// `text` with control characters escaped (`\u{1b}`: input must not write terminal escape
/// sequences) and cut after `max` characters (marked with `...`).
pub fn bounded(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A quotation of input for a reason: escaped and at most [`MAX_SNIPPET_CHARS`] characters.
pub fn snippet(text: &str) -> String {
    bounded(text, MAX_SNIPPET_CHARS)
}

impl std::error::Error for BadInput {}

/// Folds a message onto one line: line breaks become "; ", surrounding blanks go.
pub fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The clap command of `C` as the tools parse and show it: a global option (`--format`) is
/// described once, in the top-level help; every subcommand accepts it without repeating it.
/// (clap copies a global option into each subcommand's help; a hidden copy declared first
/// takes its place there and parses the same.)
pub fn command<C: clap::CommandFactory>() -> clap::Command {
    let cmd = C::command();
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    hide_in_subcommands(cmd, &globals)
}

fn hide_in_subcommands(cmd: clap::Command, globals: &[clap::Arg]) -> clap::Command {
    cmd.mut_subcommands(|sub| {
        let sub = globals
            .iter()
            .fold(sub, |sub, global| sub.arg(global.clone().hide(true)));
        hide_in_subcommands(sub, globals)
    })
}

/// Parses the command line; `--help` and `--version` print and exit 0, any usage error prints
/// its first line (`error: ...`) on stderr and exits 2.
pub fn parse_args<C: clap::Parser>() -> Result<C, ExitCode> {
    parse_args_from(std::env::args_os())
}

/// [`parse_args`] over the given arguments (the first is the program name).
pub fn parse_args_from<C, I, T>(args: I) -> Result<C, ExitCode>
where
    C: clap::Parser,
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut cmd = command::<C>();
    let parsed = cmd.try_get_matches_from_mut(args).and_then(|mut matches| {
        C::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut cmd))
    });
    match parsed {
        Ok(cli) => Ok(cli),
        Err(err) => match err.kind() {
            clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                let _ = err.print();
                Err(ExitCode::SUCCESS)
            }
            clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                eprintln!("error: a subcommand is required; run with --help for the list");
                Err(ExitCode::from(2))
            }
            _ => {
                eprintln!("{}", usage_error_line(&err.render().to_string()));
                Err(ExitCode::from(2))
            }
        },
    }
}

/// The one line printed for a usage error: clap's first paragraph folded onto one line, so
/// that "the following required arguments were not provided:" names them.
pub fn usage_error_line(rendered: &str) -> String {
    let first: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    if first.is_empty() {
        "error: bad usage".to_owned()
    } else {
        bounded(&first.join(" "), MAX_REASON_CHARS)
    }
}

/// Prints a command's result in the chosen format and returns the exit code of the contract.
pub fn finish(result: Result<Report, BadInput>, format: Format) -> ExitCode {
    match result {
        Ok(report) => {
            let mut out = std::io::stdout().lock();
            let printed = match format {
                Format::Json | Format::Sarif => writeln!(out, "{}", report.json),
                Format::Text => writeln!(out, "{}", report.text.trim_end()),
            };
            if printed.is_err() {
                eprintln!("error: cannot write to stdout");
                return ExitCode::from(2);
            }
            ExitCode::from(report.outcome.exit_code())
        }
        Err(bad) => {
            eprintln!("error: {bad}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_folds_multiline_reasons() {
        assert_eq!(one_line("a\n\n  b  \nc"), "a; b; c");
        assert_eq!(BadInput::new("x\ny").to_string(), "x; y");
    }

    #[test]
    fn reasons_are_escaped_and_bounded() {
        assert_eq!(
            BadInput::new("bad \u{1b}]0;owned\u{7}x").to_string(),
            "bad \\u{1b}]0;owned\\u{7}x"
        );
        let long = BadInput::new("y".repeat(10_000)).to_string();
        assert_eq!(long.chars().count(), MAX_REASON_CHARS + 3);
        assert!(long.ends_with("y..."));
        assert_eq!(snippet("ab\tc"), "ab\\tc");
    }

    #[test]
    fn a_usage_error_is_its_first_paragraph_on_one_line() {
        let clap = "error: the following required arguments were not provided:\n  --out <OUT>\n  --key <KEY>\n\nUsage: x --out <OUT>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            usage_error_line(clap),
            "error: the following required arguments were not provided: --out <OUT> --key <KEY>"
        );
        assert_eq!(
            usage_error_line("error: unexpected argument '--x' found\n\n  tip: ...\n"),
            "error: unexpected argument '--x' found"
        );
        assert_eq!(usage_error_line("\n\n"), "error: bad usage");
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Outcome::Accepted.exit_code(), 0);
        assert_eq!(Outcome::Rejected.exit_code(), 1);
    }
}
