//! TCG PC Client crypto-agile event log (TCG PC Client Platform Firmware Profile 1.05 §10:
//! TCG_PCClientPCREvent header with the TCG_EfiSpecIDEvent "Spec ID Event03", then
//! TCG_PCR_EVENT2 records, little-endian) and its replay to PCR values (§3.3.2 StartupLocality,
//! §10.4.5 EV_NO_ACTION is never extended).
//!
//! For the event types whose digest is defined as the hash of the event data (§10.4.1:
//! EV_SEPARATOR, EV_ACTION, EV_EFI_ACTION, EV_EFI_VARIABLE_DRIVER_CONFIG, ...), replay checks
//! the data against every digest and names the first event that breaks: an attacker who alters
//! the data but keeps the digest (accepted by `tpm2_checkquote`) is caught here.

use crate::tpm::algorithm::{DigestBytes, HashAlg};
use crate::wire::Reader;

/// Longest event data accepted (1 MiB).
pub const MAX_EVENT_DATA: usize = 1 << 20;
/// Most digest algorithms a log may declare.
pub const MAX_LOG_ALGORITHMS: usize = 8;
/// Most events accepted in one log.
pub const MAX_EVENTS: usize = 100_000;
/// PCRs replayed per bank.
pub const PCR_COUNT: usize = 24;

/// EV_NO_ACTION.
pub const EV_NO_ACTION: u32 = 0x0000_0003;
/// EV_SEPARATOR.
pub const EV_SEPARATOR: u32 = 0x0000_0004;
/// EV_ACTION.
pub const EV_ACTION: u32 = 0x0000_0005;
/// EV_EVENT_TAG.
pub const EV_EVENT_TAG: u32 = 0x0000_0006;
/// EV_S_CRTM_VERSION.
pub const EV_S_CRTM_VERSION: u32 = 0x0000_0008;
/// EV_IPL.
pub const EV_IPL: u32 = 0x0000_000D;
/// EV_PLATFORM_CONFIG_FLAGS.
pub const EV_PLATFORM_CONFIG_FLAGS: u32 = 0x0000_000A;
/// EV_COMPACT_HASH.
pub const EV_COMPACT_HASH: u32 = 0x0000_000C;
/// EV_OMIT_BOOT_DEVICE_EVENTS.
pub const EV_OMIT_BOOT_DEVICE_EVENTS: u32 = 0x0000_0012;
/// EV_EFI_VARIABLE_DRIVER_CONFIG.
pub const EV_EFI_VARIABLE_DRIVER_CONFIG: u32 = 0x8000_0001;
/// EV_EFI_GPT_EVENT.
pub const EV_EFI_GPT_EVENT: u32 = 0x8000_0006;
/// EV_EFI_ACTION.
pub const EV_EFI_ACTION: u32 = 0x8000_0007;
/// EV_EFI_VARIABLE_AUTHORITY.
pub const EV_EFI_VARIABLE_AUTHORITY: u32 = 0x8000_00E0;

/// Event types whose digests must be the hash of their data.
pub const DATA_HASHED_EVENTS: [u32; 10] = [
    EV_SEPARATOR,
    EV_ACTION,
    EV_EVENT_TAG,
    EV_S_CRTM_VERSION,
    EV_PLATFORM_CONFIG_FLAGS,
    EV_COMPACT_HASH,
    EV_OMIT_BOOT_DEVICE_EVENTS,
    EV_EFI_VARIABLE_DRIVER_CONFIG,
    EV_EFI_GPT_EVENT,
    EV_EFI_ACTION,
];

const SPEC_ID_SIGNATURE: &[u8; 16] = b"Spec ID Event03\0";
const STARTUP_LOCALITY: &[u8; 16] = b"StartupLocality\0";

