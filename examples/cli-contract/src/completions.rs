//! The `completions SHELL` subcommand both tools share: a completion script for bash, zsh, fish,
//! elvish or PowerShell on stdout, generated from the tool's own clap definition (so it always
//! matches the flags the binary accepts), as `rustup completions` and `gh completion` do.
//! Packagers install it where the shell looks (bash:
//! `/usr/share/bash-completion/completions/NAME`, zsh: `.../site-functions/_NAME`, fish:
//! `.../vendor_completions.d/NAME.fish`); a user can also `source <(NAME completions bash)`.

use crate::{BadInput, Format, Outcome, Report};

/// Arguments of `completions`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell the script is for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// The completion script of `cmd` (the tool's full clap command, global options included in
/// every subcommand so that they complete after it too). The script is the output: `--format
/// json` has nothing to add to it and is refused.
pub fn run(
    mut cmd: clap::Command,
    args: &CompletionsArgs,
    format: Format,
) -> Result<Report, BadInput> {
    if format != Format::Text {
        return Err(BadInput::new(
            "completions prints a shell script: leave out --format",
        ));
    }
    let bin = cmd.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, &bin, &mut script);
    let mut script = String::from_utf8(script).map_err(BadInput::new)?;
    if args.shell == clap_complete::Shell::Bash {
        // clap_complete 4.6 names the bash states of a hyphenated binary two ways (the loop
        // `iotsec__cloud__subcmd__pki`, the case arms `iotsec__subcmd__cloud__subcmd__pki`), so
        // nothing after the first word completes (clap issue #6421); spell the arms as the loop.
        script = script.replace(&bin.replace('-', "__subcmd__"), &bin.replace('-', "__"));
    }
    Ok(Report {
        outcome: Outcome::Accepted,
        json: serde_json::json!({ "shell": args.shell.to_string() }),
        text: script,
    })
}
