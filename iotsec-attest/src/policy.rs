//! Appraisal policy: reference values (several acceptable digests per PCR, per bank, in the
//! spirit of RATS CoRIM reference values, RFC 9334 §8.3), the known qualified signer, pinned
//! firmware versions and whether SHA-1 banks are tolerated. Loaded from JSON.
//!
//! ```json
//! { "pcrs": { "sha256": { "0": ["<hex>", "<hex>"], "16": ["<hex>"] } },
//!   "qualified_signer": "000b...", "firmware_versions": ["0x2019102300163636"],
//!   "allow_sha1": false }
//! ```

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use thiserror::Error;

use crate::algorithm::HashAlg;

/// Acceptable values of one PCR.
pub type AcceptedValues = Vec<Vec<u8>>;

/// What a verifier accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppraisalPolicy {
    /// Per bank, per PCR, the values accepted. A PCR listed here must be in the quote.
    pub reference: BTreeMap<HashAlg, BTreeMap<u8, AcceptedValues>>,
    /// The AK's qualified Name (EK chain), when known.
    pub qualified_signer: Option<Vec<u8>>,
    /// Accepted firmwareVersion values; empty means not pinned.
    pub firmware_versions: Vec<u64>,
    /// Tolerate SHA-1 PCR banks and signatures (off: SHA-1 is refused).
    pub allow_sha1: bool,
    /// Accept an AK given as a bare key (PEM) whose TPM attributes cannot be checked, with a
    /// warning (off: refused, because a non-restricted key can forge quotes).
    pub accept_bare_ak: bool,
}

/// Why a policy document was refused.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not JSON of the expected shape.
    #[error("policy is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// An unknown bank name.
    #[error("unknown PCR bank {0:?}")]
    UnknownBank(String),
    /// A PCR index that is not a number below 32.
    #[error("PCR index {0:?} is not a number below 32")]
    BadPcrIndex(String),
    /// A value that is not hex, or of the wrong length for its bank.
    #[error("value {value:?} for {bank} PCR {index} is not a {len}-byte hex digest")]
    BadDigest {
        /// Bank.
        bank: &'static str,
        /// Index.
        index: u8,
        /// Value found.
        value: String,
        /// Expected length.
        len: usize,
    },
    /// A field that is not hex.
    #[error("{field} is not hex")]
    NotHex {
        /// The field.
        field: &'static str,
    },
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDocument {
    #[serde(default)]
    pcrs: BTreeMap<String, BTreeMap<String, Vec<String>>>,
    #[serde(default)]
    qualified_signer: Option<String>,
    #[serde(default)]
    firmware_versions: Vec<String>,
    #[serde(default)]
    allow_sha1: bool,
    #[serde(default)]
    accept_bare_ak: bool,
}

fn strip_0x(s: &str) -> &str {
    s.strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s)
}

impl AppraisalPolicy {
    /// Parses the JSON form.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let doc: PolicyDocument = serde_json::from_str(text)?;
        let mut policy = AppraisalPolicy {
            allow_sha1: doc.allow_sha1,
            accept_bare_ak: doc.accept_bare_ak,
            ..Default::default()
        };
        for (bank_name, pcrs) in doc.pcrs {
            let bank = HashAlg::from_name(&bank_name)
                .ok_or_else(|| PolicyError::UnknownBank(bank_name.clone()))?;
            let entry = policy.reference.entry(bank).or_default();
            for (index_text, values) in pcrs {
                let index: u8 = index_text
                    .parse()
                    .ok()
                    .filter(|i| *i < 32)
                    .ok_or_else(|| PolicyError::BadPcrIndex(index_text.clone()))?;
                let mut accepted = Vec::new();
                for v in values {
                    match hex::decode(strip_0x(&v)) {
                        Ok(d) if d.len() == bank.digest_len() => accepted.push(d),
                        _ => {
                            return Err(PolicyError::BadDigest {
                                bank: bank.name(),
                                index,
                                value: v,
                                len: bank.digest_len(),
                            });
                        }
                    }
                }
                entry.insert(index, accepted);
            }
        }
        if let Some(q) = doc.qualified_signer {
            policy.qualified_signer =
                Some(hex::decode(strip_0x(&q)).map_err(|_| PolicyError::NotHex {
                    field: "qualified_signer",
                })?);
        }
        for f in doc.firmware_versions {
            let v = u64::from_str_radix(strip_0x(&f), 16).map_err(|_| PolicyError::NotHex {
                field: "firmware_versions",
            })?;
            policy.firmware_versions.push(v);
        }
        Ok(policy)
    }
}
