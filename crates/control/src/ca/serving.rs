//! 15012 over TLS: the control plane's own certificate (issued by its CA
//! to `spiffe://<td>/ns/weft-system/sa/weft-control`, renewed at 80% of its
//! life) and the TLS accept loop that feeds tonic.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use weft_identity::{Ca, Credentials, SpiffeId, WorkloadKey};

/// How long the control plane's own certificate lives.
const SERVING_TTL: Duration = Duration::from_secs(24 * 3600);
/// A TLS handshake that takes longer than this is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The control plane's identity on 15012.
pub struct ServingCert {
    pub creds: Arc<Credentials>,
    pub id: SpiffeId,
}

// === impl ServingCert ===

impl ServingCert {
    pub fn issue(ca: &Ca) -> Result<Self, String> {
        let id = SpiffeId::new(
            ca.trust_domain(),
            weft_identity::CONTROL_PLANE_NAMESPACE,
            weft_identity::CONTROL_PLANE_SERVICE_ACCOUNT,
        )
        .map_err(|e| e.to_string())?;
        let creds = Credentials::new(ca.trust_domain(), ca.bundle().clone());
        let this = Self { creds, id };
        this.renew(ca)?;
        Ok(this)
    }

    /// Issues a fresh certificate with a new key.
    pub fn renew(&self, ca: &Ca) -> Result<SystemTime, String> {
        let key = WorkloadKey::generate(self.id.clone()).map_err(|e| e.to_string())?;
        let issued = ca
            .issue(key.public(), &self.id, SERVING_TTL)
            .map_err(|e| e.to_string())?;
        let certified = key.certified(issued.chain).map_err(|e| e.to_string())?;
        self.creds
            .set_cert(
                self.id.clone(),
                certified,
                issued.not_before,
                issued.not_after,
            )
            .map_err(|e| e.to_string())?;
        Ok(issued.not_after)
    }

    /// Renews at 80% of each certificate's life, forever.
    pub async fn keep_fresh(self: Arc<Self>, ca: Arc<super::Authority>) {
        loop {
            let wait = self
                .creds
                .current()
                .map(|c| weft_identity::renew_in(c.not_before, c.not_after))
                .unwrap_or(Duration::from_secs(1));
            tokio::time::sleep(wait).await;
            match self.renew(&ca.ca) {
                Ok(until) => {
                    tracing::info!(valid_until = ?until, "renewed the control plane's certificate")
                }
                Err(e) => tracing::error!("cannot renew the control plane's certificate: {e}"),
            }
        }
    }
}

/// Accepts TCP on `listener` and hands tonic each connection whose TLS
/// handshake completes; slow or failed handshakes never hold up others.
pub fn accept_tls(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
) -> ReceiverStream<Result<TlsStream<TcpStream>, std::io::Error>> {
    let (tx, rx) = mpsc::channel(64);
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        loop {
            // The server dropping its end closes the socket too, so a
            // stopped control plane frees its port at once.
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = tx.closed() => return,
            };
            let (tcp, peer) = match accepted {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("accept on the control plane port failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                    Ok(Ok(tls)) => {
                        let _ = tx.send(Ok(tls)).await;
                    }
                    Ok(Err(e)) => {
                        tracing::info!(%peer, "TLS handshake on the control plane port failed: {e}")
                    }
                    Err(_) => {
                        tracing::info!(%peer, "TLS handshake on the control plane port timed out")
                    }
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// The SPIFFE ID of the certificate the caller presented, if any (the
/// chain was verified during the handshake).
pub fn peer_identity<T>(req: &tonic::Request<T>) -> Option<SpiffeId> {
    let certs = req
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    weft_identity::peer_id(Some(certs.as_slice()))
}
