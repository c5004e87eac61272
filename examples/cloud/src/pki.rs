//! `iotsec-cloud pki ...`: create the CA hierarchy, issue from a CSR, revoke, publish a CRL.

use std::path::PathBuf;

use clap::Subcommand;
use iotsec_cli_contract::{BadInput, Outcome, Report};
use iotsec_pki::ca::devid::{DevIdKind, DevIdProfile, DeviceIdentity};
use iotsec_pki::ca::error::{MAX_LIFETIME_HOURS, device_lifetime_secs};
use iotsec_pki::ca::root_crl::{intermediate_certificate, parse_reason};
use iotsec_pki::ca::rotation::{ca_dir, drop_expired_keys, revoke_in_any_generation};
use iotsec_pki::ca::state::{
    NewCaKey, add_intermediate_signed_by, enable_devid, init_state_publishing, set_root_crl_url,
    to_pem,
};
use iotsec_pki::ca::state_dir::{
    intermediate_cert_file, read_pem, retired_generation_dir, root_cert_file,
};
use iotsec_pki::est::reload::{ReloadEvent, ServiceSetup};
use iotsec_pki::keys::secret_file::BasicCredentials;
use iotsec_pki::store::hex_upper;
use iotsec_pki::{
    CaError, CaRole, CaSettings, CaState, ReloadingEst, RootKey, ServedState, Signer, TokenKey,
    TokenPins, open_root_key, revoke_intermediate, root_crl_signed_by,
    rotate_intermediate_signed_by,
};
use zeroize::Zeroizing;

/// Declares the `--[PREFIX]pkcs11-*` options naming one CA key in a PKCS#11 token, once for
/// every CA role (clap cannot prefix a flattened struct's options by itself).
macro_rules! token_key_args {
    ($name:ident, $role:expr, $flag:literal, $id:literal, $whose:literal, $env:literal) => {
        #[doc = concat!("The PKCS#11 token holding ", $whose, " key (`--", $flag, "pkcs11-*`).")]
        #[derive(clap::Args, Debug)]
        pub struct $name {
            #[arg(
                        long = concat!($flag, "pkcs11-module"),
                        id = concat!($id, "pkcs11_module"),
                        value_name = "MODULE",
                        requires_all = [concat!($id, "pkcs11_token"), concat!($id, "pkcs11_key")],
                        help = concat!(
                            "Keep ", $whose, " key in a PKCS#11 token: the module to load (e.g. ",
                            "/usr/lib/softhsm/libsofthsm2.so). The user PIN comes from $", $env,
                            ", here and whenever this key signs"
                        )
                    )]
            module: Option<PathBuf>,
            #[arg(
                        long = concat!($flag, "pkcs11-token"),
                        id = concat!($id, "pkcs11_token"),
                        value_name = "LABEL",
                        requires = concat!($id, "pkcs11_module"),
                        help = concat!("Label of the token holding ", $whose, " key")
                    )]
            token: Option<String>,
            #[arg(
                        long = concat!($flag, "pkcs11-key"),
                        id = concat!($id, "pkcs11_key"),
                        value_name = "LABEL",
                        requires = concat!($id, "pkcs11_module"),
                        help = concat!("Label of ", $whose, " key pair in the token")
                    )]
            key: Option<String>,
            #[arg(
                        long = concat!($flag, "pkcs11-generate"),
                        id = concat!($id, "pkcs11_generate"),
                        requires = concat!($id, "pkcs11_module"),
                        help = concat!(
                            "Generate ", $whose, " key pair in the token (P-256, sensitive, not ",
                            "extractable) instead of using an existing one"
                        )
                    )]
            generate: bool,
        }

        impl $name {
            /// The CA role these options are for.
            const ROLE: CaRole = $role;

            /// The token key named, if any (clap makes the three names come together).
            fn token_key(&self) -> Option<TokenKey> {
                match (&self.module, &self.token, &self.key) {
                    (Some(module), Some(token), Some(key_label)) => Some(TokenKey {
                        module: module.clone(),
                        token: token.clone(),
                        key_label: key_label.clone(),
                    }),
                    _ => None,
                }
            }

            /// The token key and its PIN from the role's environment variable.
            fn with_pin(&self) -> Result<Option<(TokenKey, Zeroizing<String>)>, BadInput> {
                self.token_key()
                    .map(|key| {
                        let (pin, file) = pin_env(Self::ROLE);
                        let pin = key.pin_from(Self::ROLE, pin, file).map_err(bad)?;
                        Ok((key, pin))
                    })
                    .transpose()
            }
        }
    };
}

token_key_args!(
    IntermediateTokenArgs,
    CaRole::Intermediate,
    "",
    "",
    "the intermediate's",
    "IOTSEC_PKCS11_PIN"
);
token_key_args!(
    RootTokenArgs,
    CaRole::Root,
    "root-",
    "root_",
    "the root's",
    "IOTSEC_PKCS11_ROOT_PIN"
);

