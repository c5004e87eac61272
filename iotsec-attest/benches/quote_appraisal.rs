//! Quote appraisals per second: ours (ring, aws-lc per call, aws-lc with the AK parsed once as a
//! verifier service does at AK registration, and RustCrypto) side by side with Keylime (PyPI
//! `keylime`, driven from target/venv in the same run) on the same swtpm quotes (benches/data:
//! one sha256 bank of 9 PCRs, the shape Keylime's parser supports), and with the raw signature
//! verification alone. The summary pairs ours and Keylime's in alternating rounds and reports
//! the median ratio: against `checkquote` (what the issue names) and against `Tpm.check_quote`
//! (what Keylime's verifier runs per quote, with a PCR policy and the previous clock).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use iotsec_attest::appraise::policy::AppraisalPolicy;
use iotsec_attest::appraise::{Claim, QuoteAppraisal, QuoteEvidence, Tier, appraise_quote};
use iotsec_attest::tpm::pcr_file::SerializedPcrs;
use iotsec_attest::verify::aws_lc::{AwsLcVerifier, PreparedAk};
use iotsec_attest::verify::ring::RingVerifier;
use iotsec_attest::verify::{RustCryptoVerifier, SignatureVerifier};
use iotsec_attest::{Attest, ClockInfo, PublicArea, TpmSignature};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/data");
const NONCE: &[u8] = b"nonce-01";

struct Quote {
    ak: Vec<u8>,
    msg: Vec<u8>,
    sig: Vec<u8>,
    pcrs: Vec<u8>,
}

fn load(kind: &str) -> Quote {
    let r = |f: String| std::fs::read(format!("{DATA}/{f}")).unwrap();
    Quote {
        ak: r(format!("ak_{kind}.pub")),
        msg: r(format!("{kind}.msg")),
        sig: r(format!("{kind}.sig")),
        pcrs: r(format!("{kind}.pcrs")),
    }
}

/// One appraisal from the raw files (parsing included), as a verifier service does it.
fn appraisal(
    q: &Quote,
    v: &dyn SignatureVerifier,
    policy: &AppraisalPolicy,
    previous: Option<&ClockInfo>,
) -> QuoteAppraisal {
    let ak = PublicArea::parse_tpm2b(&q.ak).unwrap();
    let pcrs = SerializedPcrs::parse(&q.pcrs).unwrap();
    let ev = QuoteEvidence {
        ak: &ak,
        message: &q.msg,
        signature: &q.sig,
        pcrs: &pcrs,
        event_log: None,
    };
    appraise_quote(v, policy, &ev, NONCE, previous)
}

/// The appraisal `checkquote` is compared with: no reference values, first contact.
fn appraise(q: &Quote, v: &dyn SignatureVerifier) -> bool {
    appraisal(q, v, &AppraisalPolicy::default(), None).is_trustworthy()
}

/// Accepts every signature: isolates what the appraisal costs besides the cryptography.
struct NoCrypto;

impl SignatureVerifier for NoCrypto {
    fn verify(
        &self,
        _: &PublicArea<'_>,
        _: &[u8],
        _: &TpmSignature<'_>,
    ) -> Result<(), iotsec_attest::VerifyError> {
        Ok(())
    }
}

/// The AK parsed once, as a verifier service does when the AK is registered.
fn prepare(q: &Quote) -> PreparedAk {
    PreparedAk::new(&PublicArea::parse_tpm2b(&q.ak).unwrap()).unwrap()
}

fn verify_only(q: &Quote, v: &dyn SignatureVerifier) -> bool {
    let ak = PublicArea::parse_tpm2b(&q.ak).unwrap();
    let sig = TpmSignature::parse(&q.sig).unwrap();
    v.verify(&ak, &q.msg, &sig).is_ok()
}

/// Best of 7 rounds (the box is shared: the minimum is the least disturbed figure).
fn per_call_us(mut f: impl FnMut() -> bool, n: u32) -> f64 {
    assert!(f());
    let mut best = f64::MAX;
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..n / 7 {
            black_box(f());
        }
        best = best.min(t.elapsed().as_secs_f64() * 1e6 / f64::from(n / 7));
    }
    best
}

