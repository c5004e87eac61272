//! The module paths of releases before the regrouping still name the same items (deprecated,
//! CHANGELOG.md): code written against them keeps building.
#![allow(deprecated, clippy::unwrap_used)]

use std::any::TypeId;

#[test]
fn every_old_path_names_the_item_at_its_new_path() {
    fn same<A: 'static, B: 'static>() -> bool {
        TypeId::of::<A>() == TypeId::of::<B>()
    }
    use iotsec_attest as a;
    assert!(same::<a::algorithm::HashAlg, a::tpm::algorithm::HashAlg>());
    assert!(same::<a::attest::ClockInfo, a::tpm::attest::ClockInfo>());
    assert!(same::<
        a::event_log::EventLogError,
        a::tpm::event_log::EventLogError,
    >());
    assert!(same::<
        a::pcr_file::SerializedPcrs<'static>,
        a::tpm::pcr_file::SerializedPcrs<'static>,
    >());
    assert!(same::<
        a::pcr_selection::PcrSelectionList,
        a::tpm::pcr_selection::PcrSelectionList,
    >());
    assert!(same::<
        a::public::PublicArea<'static>,
        a::tpm::public::PublicArea<'static>,
    >());
    assert!(same::<
        a::signature::TpmSignature<'static>,
        a::tpm::signature::TpmSignature<'static>,
    >());
    assert!(same::<
        a::freshness::ClockVerdict,
        a::appraise::freshness::ClockVerdict,
    >());
    assert!(same::<
        a::pcr_digest::PcrValueError,
        a::appraise::pcr_digest::PcrValueError,
    >());
    assert!(same::<
        a::tpm_command::TpmCommandError,
        a::device::command::TpmCommandError,
    >());
    assert!(same::<
        a::tpm_session::SessionError,
        a::device::session::SessionError,
    >());
    assert!(same::<a::tpm_session::Session, a::device::session::Session>());
    assert!(same::<
        a::tpm_transport::TransportError,
        a::device::transport::TransportError,
    >());
    assert!(same::<
        a::credential::CredentialError,
        a::identity::credential::CredentialError,
    >());
    assert!(same::<
        a::appraisal::QuoteAppraisal,
        a::appraise::QuoteAppraisal,
    >());
    assert!(same::<a::appraisal::Finding, a::appraise::Finding>());
    assert!(same::<
        a::policy::AppraisalPolicy,
        a::appraise::policy::AppraisalPolicy,
    >());
    assert!(same::<
        a::nonce_issuer::NonceIssuer,
        a::appraise::nonce_issuer::NonceIssuer,
    >());
    assert!(same::<a::bare_key::BareKey, a::identity::bare_key::BareKey>());
    assert!(same::<
        a::ek_certificate::EkCertError,
        a::identity::ek_certificate::EkCertError,
    >());
    assert!(same::<
        a::ring_verifier::RingVerifier,
        a::verify::ring::RingVerifier,
    >());
    assert!(same::<
        a::aws_lc_verifier::PreparedAk,
        a::verify::aws_lc::PreparedAk,
    >());
    assert!(same::<a::verify::RustCryptoVerifier, a::RustCryptoVerifier>());
    // Functions too: the old path calls the same code.
    assert_eq!(
        a::appraisal::ak_attribute_problems(a::public::ObjectAttributes(0)),
        a::appraise::ak_attribute_problems(a::tpm::public::ObjectAttributes(0)),
    );
    assert_eq!(
        a::tpm_command::MAX_COMMAND_SIZE,
        a::device::command::MAX_COMMAND_SIZE
    );
}