/// Where a new CA key is made: in the token `key` opened with `pin`, or in software.
fn new_key(key: Option<&(TokenKey, Zeroizing<String>)>, generate: bool) -> NewCaKey<'_> {
    match key {
        Some((key, pin)) => NewCaKey::Token { key, pin, generate },
        None => NewCaKey::Software,
    }
}

/// How a report names where a key is.
/// What a revocation of `what` did, for people.
fn revoked(what: &str, newly_revoked: bool, reason: u8) -> String {
    if newly_revoked {
        format!("revoked {what} (CRL reason code {reason})")
    } else {
        format!("{what} was already revoked: unchanged")
    }
}

/// Where an intermediate's key is, for people: its token, or the file's path in `dir`.
fn key_path(token: Option<&(TokenKey, Zeroizing<String>)>, dir: &std::path::Path) -> String {
    key_place(
        token,
        &dir.join("intermediate.key.pem").display().to_string(),
    )
}

/// A time as people and programs read it: `2026-12-05T07:34:20Z`.
pub(crate) fn utc(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn key_place(token: Option<&(TokenKey, Zeroizing<String>)>, file: &str) -> String {
    match token {
        Some((t, _)) => format!("PKCS#11 token {:?}, key {:?}", t.token, t.key_label),
        None => file.to_owned(),
    }
}
use serde_json::json;
use time::OffsetDateTime;

/// CA operations on a state directory.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Creates an offline root and an online issuing intermediate in DIR (keys in files, or
    /// in PKCS#11 tokens with --root-pkcs11-* / --pkcs11-*).
    Init {
        /// State directory.
        #[arg(long)]
        state: PathBuf,
        /// Organization name of the CA.
        #[arg(long, default_value = "iotsec fleet")]
        organization: String,
        /// CRL URL placed in every issued certificate.
        #[arg(long, default_value = "http://127.0.0.1:8080/crl.der")]
        crl_url: String,
        /// Where the root's CRL (`pki crl --root`) will be published: the CRL distribution
        /// point of every intermediate certified from now on. A new CA without it uses
        /// http://127.0.0.1:8080/root.crl; with --intermediate it is recorded in ca.txt first
        /// (an older CA has none until given).
        #[arg(long)]
        root_crl_url: Option<String>,
        /// Device certificate lifetime in hours (short-lived by default).
        #[arg(long, default_value_t = 24)]
        lifetime_hours: u64,
        /// Issue IEEE 802.1AR DevIDs whose hardwareModuleName has this hwType OID.
        #[arg(long)]
        devid_hw_type: Option<String>,
        /// IDevID (notAfter 99991231235959Z) instead of LDevID (the lifetime above).
        #[arg(long, requires = "devid_hw_type")]
        idevid: bool,
        /// Add one more issuing intermediate NAME under the existing root of DIR (needs the
        /// root key: DIR/offline/root.key.pem, or its token with $IOTSEC_PKCS11_ROOT_PIN); its
        /// CRL URL is --crl-url. Labels select it with `serve --label LABEL=NAME`.
        #[arg(long, conflicts_with_all = ["devid_hw_type", "idevid"])]
        intermediate: Option<String>,
        /// The new intermediate's key in a PKCS#11 token (the default one, or NAME's).
        #[command(flatten)]
        pkcs11: IntermediateTokenArgs,
        /// The root key in a PKCS#11 token (a new CA only: no root key file is written).
        #[command(flatten)]
        root_pkcs11: RootTokenArgs,
    },
    /// Issues a certificate for a PKCS#10 CSR (PEM or DER); prints the certificate PEM.
    Issue {
        /// State directory.
        #[arg(long)]
        state: PathBuf,
        /// The CSR file.
        #[arg(long)]
        csr: PathBuf,
        /// Where to write the certificate (PEM); stdout report otherwise.
        #[arg(long)]
        out: Option<PathBuf>,
        /// DevID CA: the device serial (subject serialNumber and hwSerialNum) from the
        /// manufacturing record; any serial in the CSR is ignored.
        #[arg(long)]
        devid_serial: Option<String>,
        /// Act as the named intermediate (`pki init --intermediate NAME`) instead of the default.
        #[arg(long)]
        intermediate: Option<String>,
    },
    /// Revokes a device certificate by serial (hex), issued by the current or a rotated-out
    /// key of the intermediate; without --serial, the root revokes the intermediate's own
    /// certificate (--intermediate NAME or --default-intermediate; listed by `pki crl --root`).
    Revoke {
        /// State directory.
        #[arg(long)]
        state: PathBuf,
        /// Serial number in hex (as `openssl x509 -serial` prints it).
        #[arg(long)]
        serial: Option<String>,
        /// RFC 5280 CRLReason: a name (keyCompromise, cACompromise, superseded,
        /// cessationOfOperation, ...) or its number.
        #[arg(long, default_value = "0")]
        reason: String,
        /// Act as the named intermediate (`pki init --intermediate NAME`) instead of the
        /// default; without --serial: revoke NAME's certificate by the root.
        #[arg(long, conflicts_with = "default_intermediate")]
        intermediate: Option<String>,
        /// Without --serial: revoke the default intermediate's certificate by the root.
        #[arg(long, conflicts_with = "serial")]
        default_intermediate: bool,
    },
    /// Rotates an intermediate's key (the default one, or --intermediate NAME): a new key and
    /// a certificate from the root with the same subject. The old key issues nothing more but
    /// keeps signing the CRL for what it issued (`pki crl --generation SERIAL`) until its last
    /// certificate expires. The new key's leaves get their own CRL URL (`crl.der` becomes
    /// `crl-NEWSERIAL.der`); the old URL keeps serving the old key's CRL. A running `pki est-server`
    /// issues with the new key from its next request on. The rotation commits in one step: if
    /// it is interrupted (crash, kill), the next `pki` command or `pki est-server` check undoes it
    /// (before the commit) or finishes it (after).
    Rotate {
        /// State directory.
        #[arg(long)]
        state: PathBuf,
        /// The named intermediate to rotate (default: the default one).
        #[arg(long)]
        intermediate: Option<String>,
        /// The new key in a PKCS#11 token.
        #[command(flatten)]
        pkcs11: IntermediateTokenArgs,
    },
    /// The EST-only server (RFC 7030) over TLS 1.3 on a CA state directory, following
    /// `pki rotate|revoke|crl` on disk without a restart. Blocks until killed. The fleet
    /// service (EST plus the fleet API) is `iotsec-cloud serve`.
    EstServer(ServeArgs),
    /// Approves an enrollment held for manual approval (the device's next retry is issued).
    Approve {
        /// State directory.
        #[arg(long)]
        state: PathBuf,
        /// Pending request id (from the 202 response text).
        #[arg(long)]
        id: i64,
    },
    /// Signs a fresh CRL and writes it (DER; PEM when the name ends in .pem).
    Crl {
        /// State directory.
        #[arg(long)]
        state: PathBuf,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// Act as the named intermediate (`pki init --intermediate NAME`) instead of the default.
        #[arg(long)]
        intermediate: Option<String>,
        /// The root's CRL (revoked intermediates), signed with the root key
        /// (DIR/offline/root.key.pem, or its token with $IOTSEC_PKCS11_ROOT_PIN); a `pki est-server
        /// --root-crl FILE` publishes it and follows its rewrites.
        #[arg(long, conflicts_with_all = ["intermediate", "generation"])]
        root: bool,
        /// The CRL of a rotated-out key of the intermediate (the serial of its certificate,
        /// as `pki rotate` reported it), for the certificates it issued.
        #[arg(long)]
        generation: Option<String>,
    },
}

