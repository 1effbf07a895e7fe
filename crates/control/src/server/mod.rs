//! The config stream server (gRPC on 15012): one session per proxy.

mod session;
mod status;

use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};
use weft_proto::ca::certificates_server::CertificatesServer;
use weft_proto::discovery::config_discovery_server::{ConfigDiscovery, ConfigDiscoveryServer};
use weft_proto::discovery::{ConfigRequest, ConfigResponse, Node};

pub use status::{ProxyStatus, Registry, SyncState};

use crate::views::Views;

/// Serves the config stream.
pub struct ConfigServer {
    views: Arc<dyn Views>,
    registry: Arc<Registry>,
    /// Full states being sent at once: each is the proxy's whole view
    /// (megabytes at ten thousand services), built and encoded per proxy,
    /// so a thousand proxies reconnecting together must queue for them.
    full_states: Arc<tokio::sync::Semaphore>,
    /// Flips to true on shutdown: every session ends, so proxies see their
    /// stream close and go looking for a control plane again.
    closing: watch::Receiver<bool>,
    close: Arc<watch::Sender<bool>>,
    /// Set when served over TLS: a proxy must present a certificate naming
    /// the namespace and service account its node claims.
    check_identity: bool,
}

// === impl ConfigServer ===

impl ConfigServer {
    pub fn new(views: Arc<dyn Views>, registry: Arc<Registry>) -> Self {
        let (close, closing) = watch::channel(false);
        Self {
            views,
            registry,
            full_states: Arc::new(tokio::sync::Semaphore::new(FULL_STATES_AT_ONCE)),
            closing,
            close: Arc::new(close),
            check_identity: false,
        }
    }

    /// Ends every session when `shutdown` resolves; the returned future
    /// resolves then too, for the server's own shutdown.
    fn end_streams_on(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let close = self.close.clone();
        let mut closed = self.closing.clone();
        tokio::spawn(async move {
            shutdown.await;
            close.send_replace(true);
        });
        async move {
            let _ = closed.wait_for(|c| *c).await;
        }
    }

    /// Serves the config stream and the CA on `listener` over TLS (the
    /// control plane's port 15012): every config stream must come from a
    /// proxy presenting a workload certificate that names the identity its
    /// node claims; the CA also takes callers without one (bootstrap).
    pub async fn serve_tls(
        mut self,
        listener: TcpListener,
        tls: Arc<rustls::ServerConfig>,
        ca: crate::ca::CaService,
        tap: crate::tap::TapService,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), tonic::transport::Error> {
        self.check_identity = true;
        let closed = self.end_streams_on(shutdown);
        tonic::transport::Server::builder()
            .add_service(ConfigDiscoveryServer::new(self))
            .add_service(CertificatesServer::new(ca))
            .add_service(weft_proto::discovery::tap_server::TapServer::new(tap))
            .serve_with_incoming_shutdown(crate::ca::accept_tls(listener, tls), closed)
            .await
    }

    /// Serves plaintext on `listener` (for embedding and protocol tests;
    /// `weft control` always uses [`Self::serve_tls`]) until `shutdown`
    /// resolves, then ends every
    /// stream (a graceful shutdown alone would wait for streams that never
    /// end on their own).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), tonic::transport::Error> {
        let closed = self.end_streams_on(shutdown);
        tonic::transport::Server::builder()
            .add_service(ConfigDiscoveryServer::new(self))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), closed)
            .await
    }
}

/// How many full states are built and sent at once.
const FULL_STATES_AT_ONCE: usize = 8;

type ResponseStream = Pin<Box<dyn Stream<Item = Result<ConfigResponse, Status>> + Send>>;

#[tonic::async_trait]
impl ConfigDiscovery for ConfigServer {
    type StreamStream = ResponseStream;

    async fn stream(
        &self,
        request: Request<Streaming<ConfigRequest>>,
    ) -> Result<Response<ResponseStream>, Status> {
        let request_meta = tonic::Request::from_parts(
            request.metadata().clone(),
            request.extensions().clone(),
            (),
        );
        let mut requests = request.into_inner();
        let first = requests.message().await?.ok_or_else(|| {
            Status::invalid_argument("the stream ended before the proxy introduced itself")
        })?;
        let node = first.node.filter(|n| !n.id.is_empty()).ok_or_else(|| {
            Status::invalid_argument("the first request must carry a node with an id")
        })?;
        if self.check_identity {
            check_node_identity(&node, crate::ca::peer_identity(&request_meta))?;
        }
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(session::run(
            node,
            requests,
            tx,
            self.views.clone(),
            self.registry.clone(),
            self.full_states.clone(),
            self.closing.clone(),
        ));
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// A node may only speak for the workload its certificate names.
pub(crate) fn check_node_identity(
    node: &Node,
    peer: Option<weft_identity::SpiffeId>,
) -> Result<(), Status> {
    let Some(id) = peer else {
        return Err(Status::unauthenticated(
            "the config stream needs a workload certificate: get one from the CA (Certificates.Sign) first",
        ));
    };
    let ns = if node.namespace.is_empty() {
        "default"
    } else {
        &node.namespace
    };
    let sa = if node.service_account.is_empty() {
        "default"
    } else {
        &node.service_account
    };
    if id.namespace() != ns || id.service_account() != sa {
        tracing::warn!(node = %node.id, certificate = %id, "refused a config stream whose node claims another identity");
        return Err(Status::permission_denied(format!(
            "node `{}` claims namespace `{ns}` and service account `{sa}`, but its certificate names `{id}`",
            node.id
        )));
    }
    Ok(())
}
