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
use std::string::{String, ToString};
use std::vec::Vec;

use thiserror::Error;

use crate::tpm::algorithm::HashAlg;

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
    /// A PCR index that is not a number below 32 written in plain decimal (no sign, no leading
    /// zero: `"00"` and `"+0"` would otherwise be second names for PCR 0).
    #[error("PCR index {0:?} is not a number below 32 in plain decimal")]
    BadPcrIndex(String),
    /// The same PCR of the same bank listed twice (a repeated JSON key, or a bank named twice in
    /// different case): one list would silently replace the other.
    #[error("{bank} PCR {index} is listed twice")]
    DuplicatePcr {
        /// Bank.
        bank: &'static str,
        /// Index.
        index: u8,
    },
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

crate::error::error_codes!(PolicyError {
    PolicyError::Json(_) => "json", BadInput;
    PolicyError::UnknownBank(_) => "unknown_bank", BadInput;
    PolicyError::BadPcrIndex(_) => "bad_pcr_index", BadInput;
    PolicyError::DuplicatePcr { .. } => "duplicate_pcr", BadInput;
    PolicyError::BadDigest { .. } => "bad_digest", BadInput;
    PolicyError::NotHex { .. } => "not_hex", BadInput;
});

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDocument {
    #[serde(default)]
    pcrs: Entries<Entries<Vec<String>>>,
    #[serde(default)]
    qualified_signer: Option<String>,
    #[serde(default)]
    firmware_versions: Vec<String>,
    #[serde(default)]
    allow_sha1: bool,
    #[serde(default)]
    accept_bare_ak: bool,
}

/// A JSON object's members in document order, repeated keys kept (a map would keep only the
/// last), so that a repetition can be refused.
struct Entries<V>(Vec<(String, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for Entries<V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members<V>(core::marker::PhantomData<V>);
        impl<'de, V: serde::Deserialize<'de>> serde::de::Visitor<'de> for Members<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, V>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        deserializer.deserialize_map(Members(core::marker::PhantomData))
    }
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
        for (bank_name, pcrs) in doc.pcrs.0 {
            let bank = HashAlg::from_name(&bank_name)
                .ok_or_else(|| PolicyError::UnknownBank(bank_name.clone()))?;
            let entry = policy.reference.entry(bank).or_default();
            for (index_text, values) in pcrs.0 {
                let index: u8 = index_text
                    .parse()
                    .ok()
                    .filter(|i: &u8| *i < 32 && i.to_string() == index_text)
                    .ok_or_else(|| PolicyError::BadPcrIndex(index_text.clone()))?;
                if entry.contains_key(&index) {
                    return Err(PolicyError::DuplicatePcr {
                        bank: bank.name(),
                        index,
                    });
                }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    const ZERO: &str = "0000000000000000000000000000000000000000000000000000000000000000";
    const ONES: &str = "1111111111111111111111111111111111111111111111111111111111111111";

    fn policy(pcrs: &str) -> Result<AppraisalPolicy, PolicyError> {
        AppraisalPolicy::from_json(&std::format!("{{\"pcrs\": {pcrs}}}"))
    }

    #[test]
    fn second_names_for_a_pcr_are_refused() {
        for key in ["00", "+0", "0x0", " 0", "032"] {
            let doc = std::format!("{{\"sha256\": {{\"{key}\": [\"{ONES}\"]}}}}");
            assert!(
                matches!(policy(&doc), Err(PolicyError::BadPcrIndex(k)) if k == key),
                "{key}"
            );
        }
    }

    #[test]
    fn a_pcr_listed_twice_is_refused_not_overwritten() {
        let repeated = std::format!("{{\"sha256\": {{\"0\": [\"{ZERO}\"], \"0\": [\"{ONES}\"]}}}}");
        let bank_in_two_cases = std::format!(
            "{{\"sha256\": {{\"0\": [\"{ZERO}\"]}}, \"SHA256\": {{\"0\": [\"{ONES}\"]}}}}"
        );
        for doc in [repeated, bank_in_two_cases] {
            assert!(matches!(
                policy(&doc),
                Err(PolicyError::DuplicatePcr {
                    bank: "sha256",
                    index: 0
                })
            ));
        }
    }

    #[test]
    fn distinct_pcrs_of_a_bank_named_twice_are_merged() {
        let doc = std::format!(
            "{{\"sha256\": {{\"0\": [\"{ZERO}\"]}}, \"SHA256\": {{\"7\": [\"{ONES}\", \"{ZERO}\"]}}}}"
        );
        let p = policy(&doc).unwrap();
        let bank = &p.reference[&HashAlg::Sha256];
        assert_eq!(bank.keys().copied().collect::<Vec<u8>>(), [0, 7]);
        assert_eq!(bank[&7].len(), 2);
    }
}