/// Where a new CA's root CRL is published when `pki init` is not told.
const DEFAULT_ROOT_CRL_URL: &str = "http://127.0.0.1:8080/root.crl";

/// The TLS provider of this binary, installed as the process default before anything uses
/// TLS: aws-lc-rs, offering the X25519MLKEM768 hybrid (ML-KEM-768 with X25519) first for
/// TLS 1.3, X25519 and P-256 for peers without it. The crate itself picks none.
pub fn install_crypto_provider() {
    // Err: a default is installed already (by this same call earlier).
    let _ = iotsec_pki::est::tls_provider::hybrid_first().install_default();
}

/// `role`'s PIN variable and the path in its PIN-file variable: the environment is read here,
/// the crate reads none.
fn pin_env(role: CaRole) -> (Option<Zeroizing<String>>, Option<PathBuf>) {
    (
        std::env::var(role.pin_env()).ok().map(Zeroizing::new),
        std::env::var_os(role.pin_file_env()).map(PathBuf::from),
    )
}

/// The token PINs the environment gives (each role: its variable or its file, not both).
pub(crate) fn env_pins() -> Result<TokenPins, BadInput> {
    let mut pins = TokenPins::default();
    for role in [CaRole::Intermediate, CaRole::Root] {
        let (pin, file) = pin_env(role);
        pins = pins.with_given(role, pin, file).map_err(bad)?;
    }
    Ok(pins)
}

/// The root key of the CA in `state`, opened (a token's with its PIN from the environment)
/// and checked against `root.pem`.
fn open_root(state: &std::path::Path) -> Result<Box<dyn Signer>, BadInput> {
    open_root_key(state, &env_pins()?).map_err(bad)
}

fn open_ca(state: &std::path::Path, intermediate: Option<&str>) -> Result<CaState, BadInput> {
    let pins = env_pins()?;
    match intermediate {
        Some(name) => CaState::open_intermediate_with(state, name, &pins),
        None => CaState::open_with(state, &pins),
    }
    .map_err(bad)
}

