//! TLS termination for clients outside the mesh (an ingress gateway's
//! HTTPS, Istio's `SIMPLE` server mode): a certificate chain and key from
//! PEM files, no client certificate asked for.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;

use crate::pem::{self, PemError};

/// ALPN a gateway offers to HTTPS clients, preferred first.
pub const HTTPS_ALPNS: [&[u8]; 2] = [b"h2", b"http/1.1"];

#[derive(Debug, thiserror::Error)]
pub enum TerminationError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("{certificate} and {private_key} do not go together: {why}")]
    Mismatch {
        certificate: String,
        private_key: String,
        why: String,
    },
}

/// A server config presenting the chain in `certificate` (leaf first)
/// with the key in `private_key`, offering `alpn`. The files are read
/// once, here.
pub fn termination_config(
    certificate: &Path,
    private_key: &Path,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, TerminationError> {
    let chain = pem::certs(certificate)?;
    let (_, key) = pem::private_key(private_key)?;
    let mismatch = |why: String| TerminationError::Mismatch {
        certificate: certificate.display().to_string(),
        private_key: private_key.display().to_string(),
        why,
    };
    let mut config = ServerConfig::builder_with_provider(crate::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| mismatch(e.to_string()))?
        .with_no_client_auth()
        // Checks that the key is the certificate's.
        .with_single_cert(chain, key)
        .map_err(|e| mismatch(e.to_string()))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn a_certificate_and_its_key_make_a_config_and_errors_name_the_file() {
        crate::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let a = rcgen::generate_simple_self_signed(vec!["a.example.com".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["b.example.com".into()]).unwrap();
        let cert = write(dir.path(), "a.pem", &a.cert.pem());
        let key = write(dir.path(), "a-key.pem", &a.signing_key.serialize_pem());
        let other_key = write(dir.path(), "b-key.pem", &b.signing_key.serialize_pem());

        let config = termination_config(&cert, &key, &HTTPS_ALPNS).unwrap();
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );

        let err = termination_config(&cert, &other_key, &HTTPS_ALPNS).unwrap_err();
        assert!(err.to_string().contains("do not go together"), "{err}");
        let missing = dir.path().join("missing.pem");
        let err = termination_config(&missing, &key, &HTTPS_ALPNS).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
        let err = termination_config(&key, &key, &HTTPS_ALPNS).unwrap_err();
        assert!(err.to_string().contains("a-key.pem"), "{err}");
    }
}
