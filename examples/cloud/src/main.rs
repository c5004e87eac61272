//! `iotsec-cloud`: the cloud side of an iotsec fleet (CA and EST server, OTA signing and rollout,
//! the SBOM deploy gate, MQTT ACL tooling, attestation appraisal).
//!
//! Output contract (README.md, "Command-line contract"): `--format json` prints machine-readable results on stdout;
//! exit code 0 = accepted/allowed/pass, 1 = rejected/denied/fail, 2 = bad input or usage with a
//! one-line reason on stderr. Each crate's subcommands live in their own module.

mod acl;
mod attest;
mod attest_ekcert;
mod demo;
mod ota;
mod ota_mcuboot;
mod ota_suit;
mod pki;
mod sbom;
pub mod serve;
mod tour;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use iotsec_cli_contract::{BadInput, Format, completions, finish, info, man_pages, parse_args};

/// Cloud-side tool of the iotsec fleet security suite.
#[derive(Parser, Debug)]
#[command(name = "iotsec-cloud", version, about)]
struct Cli {
    /// What every command prints on stdout (before or after the command name).
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    format: Format,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Lists the iotsec crates this binary composes, with their version and no_std status.
    Info,
    /// The fleet demo: the CA, the cloud, mosquitto with the iotsec plugin and N device agents
    /// on 127.0.0.1, walked through enrollment, attestation, the SBOM gate, a staged rollout,
    /// attacks, revocation and decommissioning; exit 0 when every expected outcome happened.
    Demo(demo::DemoArgs),
    /// One device through identity, attestation, authorization, the deploy gate and an update,
    /// all five crates in one process, no network; exit 0 when every step (and every staged
    /// attack's refusal) came out as expected.
    Tour(tour::TourArgs),
    /// Signed update manifests: keys, trust roots, signing and verification (iotsec-ota).
    #[command(subcommand)]
    Ota(ota::Command),
    /// MQTT topic authorization: check, lint, diff, import.
    #[command(subcommand)]
    Acl(acl::Command),
    /// TPM 2.0 attestation: appraise quotes, check event logs and EK certificates, make credentials.
    #[command(subcommand)]
    Attest(attest::Command),
    /// SBOM/VEX deploy gate (iotsec-sbom).
    #[command(subcommand)]
    Sbom(sbom::Command),
    /// CA hierarchy: init, issue, revoke, crl, rotate (iotsec-pki).
    #[command(subcommand)]
    Pki(pki::Command),
    /// The fleet service over HTTPS (TLS 1.3): EST, attestation, releases, rollouts, registry.
    ///
    /// EST enrollment, attestation, the release channel behind the SBOM gate, staged rollouts,
    /// the registry, revocation (CRL, OCSP) and the broker's posture feed and CRL file. Prints
    /// the bound address on stdout, serves until Ctrl-C or SIGTERM.
    Serve(serve::cli::ServeArgs),
    /// Prints a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(completions::CompletionsArgs),
    /// Writes the man pages of this tool, one per command, to a directory.
    Man(man_pages::ManArgs),
}

fn main() -> ExitCode {
    pki::install_crypto_provider();
    let cli = match parse_args::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    if cli.format == Format::Sarif && !matches!(cli.command, Command::Sbom(_)) {
        return finish(
            Err(BadInput::new("--format sarif is only for `sbom gate`")),
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
                "iotsec-sbom",
                "iotsec-mqtt-acl",
                "iotsec-attest",
            ],
        )),
        Command::Demo(args) => demo::run(args),
        Command::Tour(args) => tour::run(args),
        Command::Ota(command) => ota::run(command),
        Command::Acl(command) => acl::run(command),
        Command::Attest(command) => attest::run(command),
        Command::Sbom(cmd) => sbom::run(cmd, cli.format),
        Command::Pki(cmd) => pki::run(cmd),
        Command::Serve(args) => serve::cli::run(args, cli.format),
        Command::Completions(args) => completions::run(Cli::command(), &args, cli.format),
        Command::Man(args) => man_pages::run(iotsec_cli_contract::command::<Cli>(), &args),
    };
    finish(result, cli.format)
}