fn bad(e: CaError) -> BadInput {
    BadInput::new(e)
}

fn parse_hex(s: &str) -> Result<Vec<u8>, BadInput> {
    let s = s.trim().trim_start_matches("serial=");
    if s.is_empty() || !s.len().is_multiple_of(2) || s.len() > 40 {
        return Err(BadInput::new(
            "serial must be an even number of hex digits (at most 20 bytes)",
        ));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
                .ok_or_else(|| BadInput::new("serial is not hex"))
        })
        .collect()
}

/// Runs a `pki` subcommand.
pub fn run(cmd: Command) -> Result<Report, BadInput> {
    let now = OffsetDateTime::now_utc();

    if let Some((state, intermediate)) = cmd.existing_ca() {
        let missing = missing_ca(state, None)
            .map(|reason| format!("--state {}: {reason}", state.display()))
            .or_else(|| {
                let name = intermediate?;
                missing_ca(state, Some(name))
                    .map(|reason| format!("--intermediate {name}: {reason}"))
            });
        if let Some(reason) = missing {
            return Err(BadInput::new(reason));
        }
    }
    match cmd {
        Command::Init {
            state,
            organization,
            crl_url,
            lifetime_hours,
            devid_hw_type,
            idevid,
            root_crl_url,
            intermediate,
            pkcs11,
            root_pkcs11,
        } => {
            let int_token = pkcs11.with_pin()?;
            if let Some(name) = intermediate {
                if let Some(url) = &root_crl_url {
                    set_root_crl_url(&state, url).map_err(bad)?;
                }
                if root_pkcs11.token_key().is_some() {
                    return Err(BadInput::new(
                        "--root-pkcs11-* is for a new CA: the root key of an existing one is \
                         named in its ca.txt",
                    ));
                }
                let sub = add_intermediate_signed_by(
                    &state,
                    &name,
                    &crl_url,
                    now,
                    new_key(int_token.as_ref(), pkcs11.generate),
                    open_root(&state)?.as_ref(),
                )
                .map_err(|e| creating(&format!("intermediate {name}"), &state, e))?;
                let certificate = intermediate_cert_file(&sub);
                let key = key_place(int_token.as_ref(), "intermediate.key.pem");
                return Ok(Report {
                    outcome: Outcome::Accepted,
                    text: format!(
                        "intermediate {name} created in {}\ncertificate: {}\nkey: {}",
                        sub.display(),
                        certificate.display(),
                        key_path(int_token.as_ref(), &sub),
                    ),
                    json: json!({
                        "intermediate": name,
                        "state": sub.display().to_string(),
                        "certificate": certificate.display().to_string(),
                        "key": key,
                    }),
                });
            }
            let devid = match &devid_hw_type {
                Some(oid) => Some(DevIdProfile {
                    hw_type: oid
                        .parse()
                        .map_err(|_| BadInput::new("--devid-hw-type is not an OID"))?,
                    kind: if idevid {
                        DevIdKind::Initial
                    } else {
                        DevIdKind::Local
                    },
                }),
                None => None,
            };
            let lifetime_secs = device_lifetime_secs(lifetime_hours).map_err(|_| {
                BadInput::new(format!("--lifetime-hours must be 1..={MAX_LIFETIME_HOURS}"))
            })?;
            let root_token = root_pkcs11.with_pin()?;
            init_state_publishing(
                &state,
                &CaSettings {
                    organization,
                    crl_url,
                    lifetime_secs,
                },
                Some(root_crl_url.as_deref().unwrap_or(DEFAULT_ROOT_CRL_URL)),
                now,
                new_key(root_token.as_ref(), root_pkcs11.generate),
                new_key(int_token.as_ref(), pkcs11.generate),
            )
            .map_err(|e| creating("CA", &state, e))?;
            if let Some(devid) = &devid {
                enable_devid(&state, devid).map_err(bad)?;
            }
            let root_key = RootKey::of_state(&state).map_err(bad)?;
            let root = root_cert_file(&state);
            let intermediate = intermediate_cert_file(&state);
            let intermediate_key = key_place(int_token.as_ref(), "intermediate.key.pem");
            let note = match root_key {
                RootKey::File(_) => "move offline/root.key.pem to offline media",
                _ => {
                    "the root key stays in its token; adding an intermediate needs \
                      $IOTSEC_PKCS11_ROOT_PIN"
                }
            };
            Ok(Report {
                outcome: Outcome::Accepted,
                text: format!(
                    "CA created in {}\nroot: {}\noffline root key: {}\nintermediate: {}\n\
                     intermediate key: {}\nnext: {note}",
                    state.display(),
                    root.display(),
                    root_key.describe(),
                    intermediate.display(),
                    key_path(int_token.as_ref(), &state),
                ),
                json: json!({
                    "state": state.display().to_string(),
                    "root": root.display().to_string(),
                    "intermediate": intermediate.display().to_string(),
                    "intermediate_key": intermediate_key,
                    "offline_root_key": root_key.describe(),
                    "note": note,
                }),
            })
        }
        Command::Issue {
            state,
            csr,
            out,
            devid_serial,
            intermediate,
        } => {
            let mut ca = open_ca(&state, intermediate.as_deref())?;
            let bytes = iotsec_cli_contract::input::read_input(
                &csr,
                iotsec_cli_contract::input::InputKind::CertificateRequest,
            )?;
            let der = if bytes.starts_with(b"-----BEGIN") {
                read_pem(&csr, "CERTIFICATE REQUEST").map_err(bad)?
            } else {
                bytes
            };
            let issued = match &devid_serial {
                Some(serial) => ca.issue_devid(&der, &DeviceIdentity::from_serial(serial), now),
                None => ca.issue_csr(&der, now),
            };
            match issued {
                Ok(cert) => {
                    let pem = to_pem("CERTIFICATE", &cert.der).map_err(bad)?;
                    if let Some(out) = &out {
                        std::fs::write(out, &pem)
                            .map_err(|e| io_failed("writing the certificate", out, e))?;
                    }
                    let serial = hex_upper(&cert.serial);
                    // The PEM itself when it went nowhere else, so `> device.pem` keeps it.
                    let text = match &out {
                        Some(out) => format!(
                            "issued serial {serial}, valid until {}, written to {}",
                            utc(cert.not_after),
                            out.display()
                        ),
                        None => pem.clone(),
                    };
                    Ok(Report {
                        outcome: Outcome::Accepted,
                        text,
                        json: json!({
                            "serial": serial,
                            "not_after": cert.not_after.unix_timestamp(),
                            "certificate": pem,
                        }),
                    })
                }
                Err(e) if e.is_refusal() => Ok(Report {
                    outcome: Outcome::Rejected,
                    text: format!("rejected: {e}"),
                    json: json!({ "rejected": e.to_string() }),
                }),
                Err(e) => Err(bad(e)),
            }
        }
        Command::Revoke {
            state,
            serial,
            reason,
            intermediate,
            default_intermediate,
        } => {
            let reason = parse_reason(&reason).map_err(|_| {
                BadInput::new("reason must be an RFC 5280 CRLReason (a name, or 0-6, 8-10)")
            })?;
            let Some(serial) = serial else {
                if intermediate.is_none() && !default_intermediate {
                    return Err(BadInput::new(
                        "give --serial, or --intermediate NAME / --default-intermediate to \
                         revoke an intermediate by the root",
                    ));
                }
                let cert =
                    intermediate_certificate(&state, intermediate.as_deref()).map_err(bad)?;
                let r = revoke_intermediate(&state, &cert, reason, now).map_err(bad)?;
                let name = intermediate.as_deref().unwrap_or("default");
                let serial = hex_upper(&r.serial);
                let note = "publish the root's CRL now: pki crl --root";
                return Ok(Report {
                    outcome: Outcome::Accepted,
                    text: format!(
                        "{}\nnext: {note}",
                        revoked(
                            &format!("intermediate {name}, serial {serial}"),
                            r.newly_revoked,
                            reason
                        ),
                    ),
                    json: json!({
                        "intermediate": name,
                        "serial": serial,
                        "reason": reason,
                        "newly_revoked": r.newly_revoked,
                        "note": note,
                    }),
                });
            };
            let serial = parse_hex(&serial)?;
            let dir = ca_dir(&state, intermediate.as_deref()).map_err(bad)?;
            let r = revoke_in_any_generation(&dir, &serial, reason, now).map_err(bad)?;
            let serial = hex_upper(&serial);
            let generation = r.retired_generation.as_deref().unwrap_or("current");
            Ok(Report {
                outcome: Outcome::Accepted,
                text: match &r.retired_generation {
                    Some(old) => format!(
                        "{}\nissued by the rotated-out key {old}",
                        revoked(&format!("serial {serial}"), r.newly_revoked, reason)
                    ),
                    None => revoked(&format!("serial {serial}"), r.newly_revoked, reason),
                },
                json: json!({
                    "serial": serial,
                    "reason": reason,
                    "newly_revoked": r.newly_revoked,
                    "generation": generation,
                }),
            })
        }
        Command::Rotate {
            state,
            intermediate,
            pkcs11,
        } => {
            let token = pkcs11.with_pin()?;
            let r = rotate_intermediate_signed_by(
                &state,
                intermediate.as_deref(),
                now,
                new_key(token.as_ref(), pkcs11.generate),
                open_root(&state)?.as_ref(),
            )
            .map_err(bad)?;
            let dir = ca_dir(&state, intermediate.as_deref()).map_err(bad)?;
            let name = intermediate.as_deref().unwrap_or("default");
            let certificate = intermediate_cert_file(&dir);
            let key = key_place(token.as_ref(), "intermediate.key.pem");
            let note = "a running pki est-server issues with the new key from its next request";
            Ok(Report {
                outcome: Outcome::Accepted,
                text: format!(
                    "rotated intermediate {name}: serial {} -> {}\ncertificate: {}\nkey: {}\n\
                     old key (signs CRLs only): {}\nnew CRL URL: {}\nnote: {note}",
                    r.old_serial_hex,
                    r.new_serial_hex,
                    certificate.display(),
                    key_path(token.as_ref(), &dir),
                    r.retired_dir.display(),
                    r.new_crl_url,
                ),
                json: json!({
                    "intermediate": name,
                    "old_serial": r.old_serial_hex,
                    "new_serial": r.new_serial_hex,
                    "certificate": certificate.display().to_string(),
                    "key": key,
                    "retired": r.retired_dir.display().to_string(),
                    "crl_url": r.new_crl_url,
                    "note": note,
                }),
            })
        }
        Command::EstServer(args) => serve(args),
        Command::Approve { state, id } => {
            use iotsec_pki::store::ApprovalStore;
            let mut ca = CaState::open_with(&state, &env_pins()?).map_err(bad)?;
            let found = ca.store.approve_pending(id).map_err(bad)?;
            Ok(Report {
                outcome: if found {
                    Outcome::Accepted
                } else {
                    Outcome::Rejected
                },
                text: if found {
                    format!("approved enrollment {id}: the device's next retry is issued")
                } else {
                    format!("rejected: no enrollment {id} is waiting for approval")
                },
                json: json!({ "id": id, "approved": found }),
            })
        }
        Command::Crl {
            state,
            out,
            intermediate,
            root,
            generation,
        } => {
            let mut dropped = Vec::new();
            let der = if root {
                root_crl_signed_by(&state, open_root(&state)?.as_ref(), now).map_err(bad)?
            } else if let Some(serial) = generation {
                let serial = hex_upper(&parse_hex(&serial)?);
                let dir = ca_dir(&state, intermediate.as_deref()).map_err(bad)?;
                let generation = retired_generation_dir(&dir, &serial);
                if !generation.is_dir() {
                    return Err(BadInput::new(format!(
                        "no rotated-out key {} here",
                        generation.display()
                    )));
                }
                CaState::open_with(&generation, &env_pins()?)
                    .map_err(bad)?
                    .crl(now)
                    .map_err(bad)?
            } else {
                let ca = open_ca(&state, intermediate.as_deref())?;
                // A rotated-out key whose last certificate has expired signs no CRL any more.
                dropped = drop_expired_keys(ca.dir(), now).map_err(bad)?;
                let mut ca = ca;
                ca.crl(now).map_err(bad)?
            };
            let is_pem = out.extension().is_some_and(|e| e == "pem");
            let written = if is_pem {
                std::fs::write(&out, to_pem("X509 CRL", &der).map_err(bad)?)
            } else {
                std::fs::write(&out, &der)
            };
            written.map_err(|e| io_failed("writing the CRL", &out, e))?;
            let mut text = format!("CRL written to {} ({} bytes)", out.display(), der.len());
            for key in &dropped {
                text.push_str(&format!(
                    "\nrotated-out key {} dropped: its last certificate has expired",
                    key.display()
                ));
            }
            Ok(Report {
                outcome: Outcome::Accepted,
                text,
                json: json!({
                    "crl": out.display().to_string(),
                    "bytes": der.len(),
                    "dropped_retired_keys": dropped
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>(),
                }),
            })
        }
    }
}

