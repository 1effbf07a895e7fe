//! Trust bundles: the root certificates a workload trusts. During a root
//! rotation a bundle holds the old and the new root.

use rustls_pki_types::{CertificateDer, TrustAnchor};

/// A set of trusted roots, parsed once.
#[derive(Debug, Clone)]
pub struct TrustBundle {
    certs: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    pem: String,
}

// === impl TrustBundle ===

impl TrustBundle {
    /// Parses a PEM bundle of one or more root certificates.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        Self::from_certs(crate::pem::certs_from(pem)?)
    }

    pub fn from_certs(certs: Vec<CertificateDer<'static>>) -> Result<Self, String> {
        if certs.is_empty() {
            return Err("a trust bundle needs at least one root certificate".into());
        }
        let anchors = certs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                webpki::anchor_from_trusted_cert(c)
                    .map(|a| a.to_owned())
                    .map_err(|e| format!("root certificate #{} cannot be used: {e:?}", i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let pem = crate::pem::encode_certs(&certs);
        Ok(Self {
            certs,
            anchors,
            pem,
        })
    }

    pub fn anchors(&self) -> &[TrustAnchor<'static>] {
        &self.anchors
    }

    pub fn certs(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    pub fn to_pem(&self) -> &str {
        &self.pem
    }

    /// A bundle holding the roots of both, without repeats (for a root
    /// rotation: trust the old and the new root at once).
    pub fn merged(&self, other: &TrustBundle) -> TrustBundle {
        let mut certs = self.certs.clone();
        for c in &other.certs {
            if !certs.contains(c) {
                certs.push(c.clone());
            }
        }
        let mut anchors = self.anchors.clone();
        anchors.extend(
            other
                .certs
                .iter()
                .zip(&other.anchors)
                .filter(|(c, _)| !self.certs.contains(c))
                .map(|(_, a)| a.clone()),
        );
        let pem = crate::pem::encode_certs(&certs);
        TrustBundle {
            certs,
            anchors,
            pem,
        }
    }
}

impl PartialEq for TrustBundle {
    fn eq(&self, other: &Self) -> bool {
        self.certs == other.certs
    }
}
