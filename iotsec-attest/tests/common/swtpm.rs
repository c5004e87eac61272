//! A private swtpm per test on loopback, driven with tpm2-tools through the swtpm TCTI.
//!
//! swtpm has 3 transient object slots and no resource manager, so every tool call is followed by
//! `tpm2_flushcontext -t`/`-s`; `tpm2_shutdown -c` runs before the process is stopped so that
//! the TPM does not count an unorderly shutdown. Ports come from the OS (bind to port 0) and each
//! instance is used by one test only, so tests never share a TPM.
#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// One running swtpm with its state directory.
pub struct Swtpm {
    child: Option<Child>,
    pub dir: PathBuf,
    pub port: u16,
}

/// Whether swtpm and tpm2-tools are installed; under CI=true their absence fails the test.
pub fn peers_available(test: &str) -> bool {
    iotsec_test_support::peer::require(
        test,
        &[
            "swtpm",
            "swtpm_setup",
            "tpm2_quote",
            "tpm2_createak",
            "tpm2_sign",
        ],
        "apt-get install swtpm swtpm-tools tpm2-tools",
    )
}

fn free_port_pair() -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p < 65000 && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

impl Swtpm {
    /// Starts a fresh TPM (new state directory).
    pub fn start(test: &str) -> Swtpm {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("iotsec-attest-{test}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let mut tpm = Swtpm {
            child: None,
            dir,
            port: 0,
        };
        tpm.power_on(true);
        tpm
    }

