//! The loaded advisory database: advisories indexed by (ecosystem, package name) and by CPE
//! (vendor, product), plus the snapshot digest that binds a decision to exactly these files.
//!
//! Snapshot digest: SHA-256 of the `sha256sum`-style manifest of the loaded files, one line
//! `<hex sha256>  <relative path>\n` per file, sorted bytewise by path. It can be reproduced with
//! `(cd DIR && find . -type f -name '*.json' | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum) | sha256sum`.

use std::collections::{HashMap, HashSet};

use sha2::{Digest, Sha256};

use super::Advisory;
use super::osv::parse_osv;
use crate::cpe::Cpe23;
use crate::distro::advisory_release;
use crate::error::GateError;

/// One file of a database snapshot.
#[derive(Clone, Debug)]
pub struct SnapshotFile {
    /// Path relative to the database root, `/`-separated.
    pub path: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// Digest of a snapshot (module doc).
pub fn snapshot_digest(files: &[SnapshotFile]) -> String {
    let mut entries: Vec<(&str, String)> = files
        .iter()
        .map(|f| (f.path.as_str(), hex::encode(Sha256::digest(&f.bytes))))
        .collect();
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut manifest = Sha256::new();
    for (path, digest) in entries {
        manifest.update(digest.as_bytes());
        manifest.update(b"  ");
        manifest.update(path.as_bytes());
        manifest.update(b"\n");
    }
    hex::encode(manifest.finalize())
}

/// Where an advisory's affected entry sits: (advisory index, affected index).
pub(crate) type AffectedRef = (u32, u32);

/// Advisories, indexed for matching.
#[derive(Debug, Default)]
pub struct AdvisoryDatabase {
    advisories: Vec<Advisory>,
    by_package: HashMap<String, HashMap<String, Vec<AffectedRef>>>,
    by_cpe: HashMap<(String, String), Vec<(AffectedRef, Cpe23)>>,
    /// Canonical distribution releases with advisories (`Debian:12`, `Ubuntu:22.04`).
    releases: HashSet<String>,
    /// Affected entries by the normalized repository of their `GIT` ranges.
    by_repo: HashMap<String, Vec<AffectedRef>>,
    withdrawn: usize,
    digest: String,
}

/// The index key of an ecosystem: the part before `:` (`Debian:12` -> `Debian`).
pub(crate) fn ecosystem_key(ecosystem: &str) -> &str {
    ecosystem.split(':').next().unwrap_or(ecosystem)
}

/// The index key of a package name (PEP 503 normalization for PyPI). npm names and Go module
/// paths are keyed lower-cased on both sides because the purl specification folds their case
/// (npm names, golang namespaces): a mixed-case advisory name must still meet the folded purl.
pub(crate) fn name_key(ecosystem: &str, name: &str) -> String {
    match ecosystem {
        "PyPI" => name.to_ascii_lowercase().replace(['_', '.'], "-"),
        "npm" | "Go" => name.to_ascii_lowercase(),
        _ => name.to_owned(),
    }
}

impl AdvisoryDatabase {
    /// Builds the database from the files of a snapshot (order does not matter). Withdrawn
    /// advisories are counted and left out; a duplicated id is an error.
    pub fn from_files(files: &[SnapshotFile]) -> Result<AdvisoryDatabase, GateError> {
        let mut db = AdvisoryDatabase {
            digest: snapshot_digest(files),
            ..AdvisoryDatabase::default()
        };
        let mut seen: HashMap<String, String> = HashMap::with_capacity(files.len());
        let mut sorted: Vec<&SnapshotFile> = files.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        for f in sorted {
            let adv = parse_osv(&f.bytes, &f.path)?;
            if let Some(first) = seen.insert(adv.id.clone(), f.path.clone()) {
                return Err(GateError::DuplicateAdvisory {
                    id: adv.id,
                    first,
                    second: f.path.clone(),
                });
            }
            if adv.withdrawn {
                db.withdrawn += 1;
                continue;
            }
            db.insert(adv);
        }
        Ok(db)
    }

    fn insert(&mut self, adv: Advisory) {
        let Ok(ai) = u32::try_from(self.advisories.len()) else {
            return;
        };
        for (i, a) in adv.affected.iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            let eco = ecosystem_key(&a.ecosystem);
            self.by_package
                .entry(eco.to_owned())
                .or_default()
                .entry(name_key(eco, &a.name))
                .or_default()
                .push((ai, i));
            if let Some(release) = advisory_release(&a.ecosystem) {
                self.releases.insert(release);
            }
            let mut repos: Vec<&str> = a.ranges.iter().filter_map(|r| r.repo.as_deref()).collect();
            repos.sort_unstable();
            repos.dedup();
            for repo in repos {
                self.by_repo
                    .entry(repo.to_owned())
                    .or_default()
                    .push((ai, i));
            }
            for cpe in a.cpes.iter().filter_map(|c| Cpe23::parse(c)) {
                self.by_cpe
                    .entry((cpe.vendor.clone(), cpe.product.clone()))
                    .or_default()
                    .push(((ai, i), cpe));
            }
        }
        self.advisories.push(adv);
    }

