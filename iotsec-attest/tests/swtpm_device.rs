//! The device path without tpm2-tss: our own TPM2_PCR_Read, TPM2_Quote and TPM2_Certify
//! marshalling over swtpm's TCP and Unix command ports and over `swtpm chardev` (the
//! character-device protocol of /dev/tpmrm0), appraised by our cloud side.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;

use common::swtpm::{Swtpm, peers_available};
use iotsec_attest::appraise::Tier;
use iotsec_attest::device::command::{TpmCommandError, certify, quote, read_pcrs, read_public};
use iotsec_attest::device::transport::{
    SwtpmTcp, SwtpmUnix, TpmDevice, TpmStream, TpmTransport, TransportError,
};
use iotsec_attest::tpm::algorithm::HashAlg;
use iotsec_attest::tpm::attest::Attested;
use iotsec_attest::tpm::pcr_selection::PcrBankSelection;
use iotsec_attest::verify::{RustCryptoVerifier, SignatureVerifier};
use iotsec_attest::{Attest, PcrSelectionList, PublicArea, TpmSignature};

/// PCR values read with our TPM2_PCR_Read, keyed by (bank, index).
fn read_pcr_values(
    link: &mut dyn iotsec_attest::device::transport::TpmTransport,
    sel: &PcrSelectionList,
) -> BTreeMap<(HashAlg, u8), Vec<u8>> {
    let mut buf = [0u8; 4096];
    let read = read_pcrs(link, sel, &mut buf).unwrap();
    assert_eq!(&read.selection, sel);
    read.selection
        .selected()
        .zip(read.digests())
        .map(|(k, v)| (k, v.to_vec()))
        .collect()
}

/// Appraises a quote made with our marshalling under the default policy.
fn appraise_device_quote(
    ak: &PublicArea<'_>,
    q: &iotsec_attest::device::command::SignedAttestation<'_>,
    values: &BTreeMap<(HashAlg, u8), Vec<u8>>,
    nonce: &[u8],
) -> iotsec_attest::appraise::QuoteAppraisal {
    common::appraise_read_values(ak, q.attest, q.signature, values, nonce)
}

#[test]
fn swtpm_device_quotes_and_certifies_without_tpm2_tss() {
    if !peers_available("swtpm_device_quotes_and_certifies_without_tpm2_tss") {
        return;
    }
    let tpm = Swtpm::start("device");
    tpm.tool(
        "tpm2_pcrextend",
        &["2:sha256=00000000000000000000000000000000000000000000000000000000000000aa"],
    );
    for (kind, handle) in [("ecc", 0x8101_0002u32), ("rsa", 0x8101_0003)] {
        tpm.create_ek_ak(kind);
        tpm.tool(
            "tpm2_evictcontrol",
            &[
                "-C",
                "o",
                "-c",
                &format!("ak_{kind}.ctx"),
                &format!("0x{handle:08x}"),
            ],
        );
    }

    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    let mut sel = PcrSelectionList::default();
    sel.push(PcrBankSelection::new(HashAlg::Sha256, &[0, 1, 2, 16]).unwrap())
        .unwrap();
    sel.push(PcrBankSelection::new(HashAlg::Sha384, &[2]).unwrap())
        .unwrap();

    // Like tpm2-tss, learn each AK from the TPM before using it: TPM2_ReadPublic gives the
    // TPM2B_PUBLIC the verifier needs, identical to the tpm2-tools file.
    for (kind, handle) in [("ecc", 0x8101_0002u32), ("rsa", 0x8101_0003)] {
        let mut b = [0u8; 4096];
        let p = read_public(&mut link, handle, &mut b).unwrap();
        assert_eq!(
            p.tpm2b_public,
            tpm.read(&format!("ak_{kind}.pub")).as_slice()
        );
        assert_eq!(p.name, tpm.read(&format!("ak_{kind}.name")).as_slice());
    }
    let values = read_pcr_values(&mut link, &sel);
    assert_eq!(values.len(), 5);
    assert_ne!(
        values[&(HashAlg::Sha256, 2)],
        vec![0; 32],
        "PCR 2 was extended"
    );

    for (kind, handle) in [("ecc", 0x8101_0002u32), ("rsa", 0x8101_0003)] {
        let ak_bytes = tpm.read(&format!("ak_{kind}.pub"));
        let ak = PublicArea::parse_tpm2b(&ak_bytes).unwrap();
        let nonce = [0x42u8, 0x13, 0x37, 0x99, 1, 2, 3, 4];
        let mut resp = [0u8; 4096];
        let q = quote(&mut link, handle, &nonce, &sel, &mut resp)
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let a = appraise_device_quote(&ak, &q, &values, &nonce);
        assert_eq!(a.status, Tier::Affirming, "{kind}: {:#?}", a.claims);

        // The AK certifies itself: TPMS_CERTIFY_INFO names it, and the signature verifies.
        let mut resp = [0u8; 4096];
        let c = certify(&mut link, handle, handle, &nonce, &mut resp).unwrap();
        let attest = Attest::parse(c.attest).unwrap();
        let Attested::Certify(info) = attest.attested else {
            panic!("not a certify")
        };
        assert_eq!(info.name, ak.name().as_bytes());
        assert_eq!(attest.extra_data, nonce);
        let sig = TpmSignature::parse(c.signature).unwrap();
        RustCryptoVerifier.verify(&ak, c.attest, &sig).unwrap();
    }

    // A handle that holds nothing: the TPM's response code comes back typed.
    let mut resp = [0u8; 4096];
    assert!(matches!(
        quote(&mut link, 0x8101_00ff, &[1; 8], &sel, &mut resp),
        Err(TpmCommandError::ResponseCode(_))
    ));
    drop(link);
    // Leave the TPM clean for the harness shutdown.
    for handle in ["0x81010002", "0x81010003"] {
        tpm.tool("tpm2_evictcontrol", &["-C", "o", "-c", handle]);
    }
}

