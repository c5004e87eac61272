//! Credential activation by the crate's own commands: the exact bytes of TPM2_StartAuthSession
//! (policy), TPM2_PolicySecret, TPM2_ActivateCredential and TPM2_FlushContext, the response
//! checks, and on swtpm the secret of our `make_credential` recovered for an ECC and an RSA EK,
//! while a credential for another AK's Name, for another TPM's EK, or altered on the way is
//! refused with a typed error and leaves no session loaded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::swtpm::{Swtpm, peers_available};
use iotsec_attest::device::activate::{
    ActivationError, activate_credential, activate_credential_command, flush_context_command,
    parse_activate_credential_response, parse_policy_secret_response,
    parse_start_policy_session_response, policy_secret_endorsement_command,
    start_policy_session_command,
};
use iotsec_attest::device::command::{TpmCommandError, read_public};
use iotsec_attest::device::transport::{SwtpmTcp, TpmTransport};
use iotsec_attest::identity::credential::{OsRng, make_credential};
use iotsec_attest::{ErrorCode, PublicArea};

const EK_ECC: u32 = 0x8101_0001;
const AK_ECC: u32 = 0x8101_0002;
const AK_RSA: u32 = 0x8101_0003;
const EK_RSA: u32 = 0x8101_0004;

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

#[test]
fn activation_commands_are_marshalled_as_part_3_says() {
    let mut buf = [0u8; 128];
    let nonce = [0x5a; 32];
    let cmd = start_policy_session_command(&nonce, &mut buf).unwrap();
    // TPM_ST_NO_SESSIONS, size 59, TPM_CC_StartAuthSession; tpmKey and bind TPM_RH_NULL.
    let mut want = hex("8001 0000003b 00000176 40000007 40000007 0020");
    want.extend_from_slice(&nonce);
    // Empty encryptedSalt, TPM_SE_POLICY, symmetric TPM_ALG_NULL, authHash SHA-256.
    want.extend_from_slice(&hex("0000 01 0010 000b"));
    assert_eq!(cmd, want.as_slice());

    let mut buf = [0u8; 128];
    let cmd = policy_secret_endorsement_command(0x0300_0000, &mut buf).unwrap();
    assert_eq!(
        cmd,
        hex(concat!(
            "8002 00000029 00000151", // TPM_ST_SESSIONS, size 41, TPM_CC_PolicySecret
            "4000000b 03000000",      // authHandle TPM_RH_ENDORSEMENT, policySession
            "00000009 40000009 0000 00 0000", // one empty password session
            "0000 0000 0000 00000000", // nonceTPM, cpHashA, policyRef empty; expiration 0
        ))
        .as_slice()
    );

    let mut buf = [0u8; 128];
    let cmd =
        activate_credential_command(AK_ECC, EK_ECC, 0x0300_0001, &[1, 2, 3], &[9; 4], &mut buf)
            .unwrap();
    assert_eq!(
        cmd,
        hex(concat!(
            "8002 00000033 00000147",    // size 51, TPM_CC_ActivateCredential
            "81010002 81010001",         // activateHandle (AK), keyHandle (EK)
            "00000012",                  // two authorizations of 9 bytes
            "40000009 0000 00 0000",     // AK: empty password
            "03000001 0000 01 0000",     // EK: the policy session, continueSession
            "0003 010203 0004 09090909", // credentialBlob, secret
        ))
        .as_slice()
    );

    let mut buf = [0u8; 14];
    assert_eq!(
        flush_context_command(0x0300_0001, &mut buf).unwrap(),
        hex("8001 0000000e 00000165 03000001").as_slice()
    );

    // Bounds: an empty or oversized credential part is refused before any byte is written, a
    // short buffer is refused, not overrun.
    for (id, secret, field) in [
        (&[][..], &[1u8][..], "TPM2B_ID_OBJECT"),
        (&[0u8; 133][..], &[1][..], "TPM2B_ID_OBJECT"),
        (&[1][..], &[][..], "TPM2B_ENCRYPTED_SECRET"),
        (&[1][..], &[0u8; 513][..], "TPM2B_ENCRYPTED_SECRET"),
    ] {
        let e = activate_credential_command(1, 2, 3, id, secret, &mut [0u8; 1024]).unwrap_err();
        assert!(
            matches!(e, ActivationError::CredentialSize { field: f, .. } if f == field),
            "{e:?}"
        );
        assert_eq!(e.code(), "credential_size");
    }
    assert_eq!(
        activate_credential_command(1, 2, 3, &[1; 10], &[1; 10], &mut [0u8; 50]),
        Err(ActivationError::Command(TpmCommandError::TooLarge))
    );
}

