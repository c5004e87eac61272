//! EST (RFC 7030) over TLS 1.3: the server's decisions, its transport and reloading, the
//! client, the axum mount, and the rustls configurations (the crypto provider is the application's).

#[cfg(feature = "est-server")]
pub mod admission; // which connections a server takes on (slow clients, per-address caps)
#[cfg(feature = "est-server")]
pub mod basic_auth; // HTTP Basic: constant-time check, failed attempts limited per address
#[cfg(feature = "est-client")]
pub mod client; // EST client over rustls
#[cfg(feature = "est-server")]
pub mod enrollment_admission; // which identities enroll: reserved names, ended identities
#[cfg(feature = "est-server")]
mod host; // the OS clock and random source plugged into the service (EstService::new)
#[cfg(feature = "est-axum")]
pub mod http; // EST as an axum router, and the tokio TLS 1.3 server it runs on
#[cfg(feature = "est-server")]
pub mod reload; // a running server follows rotate/revoke/crl on disk (atomic swap)
#[cfg(feature = "est-server")]
pub mod service; // the server's decisions
#[cfg(any(feature = "est-server", feature = "est-client"))]
pub mod tls_config; // TLS 1.3-only rustls configurations
#[cfg(feature = "aws-lc-rs")]
pub mod tls_provider; // aws-lc-rs, post-quantum hybrid key exchange first (opt-in)
#[cfg(feature = "est-server")]
pub mod transport; // TCP + rustls + httparse
