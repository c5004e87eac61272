//! `iotsec-device`: the device side of an iotsec fleet (EST enrollment and re-enrollment, OTA
//! apply with A/B trial boot, attestation evidence).
//!
//! Output contract (README.md, "Command-line contract"): `--format json` prints machine-readable results on stdout;
//! exit code 0 = accepted/allowed/pass, 1 = rejected/denied/fail, 2 = bad input or usage with a
//! one-line reason on stderr. Each crate's subcommands live in their own module.

mod attest;
mod ota;
mod pki;
mod run;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use iotsec_cli_contract::{TextOrJson, completions, finish, info, man_pages, parse_args};

/// Device-side tool of the iotsec fleet security suite.
#[derive(Parser, Debug)]
#[command(name = "iotsec-device", version, about)]
struct Cli {
    /// What every command prints on stdout (before or after the command name).
    #[arg(long, value_enum, default_value_t = TextOrJson::Text, global = true)]
    format: TextOrJson,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Lists the iotsec crates this binary composes, with their version and no_std status.
    Info,
    /// A/B firmware updates with trial boot on slot files (iotsec-ota).
    #[command(subcommand)]
    Ota(ota::Command),
    /// TPM attestation evidence: quote with the device's AK.
    #[command(subcommand)]
    Attest(attest::Command),
    /// Enrolls a new device identity over EST (iotsec-pki).
    Enroll(pki::EnrollArgs),
    /// Renews (or rekeys) the identity over EST with mutual TLS (iotsec-pki).
    Reenroll(pki::ReenrollArgs),
    /// Runs the device agent until Ctrl-C: enrollment, attestation, MQTT telemetry over mutual
    /// TLS, updates with trial boot, renewal, decommissioning (one line per event).
    Run(Box<run::RunArgs>),
    /// Prints a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(completions::CompletionsArgs),
    /// Writes the man pages of this tool, one per command, to a directory.
    Man(man_pages::ManArgs),
}

fn main() -> ExitCode {
    let cli = match parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let result = match cli.command {
        Command::Info => Ok(info::report(
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            &[
                "iotsec-pki",
                "iotsec-ota",
                "iotsec-mqtt-acl",
                "iotsec-attest",
            ],
        )),
        Command::Ota(command) => ota::run(command),
        Command::Attest(command) => attest::run(command),
        Command::Enroll(a) => pki::enroll(a),
        Command::Reenroll(a) => pki::reenroll(a),
        Command::Run(a) => run::run(*a, cli.format.into()),
        Command::Completions(args) => completions::run(Cli::command(), &args, cli.format.into()),
        Command::Man(args) => man_pages::run(iotsec_cli_contract::command::<Cli>(), &args),
    };
    finish(result, cli.format.into())
}