/// A response with `tag`, code `rc` and `body`.
fn response(tag: u16, rc: u32, body: &[u8]) -> Vec<u8> {
    let mut r = tag.to_be_bytes().to_vec();
    r.extend_from_slice(&((10 + body.len()) as u32).to_be_bytes());
    r.extend_from_slice(&rc.to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A session response: parameterSize, `params`, then `auths` empty password acknowledgements.
fn session_response(params: &[u8], auths: usize) -> Vec<u8> {
    let mut body = (params.len() as u32).to_be_bytes().to_vec();
    body.extend_from_slice(params);
    for _ in 0..auths {
        body.extend_from_slice(&[0, 0, 1, 0, 0]);
    }
    response(0x8002, 0, &body)
}

#[test]
fn activation_responses_are_checked() {
    let mut body = vec![0x03, 0, 0, 0, 0, 32];
    body.extend_from_slice(&[7; 32]);
    assert_eq!(
        parse_start_policy_session_response(&response(0x8001, 0, &body)),
        Ok(0x0300_0000)
    );
    // An HMAC session's handle is not a policy session.
    body[0] = 0x02;
    assert_eq!(
        parse_start_policy_session_response(&response(0x8001, 0, &body)),
        Err(ActivationError::NotAPolicySession {
            handle: 0x0200_0000
        })
    );
    body[0] = 0x03;
    // A short nonceTPM, a trailing byte.
    let short = [3, 0, 0, 0, 0, 1, 9];
    assert!(matches!(
        parse_start_policy_session_response(&response(0x8001, 0, &short)),
        Err(ActivationError::Command(TpmCommandError::Malformed(_)))
    ));
    body.push(0);
    assert!(matches!(
        parse_start_policy_session_response(&response(0x8001, 0, &body)),
        Err(ActivationError::Command(TpmCommandError::Malformed(_)))
    ));

    // PolicySecret: an empty timeout, a null ticket (TPM_ST_AUTH_SECRET, TPM_RH_NULL, empty).
    let ticket = hex("0000 8023 40000007 0000");
    assert_eq!(
        parse_policy_secret_response(&session_response(&ticket, 1)),
        Ok(())
    );
    assert!(parse_policy_secret_response(&session_response(&ticket[..8], 1)).is_err());

    // ActivateCredential: certInfo.
    let ok = session_response(&hex("0003 aabbcc"), 2);
    assert_eq!(
        parse_activate_credential_response(&ok),
        Ok(&[0xaa, 0xbb, 0xcc][..])
    );
    assert_eq!(
        parse_activate_credential_response(&session_response(&hex("0000"), 2)),
        Err(ActivationError::EmptySecret)
    );
    assert!(matches!(
        parse_activate_credential_response(&session_response(&hex("0003 aabb"), 2)),
        Err(ActivationError::Command(TpmCommandError::Malformed(_)))
    ));
    // TPM_RC_INTEGRITY on parameter 1 (credentialBlob), TPM_RC_VALUE on parameter 2 (secret):
    // the credential is refused; TPM_RC_AUTH_FAIL on session 2 is the TPM's error as it came.
    for rc in [0x1df, 0x2c4] {
        let e = parse_activate_credential_response(&response(0x8001, rc, &[])).unwrap_err();
        assert_eq!(e, ActivationError::CredentialRefused { response_code: rc });
        assert_eq!(e.code(), "credential_refused");
    }
    for rc in [0xa8e, 0x98e, 0x101] {
        assert_eq!(
            parse_activate_credential_response(&response(0x8001, rc, &[])),
            Err(ActivationError::Command(TpmCommandError::ResponseCode(rc)))
        );
    }
}

/// TPM2_ReadPublic of `handle`: its TPM2B_PUBLIC and Name.
fn public_of(link: &mut SwtpmTcp, handle: u32) -> (Vec<u8>, Vec<u8>) {
    let mut b = [0u8; 4096];
    let p = read_public(link, handle, &mut b).unwrap();
    (p.tpm2b_public.to_vec(), p.name.to_vec())
}

/// A TPM with an ECC and an RSA EK, each with an AK, all persistent.
fn provisioned(test: &str) -> Swtpm {
    let tpm = Swtpm::start(test);
    for (kind, ek, ak) in [("ecc", EK_ECC, AK_ECC), ("rsa", EK_RSA, AK_RSA)] {
        tpm.create_ek_ak(kind);
        for (ctx, handle) in [
            (format!("ek_{kind}.ctx"), ek),
            (format!("ak_{kind}.ctx"), ak),
        ] {
            tpm.tool(
                "tpm2_evictcontrol",
                &["-C", "o", "-c", &ctx, &format!("0x{handle:08x}")],
            );
        }
        tpm.flush();
    }
    tpm
}

fn unprovision(tpm: &Swtpm) {
    for h in [EK_ECC, AK_ECC, AK_RSA, EK_RSA] {
        tpm.tool(
            "tpm2_evictcontrol",
            &["-C", "o", "-c", &format!("0x{h:08x}")],
        );
    }
}

/// No policy session is left loaded in the TPM: TPM2_GetCapability(TPM_CAP_HANDLES,
/// TPM_HT_POLICY_SESSION) over the test's own link (swtpm serves one connection at a time).
fn assert_no_sessions(link: &mut SwtpmTcp, when: &str) {
    let cmd = hex("8001 00000016 0000017a 00000001 03000000 00000010");
    let mut b = [0u8; 256];
    let r = link.transact(&cmd, &mut b).unwrap();
    // Header, rc 0, moreData, TPM_CAP_HANDLES, TPML_HANDLE.count.
    assert_eq!(&r[6..10], &[0, 0, 0, 0], "{when}");
    assert_eq!(&r[11..15], &[0, 0, 0, 1], "{when}");
    assert_eq!(&r[15..19], &[0, 0, 0, 0], "{when}: sessions left: {r:02x?}");
}

#[test]
fn swtpm_activates_our_credentials_and_refuses_other_aks_and_eks() {
    if !peers_available("swtpm_activates_our_credentials_and_refuses_other_aks_and_eks") {
        return;
    }
    let tpm = provisioned("activate");
    let other = Swtpm::start("activate-other");
    other.create_ek_ak("ecc");
    let mut link = SwtpmTcp::connect(("127.0.0.1", tpm.port)).unwrap();
    let (_, ak_rsa_name) = public_of(&mut link, AK_RSA);

    for (kind, ek_handle, ak_handle) in [("ecc", EK_ECC, AK_ECC), ("rsa", EK_RSA, AK_RSA)] {
        let (ek_bytes, _) = public_of(&mut link, ek_handle);
        let ek = PublicArea::parse_tpm2b(&ek_bytes).unwrap();
        let (_, ak_name) = public_of(&mut link, ak_handle);

        // The honest case, twice in a row: each activation flushes its policy session.
        for _ in 0..2 {
            let mut secret = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut OsRng, &mut secret);
            let blob = make_credential(&ek, &ak_name, &secret, &mut OsRng).unwrap();
            let got = activate_credential(
                &mut link,
                ek_handle,
                ak_handle,
                &blob.id_object,
                &blob.encrypted_secret,
            )
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(got.as_slice(), secret.as_slice(), "{kind}");
            assert_no_sessions(&mut link, kind);
        }

        let secret = [0x42u8; 16];
        let refused = |link: &mut SwtpmTcp, id: &[u8], enc: &[u8], case: &str| {
            let e = activate_credential(link, ek_handle, ak_handle, id, enc).unwrap_err();
            assert!(
                matches!(e, ActivationError::CredentialRefused { .. }),
                "{kind}, {case}: {e:?}"
            );
            assert_eq!(e.code(), "credential_refused");
            assert_no_sessions(link, case);
        };

        // Made for another AK's Name (the other AK of this TPM).
        let wrong_ak_name = if kind == "rsa" {
            public_of(&mut link, AK_ECC).1
        } else {
            ak_rsa_name.clone()
        };
        let blob = make_credential(&ek, &wrong_ak_name, &secret, &mut OsRng).unwrap();
        refused(
            &mut link,
            &blob.id_object,
            &blob.encrypted_secret,
            "another AK",
        );

        // Altered on the way: one bit of the integrity HMAC, one of the encrypted seed.
        let blob = make_credential(&ek, &ak_name, &secret, &mut OsRng).unwrap();
        let mut id = blob.id_object.clone();
        id[5] ^= 1;
        refused(&mut link, &id, &blob.encrypted_secret, "altered blob");
        let mut enc = blob.encrypted_secret.clone();
        let last = enc.len() - 1;
        enc[last] ^= 1;
        if kind == "ecc" {
            refused(&mut link, &blob.id_object, &enc, "altered seed");
        } else {
            // libtpms answers an OAEP padding failure with TPM_RC_FAILURE, which names no
            // parameter: refused all the same, as the TPM's error, and the session is flushed.
            assert_eq!(
                activate_credential(&mut link, ek_handle, ak_handle, &blob.id_object, &enc),
                Err(ActivationError::Command(TpmCommandError::ResponseCode(
                    0x101
                )))
            );
            assert_no_sessions(&mut link, "altered OAEP seed");
        }
        // The TPM still activates the untouched credential.
        let got = activate_credential(
            &mut link,
            ek_handle,
            ak_handle,
            &blob.id_object,
            &blob.encrypted_secret,
        )
        .unwrap();
        assert_eq!(got.as_slice(), secret.as_slice(), "{kind} after refusals");
    }

    // An AK of this TPM presented with another TPM's EK: the verifier encrypts to that EK, and
    // this TPM's EK cannot recover the seed.
    let other_ek_bytes = other.read("ek_ecc.pub");
    let other_ek = PublicArea::parse_tpm2b(&other_ek_bytes).unwrap();
    let (_, ak_name) = public_of(&mut link, AK_ECC);
    let blob = make_credential(&other_ek, &ak_name, &[1; 32], &mut OsRng).unwrap();
    let e = activate_credential(
        &mut link,
        EK_ECC,
        AK_ECC,
        &blob.id_object,
        &blob.encrypted_secret,
    )
    .unwrap_err();
    assert!(
        matches!(e, ActivationError::CredentialRefused { .. }),
        "{e:?}"
    );
    assert_no_sessions(&mut link, "another EK");

    // A handle that is not loaded is the TPM's error, typed, and the session is still flushed.
    let blob = make_credential(&other_ek, &ak_name, &[1; 32], &mut OsRng).unwrap();
    assert!(matches!(
        activate_credential(
            &mut link,
            0x8101_00ff,
            AK_ECC,
            &blob.id_object,
            &blob.encrypted_secret
        ),
        Err(ActivationError::Command(TpmCommandError::ResponseCode(_)))
    ));
    assert_no_sessions(&mut link, "unloaded EK");
    drop(link);
    unprovision(&tpm);
}
