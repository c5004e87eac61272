//! The evidence of one quote as tpm2-tools writes it (`tpm2_quote -m -s -o`), and where PCR
//! values come from.

use std::collections::BTreeMap;
use std::vec::Vec;

use crate::tpm::algorithm::HashAlg;
use crate::tpm::pcr_file::SerializedPcrs;
use crate::tpm::public::PublicArea;

/// Supplies PCR values by bank and index.
pub trait PcrSource {
    /// The value of PCR `index` in `bank`.
    fn pcr(&self, bank: HashAlg, index: u8) -> Option<&[u8]>;
}

impl PcrSource for SerializedPcrs<'_> {
    fn pcr(&self, bank: HashAlg, index: u8) -> Option<&[u8]> {
        self.get(bank, index)
    }
}

impl PcrSource for BTreeMap<(HashAlg, u8), Vec<u8>> {
    fn pcr(&self, bank: HashAlg, index: u8) -> Option<&[u8]> {
        self.get(&(bank, index)).map(Vec::as_slice)
    }
}

/// The evidence of one quote, as tpm2-tools writes it.
#[derive(Debug, Clone, Copy)]
pub struct QuoteEvidence<'a, P: PcrSource> {
    /// The attestation key.
    pub ak: &'a PublicArea<'a>,
    /// The TPMS_ATTEST bytes (`tpm2_quote -m`).
    pub message: &'a [u8],
    /// The TPMT_SIGNATURE bytes (`tpm2_quote -s`).
    pub signature: &'a [u8],
    /// The PCR values (`tpm2_quote -o`).
    pub pcrs: &'a P,
    /// A TCG crypto-agile event log, replayed only once signature and nonce have passed.
    pub event_log: Option<&'a [u8]>,
}