/// `iotsec-cloud pki est-server`: the EST server (RFC 7030) over TLS 1.3 on a CA state directory.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// State directory made by `pki init`.
    #[arg(long)]
    state: PathBuf,
    /// Address for EST, e.g. 127.0.0.1:8443 (the server certificate covers 127.0.0.1 and localhost).
    #[arg(long)]
    est: String,
    /// HTTP Basic credentials USER:PASS for simpleenroll (TLS client certificates are always
    /// accepted). Visible to other local users in the process list: prefer --basic-auth-file.
    #[arg(long, conflicts_with = "basic_auth_file")]
    basic_auth: Option<String>,
    /// A file (mode 0600) holding the HTTP Basic credentials USER:PASS.
    #[arg(long)]
    basic_auth_file: Option<PathBuf>,
    /// Require the RFC 9266 tls-exporter channel binding in challengePassword.
    #[arg(long)]
    require_binding: bool,
    /// Also publish the CRL over plain HTTP at this address (GET /crl.der), e.g. 127.0.0.1:8080.
    #[arg(long)]
    crl_http: Option<String>,
    /// Send base64 responses on one line (strongSwan `pki --est`) instead of 64-column lines.
    #[arg(long)]
    one_line: bool,
    /// An extra label LABEL=INTERMEDIATE served by the named intermediate (made with
    /// `pki init --intermediate NAME`), same auth and layout; repeatable.
    #[arg(long = "label")]
    labels: Vec<String>,
    /// How often, at most, the server checks the state directory for what `pki rotate`,
    /// `pki revoke` and `pki crl` changed (on the first handshake or request after it; 0: on
    /// every one). A change that does not load is refused and the last good state served.
    #[arg(long, default_value_t = 200)]
    reload_check_ms: u64,
    /// Publish the root's CRL (as `pki crl --root --out FILE` writes it) on the --crl-http
    /// endpoint, at the path of the CA's root_crl_url (/root.crl without one). Checked (a CRL
    /// this root signed); a rewrite is published from the next request on, a broken or older
    /// file is refused and the last good one kept.
    #[arg(long, requires = "crl_http")]
    root_crl: Option<PathBuf>,
    /// A commonName EST must not issue (an operator's, a service account's): an enrollment
    /// asking for it is refused (403 reserved-name), ASCII case and surrounding space ignored;
    /// repeatable. A blank name is refused.
    #[arg(long = "reserved-name", value_name = "NAME")]
    reserved_names: Vec<String>,
    /// How long, in seconds, an identical request from the same client gets the certificate
    /// already issued for it instead of a second one (RFC 7030 §4.2.1 re-submission); 0 turns
    /// this off: every request is issued anew.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    reissue_window: u64,
}