/// Why an event log was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventLogError {
    /// The log's structure is broken.
    #[error("event log malformed: {0}")]
    Malformed(#[from] crate::error::ParseError),
    /// The first event is not the crypto-agile Spec ID event.
    #[error("event log does not start with a \"Spec ID Event03\" header")]
    NotCryptoAgile,
    /// An event's digest list does not match the algorithms the header declares.
    #[error("event {event}: digest list does not match the header's algorithms")]
    DigestListMismatch {
        /// Index of the event (the header is event 0).
        event: usize,
    },
    /// The header declares an algorithm twice or too many.
    #[error("event log header declares {count} algorithms or repeats one")]
    BadAlgorithmList {
        /// Declared count.
        count: u32,
    },
    /// An event whose digest must be the hash of its data does not match it: altered data.
    #[error(
        "event {event} (type {event_type:#x}, PCR {pcr}): {bank:?} digest is not the hash of its data"
    )]
    EventDataAltered {
        /// Index of the event.
        event: usize,
        /// Its type.
        event_type: u32,
        /// Its PCR.
        pcr: u32,
        /// The bank whose digest disagrees.
        bank: HashAlg,
    },
    /// An event extends a PCR outside 0..24.
    #[error("event {event} extends PCR {pcr}")]
    PcrOutOfRange {
        /// Index of the event.
        event: usize,
        /// The PCR.
        pcr: u32,
    },
    /// A StartupLocality event after PCR 0 was initialised or extended: PCR 0 cannot be reset
    /// after TPM2_Startup, so the events before it were never measured as the log says.
    #[error("event {event}: StartupLocality after PCR 0 was already initialised or extended")]
    StartupLocalityOutOfOrder {
        /// Index of the StartupLocality event.
        event: usize,
    },
    /// The log does not carry the bank asked for.
    #[error("event log has no {0:?} digests")]
    BankNotInLog(HashAlg),
    /// More than [`MAX_EVENTS`] events.
    #[error("event log has more than {MAX_EVENTS} events")]
    TooManyEvents,
    /// Every bank of the log uses a hash this crate cannot compute (e.g. SM3 only): nothing
    /// in it can be checked or replayed, so it is unverifiable, not intact.
    /// [`EventLog::unsupported_algorithms`] lists the banks.
    #[error("event log has no bank this verifier can hash: nothing could be checked")]
    NoSupportedBank,
}

crate::error::error_codes!(EventLogError {
    EventLogError::Malformed(e) => e.code(), e.kind();
    EventLogError::NotCryptoAgile => "not_crypto_agile", BadInput;
    EventLogError::DigestListMismatch { .. } => "digest_list_mismatch", BadInput;
    EventLogError::BadAlgorithmList { .. } => "bad_algorithm_list", BadInput;
    EventLogError::EventDataAltered { .. } => "event_data_altered", Refusal;
    EventLogError::PcrOutOfRange { .. } => "pcr_out_of_range", BadInput;
    EventLogError::StartupLocalityOutOfOrder { .. } => "startup_locality_out_of_order", Refusal;
    EventLogError::BankNotInLog(_) => "bank_not_in_log", BadInput;
    EventLogError::TooManyEvents => "too_many_events", BadInput;
    EventLogError::NoSupportedBank => "no_supported_bank", Refusal;
});

/// One (algorithm, digest) of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventDigest<'a> {
    /// TPM_ALG_ID.
    pub alg: u16,
    /// The digest.
    pub digest: &'a [u8],
}

/// One TCG_PCR_EVENT2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// Position in the log (the Spec ID header is 0).
    pub index: usize,
    /// PCR extended.
    pub pcr: u32,
    /// Event type.
    pub event_type: u32,
    digests: [Option<EventDigest<'a>>; MAX_LOG_ALGORITHMS],
    /// Event data.
    pub data: &'a [u8],
}