/// Keylime run as a driver process from target/venv: each request line `KIND WHAT N` runs one
/// of its operations N times on the same files and answers with µs per call. WHAT is
/// `checkquote` (`tpm_util.checkquote`, what the issue names: AK PEM loaded per call, signature,
/// nonce, pcrDigest), `verify` (the OpenSSL signature check inside it alone, key loaded) or
/// `check_quote` (`Tpm.check_quote`, what Keylime's verifier runs per quote: the AK as its
/// registrar stores it (TPM2B_PUBLIC), the quote string, the agent's previous clock, and a PCR
/// policy listing every quoted PCR). Keylime imports `gpg` for IMA keyrings only; the PyPI
/// package needs gpgme to build, so the driver stands in an empty module (quotes never use it).
struct Keylime {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    /// Whether `check_quote` could be set up (it needs Keylime's optional imports).
    has_check_quote: bool,
}

const KEYLIME_DRIVER: &str = r#"
import sys, time, base64, types, logging
logging.disable(logging.CRITICAL)
sys.modules.setdefault("gpg", types.ModuleType("gpg"))
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from keylime.tpm import tpm_util
d = sys.argv[1]
ops = {}
for kind in ["ecc", "rsa"]:
    ak = open(f"{d}/ak_{kind}.pem", "rb").read()
    m, s, p = (open(f"{d}/{kind}.{x}", "rb").read() for x in ("msg", "sig", "pcrs"))
    pcrs = tpm_util.checkquote(ak, "nonce-01", s, m, p, "sha256")
    ops[(kind, "checkquote")] = (lambda ak=ak, m=m, s=s, p=p: tpm_util.checkquote(ak, "nonce-01", s, m, p, "sha256"))
    key = serialization.load_pem_public_key(ak)
    if kind == "ecc":
        sig = tpm_util.ecdsa_der_from_tpm(s, key)
        ops[(kind, "verify")] = (lambda key=key, sig=sig, m=m: key.verify(sig, m, ec.ECDSA(hashes.SHA256())))
    else:
        size = int.from_bytes(s[4:6], "big")
        sig = s[6:6 + size]
        ops[(kind, "verify")] = (lambda key=key, sig=sig, m=m: key.verify(sig, m, padding.PKCS1v15(), hashes.SHA256()))
    try:
        from keylime import agentstates
        from keylime.common.algorithms import Hash
        from keylime.mba import mba
        from keylime.agentstates import TPMClockInfo
        from keylime.tpm import tpm2_objects, tpm_main
        if not getattr(mba, "_iotsec_loaded", False):
            mba.load_imports(skip_custom_policies=True)
            mba._iotsec_loaded = True
        tpm = tpm_main.Tpm()
        akpub = open(f"{d}/ak_{kind}.pub", "rb").read()
        quote = "r" + ":".join(base64.b64encode(x).decode() for x in (m, s, p))
        policy = {str(k): [v] for k, v in pcrs.items()}
        now = TPMClockInfo.from_dict(tpm2_objects.get_tpms_attest_clock_info(m))
        prev = TPMClockInfo(clock=now.clock - 1, resetcount=now.resetcount, restartcount=now.restartcount, safe=now.safe)
        state = agentstates.AgentAttestState("bench-agent")
        def full(state=state, tpm=tpm, akpub=akpub, quote=quote, policy=policy, prev=prev):
            state.set_tpm_clockinfo(prev)
            return tpm.check_quote(state, "nonce-01", None, quote, akpub, tpm_policy=policy, hash_alg=Hash.SHA256, skip_data_pcr_check=True)
        bad = dict(policy)
        bad["0"] = ["ab" * 32]
        state.set_tpm_clockinfo(prev)
        assert tpm.check_quote(state, "nonce-01", None, quote, akpub, tpm_policy=bad, hash_alg=Hash.SHA256, skip_data_pcr_check=True)
        failure = full()
        assert not failure, failure.get_event_ids()
        ops[(kind, "check_quote")] = full
    except Exception as e:
        print("check_quote unavailable:", repr(e), file=sys.stderr)
    for f in [v for (k, w), v in ops.items() if k == kind]:
        f()
print("ready", " ".join(f"{k}:{w}" for k, w in ops), flush=True)
for line in sys.stdin:
    kind, what, n = line.split()
    f = ops[(kind, what)]
    n = int(n)
    t = time.perf_counter()
    for _ in range(n):
        f()
    print((time.perf_counter() - t) / n * 1e6, flush=True)
"#;

