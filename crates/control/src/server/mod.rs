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
use weft_proto::discovery::config_discovery_server::{ConfigDiscovery, ConfigDiscoveryServer};
use weft_proto::discovery::{ConfigRequest, ConfigResponse};

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
        }
    }

    /// Serves on `listener` until `shutdown` resolves, then ends every
    /// stream (a graceful shutdown alone would wait for streams that never
    /// end on their own).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), tonic::transport::Error> {
        let close = self.close.clone();
        let mut closed = self.closing.clone();
        tokio::spawn(async move {
            shutdown.await;
            close.send_replace(true);
        });
        tonic::transport::Server::builder()
            .add_service(ConfigDiscoveryServer::new(self))
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
                let _ = closed.wait_for(|c| *c).await;
            })
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
        let mut requests = request.into_inner();
        let first = requests.message().await?.ok_or_else(|| {
            Status::invalid_argument("the stream ended before the proxy introduced itself")
        })?;
        let node = first.node.filter(|n| !n.id.is_empty()).ok_or_else(|| {
            Status::invalid_argument("the first request must carry a node with an id")
        })?;
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