    /// All advisories in force (withdrawn ones excluded).
    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    /// How many withdrawn advisories were left out.
    pub fn withdrawn_count(&self) -> usize {
        self.withdrawn
    }

    /// The snapshot digest (hex SHA-256, module doc).
    pub fn snapshot_sha256(&self) -> &str {
        &self.digest
    }

    /// Whether any advisory covers the ecosystem (an SBOM component of an ecosystem the
    /// database does not cover cannot be cleared). A distribution release (`Debian:12`,
    /// `Alpine:v3.18`, `Ubuntu:22.04`, in any spelling [`crate::distro::advisory_release`]
    /// reads) is covered only by advisories of that release (`Ubuntu:22.04:LTS` covers
    /// `Ubuntu:22.04`); advisories without a release (`Debian`) apply to every release but cover
    /// none. A name without a release (`Debian`) is covered by any advisory of the distribution.
    pub fn covers_ecosystem(&self, ecosystem: &str) -> bool {
        match advisory_release(ecosystem) {
            Some(release) => self.releases.contains(&release),
            None => self.by_package.contains_key(ecosystem_key(ecosystem)),
        }
    }

    /// Whether any advisory carries a `GIT` range (without them, a component identified only
    /// by its repository cannot be cleared).
    pub fn has_git_data(&self) -> bool {
        !self.by_repo.is_empty()
    }

    pub(crate) fn lookup_repo(&self, repo: &str) -> &[AffectedRef] {
        self.by_repo.get(repo).map_or(&[], Vec::as_slice)
    }

    /// Whether any advisory carries CPE names (without them, CPE-only components cannot be
    /// cleared).
    pub fn has_cpe_data(&self) -> bool {
        !self.by_cpe.is_empty()
    }

    pub(crate) fn lookup_package(&self, ecosystem: &str, name: &str) -> &[AffectedRef] {
        let eco = ecosystem_key(ecosystem);
        let Some(names) = self.by_package.get(eco) else {
            return &[];
        };
        let found = if eco == "PyPI" {
            names.get(&name_key(eco, name))
        } else {
            names.get(name)
        };
        found.map_or(&[], Vec::as_slice)
    }

    pub(crate) fn lookup_cpe(&self, cpe: &Cpe23) -> &[(AffectedRef, Cpe23)] {
        self.by_cpe
            .get(&(cpe.vendor.clone(), cpe.product.clone()))
            .map_or(&[], Vec::as_slice)
    }

    pub(crate) fn get(&self, r: AffectedRef) -> Option<(&Advisory, &super::AffectedPackage)> {
        let adv = self.advisories.get(r.0 as usize)?;
        Some((adv, adv.affected.get(r.1 as usize)?))
    }
}

/// Reads every `*.json` file under `dir` (recursively) as a snapshot and builds the database.
pub fn load_advisory_dir(dir: &std::path::Path) -> Result<AdvisoryDatabase, GateError> {
    let files = read_snapshot(dir)?;
    AdvisoryDatabase::from_files(&files)
}

fn read_snapshot(root: &std::path::Path) -> Result<Vec<SnapshotFile>, GateError> {
    let io = |p: &std::path::Path, e: std::io::Error| GateError::Io {
        path: p.display().to_string(),
        reason: e.to_string(),
    };
    if root.is_file() {
        let bytes = std::fs::read(root).map_err(|e| io(root, e))?;
        let name = root
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        return Ok(vec![SnapshotFile { path: name, bytes }]);
    }
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0usize)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        if depth > 16 {
            continue;
        }
        for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
            let entry = entry.map_err(|e| io(&dir, e))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let ft = entry.file_type().map_err(|e| io(&path, e))?;
            if ft.is_dir() {
                stack.push((path, rel, depth + 1));
            } else if ft.is_file() && name.ends_with(".json") {
                let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
                out.push(SnapshotFile { path: rel, bytes });
            }
        }
    }
    if out.is_empty() {
        return Err(GateError::Io {
            path: root.display().to_string(),
            reason: "no *.json advisory files".to_owned(),
        });
    }
    Ok(out)
}