impl<'a> Event<'a> {
    /// The digests, in the order of the header's algorithms.
    pub fn digests(&self) -> impl Iterator<Item = &EventDigest<'a>> {
        self.digests.iter().flatten()
    }

    /// The digest of `bank`.
    pub fn digest(&self, bank: HashAlg) -> Option<&'a [u8]> {
        self.digests()
            .find(|d| d.alg == bank.id())
            .map(|d| d.digest)
    }

    /// The locality of a StartupLocality event.
    pub fn startup_locality(&self) -> Option<u8> {
        if self.event_type != EV_NO_ACTION || self.pcr != 0 {
            return None;
        }
        match self.data.split_at_checked(STARTUP_LOCALITY.len()) {
            Some((sig, [loc])) if sig == STARTUP_LOCALITY => Some(*loc),
            _ => None,
        }
    }
}

/// A parsed crypto-agile event log, borrowing from its bytes.
#[derive(Debug, Clone, Copy)]
pub struct EventLog<'a> {
    algorithms: [Option<(u16, u16)>; MAX_LOG_ALGORITHMS],
    events: &'a [u8],
    count: usize,
}

impl<'a> EventLog<'a> {
    /// Parses the whole log; every event is checked structurally.
    pub fn parse(input: &'a [u8]) -> Result<Self, EventLogError> {
        let mut r = Reader::new(input);
        let _pcr = r.u32_le("TCG_PCClientPCREvent.pcrIndex")?;
        let event_type = r.u32_le("TCG_PCClientPCREvent.eventType")?;
        let _sha1 = r.bytes(20, "TCG_PCClientPCREvent.digest")?;
        let size = r.u32_le("TCG_PCClientPCREvent.eventDataSize")? as usize;
        if size > MAX_EVENT_DATA {
            return Err(crate::error::ParseError::SizeExceeded {
                field: "TCG_PCClientPCREvent.eventDataSize",
                size,
                cap: MAX_EVENT_DATA,
            }
            .into());
        }
        let spec = r.bytes(size, "TCG_EfiSpecIDEvent")?;
        if event_type != EV_NO_ACTION {
            return Err(EventLogError::NotCryptoAgile);
        }
        let mut s = Reader::new(spec);
        if s.bytes(16, "TCG_EfiSpecIDEvent.signature")? != SPEC_ID_SIGNATURE {
            return Err(EventLogError::NotCryptoAgile);
        }
        let _platform_class = s.u32_le("TCG_EfiSpecIDEvent.platformClass")?;
        let _version = s.bytes(4, "TCG_EfiSpecIDEvent.specVersion")?;
        let n = s.u32_le("TCG_EfiSpecIDEvent.numberOfAlgorithms")?;
        if n == 0 || n as usize > MAX_LOG_ALGORITHMS {
            return Err(EventLogError::BadAlgorithmList { count: n });
        }
        let mut algorithms = [None; MAX_LOG_ALGORITHMS];
        for i in 0..n as usize {
            let alg = s.u16_le("TCG_EfiSpecIdEventAlgorithmSize.algorithmId")?;
            let len = s.u16_le("TCG_EfiSpecIdEventAlgorithmSize.digestSize")?;
            if algorithms.iter().flatten().any(|(a, _)| *a == alg) || usize::from(len) > 64 {
                return Err(EventLogError::BadAlgorithmList { count: n });
            }
            if let Some(h) = HashAlg::from_id(alg)
                && h.digest_len() != usize::from(len)
            {
                return Err(EventLogError::BadAlgorithmList { count: n });
            }
            if let Some(slot) = algorithms.get_mut(i) {
                *slot = Some((alg, len));
            }
        }
        let vendor = usize::from(s.u8("TCG_EfiSpecIDEvent.vendorInfoSize")?);
        s.bytes(vendor, "TCG_EfiSpecIDEvent.vendorInfo")?;
        s.finish("TCG_EfiSpecIDEvent")?;
        let events = r.rest();
        let mut log = EventLog {
            algorithms,
            events,
            count: 0,
        };
        let mut walk = Reader::new(events);
        let mut count = 0usize;
        while !walk.rest().is_empty() {
            if count >= MAX_EVENTS {
                return Err(EventLogError::TooManyEvents);
            }
            log.next_event(&mut walk, count + 1)?;
            count += 1;
        }
        log.count = count;
        Ok(log)
    }