/// One stderr line per reload event of a running `pki est-server`.
fn log_reload_event(event: &ReloadEvent<'_>) {
    match event {
        ReloadEvent::Reloaded { generation } => {
            eprintln!("iotsec-cloud: reloaded the CA state (generation {generation})");
        }
        ReloadEvent::Refused { error } => {
            eprintln!(
                "iotsec-cloud: kept the last good CA state: the new one does not load: {error}"
            );
        }
        ReloadEvent::NotLoaded { dir, error } => {
            eprintln!(
                "iotsec-cloud: rotated-out key {} not loaded: {error}",
                dir.display()
            );
        }
    }
}

impl Command {
    /// The CA (state directory, named intermediate) the command works on, which must exist.
    fn existing_ca(&self) -> Option<(&std::path::Path, Option<&str>)> {
        match self {
            Command::Init {
                state,
                intermediate: Some(_),
                ..
            } => Some((state, None)),
            Command::Init { .. } => None,
            Command::Issue {
                state,
                intermediate,
                ..
            }
            | Command::Revoke {
                state,
                intermediate,
                ..
            }
            | Command::Rotate {
                state,
                intermediate,
                ..
            }
            | Command::Crl {
                state,
                intermediate,
                ..
            } => Some((state, intermediate.as_deref())),
            Command::Approve { state, .. } => Some((state, None)),
            // serve() names the missing CA itself, flag by flag.
            Command::EstServer(_) => None,
        }
    }
}

