//! The `man --out DIR` subcommand both tools share: one roff page per command and subcommand
//! (`iotsec-cloud.1`, `iotsec-cloud-pki-init.1`, ...; the git naming), generated from the clap
//! definition with `clap_mangen`, ready for `/usr/share/man/man1` or `MANPATH`.

use std::path::{Path, PathBuf};

use crate::{BadInput, Outcome, Report};

/// Arguments of `man`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Directory to write the pages to (created if missing; existing pages are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

/// Renders `cmd` and its subcommands (depth first, hidden ones and `help` left out) into
/// `(file name, roff)` pairs.
fn pages(cmd: &clap::Command, into: &mut Vec<(String, Vec<u8>)>) -> Result<(), BadInput> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, into)?;
    }
    let man = clap_mangen::Man::new(cmd.clone());
    let mut roff = Vec::new();
    man.render(&mut roff)
        .map_err(|e| BadInput::new(format!("rendering the man page of {}: {e}", cmd.get_name())))?;
    into.push((man.get_filename(), roff));
    Ok(())
}

fn write_page(dir: &Path, name: &str, roff: &[u8]) -> Result<PathBuf, BadInput> {
    let path = dir.join(name);
    std::fs::write(&path, roff)
        .map_err(|e| BadInput::new(format!("writing man page {}: {e}", path.display())))?;
    Ok(path)
}

/// Writes the man pages of `cmd` (the tool's clap command as [`crate::command`] shows it: the
/// global options described once, on the top-level page).
pub fn run(cmd: clap::Command, args: &ManArgs) -> Result<Report, BadInput> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut rendered = Vec::new();
    pages(&cmd, &mut rendered)?;
    std::fs::create_dir_all(&args.out).map_err(|e| {
        BadInput::new(format!(
            "creating man page directory {}: {e}",
            args.out.display()
        ))
    })?;
    let written = rendered
        .iter()
        .map(|(name, roff)| write_page(&args.out, name, roff))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Report {
        outcome: Outcome::Accepted,
        text: format!(
            "{} man pages written to {} (for example: man -l {})",
            written.len(),
            args.out.display(),
            written
                .last()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        json: serde_json::json!({
            "out": args.out.display().to_string(),
            "pages": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        }),
    })
}