/// Provisions an ECC EK and AK with tpm2-tools over TCP, persists the AK at 0x81010002 and
/// shuts the TPM down cleanly; returns the AK's TPM2B_PUBLIC as tpm2-tools wrote it.
fn provision_persistent_ak(tpm: &mut Swtpm) -> Vec<u8> {
    tpm.create_ek_ak("ecc");
    tpm.tool(
        "tpm2_evictcontrol",
        &["-C", "o", "-c", "ak_ecc.ctx", "0x81010002"],
    );
    tpm.power_off(true);
    tpm.read("ak_ecc.pub")
}

/// Reads the persisted AK, three PCRs and a quote over them through `link`, and appraises it.
fn quote_through(link: &mut dyn iotsec_attest::device::transport::TpmTransport, ak_bytes: &[u8]) {
    let mut b = [0u8; 4096];
    let p = read_public(link, 0x8101_0002, &mut b).unwrap();
    assert_eq!(p.tpm2b_public, ak_bytes);
    let ak = PublicArea::parse_tpm2b(ak_bytes).unwrap();

    let mut sel = PcrSelectionList::default();
    sel.push(PcrBankSelection::new(HashAlg::Sha256, &[0, 7, 16]).unwrap())
        .unwrap();
    let values = read_pcr_values(link, &sel);
    assert_eq!(values.len(), 3);
    let nonce = [0x75u8, 0x6e, 0x69, 0x78];
    let mut resp = [0u8; 4096];
    let q = quote(link, 0x8101_0002, &nonce, &sel, &mut resp).unwrap();
    let a = appraise_device_quote(&ak, &q, &values, &nonce);
    assert_eq!(a.status, Tier::Affirming, "{:#?}", a.claims);
}

#[test]
fn swtpm_device_quotes_over_a_unix_socket() {
    if !peers_available("swtpm_device_quotes_over_a_unix_socket") {
        return;
    }
    // Provision with tpm2-tools over TCP, then power-cycle the TPM onto a Unix socket.
    let mut tpm = Swtpm::start("device-unix");
    let ak_bytes = provision_persistent_ak(&mut tpm);
    let socket = tpm.power_on_unix();
    let mut link: SwtpmUnix = TpmStream::connect_unix(&socket).unwrap();
    quote_through(&mut link, &ak_bytes);
}

#[test]
fn swtpm_chardev_quotes_through_the_tpm_device_transport() {
    if !peers_available("swtpm_chardev_quotes_through_the_tpm_device_transport") {
        return;
    }
    // `swtpm chardev` speaks the character-device protocol (one command per write, one
    // response per read) that /dev/tpmrm0 and CUSE /dev/vtpmN speak: TpmDevice's path.
    let mut tpm = Swtpm::start("device-chardev");
    let ak_bytes = provision_persistent_ak(&mut tpm);
    let file = tpm.power_on_chardev();
    let mut link = TpmDevice::from_file(file);
    quote_through(&mut link, &ak_bytes);
}

/// A device that answers with the given bytes, whatever the command (the framing rules of the
/// device transport, which a real TPM never breaks).
fn device_answering(answer: Vec<u8>) -> TpmDevice {
    use std::io::{Read, Write};
    let (ours, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    std::thread::spawn(move || {
        let mut command = [0u8; 4096];
        let _ = theirs.read(&mut command);
        let _ = theirs.write_all(&answer);
    });
    TpmDevice::from_file(std::fs::File::from(std::os::fd::OwnedFd::from(ours)))
}

#[test]
fn the_device_transport_refuses_responses_whose_length_is_not_the_declared_one() {
    let get_random = [0x80, 0x01, 0, 0, 0, 12, 0, 0, 1, 0x7b, 0, 8];
    let ok = [0x80, 0x01, 0, 0, 0, 10, 0, 0, 0, 0];
    /// The device's answer, the caller's buffer size, what `transact` returns.
    type Case<'a> = (&'a [u8], usize, Result<&'a [u8], TransportError>);
    let cases: [Case<'_>; 4] = [
        (&ok, 4096, Ok(&ok)),
        // Header says 14 bytes, 10 arrive (a response cut short).
        (
            &[0x80, 0x01, 0, 0, 0, 14, 0, 0, 0, 0],
            4096,
            Err(TransportError::SizeMismatch {
                read: 10,
                declared: 14,
            }),
        ),
        // Fewer bytes than a header.
        (
            &[0x80, 0x01, 0],
            4096,
            Err(TransportError::SizeMismatch {
                read: 3,
                declared: 0,
            }),
        ),
        // A declared size beyond the caller's buffer.
        (
            &[0x80, 0x01, 0, 0, 0x10, 0, 0, 0, 0, 0],
            16,
            Err(TransportError::ResponseTooLarge {
                size: 0x1000,
                capacity: 16,
            }),
        ),
    ];
    for (answer, capacity, expected) in cases {
        let mut response = vec![0u8; capacity];
        let mut dev = device_answering(answer.to_vec());
        assert_eq!(
            dev.transact(&get_random, &mut response),
            expected,
            "{answer:02x?}"
        );
    }
}