    /// Starts a TPM manufactured by `swtpm_setup --create-ek-cert` with a private local CA in
    /// `DIR/ca` (root `swtpm-localca-rootca-cert.pem`, issuer `issuercert.pem`): RSA EK
    /// certificate in NV 0x01c00002, ECC P-384 EK certificate in NV 0x01c00016.
    pub fn start_manufactured(test: &str) -> Swtpm {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("iotsec-attest-{test}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ca = dir.join("ca");
        std::fs::create_dir_all(dir.join("state")).unwrap();
        std::fs::create_dir_all(&ca).unwrap();
        std::fs::write(
            ca.join("swtpm-localca.conf"),
            format!(
                "statedir = {d}\nsigningkey = {d}/signkey.pem\nissuercert = {d}/issuercert.pem\ncertserial = {d}/certserial\n",
                d = ca.display()
            ),
        )
        .unwrap();
        std::fs::write(
            ca.join("swtpm-localca.options"),
            "--platform-manufacturer iotsec\n--platform-version 1\n--platform-model test\n",
        )
        .unwrap();
        std::fs::write(
            ca.join("swtpm_setup.conf"),
            format!(
                "create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = {d}/swtpm-localca.conf\ncreate_certs_tool_options = {d}/swtpm-localca.options\nactive_pcr_banks = sha1,sha256,sha384\n",
                d = ca.display()
            ),
        )
        .unwrap();
        let out = Command::new("swtpm_setup")
            .args([
                "--tpm2",
                "--create-ek-cert",
                "--ecc",
                "--overwrite",
                "--config",
            ])
            .arg(ca.join("swtpm_setup.conf"))
            .arg("--tpmstate")
            .arg(dir.join("state"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "swtpm_setup failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut tpm = Swtpm {
            child: None,
            dir,
            port: 0,
        };
        tpm.power_on(true);
        tpm
    }

    /// Starts swtpm on the existing state; `clear` = TPM2_Startup(CLEAR), else the test sends
    /// its own startup.
    pub fn power_on(&mut self, clear: bool) {
        for _attempt in 0..5 {
            let port = free_port_pair();
            let flags = if clear {
                "not-need-init,startup-clear"
            } else {
                "not-need-init"
            };
            self.spawn(
                &[
                    "--server",
                    &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
                    "--ctrl",
                    &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1),
                ],
                flags,
            );
            self.port = port;
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return;
                }
                if let Some(c) = self.child.as_mut()
                    && c.try_wait().unwrap().is_some()
                {
                    break; // port taken in the meantime: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            self.kill();
        }
        panic!("swtpm did not start");
    }

    /// Starts swtpm on the existing state with its command port on a Unix socket
    /// (`--server type=unixio`) and TPM2_Startup(CLEAR); returns the socket path. tpm2-tools
    /// cannot reach this instance (the swtpm TCTI of tpm2-tss 3 speaks TCP only).
    pub fn power_on_unix(&mut self) -> PathBuf {
        // No TCP port any more: a later tpm2_shutdown in Drop must not reach another test's TPM.
        self.port = 0;
        let socket = self.dir.join("tpm.sock");
        let _ = std::fs::remove_file(&socket);
        self.spawn(
            &[
                "--server",
                &format!("type=unixio,path={}", socket.display()),
            ],
            "not-need-init,startup-clear",
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
                return socket;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("swtpm did not open {}", socket.display());
    }

    /// Starts `swtpm chardev` on the existing state with TPM2_Startup(CLEAR), talking over one
    /// end of a socket pair (its `--fd`, as behind a CUSE `/dev/vtpmN`); returns the other end as
    /// a file, to be used as a TPM character device. tpm2-tools cannot reach this instance.
    pub fn power_on_chardev(&mut self) -> std::fs::File {
        use std::os::fd::OwnedFd;
        self.port = 0;
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        // swtpm refuses descriptors 0-2, and std cannot hand a child any other one without
        // unsafe code: the shell moves the socket from stdin to descriptor 3.
        let child = Command::new("sh")
            .args([
                "-c",
                r#"exec swtpm chardev --tpm2 --fd 3 "$@" 3<&0 </dev/null"#,
                "sh",
            ])
            .args(["--flags", "not-need-init,startup-clear", "--tpmstate"])
            .arg(format!("dir={}", self.dir.join("state").display()))
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        std::fs::File::from(OwnedFd::from(ours))
    }

    /// `swtpm socket --tpm2` on this state directory with the given channels and flags.
    fn spawn(&mut self, channels: &[&str], flags: &str) {
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2"])
            .args(channels)
            .args(["--flags", flags])
            .arg("--tpmstate")
            .arg(format!("dir={}", self.dir.join("state").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs a tpm2-tools command in the state directory; returns its output (must succeed).
    pub fn tool(&self, tool: &str, args: &[&str]) -> Output {
        let out = self.tool_unchecked(tool, args);
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.flush();
        out
    }

    pub fn tool_unchecked(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .args(args)
            .current_dir(&self.dir)
            .env("TPM2TOOLS_TCTI", self.tcti())
            .output()
            .unwrap()
    }

    /// Frees the transient objects and sessions a tool left behind.
    pub fn flush(&self) {
        for kind in ["-t", "-s"] {
            let _ = self.tool_unchecked("tpm2_flushcontext", &[kind]);
        }
    }

    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    pub fn write(&self, name: &str, data: &[u8]) {
        std::fs::write(self.path(name), data).unwrap()
    }

    /// `tpm2_shutdown` (`-c` for CLEAR, else STATE) then stop the process.
    pub fn power_off(&mut self, clear: bool) {
        if self.child.is_some() {
            let args: &[&str] = if clear { &["-c"] } else { &[] };
            let _ = self.tool_unchecked("tpm2_shutdown", args);
        }
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Creates an EK and an AK under it (`ecc` or `rsa`), writing `ek_K.pub`, `ak_K.pub`,
    /// `ak_K.ctx`, `ak_K.name`.
    pub fn create_ek_ak(&self, kind: &str) {
        let (ek_alg, ak_alg, scheme) = if kind == "ecc" {
            ("ecc", "ecc", "ecdsa")
        } else {
            ("rsa", "rsa", "rsassa")
        };
        let ek_ctx = format!("ek_{kind}.ctx");
        self.tool(
            "tpm2_createek",
            &["-c", &ek_ctx, "-G", ek_alg, "-u", &format!("ek_{kind}.pub")],
        );
        self.tool(
            "tpm2_createak",
            &[
                "-C",
                &ek_ctx,
                "-c",
                &format!("ak_{kind}.ctx"),
                "-G",
                ak_alg,
                "-g",
                "sha256",
                "-s",
                scheme,
                "-u",
                &format!("ak_{kind}.pub"),
                "-n",
                &format!("ak_{kind}.name"),
                "-r",
                &format!("ak_{kind}.priv"),
            ],
        );
    }

    /// An ECC AK under the EK made persistent at `handle` (hex, e.g. `0x81010002`), as a
    /// device is provisioned at the factory.
    pub fn provision_persistent_ak(&self, handle: &str) {
        self.create_ek_ak("ecc");
        self.tool(
            "tpm2_evictcontrol",
            &["-C", "o", "-c", "ak_ecc.ctx", handle],
        );
    }

    /// `tpm2_quote -m PREFIX.msg -s PREFIX.sig -o PREFIX.pcrs` with the nonce (hex).
    pub fn quote(&self, ak_ctx: &str, pcrs: &str, nonce_hex: &str, prefix: &str) {
        self.tool(
            "tpm2_quote",
            &[
                "-c",
                ak_ctx,
                "-l",
                pcrs,
                "-q",
                nonce_hex,
                "-g",
                "sha256",
                "-m",
                &format!("{prefix}.msg"),
                "-s",
                &format!("{prefix}.sig"),
                "-o",
                &format!("{prefix}.pcrs"),
            ],
        );
    }

    /// An AK of `ak_alg` (tpm2-tools `-G`) with signing scheme `scheme` and hash `hash` under a
    /// fresh EK, and a quote by it over `pcrs` with `nonce` (hex) in files q.msg, q.sig, q.pcrs
    /// (and ak.pub, ak.ctx).
    pub fn quote_with_new_ak(
        &self,
        ak_alg: &str,
        hash: &str,
        scheme: &str,
        pcrs: &str,
        nonce: &str,
    ) {
        let ek_alg = if ak_alg.starts_with("rsa") {
            "rsa"
        } else {
            "ecc"
        };
        self.tool(
            "tpm2_createek",
            &["-c", "ek.ctx", "-G", ek_alg, "-u", "ek.pub"],
        );
        self.tool(
            "tpm2_createak",
            &[
                "-C", "ek.ctx", "-c", "ak.ctx", "-G", ak_alg, "-g", hash, "-s", scheme, "-u",
                "ak.pub", "-r", "ak.priv",
            ],
        );
        // tpm2_quote asks for RSASSA with an RSA key unless told otherwise, which the TPM
        // refuses for an RSAPSS key ("unsupported or incompatible scheme"): the scheme is
        // always named.
        self.tool(
            "tpm2_quote",
            &[
                "-c", "ak.ctx", "-l", pcrs, "-q", nonce, "-g", hash, "--scheme", scheme, "-m",
                "q.msg", "-s", "q.sig", "-o", "q.pcrs",
            ],
        );
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        self.power_off(true);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Appraises the tpm2-tools files in the TPM's directory: AK `ak` (TPM2B_PUBLIC) and the quote
/// `PREFIX.msg`, `PREFIX.sig`, `PREFIX.pcrs`.
#[allow(clippy::too_many_arguments)]
pub fn appraise_files(
    tpm: &Swtpm,
    verifier: &dyn iotsec_attest::verify::SignatureVerifier,
    policy: &iotsec_attest::appraise::policy::AppraisalPolicy,
    ak: &str,
    prefix: &str,
    nonce: &[u8],
    previous: Option<&iotsec_attest::ClockInfo>,
) -> iotsec_attest::appraise::QuoteAppraisal {
    let (ak, message, signature, pcrs) = (
        tpm.read(ak),
        tpm.read(&format!("{prefix}.msg")),
        tpm.read(&format!("{prefix}.sig")),
        tpm.read(&format!("{prefix}.pcrs")),
    );
    let files = QuoteFiles {
        ak: &ak,
        message: &message,
        signature: &signature,
        pcrs: &pcrs,
        event_log: None,
    };
    appraise_tpm2_tools(verifier, policy, &files, nonce, previous)
}

/// One quote as tpm2-tools writes it: the AK (`tpm2_readpublic -o`), `tpm2_quote -m -s -o`, and
/// optionally an event log.
#[allow(dead_code)]
pub struct QuoteFiles<'a> {
    /// TPM2B_PUBLIC of the AK.
    pub ak: &'a [u8],
    /// TPMS_ATTEST.
    pub message: &'a [u8],
    /// TPMT_SIGNATURE.
    pub signature: &'a [u8],
    /// Serialized PCR values.
    pub pcrs: &'a [u8],
    /// A TCG crypto-agile event log.
    pub event_log: Option<&'a [u8]>,
}

/// Appraises a quote given as tpm2-tools' files.
#[allow(dead_code)]
pub fn appraise_tpm2_tools(
    verifier: &dyn iotsec_attest::verify::SignatureVerifier,
    policy: &iotsec_attest::appraise::policy::AppraisalPolicy,
    files: &QuoteFiles<'_>,
    nonce: &[u8],
    previous: Option<&iotsec_attest::ClockInfo>,
) -> iotsec_attest::appraise::QuoteAppraisal {
    let ak = iotsec_attest::PublicArea::parse_tpm2b(files.ak).unwrap();
    let pcrs = iotsec_attest::tpm::pcr_file::SerializedPcrs::parse(files.pcrs).unwrap();
    iotsec_attest::appraise::appraise_quote(
        verifier,
        policy,
        &iotsec_attest::appraise::QuoteEvidence {
            ak: &ak,
            message: files.message,
            signature: files.signature,
            pcrs: &pcrs,
            event_log: files.event_log,
        },
        nonce,
        previous,
    )
}