    /// The (TPM_ALG_ID, digest size) pairs the header declares.
    pub fn algorithms(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        self.algorithms.iter().flatten().copied()
    }

    /// The TPM_ALG_IDs of the header's banks this crate cannot hash (their digests are neither
    /// checked nor replayed).
    pub fn unsupported_algorithms(&self) -> impl Iterator<Item = u16> + '_ {
        self.algorithms()
            .map(|(a, _)| a)
            .filter(|a| HashAlg::from_id(*a).is_none())
    }

    /// Number of TCG_PCR_EVENT2 records (the header not counted).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the log has no event after the header.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn next_event(&self, r: &mut Reader<'a>, index: usize) -> Result<Event<'a>, EventLogError> {
        let pcr = r.u32_le("TCG_PCR_EVENT2.pcrIndex")?;
        let event_type = r.u32_le("TCG_PCR_EVENT2.eventType")?;
        let count = r.u32_le("TPML_DIGEST_VALUES.count")?;
        let declared = self.algorithms().count();
        if count as usize != declared {
            return Err(EventLogError::DigestListMismatch { event: index });
        }
        let mut digests = [None; MAX_LOG_ALGORITHMS];
        for (slot, (alg, len)) in digests.iter_mut().zip(self.algorithms()) {
            if r.u16_le("TPMT_HA.hashAlg")? != alg {
                return Err(EventLogError::DigestListMismatch { event: index });
            }
            let digest = r.bytes(usize::from(len), "TPMT_HA.digest")?;
            *slot = Some(EventDigest { alg, digest });
        }
        let size = r.u32_le("TCG_PCR_EVENT2.eventSize")? as usize;
        if size > MAX_EVENT_DATA {
            return Err(crate::error::ParseError::SizeExceeded {
                field: "TCG_PCR_EVENT2.eventSize",
                size,
                cap: MAX_EVENT_DATA,
            }
            .into());
        }
        let data = r.bytes(size, "TCG_PCR_EVENT2.event")?;
        Ok(Event {
            index,
            pcr,
            event_type,
            digests,
            data,
        })
    }

    /// The events after the header, in order.
    pub fn events(&self) -> impl Iterator<Item = Event<'a>> + '_ {
        let mut r = Reader::new(self.events);
        let mut index = 0usize;
        core::iter::from_fn(move || {
            if r.rest().is_empty() {
                return None;
            }
            index += 1;
            self.next_event(&mut r, index).ok()
        })
    }

    /// Checks event data against its digests (for [`DATA_HASHED_EVENTS`]) in every bank this
    /// crate can hash; the first event that breaks is named. A log none of whose banks this
    /// crate can hash is [`EventLogError::NoSupportedBank`]: nothing was checked, so it is not
    /// reported intact. Banks it cannot hash in a log that has others are skipped; see
    /// [`EventLog::unsupported_algorithms`].
    pub fn check_event_data(&self) -> Result<(), EventLogError> {
        if self.unsupported_algorithms().count() == self.algorithms().count() {
            return Err(EventLogError::NoSupportedBank);
        }
        for e in self.events() {
            if !DATA_HASHED_EVENTS.contains(&e.event_type) {
                continue;
            }
            for d in e.digests() {
                if let Some(bank) = HashAlg::from_id(d.alg)
                    && bank.digest(&[e.data]).as_bytes() != d.digest
                {
                    return Err(EventLogError::EventDataAltered {
                        event: e.index,
                        event_type: e.event_type,
                        pcr: e.pcr,
                        bank,
                    });
                }
            }
        }
        Ok(())
    }

    /// Replays the log into the PCRs of `bank` after checking event data; returns the final
    /// values and which PCRs the log touched (bit i = PCR i).
    pub fn replay(&self, bank: HashAlg) -> Result<ReplayedPcrs, EventLogError> {
        if !self.algorithms().any(|(a, _)| a == bank.id()) {
            return Err(EventLogError::BankNotInLog(bank));
        }
        self.check_event_data()?;
        // Reset values (PC Client PFP §3.3.2): 0, except the DRTM PCRs 17-22 which start at -1.
        let len = bank.digest_len();
        let zero = DigestBytes::filled(0, len);
        let ones = DigestBytes::filled(0xff, len);
        let mut pcrs = [zero; PCR_COUNT];
        for (i, p) in pcrs.iter_mut().enumerate() {
            if (17..=22).contains(&i) {
                *p = ones;
            }
        }
        let mut touched = 0u32;
        for e in self.events() {
            let slot = pcrs
                .get_mut(e.pcr as usize)
                .ok_or(EventLogError::PcrOutOfRange {
                    event: e.index,
                    pcr: e.pcr,
                })?;
            if let Some(locality) = e.startup_locality() {
                // PCR 0's value at TPM2_Startup (PC Client PFP, StartupLocality): only before anything
                // extended PCR 0, and once. Later, it would rewind PCR 0 past forged events.
                if touched & 1 != 0 {
                    return Err(EventLogError::StartupLocalityOutOfOrder { event: e.index });
                }
                let mut init = [0u8; 64];
                if let Some(last) = init.get_mut(len - 1) {
                    *last = locality;
                }
                *slot = DigestBytes::from_slice(init.get(..len).unwrap_or(&[]));
                touched |= 1;
                continue;
            }
            if e.event_type == EV_NO_ACTION {
                continue;
            }
            let digest = e
                .digest(bank)
                .ok_or(EventLogError::DigestListMismatch { event: e.index })?;
            *slot = bank.digest(&[slot.as_bytes(), digest]);
            touched |= 1 << e.pcr;
        }
        Ok(ReplayedPcrs {
            bank,
            values: pcrs,
            touched,
        })
    }
}

