#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
// docs.rs: each feature-gated item shows the feature it needs (doc_cfg includes the former doc_auto_cfg).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, unreachable_pub)]
#![doc = include_str!("../README.md")]

#[cfg(feature = "alloc")]
extern crate alloc;

// The map: one module per concept; each cloud part behind its own feature (Cargo.toml).
#[cfg(feature = "std")]
pub mod ca; // [`ca`]: issuance, CSR checks, DevID, state directory, rotation, root CRL, OCSP
#[cfg(feature = "alloc")]
pub mod device; // [`device`]: keys, CSR, EST messages, channel binding, issued-leaf check
#[cfg(feature = "alloc")]
pub mod error; // [`error`]: device-side errors and the kind of every error
#[cfg(any(feature = "est-server", feature = "est-client", feature = "aws-lc-rs"))]
pub mod est; // [`est`]: EST service, transport, reload, client, TLS configurations
#[cfg(feature = "std")]
pub mod keys; // [`keys`]: Signer, software, PKCS#11, token, root key, secret files
#[cfg(feature = "ca")]
pub mod store; // [`store`]: CertStore, SQLite, the rotation lock

// The entry points.
#[cfg(feature = "ca")]
pub use ca::authority::{Authority, IssuedCertificate};
#[cfg(feature = "std")]
pub use ca::error::CaError;
#[cfg(feature = "ca")]
pub use ca::profile::IssuanceProfile;
#[cfg(feature = "sqlite")]
pub use ca::root_crl::{revoke_intermediate, root_crl_signed_by};
#[cfg(feature = "sqlite")]
pub use ca::rotation::{Rotation, rotate_intermediate_signed_by};
#[cfg(feature = "sqlite")]
pub use ca::state::{CaSettings, CaState};
#[cfg(feature = "alloc")]
pub use device::csr::{CsrRequest, DeviceName, build_csr};
#[cfg(feature = "alloc")]
pub use device::key::{DeviceKey, KeyAlgorithm};
#[cfg(feature = "alloc")]
pub use device::{ExpectedLeaf, LeafMismatch, check_issued_leaf};
#[cfg(feature = "alloc")]
pub use error::{Error, ErrorKind};
#[cfg(feature = "est-client")]
pub use est::client::EstClient;
#[cfg(feature = "est-axum")]
pub use est::http::{ServeLimits, TlsConfigCell, TlsFacts};
#[cfg(feature = "est-server")]
pub use est::reload::{ReloadingEst, ServedState};
#[cfg(feature = "est-server")]
pub use est::service::{EstService, LabelPolicy};
#[cfg(feature = "sqlite")]
pub use keys::root::{RootKey, open_root_key};
#[cfg(feature = "ca")]
pub use keys::signer::{Signer, SoftwareSigner};
#[cfg(feature = "ca")]
pub use keys::token::{CaRole, TokenKey, TokenPins};

// The module paths of the previous release, kept for one release (CHANGELOG.md, "Deprecated").
#[doc(hidden)]
#[cfg(feature = "std")]
pub use ca::error as ca_error;
#[doc(hidden)]
#[cfg(feature = "ca")]
pub use ca::{authority, csr_check, devid, profile};
#[doc(hidden)]
#[cfg(feature = "sqlite")]
pub use ca::{ocsp as ocsp_responder, root_crl, rotation, state as ca_state, state_dir};
#[doc(hidden)]
#[cfg(feature = "alloc")]
pub use device::{channel_binding, csr, est_message, key};
#[doc(hidden)]
#[cfg(feature = "est-client")]
pub use est::client as est_client;
#[doc(hidden)]
#[cfg(any(feature = "est-server", feature = "est-client"))]
pub use est::tls_config;
#[doc(hidden)]
#[cfg(feature = "aws-lc-rs")]
pub use est::tls_provider;
#[doc(hidden)]
#[cfg(feature = "est-server")]
pub use est::{reload as est_reload, service as est_service, transport as est_transport};
#[doc(hidden)]
#[cfg(feature = "pkcs11")]
pub use keys::pkcs11 as pkcs11_signer;
#[doc(hidden)]
#[cfg(feature = "std")]
pub use keys::secret_file;
#[doc(hidden)]
#[cfg(feature = "sqlite")]
pub use keys::{new_key as ca_key, root as root_key};
#[doc(hidden)]
#[cfg(feature = "ca")]
pub use keys::{signer, token as token_key};
#[doc(hidden)]
#[cfg(feature = "sqlite")]
pub use store::lock as state_lock;
