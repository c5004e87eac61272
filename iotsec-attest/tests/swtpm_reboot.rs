//! Freshness across real power cycles of swtpm: a resume raises restartCount, a reboot raises
//! resetCount and sends restartCount back to 0. A reboot after a resume is fresh (Keylime reports
//! it as a decreased restartCount); a quote from before the reboot is not.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::swtpm::{Swtpm, appraise_files, peers_available};
use iotsec_attest::ClockInfo;
use iotsec_attest::appraise::freshness::ClockVerdict;
use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::appraise::{Claim, Finding, Tier};
use iotsec_attest::verify::ring::RingVerifier;

fn quote_and_appraise(
    tpm: &Swtpm,
    name: &str,
    nonce: u8,
    previous: Option<&ClockInfo>,
) -> (Tier, Option<ClockInfo>, Vec<Finding>) {
    // Object contexts do not survive a power cycle: make the keys again from the EK seed.
    tpm.create_ek_ak("ecc");
    let hex = format!("{nonce:02x}").repeat(8);
    tpm.quote("ak_ecc.ctx", "sha256:0,7", &hex, name);
    for suffix in ["msg", "sig", "pcrs"] {
        std::fs::copy(
            tpm.path(&format!("{name}.{suffix}")),
            tpm.path(&format!("{name}-kept.{suffix}")),
        )
        .unwrap();
    }
    std::fs::copy(tpm.path("ak_ecc.pub"), tpm.path(&format!("{name}-ak.pub"))).unwrap();
    appraise(tpm, name, nonce, previous)
}

fn appraise(
    tpm: &Swtpm,
    name: &str,
    nonce: u8,
    previous: Option<&ClockInfo>,
) -> (Tier, Option<ClockInfo>, Vec<Finding>) {
    let a = appraise_files(
        tpm,
        &RingVerifier,
        &AppraisalPolicy::default(),
        &format!("{name}-ak.pub"),
        &format!("{name}-kept"),
        &[nonce; 8],
        previous,
    );
    let msg = tpm.read(&format!("{name}-kept.msg"));
    let findings = a.claim(Claim::Freshness).unwrap().findings.clone();
    let clock = iotsec_attest::Attest::parse(&msg).unwrap().clock_info;
    (a.status, Some(clock), findings)
}

#[test]
fn swtpm_resume_then_reboot_keeps_quotes_fresh_and_old_quotes_stale() {
    if !peers_available("swtpm_resume_then_reboot_keeps_quotes_fresh_and_old_quotes_stale") {
        return;
    }
    let mut tpm = Swtpm::start("reboot");
    let (t1, c1, _) = quote_and_appraise(&tpm, "boot", 1, None);
    assert_eq!(t1, Tier::Affirming);
    let c1 = c1.unwrap();

    // Suspend and resume: Shutdown(STATE), power cycle, Startup(STATE).
    tpm.power_off(false);
    tpm.power_on(false);
    tpm.tool("tpm2_startup", &[]);
    let (t2, c2, f2) = quote_and_appraise(&tpm, "resumed", 2, Some(&c1));
    let c2 = c2.unwrap();
    assert_eq!(
        (c2.reset_count, c2.restart_count),
        (c1.reset_count, c1.restart_count + 1)
    );
    assert_eq!(t2, Tier::Affirming, "{f2:?}");

    // Reboot: Shutdown(CLEAR), power cycle, Startup(CLEAR).
    tpm.power_off(true);
    tpm.power_on(true);
    let (t3, c3, f3) = quote_and_appraise(&tpm, "rebooted", 3, Some(&c2));
    let c3 = c3.unwrap();
    assert_eq!(c3.reset_count, c2.reset_count + 1);
    assert_eq!(
        c3.restart_count, 0,
        "restartCount restarts at 0 after a reboot"
    );
    assert_eq!(
        t3,
        Tier::Affirming,
        "reboot after resume must be fresh: {f3:?}"
    );

    // The quote from before the reboot, replayed now, is stale.
    let (t, _, f) = appraise(&tpm, "resumed", 2, Some(&c3));
    assert_eq!(t, Tier::Contraindicated);
    assert_eq!(
        f,
        vec![Finding::NotFresh {
            verdict: ClockVerdict::ResetCountDecreased {
                previous: c3.reset_count,
                current: c2.reset_count
            }
        }]
    );
}
