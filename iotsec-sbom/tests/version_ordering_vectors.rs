#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! Every vector of `../shared/data/version-ordering` (lines `A <|=|> B`, `#` and `//` comments).

use std::cmp::Ordering;

use iotsec_sbom::version::VersionScheme;

mod shared_data;

/// Checks every vector of the file and that there are `expected` of them (skipped when the
/// shared data is absent).
fn check_file(name: &str, scheme: VersionScheme, expected: usize) {
    let Some(path) = shared_data::shared_data(&format!("version-ordering/{name}")) else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            parts.len(),
            3,
            "{name}:{}: malformed vector {line:?}",
            n + 1
        );
        let want = match parts[1] {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            op => panic!("{name}:{}: unknown operator {op}", n + 1),
        };
        let got = scheme.compare(parts[0], parts[2]);
        let back = scheme.compare(parts[2], parts[0]);
        if got != want || back != want.reverse() {
            failures.push(format!("{name}:{}: {line} (got {got:?})", n + 1));
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(checked, expected, "{name}");
}

#[test]
fn every_semver_vector_passes() {
    check_file("semver-versions.txt", VersionScheme::Semver, 86);
}

#[test]
fn every_debian_vector_passes() {
    check_file("debian-versions.txt", VersionScheme::Debian, 30);
}

#[test]
fn every_alpine_vector_passes() {
    check_file("alpine-versions.txt", VersionScheme::Alpine, 778);
}