/// Why there is no CA (the default one, or the named intermediate) in `state`, naming the file
/// looked for: the library's I/O errors do not say which file.
pub(crate) fn missing_ca(state: &std::path::Path, intermediate: Option<&str>) -> Option<String> {
    let (what, dir, fix) = match intermediate {
        None => (
            "no CA".to_owned(),
            state.to_path_buf(),
            format!("make one with `pki init --state {}`", state.display()),
        ),
        Some(name) => (
            format!("no intermediate {name:?}"),
            match ca_dir(state, Some(name)) {
                Ok(dir) => dir,
                Err(e) => return Some(e.to_string()),
            },
            format!(
                "add it with `pki init --state {} --intermediate {name}`",
                state.display()
            ),
        ),
    };
    let path = dir.join("ca.txt");
    let problem = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => return None,
        Ok(_) => format!("{} is not a file", path.display()),
        Err(e) => format!("reading {}: {e}", path.display()),
    };
    Some(format!("{what} in {}: {problem} ({fix})", state.display()))
}

/// A CA (or intermediate) that could not be made in `state`, saying so.
fn creating(what: &str, state: &std::path::Path, e: CaError) -> BadInput {
    BadInput::new(format!("creating the {what} in {}: {e}", state.display()))
}

/// An I/O failure, naming what was being done and the file.
fn io_failed(doing: &str, path: &std::path::Path, e: std::io::Error) -> BadInput {
    BadInput::new(format!("{doing} {}: {e}", path.display()))
}

/// A listening socket on `addr` (given with `flag`).
fn listen(flag: &str, addr: &str) -> Result<std::net::TcpListener, BadInput> {
    std::net::TcpListener::bind(addr)
        .map_err(|e| BadInput::new(format!("{flag} {addr}: cannot listen: {e}")))
}

