//! `iotsec-device`: the device side of an iotsec fleet (EST enrollment and re-enrollment, OTA
//! apply with A/B trial boot, attestation evidence).
//!
//! Output contract (README.md, "Command-line contract"): `--format json` prints machine-readable results on stdout;
//! exit code 0 = accepted/allowed/pass, 1 = rejected/denied/fail, 2 = bad input or usage with a
//! one-line reason on stderr. Each crate's issue adds its subcommand in its own module.

mod attest;
mod ota;
mod pki;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use iotsec_cli_contract::{BadInput, Format, finish, info, parse_args};

/// Device-side tool of the iotsec fleet security suite.
#[derive(Parser, Debug)]
#[command(name = "iotsec-device", version, about)]
struct Cli {
    /// Output format: `text` for people, `json` for machines (stdout); `sarif` is refused here.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    format: Format,
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
}

fn main() -> ExitCode {
    let cli = match parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if cli.format == Format::Sarif {
        return finish(
            Err(BadInput::new(
                "--format sarif is only for `iotsec-cloud sbom gate`",
            )),
            cli.format,
        );
    }
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
    };
    finish(result, cli.format)
}
