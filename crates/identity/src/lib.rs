//! SPIFFE identities for weft.
//!
//! - [`SpiffeId`]s, written `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`.
//! - [`Ca`]: the control plane's certificate authority, from a plug-in
//!   `cacerts` directory (Istio's layout) or a self-signed root it keeps.
//! - [`WorkloadKey`]: a workload's key pair and the CSR it sends.
//! - [`Credentials`]: the certificate a proxy presents and the roots it
//!   trusts, swapped atomically on rotation; the rustls configs built on it
//!   verify peers by SPIFFE ID rather than by DNS name.

mod bundle;
mod ca;
mod csr;
mod origination;
mod pem;
mod spiffe;
mod termination;
mod tls;
mod tokens;
mod verify;

pub use bundle::TrustBundle;
pub use ca::{Ca, CaError, CaSource, Issued, SignError};
pub use csr::{CsrError, WorkloadKey};
pub use origination::{Origination, OriginationError, origination_config, parse_name};
pub use pem::PemError;
pub use spiffe::{IdError, SpiffeId};
pub use termination::{HTTPS_ALPNS, TerminationError, termination_config};
pub use tls::{
    ALPN_H1, ALPN_H2, ALPN_TCP, Credentials, CredentialsError, Current, Expect, MESH_ALPNS, peer_id,
};
pub use tokens::{Grant, TokenError, Tokens};

/// The trust domain when none is configured, as in Istio.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";

/// The namespace and service account the control plane's own certificate
/// names, so proxies can check they reached the real control plane.
pub const CONTROL_PLANE_NAMESPACE: &str = "weft-system";
pub const CONTROL_PLANE_SERVICE_ACCOUNT: &str = "weft-control";

/// Makes aws-lc-rs the process-wide rustls provider. Call first thing in
/// every `main` (and in tests that build rustls configs); later calls are
/// harmless.
pub fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is fine.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// The provider every config here is built with.
pub(crate) fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Every certificate in a PEM text, in order.
pub fn certs_from_pem(pem: &str) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    pem::certs_from(pem)
}

/// A certificate's `notBefore` and `notAfter`.
pub fn validity(
    cert: &rustls_pki_types::CertificateDer<'_>,
) -> Result<(std::time::SystemTime, std::time::SystemTime), IdError> {
    use x509_parser::prelude::FromDer;
    let (_, x509) = x509_parser::certificate::X509Certificate::from_der(cert)
        .map_err(|e| IdError::BadCertificate(e.to_string()))?;
    Ok(ca::validity(&x509))
}

/// How long until 80% of a certificate's life, counted from when it was
/// installed, has passed: when to renew it. Never less than 100 ms, so a
/// failing renewal cannot spin.
pub fn renew_in(
    installed: std::time::SystemTime,
    not_after: std::time::SystemTime,
) -> std::time::Duration {
    let life = not_after.duration_since(installed).unwrap_or_default();
    let at = installed + life.mul_f64(0.8);
    at.duration_since(std::time::SystemTime::now())
        .unwrap_or_default()
        .max(std::time::Duration::from_millis(100))
}

/// Fills `buf` from the system's secure random source.
pub fn random(buf: &mut [u8]) {
    // aws-lc's RNG fails only when the kernel has none to give; nothing
    // secure can go on then.
    if rustls::crypto::aws_lc_rs::default_provider()
        .secure_random
        .fill(buf)
        .is_err()
    {
        panic!("the system's secure random source failed");
    }
}

#[cfg(test)]
mod tests;
