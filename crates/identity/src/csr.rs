//! A workload's side of issuance: a fresh key pair and the CSR naming its
//! SPIFFE ID. The private key never leaves the process.

use std::sync::Arc;

use rcgen::{CertificateParams, DistinguishedName, KeyPair, SanType};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::SpiffeId;

/// An ECDSA P-256 key pair generated for one certificate.
pub struct WorkloadKey {
    key: KeyPair,
    id: SpiffeId,
}

#[derive(Debug, thiserror::Error)]
pub enum CsrError {
    #[error("cannot generate a key pair: {0}")]
    Generate(String),
    #[error("cannot build the CSR: {0}")]
    Csr(String),
    #[error("the signed chain is unusable: {0}")]
    Chain(String),
}

// === impl WorkloadKey ===

impl WorkloadKey {
    pub fn generate(id: SpiffeId) -> Result<Self, CsrError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| CsrError::Generate(e.to_string()))?;
        Ok(Self { key, id })
    }

    pub fn id(&self) -> &SpiffeId {
        &self.id
    }

    /// The DER CSR asking for this key's certificate.
    pub fn csr(&self) -> Result<Vec<u8>, CsrError> {
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![SanType::URI(
            self.id
                .to_string()
                .try_into()
                .map_err(|e| CsrError::Csr(format!("{e}")))?,
        )];
        let csr = params
            .serialize_request(&self.key)
            .map_err(|e| CsrError::Csr(e.to_string()))?;
        Ok(csr.der().to_vec())
    }

    /// The CSR as PEM, as the CA service takes it.
    pub fn csr_pem(&self) -> Result<String, CsrError> {
        Ok(crate::pem::encode("CERTIFICATE REQUEST", &self.csr()?))
    }

    /// The public key, for a CA in the same process to issue to directly.
    pub fn public(&self) -> &KeyPair {
        &self.key
    }

    /// This key with the chain the CA signed for it, ready for rustls.
    pub fn certified(
        &self,
        chain: Vec<CertificateDer<'static>>,
    ) -> Result<Arc<CertifiedKey>, CsrError> {
        if chain.is_empty() {
            return Err(CsrError::Chain("no certificate".into()));
        }
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()));
        let certified = CertifiedKey::from_der(chain, key, &crate::provider())
            .map_err(|e| CsrError::Chain(e.to_string()))?;
        Ok(Arc::new(certified))
    }
}

impl std::fmt::Debug for WorkloadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}
