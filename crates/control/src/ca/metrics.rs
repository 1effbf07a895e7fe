//! The CA's counters, on the control plane's `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use weft_identity::{SignError, TokenError};

/// Why a CSR was refused; the label says which kind.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Token(TokenError),
    #[error("{0}")]
    WrongIdentity(String),
    #[error("{0}")]
    TrustDomain(String),
    #[error("{0}")]
    BadCsr(String),
    #[error("{0}")]
    Internal(String),
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: &'static str,
}

#[derive(Debug, Default)]
pub struct CaMetrics {
    issued: Counter,
    refused: Family<ReasonLabel, Counter>,
}

// === impl Refusal ===

impl Refusal {
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Token(TokenError::Missing) => "missing_token",
            Refusal::Token(TokenError::Unknown) => "unknown_token",
            Refusal::Token(TokenError::Expired) => "expired_token",
            Refusal::WrongIdentity(_) => "wrong_identity",
            Refusal::TrustDomain(_) => "trust_domain",
            Refusal::BadCsr(_) => "bad_csr",
            Refusal::Internal(_) => "internal",
        }
    }
}

impl From<SignError> for Refusal {
    fn from(e: SignError) -> Self {
        match e {
            SignError::BadCsr(_) => Refusal::BadCsr(e.to_string()),
            SignError::WrongIdentity { .. } => Refusal::WrongIdentity(e.to_string()),
            SignError::TrustDomain { .. } => Refusal::TrustDomain(e.to_string()),
            SignError::Signing(_) => Refusal::Internal(e.to_string()),
        }
    }
}

// === impl CaMetrics ===

impl CaMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "weft_ca_certificates_issued",
            "Workload certificates the CA signed",
            self.issued.clone(),
        );
        registry.register(
            "weft_ca_csr_refused",
            "CSRs the CA refused, by reason",
            self.refused.clone(),
        );
    }

    pub fn issued(&self) {
        self.issued.inc();
    }

    pub fn refused(&self, r: &Refusal) {
        self.refused
            .get_or_create(&ReasonLabel { reason: r.label() })
            .inc();
    }

    pub fn issued_count(&self) -> u64 {
        self.issued.get()
    }

    pub fn refused_count(&self, reason: &'static str) -> u64 {
        self.refused.get_or_create(&ReasonLabel { reason }).get()
    }
}