impl Keylime {
    /// Starts the driver; `None` (with the reason on stderr) when Keylime is not installed.
    fn start() -> Option<Self> {
        let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/venv/bin/python");
        let mut child = Command::new(python)
            .args(["-c", KEYLIME_DRIVER, DATA])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| eprintln!("keylime driver could not start: {e}"))
            .ok()?;
        let input = child.stdin.take()?;
        let mut output = BufReader::new(child.stdout.take()?);
        let mut ready = String::new();
        output.read_line(&mut ready).ok()?;
        if !ready.starts_with("ready") {
            eprintln!("keylime driver did not start (see its error above)");
            return None;
        }
        Some(Self {
            has_check_quote: ready.contains("ecc:check_quote") && ready.contains("rsa:check_quote"),
            child,
            input,
            output,
        })
    }

    /// µs per call of `what` on quote `kind`, over `n` calls.
    fn time(&mut self, kind: &str, what: &str, n: u32) -> f64 {
        writeln!(self.input, "{kind} {what} {n}").unwrap();
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        line.trim().parse().unwrap()
    }
}

impl Drop for Keylime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// µs per call of `f` over `n` calls.
fn us_per_call(mut f: impl FnMut() -> bool, n: u32) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        black_box(f());
    }
    t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
}

/// Median, minimum and maximum.
fn spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The appraisal Keylime's `check_quote` is compared with: the same checks plus a reference
/// value for every quoted PCR and the TPM's previous clock (what a verifier knows of an
/// enrolled agent).
fn full_policy(q: &Quote) -> (AppraisalPolicy, ClockInfo) {
    let pcrs = SerializedPcrs::parse(&q.pcrs).unwrap();
    let mut policy = AppraisalPolicy::default();
    for v in pcrs.values() {
        policy
            .reference
            .entry(v.bank)
            .or_default()
            .insert(v.index, vec![v.digest.to_vec()]);
    }
    let now = Attest::parse(&q.msg).unwrap().clock_info;
    let previous = ClockInfo {
        clock: now.clock - 1,
        ..now
    };
    (policy, previous)
}

fn appraise_full(
    q: &Quote,
    v: &dyn SignatureVerifier,
    policy: &AppraisalPolicy,
    previous: &ClockInfo,
) -> bool {
    let a = appraisal(q, v, policy, Some(previous));
    a.claim(Claim::ReferenceValues).map(|c| c.tier) == Some(Tier::Affirming) && a.is_trustworthy()
}

/// The CPU the figures were taken on (they differ between the hosts this box lands on).
fn host() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |k: &str| {
        info.lines()
            .find_map(|l| {
                l.strip_prefix(k)?
                    .split_once(':')
                    .map(|x| x.1.trim().to_string())
            })
            .unwrap_or_default()
    };
    let flags = field("flags");
    let has: Vec<&str> = ["sha_ni", "adx", "bmi2", "avx2", "avx512ifma"]
        .into_iter()
        .filter(|f| flags.split_whitespace().any(|x| x == *f))
        .collect();
    format!("{} ({})", field("model name"), has.join(" "))
}

/// Paired rounds: each round times ours and Keylime's on the same quote back to back (in
/// alternating order), so a host that speeds up or slows down between rounds moves both sides
/// of a ratio alike; the medians of the per-round ratios are reported with their range.
fn paired_summary(ecc: &Quote, rsa: &Quote) {
    const ROUNDS: usize = 15;
    println!("\nsummary on {}:", host());
    let Some(mut kl) = Keylime::start() else {
        println!("  keylime: not available (pip install -r .ci/pip-packages.txt into target/venv)");
        return;
    };
    for (name, kind, q, n) in [("ecc_p256", "ecc", ecc, 300), ("rsa_2048", "rsa", rsa, 600)] {
        let prepared = prepare(q);
        let (policy, previous) = full_policy(q);
        assert!(appraise_full(q, &prepared, &policy, &previous));
        let mut ours = Vec::new();
        let mut full = Vec::new();
        let mut raw = Vec::new();
        let mut narrow_ratio = Vec::new();
        let mut full_ratio = Vec::new();
        let mut ceiling = Vec::new();
        let mut kl_narrow = Vec::new();
        let mut kl_full = Vec::new();
        let mut kl_verify = Vec::new();
        for round in 0..ROUNDS {
            let one = || {
                let o = us_per_call(|| appraise(q, &prepared), n);
                let r = us_per_call(|| verify_only(q, &prepared), n);
                let f = us_per_call(|| appraise_full(q, &prepared, &policy, &previous), n);
                (o, r, f)
            };
            let (o, r, f, k, kf, kv);
            if round % 2 == 0 {
                (o, r, f) = one();
                k = kl.time(kind, "checkquote", n);
                kv = kl.time(kind, "verify", n);
                kf = kl.has_check_quote.then(|| kl.time(kind, "check_quote", n));
            } else {
                k = kl.time(kind, "checkquote", n);
                kv = kl.time(kind, "verify", n);
                kf = kl.has_check_quote.then(|| kl.time(kind, "check_quote", n));
                (o, r, f) = one();
            }
            ours.push(o);
            raw.push(r);
            full.push(f);
            kl_narrow.push(k);
            kl_verify.push(kv);
            narrow_ratio.push(k / o);
            ceiling.push(k / r);
            if let Some(kf) = kf {
                kl_full.push(kf);
                full_ratio.push(kf / f);
            }
        }
        let m = |v: &Vec<f64>| spread(v.clone()).0;
        let (nr, nr_lo, nr_hi) = spread(narrow_ratio);
        let (c, c_lo, c_hi) = spread(ceiling);
        println!(
            "  {name} ({ROUNDS} paired rounds of {n} calls, medians): ours (aws-lc, AK prepared) {:.1} µs, its raw verify {:.1} µs (appraisal/raw {:.2}); Keylime checkquote {:.1} µs (its OpenSSL verify {:.1} µs)",
            m(&ours),
            m(&raw),
            m(&ours) / m(&raw),
            m(&kl_narrow),
            m(&kl_verify)
        );
        println!(
            "    throughput vs checkquote: {nr:.2}x (rounds {nr_lo:.2}x to {nr_hi:.2}x); ceiling (checkquote over our raw verify) {c:.2}x ({c_lo:.2}x to {c_hi:.2}x)"
        );
        if full_ratio.is_empty() {
            println!("    Keylime check_quote: not available (see the driver's message above)");
        } else {
            let (fr, fr_lo, fr_hi) = spread(full_ratio);
            println!(
                "    with reference values and previous clock: ours {:.1} µs, Keylime check_quote {:.1} µs: {fr:.2}x (rounds {fr_lo:.2}x to {fr_hi:.2}x)",
                m(&full),
                m(&kl_full)
            );
        }
    }
}

