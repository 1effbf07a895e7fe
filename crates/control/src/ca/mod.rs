//! The CA service on 15012: signs workload CSRs for callers who prove
//! their identity with a bootstrap token or, to renew, with the
//! certificate they present. Also keeps the control plane's own serving
//! certificate fresh.

mod metrics;
mod serving;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tonic::{Request, Response, Status};
use weft_identity::{Ca, SpiffeId, Tokens};
use weft_proto::ca::certificates_server::Certificates;
use weft_proto::ca::{SignRequest, SignResponse};

pub use metrics::{CaMetrics, Refusal};
pub use serving::{ServingCert, accept_tls, peer_identity};

/// Workload certificates live this long unless a proxy asks for less.
pub const DEFAULT_WORKLOAD_TTL: Duration = Duration::from_secs(24 * 3600);

/// Why the CA could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Ca(#[from] weft_identity::CaError),
    #[error("cannot issue the control plane's own certificate: {0}")]
    ServingCert(String),
}

/// The gRPC face of the [`Authority`].
#[derive(Clone)]
pub struct CaService(pub Arc<Authority>);

impl std::ops::Deref for CaService {
    type Target = Authority;
    fn deref(&self) -> &Authority {
        &self.0
    }
}

/// The CA as the control plane runs it.
pub struct Authority {
    pub ca: Ca,
    pub tokens: Arc<Tokens>,
    pub metrics: Arc<CaMetrics>,
    /// The longest lifetime handed out (the `--workload-cert-ttl` flag).
    pub max_ttl: Duration,
    /// The latest certificate issued to each identity (its validity), for
    /// `weft check`: one entry per identity, however often it renews.
    pub issued: parking_lot::Mutex<std::collections::HashMap<String, (SystemTime, SystemTime)>>,
}

// === impl Authority ===

impl Authority {
    /// The CA from `cacerts` (a plug-in root) or the self-signed root kept
    /// in `ca_dir`, with its serving certificate for 15012.
    pub fn open(
        cacerts: Option<&std::path::Path>,
        ca_dir: &std::path::Path,
        trust_domain: &str,
        max_ttl: Duration,
    ) -> Result<(Arc<Self>, Arc<ServingCert>), OpenError> {
        let ca = Ca::load(cacerts, ca_dir, trust_domain)?;
        let serving = Arc::new(ServingCert::issue(&ca).map_err(OpenError::ServingCert)?);
        let authority = Arc::new(Self {
            ca,
            tokens: Arc::new(Tokens::default()),
            metrics: Arc::new(CaMetrics::default()),
            max_ttl,
            issued: Default::default(),
        });
        Ok((authority, serving))
    }

    /// Signs `csr_pem` for a caller who proved `id`.
    fn sign_csr(
        &self,
        csr_pem: &str,
        id: &SpiffeId,
        ttl: Duration,
    ) -> Result<SignResponse, Refusal> {
        let der = pem_to_der(csr_pem).ok_or(Refusal::BadCsr(
            "csr_pem is not a PEM `CERTIFICATE REQUEST`".into(),
        ))?;
        let issued = self.ca.sign(&der, id, ttl).map_err(Refusal::from)?;
        self.issued
            .lock()
            .insert(id.to_string(), (issued.not_before, issued.not_after));
        Ok(SignResponse {
            cert_chain_pem: issued.chain_pem(),
            trust_bundle_pem: self.ca.bundle().to_pem().to_string(),
        })
    }
}

fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let p = pem::parse(pem).ok()?;
    (p.tag() == "CERTIFICATE REQUEST" || p.tag() == "NEW CERTIFICATE REQUEST")
        .then(|| p.into_contents())
}

#[tonic::async_trait]
impl Certificates for CaService {
    async fn sign(&self, request: Request<SignRequest>) -> Result<Response<SignResponse>, Status> {
        let peer = peer_identity(&request);
        let token = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let remote = request.remote_addr();
        let req = request.into_inner();
        let ttl = match req.validity_seconds {
            s if s > 0 => Duration::from_secs(s as u64).min(self.max_ttl),
            _ => self.max_ttl,
        };
        // A certificate presented on this connection proves its identity;
        // otherwise a bootstrap token must.
        let (id, taken) = match (peer, token) {
            (Some(id), _) => (id, None),
            (None, token) => match self.tokens.take(token.as_deref()) {
                Ok(grant) => (grant.id.clone(), token.map(|t| (t, grant))),
                Err(e) => {
                    let refusal = Refusal::Token(e);
                    return Err(self.refuse(refusal, remote, None));
                }
            },
        };
        match self.sign_csr(&req.csr_pem, &id, ttl) {
            Ok(resp) => {
                self.metrics.issued();
                tracing::info!(identity = %id, ttl = ?ttl, renewal = taken.is_none(), "signed a workload certificate");
                Ok(Response::new(resp))
            }
            Err(refusal) => {
                // The token stays good for a corrected CSR.
                if let Some((token, grant)) = taken {
                    self.tokens.restore(&token, grant);
                }
                Err(self.refuse(refusal, remote, Some(&id)))
            }
        }
    }
}

impl Authority {
    fn refuse(
        &self,
        refusal: Refusal,
        remote: Option<std::net::SocketAddr>,
        id: Option<&SpiffeId>,
    ) -> Status {
        self.metrics.refused(&refusal);
        tracing::warn!(peer = ?remote, identity = ?id.map(ToString::to_string), reason = refusal.label(), "refused a CSR: {refusal}");
        match refusal {
            Refusal::Token(_) => Status::unauthenticated(refusal.to_string()),
            Refusal::WrongIdentity(_) | Refusal::TrustDomain(_) => {
                Status::permission_denied(refusal.to_string())
            }
            Refusal::BadCsr(_) => Status::invalid_argument(refusal.to_string()),
            Refusal::Internal(_) => Status::internal(refusal.to_string()),
        }
    }
}