/// The enrollment settings of `pki est-server` (reserved names, re-submission window), applied
/// to the service of every state the server loads.
fn service_setup(args: &ServeArgs) -> Result<Box<ServiceSetup>, BadInput> {
    use iotsec_pki::est::enrollment_admission::ReservedNames;
    if args.reserved_names.iter().any(|n| n.trim().is_empty()) {
        return Err(BadInput::new("--reserved-name must name something"));
    }
    let reserved = args.reserved_names.clone();
    let window = std::time::Duration::from_secs(args.reissue_window);
    Ok(Box::new(move |service| {
        let service = service.with_reissue_window(window);
        if reserved.is_empty() {
            return service;
        }
        // No device registry here: no identity is barred beyond the reserved names.
        service.with_enrollment_admission(ReservedNames::new(reserved.clone(), |_: &str| Ok(None)))
    }))
}

/// Runs the EST server until killed.
pub fn serve(args: ServeArgs) -> Result<Report, BadInput> {
    use iotsec_pki::device::est_message::Base64Layout;
    use iotsec_pki::est::service::{BindingPolicy, LabelPolicy};
    let basic = match (&args.basic_auth, &args.basic_auth_file) {
        (Some(s), _) => Some(BasicCredentials::parse(Zeroizing::new(s.clone()))),
        (None, Some(path)) => Some(BasicCredentials::from_file(path)),
        (None, None) => None,
    }
    .transpose()
    .map_err(|e| BadInput::new(e.to_string()))?
    .map(|c| (c.user().to_owned(), c.password().to_owned()));
    let policy = LabelPolicy {
        basic,
        client_cert_auth: true,
        binding: if args.require_binding {
            BindingPolicy::Required
        } else {
            BindingPolicy::Optional
        },
        manual_approval: false,
        layout: if args.one_line {
            Base64Layout::OneLine
        } else {
            Base64Layout::Lines64
        },
        ca: String::new(),
    };
    let mut labels = std::collections::HashMap::new();
    let mut intermediates: Vec<String> = Vec::new();
    // The library's I/O errors do not say which file: look for each CA's ca.txt first.
    if let Some(reason) = missing_ca(&args.state, None) {
        return Err(BadInput::new(format!(
            "--state {}: {reason}",
            args.state.display()
        )));
    }
    for spec in &args.labels {
        let (label, name) = spec
            .split_once('=')
            .ok_or_else(|| BadInput::new("--label must be LABEL=INTERMEDIATE"))?;
        if label.is_empty() || labels.contains_key(label) {
            return Err(BadInput::new(format!(
                "--label {spec}: empty or repeated label"
            )));
        }
        if let Some(reason) = missing_ca(&args.state, Some(name)) {
            return Err(BadInput::new(format!("--label {spec}: {reason}")));
        }
        if !intermediates.iter().any(|n| n == name) {
            intermediates.push(name.to_owned());
        }
        labels.insert(
            label.to_owned(),
            LabelPolicy {
                ca: name.to_owned(),
                ..policy.clone()
            },
        );
    }
    labels.insert(String::new(), policy);
    // Rotated-out keys answer OCSP and sign CRLs (GET /crl/NAME.der) for what they issued;
    // `pki rotate|revoke|crl` on the running server's state is picked up without a restart.
    if let Some(path) = &args.root_crl {
        std::fs::metadata(path)
            .map_err(|e| io_failed("reading the root CRL (--root-crl)", path, e))?;
    }
    let served = ServedState {
        state_dir: args.state.clone(),
        intermediates,
        labels,
        root_crl: args.root_crl.clone(),
        pins: env_pins()?,
    };
    let est = ReloadingEst::start_with(
        served,
        std::time::Duration::from_millis(args.reload_check_ms),
        Box::new(log_reload_event),
        service_setup(&args)?,
    )
    .map_err(|e| {
        BadInput::new(format!(
            "loading the CA state {} to serve: {e}",
            args.state.display()
        ))
    })?;
    let est = std::sync::Arc::new(est);
    let listener = listen("--est", &args.est)?;
    let addr = listener.local_addr().map_err(BadInput::new)?;
    eprintln!("iotsec-cloud: EST listening on https://{addr}/.well-known/est/");
    if let Some(crl_addr) = &args.crl_http {
        let l = listen("--crl-http", crl_addr)?;
        eprintln!(
            "iotsec-cloud: CRL at http://{}/crl.der",
            l.local_addr().map_err(BadInput::new)?
        );
        let est = est.clone();
        std::thread::spawn(move || est.serve_crl(l));
    }
    est.serve(listener)
        .map_err(|e| BadInput::new(format!("serving EST on {addr}: {e}")))?;
    Ok(Report {
        outcome: Outcome::Accepted,
        text: format!("EST server on {addr} stopped"),
        json: json!({ "stopped": addr.to_string() }),
    })
}