fn bench(c: &mut Criterion) {
    let ecc = load("ecc");
    let rsa = load("rsa");
    let mut g = c.benchmark_group("quote_appraisal");
    for (name, q) in [("ecc_p256", &ecc), ("rsa_2048", &rsa)] {
        let prepared = prepare(q);
        g.bench_function(format!("{name}/appraise/ring"), |b| {
            b.iter(|| appraise(black_box(q), &RingVerifier))
        });
        g.bench_function(format!("{name}/appraise/aws_lc"), |b| {
            b.iter(|| appraise(black_box(q), &AwsLcVerifier))
        });
        g.bench_function(format!("{name}/appraise/aws_lc_prepared_ak"), |b| {
            b.iter(|| appraise(black_box(q), &prepared))
        });
        g.bench_function(format!("{name}/appraise/rustcrypto"), |b| {
            b.iter(|| appraise(black_box(q), &RustCryptoVerifier))
        });
        g.bench_function(format!("{name}/appraise/without_crypto"), |b| {
            b.iter(|| appraise(black_box(q), &NoCrypto))
        });
        g.bench_function(format!("{name}/verify_only/ring"), |b| {
            b.iter(|| verify_only(black_box(q), &RingVerifier))
        });
        g.bench_function(format!("{name}/verify_only/aws_lc_prepared_ak"), |b| {
            b.iter(|| verify_only(black_box(q), &prepared))
        });
        g.bench_function(format!("{name}/verify_only/rustcrypto"), |b| {
            b.iter(|| verify_only(black_box(q), &RustCryptoVerifier))
        });
    }
    g.finish();

    // Every backend once, then ours and Keylime's side by side in paired rounds.
    println!("\nper backend (µs per quote, one core, best of 7 rounds):");
    for (name, q) in [("ecc_p256", &ecc), ("rsa_2048", &rsa)] {
        let prepared = prepare(q);
        let ring = per_call_us(|| appraise(q, &RingVerifier), 3000);
        let lc = per_call_us(|| appraise(q, &AwsLcVerifier), 3000);
        let lc_prep = per_call_us(|| appraise(q, &prepared), 3000);
        let rc = per_call_us(|| appraise(q, &RustCryptoVerifier), 1000);
        let raw = per_call_us(|| verify_only(q, &RingVerifier), 3000);
        let raw_prep = per_call_us(|| verify_only(q, &prepared), 3000);
        let rest = per_call_us(|| appraise(q, &NoCrypto), 3000);
        println!(
            "  {name}: ring {ring:.1} (raw {raw:.1}), aws-lc {lc:.1}, aws-lc AK prepared {lc_prep:.1} (raw {raw_prep:.1}), RustCrypto {rc:.1}, without crypto {rest:.1}"
        );
    }
    paired_summary(&ecc, &rsa);
}

criterion_group!(benches, bench);
criterion_main!(benches);
