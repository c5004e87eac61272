//! A [`Signer`] whose P-256 key lives in a PKCS#11 token (PKCS#11 v2.40 §2.3.6 CKM_ECDSA over a
//! SHA-256 digest computed here; e.g. SoftHSMv2, a YubiHSM or a network HSM). The private key
//! never leaves the token; the raw (r || s) signature the token returns is re-encoded as the
//! DER `ECDSA-Sig-Value` X.509 wants (RFC 3279 §2.2.3).

use std::path::Path;
use std::sync::Mutex;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use der::asn1::OctetStringRef;
use der::{Decode, Encode};

use crate::ca::csr_check::ID_SECP256R1;
use crate::ca::error::CaError;
use crate::keys::signer::{Signer, SignerAlgorithm};

fn hsm(e: impl core::fmt::Display) -> CaError {
    CaError::Signer(format!("PKCS#11: {e}"))
}

/// A P-256 CA key in a PKCS#11 token, found by its CKA_LABEL.
pub struct Pkcs11Signer {
    session: Mutex<Session>,
    key: ObjectHandle,
    public_key: Vec<u8>,
    _context: Pkcs11,
}

impl core::fmt::Debug for Pkcs11Signer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Pkcs11Signer(..)")
    }
}

fn login(module: &Path, token_label: &str, pin: &str) -> Result<(Pkcs11, Session), CaError> {
    let ctx = Pkcs11::new(module).map_err(hsm)?;
    // A second key of the same module in this process (root and intermediate in tokens) finds
    // the library initialized already; the module's state is per process, so share it.
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => return Err(hsm(e)),
    }
    let mut slot = None;
    for s in ctx.get_slots_with_token().map_err(hsm)? {
        if ctx.get_token_info(s).map_err(hsm)?.label() == token_label {
            slot = Some(s);
            break;
        }
    }
    let slot = slot.ok_or_else(|| hsm(format!("no token labelled {token_label:?}")))?;
    let session = ctx.open_rw_session(slot).map_err(hsm)?;
    match session.login(UserType::User, Some(&AuthPin::new(pin.into()))) {
        // The login state is per token and process (PKCS#11 v2.40 §5.6): another key of this
        // token is open and logged in already, with the token's one user PIN. Logging out to
        // check `pin` again would drop the other session's private key handles (SoftHSMv2).
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => return Err(hsm(e)),
    }
    Ok((ctx, session))
}

fn find(session: &Session, class: ObjectClass, label: &str) -> Result<ObjectHandle, CaError> {
    let found = session
        .find_objects(&[
            Attribute::Class(class),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .map_err(hsm)?;
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(hsm(format!("no {class} labelled {label:?}"))),
        _ => Err(hsm(format!("several objects labelled {label:?}"))),
    }
}

/// CKA_EC_POINT is a DER OCTET STRING holding the SEC1 point; accept only an uncompressed
/// P-256 point.
fn ec_point(session: &Session, public: ObjectHandle) -> Result<Vec<u8>, CaError> {
    let attrs = session
        .get_attributes(public, &[AttributeType::EcPoint])
        .map_err(hsm)?;
    let Some(Attribute::EcPoint(wrapped)) = attrs.into_iter().next() else {
        return Err(hsm("public key has no CKA_EC_POINT"));
    };
    let point = OctetStringRef::from_der(&wrapped)
        .map_err(|_| hsm("CKA_EC_POINT is not a DER OCTET STRING"))?
        .as_bytes()
        .to_vec();
    if point.len() != 65 || point.first() != Some(&4) {
        return Err(hsm("CKA_EC_POINT is not an uncompressed P-256 point"));
    }
    Ok(point)
}

impl Pkcs11Signer {
    /// Opens the key pair labelled `key_label` in the token `token_label` of the PKCS#11
    /// `module` (e.g. `/usr/lib/softhsm/libsofthsm2.so`), logging in with the user `pin`.
    pub fn open(
        module: &Path,
        token_label: &str,
        pin: &str,
        key_label: &str,
    ) -> Result<Self, CaError> {
        let (ctx, session) = login(module, token_label, pin)?;
        let key = find(&session, ObjectClass::PRIVATE_KEY, key_label)?;
        let public = find(&session, ObjectClass::PUBLIC_KEY, key_label)?;
        Self::of_pair(ctx, session, key, public)
    }

    /// The signer over the private `key` whose public half is `public`, in a logged-in session.
    fn of_pair(
        ctx: Pkcs11,
        session: Session,
        key: ObjectHandle,
        public: ObjectHandle,
    ) -> Result<Self, CaError> {
        let public_key = ec_point(&session, public)?;
        Ok(Self {
            session: Mutex::new(session),
            key,
            public_key,
            _context: ctx,
        })
    }

    /// Generates a P-256 key pair labelled `key_label` inside the token (private key
    /// sensitive and non-extractable) and opens it. Refused when an object with that label
    /// exists already.
    pub fn generate_p256(
        module: &Path,
        token_label: &str,
        pin: &str,
        key_label: &str,
    ) -> Result<Self, CaError> {
        let (ctx, session) = login(module, token_label, pin)?;
        // A second key pair under a taken label would make the label ambiguous for ever.
        let taken = session
            .find_objects(&[Attribute::Label(key_label.as_bytes().to_vec())])
            .map_err(hsm)?;
        if !taken.is_empty() {
            return Err(hsm(format!(
                "token {token_label:?} already holds an object labelled {key_label:?}"
            )));
        }
        let params = ID_SECP256R1.to_der().map_err(CaError::Encoding)?;
        let label = key_label.as_bytes().to_vec();
        let (public, key) = session
            .generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &[
                    Attribute::Token(true),
                    Attribute::Verify(true),
                    Attribute::EcParams(params),
                    Attribute::Label(label.clone()),
                ],
                &[
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Extractable(false),
                    Attribute::Sign(true),
                    Attribute::KeyType(KeyType::EC),
                    Attribute::Label(label),
                ],
            )
            .map_err(hsm)?;
        Self::of_pair(ctx, session, key, public)
    }
}

impl Signer for Pkcs11Signer {
    fn algorithm(&self) -> SignerAlgorithm {
        SignerAlgorithm::EcdsaP256Sha256
    }
    fn public_key(&self) -> &[u8] {
        &self.public_key
    }
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CaError> {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(message);
        let raw = self
            .session
            .lock()
            .map_err(|_| hsm("session lock poisoned"))?
            .sign(&Mechanism::Ecdsa, self.key, &digest)
            .map_err(hsm)?;
        let sig = p256::ecdsa::Signature::from_slice(&raw)
            .map_err(|_| hsm("token returned a malformed ECDSA signature"))?;
        Ok(sig.to_der().as_bytes().to_vec())
    }
}
