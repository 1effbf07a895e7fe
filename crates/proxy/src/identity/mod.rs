//! This proxy's workload identity: its first certificate from the CA
//! (proven with a bootstrap token), renewal at 80% of each certificate's
//! life (proven with the certificate), and the TLS channel to the control
//! plane, which is verified as `spiffe://<td>/ns/weft-system/sa/weft-control`.

mod channel;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use tonic::metadata::MetadataValue;
use weft_identity::{Credentials, Expect, SpiffeId, TrustBundle, WorkloadKey};
use weft_proto::ca::SignRequest;
use weft_proto::ca::certificates_client::CertificatesClient;
use weft_proto::config::{ControlPlane, WorkloadMeta};

pub use channel::channel;

/// Retry delays while no certificate can be had.
const RETRY_BASE: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// The workload identity and how to keep its certificate fresh.
pub struct WorkloadIdentity {
    pub id: SpiffeId,
    pub creds: Arc<Credentials>,
    /// The control plane's own identity.
    pub control_plane: Expect,
    address: String,
    ttl: Option<Duration>,
    /// Used once, for the first certificate.
    token: Mutex<Option<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("control_plane.ca_bundle {path}: {why}")]
    Bundle { path: String, why: String },
    #[error("control_plane.token_file {path}: {why}")]
    Token { path: String, why: String },
    #[error("node: {0}")]
    Id(#[from] weft_identity::IdError),
}

#[derive(Debug, thiserror::Error)]
pub enum SignFailure {
    #[error("cannot reach the CA: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error("the CA refused: {}", .0.message())]
    Refused(tonic::Status),
    #[error("{0}")]
    Local(String),
}

// === impl WorkloadIdentity ===

impl WorkloadIdentity {
    /// Reads the bundle and token named in `cp`; the identity is the node's
    /// namespace and service account.
    pub fn load(cp: &ControlPlane, node: &WorkloadMeta) -> Result<Arc<Self>, IdentityError> {
        let td = node
            .trust_domain
            .as_deref()
            .unwrap_or(weft_identity::DEFAULT_TRUST_DOMAIN);
        let id = SpiffeId::new(
            td,
            node.namespace.as_deref().unwrap_or("default"),
            node.service_account.as_deref().unwrap_or("default"),
        )?;
        let bundle_err = |why: String| IdentityError::Bundle {
            path: cp.ca_bundle.display().to_string(),
            why,
        };
        let pem = std::fs::read_to_string(&cp.ca_bundle).map_err(|e| bundle_err(e.to_string()))?;
        let bundle = TrustBundle::from_pem(&pem).map_err(bundle_err)?;
        let token = cp.token_file.as_deref().map(read_token).transpose()?;
        let control_plane = Expect::Id(SpiffeId::new(
            td,
            weft_identity::CONTROL_PLANE_NAMESPACE,
            weft_identity::CONTROL_PLANE_SERVICE_ACCOUNT,
        )?);
        Ok(Arc::new(Self {
            id,
            creds: Credentials::new(td, bundle),
            control_plane,
            address: cp.address.clone(),
            ttl: cp.certificate_ttl,
            token: Mutex::new(token),
        }))
    }

    /// Gets the first certificate, retrying with backoff until it has one
    /// or `stop` fires. Returns whether it has one.
    pub async fn bootstrap(&self, mut stop: tokio::sync::watch::Receiver<bool>) -> bool {
        let mut failures = 0u32;
        while self.creds.current().is_none() {
            match self.sign(false).await {
                Ok(until) => {
                    tracing::info!(identity = %self.id, valid_until = ?until, "got a workload certificate");
                    return true;
                }
                Err(e) => {
                    failures += 1;
                    let delay = backoff(failures);
                    tracing::warn!(identity = %self.id, retry_in = ?delay, "no workload certificate yet: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = stop.wait_for(|s| *s) => return false,
                    }
                }
            }
        }
        true
    }

    /// Renews at 80% of each certificate's life until `stop` fires. A
    /// failed renewal is retried with backoff; the current certificate
    /// keeps serving meanwhile.
    pub async fn keep_fresh(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut failures = 0u32;
        loop {
            let wait = match (failures, self.creds.current()) {
                (0, Some(c)) => weft_identity::renew_in(c.not_before, c.not_after),
                (n, _) => backoff(n),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            match self.sign(true).await {
                Ok(until) => {
                    failures = 0;
                    tracing::info!(identity = %self.id, valid_until = ?until, "renewed the workload certificate");
                }
                Err(e) => {
                    failures += 1;
                    let expires = self.creds.current().map(|c| c.not_after);
                    tracing::error!(identity = %self.id, expires = ?expires, "cannot renew the workload certificate: {e}");
                }
            }
        }
    }

    /// One CSR: with the bootstrap token (no certificate yet) or over mTLS
    /// with the current certificate (`renewal`).
    async fn sign(&self, renewal: bool) -> Result<SystemTime, SignFailure> {
        let key = WorkloadKey::generate(self.id.clone())
            .map_err(|e| SignFailure::Local(e.to_string()))?;
        let csr_pem = key
            .csr_pem()
            .map_err(|e| SignFailure::Local(e.to_string()))?;
        let tls = self
            .creds
            .client_config_with(self.control_plane.clone(), renewal);
        let channel = channel(&self.address, tls).await?;
        let mut client = CertificatesClient::new(channel);
        let mut request = tonic::Request::new(SignRequest {
            csr_pem,
            validity_seconds: self.ttl.map_or(0, |t| t.as_secs() as i64),
        });
        let token = if renewal {
            None
        } else {
            self.token.lock().clone()
        };
        if let Some(t) = &token {
            let value = MetadataValue::try_from(format!("Bearer {t}"))
                .map_err(|_| SignFailure::Local("the bootstrap token is not ASCII".into()))?;
            request.metadata_mut().insert("authorization", value);
        }
        let resp = client
            .sign(request)
            .await
            .map_err(SignFailure::Refused)?
            .into_inner();
        let chain = weft_identity::certs_from_pem(&resp.cert_chain_pem)
            .map_err(|e| SignFailure::Local(format!("the CA sent an unusable chain: {e}")))?;
        let bundle = TrustBundle::from_pem(&resp.trust_bundle_pem)
            .map_err(|e| SignFailure::Local(format!("the CA sent an unusable bundle: {e}")))?;
        let (_, not_after) =
            weft_identity::validity(&chain[0]).map_err(|e| SignFailure::Local(e.to_string()))?;
        // Renewal counts from now: `notBefore` is backdated a minute for
        // clock skew, which would make short lifetimes renew at once.
        let not_before = SystemTime::now();
        let certified = key
            .certified(chain)
            .map_err(|e| SignFailure::Local(e.to_string()))?;
        // The bundle first: the new certificate may chain to a new root.
        self.creds.set_bundle(bundle);
        self.creds
            .set_cert(self.id.clone(), certified, not_before, not_after)
            .map_err(|e| SignFailure::Local(e.to_string()))?;
        if token.is_some() {
            // Spent: the CA will not take it again.
            *self.token.lock() = None;
        }
        Ok(not_after)
    }

    /// The control plane's address.
    pub fn address(&self) -> &str {
        &self.address
    }
}

fn read_token(path: &Path) -> Result<String, IdentityError> {
    let err = |why: String| IdentityError::Token {
        path: path.display().to_string(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(err("is empty; write the token `weft token` printed".into()));
    }
    Ok(token.to_string())
}

fn backoff(failures: u32) -> Duration {
    let ceiling = RETRY_BASE
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(RETRY_MAX);
    ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
}
