//! Reading PEM files with errors that name the file.

use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum PemError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

pub(crate) fn read(path: &Path) -> Result<String, PemError> {
    std::fs::read_to_string(path).map_err(|source| PemError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate in a PEM file; at least one.
pub(crate) fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, PemError> {
    certs_from(&read(path)?).map_err(|what| PemError::Invalid {
        path: path.to_path_buf(),
        what,
    })
}

pub(crate) fn certs_from(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("holds no certificate (expected -----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

pub(crate) fn private_key(path: &Path) -> Result<(String, PrivateKeyDer<'static>), PemError> {
    let text = read(path)?;
    let key = PrivateKeyDer::from_pem_slice(text.as_bytes()).map_err(|e| PemError::Invalid {
        path: path.to_path_buf(),
        what: format!("no private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
    })?;
    Ok((text, key))
}

pub(crate) fn encode_certs(certs: &[CertificateDer<'_>]) -> String {
    let mut out = String::new();
    for c in certs {
        out.push_str(&encode("CERTIFICATE", c));
    }
    out
}

pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(label, der))
}