/// PCR values of one bank after replaying a log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayedPcrs {
    /// The bank.
    pub bank: HashAlg,
    /// PCR 0..24.
    pub values: [DigestBytes; PCR_COUNT],
    /// Bit i set when the log extends (or initialises) PCR i.
    pub touched: u32,
}

impl ReplayedPcrs {
    /// The replayed value of PCR `index`: its reset value when the log never extends it, so
    /// that a measurement the log does not account for shows as a mismatch.
    pub fn get(&self, index: u8) -> Option<&[u8]> {
        self.values
            .get(usize::from(index))
            .map(DigestBytes::as_bytes)
    }
}

/// Writes crypto-agile logs (for tests, tools and devices that keep their own log).
#[cfg(feature = "alloc")]
#[derive(Debug, Clone)]
pub struct EventLogWriter {
    banks: alloc::vec::Vec<HashAlg>,
    out: alloc::vec::Vec<u8>,
}

#[cfg(feature = "alloc")]
impl EventLogWriter {
    /// A log with digests in `banks` (at most 8, no repeats), starting with the Spec ID header.
    pub fn new(banks: &[HashAlg]) -> Self {
        let mut spec = alloc::vec::Vec::new();
        spec.extend_from_slice(SPEC_ID_SIGNATURE);
        spec.extend_from_slice(&0u32.to_le_bytes()); // platformClass: client
        spec.extend_from_slice(&[0, 2, 0, 2]); // spec 2.0, errata 0, uintnSize 2 (64-bit)
        spec.extend_from_slice(&(banks.len() as u32).to_le_bytes());
        for b in banks {
            spec.extend_from_slice(&b.id().to_le_bytes());
            spec.extend_from_slice(&(b.digest_len() as u16).to_le_bytes());
        }
        spec.push(0);
        let mut out = alloc::vec::Vec::new();
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&EV_NO_ACTION.to_le_bytes());
        out.extend_from_slice(&[0u8; 20]);
        out.extend_from_slice(&(spec.len() as u32).to_le_bytes());
        out.extend_from_slice(&spec);
        EventLogWriter {
            banks: banks.to_vec(),
            out,
        }
    }

    /// Appends an event with explicit digests (one per bank, in order).
    pub fn event_with_digests(
        &mut self,
        pcr: u32,
        event_type: u32,
        digests: &[&[u8]],
        data: &[u8],
    ) -> &mut Self {
        self.out.extend_from_slice(&pcr.to_le_bytes());
        self.out.extend_from_slice(&event_type.to_le_bytes());
        self.out
            .extend_from_slice(&(self.banks.len() as u32).to_le_bytes());
        for (b, d) in self.banks.iter().zip(digests) {
            self.out.extend_from_slice(&b.id().to_le_bytes());
            self.out.extend_from_slice(d);
        }
        self.out
            .extend_from_slice(&(data.len() as u32).to_le_bytes());
        self.out.extend_from_slice(data);
        self
    }

    /// Appends an event whose digests are the hash of `data` in every bank.
    pub fn event(&mut self, pcr: u32, event_type: u32, data: &[u8]) -> &mut Self {
        let digests: alloc::vec::Vec<DigestBytes> =
            self.banks.iter().map(|b| b.digest(&[data])).collect();
        let refs: alloc::vec::Vec<&[u8]> = digests.iter().map(DigestBytes::as_bytes).collect();
        self.event_with_digests(pcr, event_type, &refs, data)
    }

    /// Appends a StartupLocality EV_NO_ACTION event.
    pub fn startup_locality(&mut self, locality: u8) -> &mut Self {
        let zeros: alloc::vec::Vec<alloc::vec::Vec<u8>> = self
            .banks
            .iter()
            .map(|b| alloc::vec![0u8; b.digest_len()])
            .collect();
        let refs: alloc::vec::Vec<&[u8]> = zeros.iter().map(alloc::vec::Vec::as_slice).collect();
        let mut data = STARTUP_LOCALITY.to_vec();
        data.push(locality);
        self.event_with_digests(0, EV_NO_ACTION, &refs, &data)
    }

    /// The log bytes.
    pub fn finish(&self) -> alloc::vec::Vec<u8> {
        self.out.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EventLogWriter {
        let mut w = EventLogWriter::new(&[HashAlg::Sha256, HashAlg::Sha384]);
        w.startup_locality(3)
            .event(0, EV_S_CRTM_VERSION, b"1.0\0")
            .event(7, EV_EFI_VARIABLE_DRIVER_CONFIG, b"SecureBoot=1")
            .event(0, EV_SEPARATOR, &[0, 0, 0, 0])
            .event(8, EV_IPL, b"linux /vmlinuz");
        w
    }

    #[test]
    fn replay_starts_pcr0_at_the_startup_locality() {
        let bytes = sample().finish();
        let log = EventLog::parse(&bytes).unwrap();
        assert_eq!(log.len(), 5);
        let r = log.replay(HashAlg::Sha256).unwrap();
        let mut pcr0 = [0u8; 32];
        pcr0[31] = 3;
        let pcr0 = HashAlg::Sha256.digest(&[&pcr0, HashAlg::Sha256.digest(&[b"1.0\0"]).as_bytes()]);
        let pcr0 = HashAlg::Sha256.digest(&[
            pcr0.as_bytes(),
            HashAlg::Sha256.digest(&[&[0u8; 4]]).as_bytes(),
        ]);
        assert_eq!(r.get(0).unwrap(), pcr0.as_bytes());
        assert_eq!(r.touched, 1 | 1 << 7 | 1 << 8);
        assert_eq!(r.get(1), Some(&[0u8; 32][..]));
        assert_eq!(r.get(17), Some(&[0xffu8; 32][..]));
        assert_eq!(r.get(24), None);
        assert!(matches!(
            log.replay(HashAlg::Sha1),
            Err(EventLogError::BankNotInLog(HashAlg::Sha1))
        ));
    }

    #[test]
    fn altered_data_names_the_first_event_that_breaks() {
        let mut w = sample();
        let d256 = HashAlg::Sha256.digest(&[b"SecureBoot=1"]);
        let d384 = HashAlg::Sha384.digest(&[b"SecureBoot=1"]);
        w.event_with_digests(
            7,
            EV_EFI_VARIABLE_DRIVER_CONFIG,
            &[d256.as_bytes(), d384.as_bytes()],
            b"SecureBoot=0",
        );
        w.event_with_digests(4, EV_EFI_ACTION, &[&[0; 32], &[0; 48]], b"x");
        let bytes = w.finish();
        let log = EventLog::parse(&bytes).unwrap();
        assert_eq!(
            log.replay(HashAlg::Sha384),
            Err(EventLogError::EventDataAltered {
                event: 6,
                event_type: EV_EFI_VARIABLE_DRIVER_CONFIG,
                pcr: 7,
                bank: HashAlg::Sha256
            })
        );
    }

    /// A log whose only bank is SM3 (TPM_ALG_SM3_256, 0x0012, 32 bytes): a SHA-256 log with the
    /// algorithm IDs rewritten in the header and in every event.
    fn sm3_only_log() -> alloc::vec::Vec<u8> {
        let mut w = EventLogWriter::new(&[HashAlg::Sha256]);
        w.event(0, EV_S_CRTM_VERSION, b"1.0\0").event(
            7,
            EV_EFI_VARIABLE_DRIVER_CONFIG,
            b"SecureBoot=1",
        );
        let mut bytes = w.finish();
        // Header: 32 bytes of TCG_PCClientPCREvent, 16 signature, 4 class, 4 version, 4 count.
        let mut at = 32 + 16 + 4 + 4 + 4;
        bytes[at..at + 2].copy_from_slice(&0x0012u16.to_le_bytes());
        at = 32 + 16 + 4 + 4 + 4 + 4 + 1;
        for data_len in [4usize, 12] {
            // pcrIndex, eventType, count, then the algorithm ID.
            let alg = at + 12;
            bytes[alg..alg + 2].copy_from_slice(&0x0012u16.to_le_bytes());
            at = alg + 2 + 32 + 4 + data_len;
        }
        assert_eq!(at, bytes.len());
        bytes
    }

    #[test]
    fn a_log_with_no_bank_this_crate_can_hash_is_not_intact() {
        let bytes = sm3_only_log();
        let log = EventLog::parse(&bytes).unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(
            log.unsupported_algorithms().collect::<alloc::vec::Vec<_>>(),
            [0x0012]
        );
        assert_eq!(log.check_event_data(), Err(EventLogError::NoSupportedBank));
        assert_eq!(
            log.replay(HashAlg::Sha256),
            Err(EventLogError::BankNotInLog(HashAlg::Sha256))
        );
        // With a bank it can hash beside it, the log is checked (SHA-256 here).
        let two = sample().finish();
        let log = EventLog::parse(&two).unwrap();
        assert_eq!(log.unsupported_algorithms().count(), 0);
        assert_eq!(log.check_event_data(), Ok(()));
    }

    #[test]
    fn structure_errors_are_refused() {
        let bytes = sample().finish();
        for cut in [1, 10, 40, bytes.len() - 1] {
            assert!(EventLog::parse(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut legacy = bytes.clone();
        legacy[32] = b'X'; // Spec ID signature
        assert_eq!(
            EventLog::parse(&legacy).unwrap_err(),
            EventLogError::NotCryptoAgile
        );
        let mut w = EventLogWriter::new(&[HashAlg::Sha256]);
        w.event(24, EV_IPL, b"x");
        let bytes = w.finish();
        assert_eq!(
            EventLog::parse(&bytes).unwrap().replay(HashAlg::Sha256),
            Err(EventLogError::PcrOutOfRange { event: 1, pcr: 24 })
        );
    }
}
