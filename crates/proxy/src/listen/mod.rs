//! Listeners: accepting connections, finding where each was headed, and
//! handing it to HTTP or TCP proxying after protocol detection.

mod gateway;
mod mtls;
mod orig_dst;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use weft_proto::config::{
    AppProtocol, Direction, Interception, Listener, ListenerProtocol, MtlsMode, parse_authority,
};

pub use orig_dst::original_dst;

use crate::detect::{self, Protocol};
use crate::io::PrefixedIo;
use crate::state::{ProxyState, Snapshot};
use crate::telemetry::{PeerLabels, Reporter};

/// A listener's settings, compiled.
#[derive(Debug)]
pub struct ListenerRt {
    pub name: Arc<str>,
    pub direction: Direction,
    pub interception: Interception,
    pub protocol: ListenerProtocol,
    pub detect_timeout: Duration,
    pub opaque_ports: Vec<u16>,
    /// Outbound fixed destination (`host`, `port`).
    pub destination: Option<(Arc<str>, u16)>,
    pub target_port: Option<u16>,
    /// Where the app behind `target_port` listens, when remapped.
    pub app_address: Option<SocketAddr>,
}

/// What every request and byte on one downstream connection shares.
#[derive(Debug, Clone)]
pub struct ConnCtx {
    pub state: Arc<ProxyState>,
    pub listener: Arc<ListenerRt>,
    pub peer: SocketAddr,
    /// Where a transparently intercepted client was connecting.
    pub orig_dst: Option<SocketAddr>,
    /// The peer's verified identity; `None` for a plaintext peer.
    pub identity: Option<Arc<crate::authz::Identity>>,
    /// The `source_*` labels of an mTLS peer (its principal and
    /// namespace); `None` for a plaintext peer.
    pub peer_labels: Option<Arc<PeerLabels>>,
    /// This proxy terminated the client's TLS for HTTP (a gateway port
    /// with a certificate): requests on it are `https` (redirects keep
    /// that scheme). Mesh mTLS between proxies does not count.
    pub client_tls: bool,
    /// Held while any work for this connection (including upgraded
    /// tunnels) is in flight, so a drain waits for it.
    pub drain: drain::Watch,
    /// The workload an mTLS peer's proxy said it speaks for, and the
    /// source labels that makes (`http::peer`), once known.
    pub peer_meta: Arc<std::sync::OnceLock<(http::HeaderValue, Arc<PeerLabels>)>>,
}

// === impl ListenerRt ===

impl ListenerRt {
    pub fn new(cfg: &Listener) -> Self {
        Self {
            name: Arc::from(cfg.name.as_str()),
            direction: cfg.direction,
            interception: cfg.interception,
            protocol: cfg.protocol,
            detect_timeout: cfg.detect_timeout,
            opaque_ports: cfg.opaque_ports.clone(),
            destination: cfg
                .destination
                .as_deref()
                .and_then(parse_authority)
                .map(|(h, p)| (Arc::from(h.to_ascii_lowercase()), p)),
            // A gateway listener's requests count as its gateway port:
            // the one configured, else the one it binds.
            target_port: match cfg.direction {
                Direction::Gateway => cfg.target_port.or(Some(cfg.address.port())),
                _ => cfg.target_port,
            },
            app_address: cfg.app_address,
        }
    }

    pub fn reporter(&self) -> Reporter {
        match self.direction {
            // Istio's gateways report as the source of what they send.
            Direction::Outbound | Direction::Gateway => Reporter::Source,
            Direction::Inbound => Reporter::Destination,
        }
    }
}

// === impl ConnCtx ===

impl ConnCtx {
    /// The destination port of this connection, when one is known before
    /// reading any request.
    pub fn target_port(&self) -> Option<u16> {
        self.orig_dst
            .map(|a| a.port())
            .or(self.listener.target_port)
            .or(self.listener.destination.as_ref().map(|(_, p)| *p))
    }

    /// This context for a peer that proved `id` over mTLS.
    fn with_peer_identity(&self, id: &weft_identity::SpiffeId) -> Self {
        Self {
            identity: Some(Arc::new(crate::authz::Identity {
                principal: id.principal(),
                namespace: id.namespace().to_string(),
            })),
            peer_labels: Some(Arc::new(PeerLabels::from_identity(id))),
            ..self.clone()
        }
    }

    /// The mTLS mode for this connection: `None` when no mTLS is
    /// terminated here (outbound, DISABLE, or no workload identity).
    fn mtls_mode(&self, snap: &Snapshot) -> Option<MtlsMode> {
        if self.listener.direction != Direction::Inbound || self.state.mesh_server.is_none() {
            return None;
        }
        match snap.peer_authentication.mode_for(self.target_port()) {
            MtlsMode::Disable => None,
            mode => Some(mode),
        }
    }

    /// The protocol config declares for this connection's destination.
    fn declared_protocol(&self, snap: &Snapshot) -> AppProtocol {
        match self.listener.direction {
            Direction::Inbound => self
                .target_port()
                .and_then(|p| snap.inbound.get(&p))
                .map_or(AppProtocol::Detect, |t| t.protocol),
            Direction::Outbound => {
                let svc = match &self.listener.destination {
                    Some((h, p)) => snap.services.by_host(h, *p),
                    None => self.orig_dst.and_then(|a| snap.services.by_addr(a)),
                };
                svc.map_or(AppProtocol::Detect, |s| s.protocol)
            }
            // Gateways serve HTTP; `gateway::serve` decides TLS first.
            Direction::Gateway => AppProtocol::Detect,
        }
    }
}

/// Accepts connections until drain is signaled, then closes the socket so
/// new connections are refused.
pub async fn serve(
    listener: TcpListener,
    rt: Arc<ListenerRt>,
    state: Arc<ProxyState>,
    drain: drain::Watch,
) {
    let local = listener.local_addr().ok();
    let signaled = drain.clone().signaled();
    tokio::pin!(signaled);
    loop {
        tokio::select! {
            biased;
            _release = &mut signaled => break,
            accepted = listener.accept() => match accepted {
                Ok((sock, peer)) => {
                    let conn = handle(sock, peer, local, rt.clone(), state.clone(), drain.clone());
                    tokio::spawn(conn);
                }
                Err(e) => {
                    // Out of file descriptors and friends: back off instead
                    // of spinning; established connections keep working.
                    tracing::warn!(listener = %rt.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    tracing::debug!(listener = %rt.name, "listener closed for drain");
}

async fn handle(
    sock: TcpStream,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    listener: Arc<ListenerRt>,
    state: Arc<ProxyState>,
    drain: drain::Watch,
) {
    let _active = ActiveGuard::new(state.metrics.active_connections(&listener.name));
    let _ = sock.set_nodelay(true);

    let orig_dst = match listener.interception {
        Interception::Explicit => None,
        // A connection made straight to the listener was not redirected:
        // there is no original destination to honour.
        Interception::Transparent => original_dst(&sock).ok().filter(|a| Some(*a) != local),
    };
    if listener.interception == Interception::Transparent
        && listener.direction == Direction::Inbound
        && orig_dst.is_none()
    {
        tracing::debug!(listener = %listener.name, %peer, "refusing direct connection to a transparent inbound listener");
        return;
    }

    let ctx = Arc::new(ConnCtx {
        state,
        listener,
        peer,
        orig_dst,
        identity: None,
        peer_labels: None,
        client_tls: false,
        drain,
        peer_meta: Default::default(),
    });
    serve_conn(sock, ctx).await;
}

/// Counts a connection in `weft_listener_connections_active` while alive.
struct ActiveGuard(prometheus_client::metrics::gauge::Gauge);

impl ActiveGuard {
    fn new(g: prometheus_client::metrics::gauge::Gauge) -> Self {
        g.inc();
        Self(g)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn serve_conn(mut sock: TcpStream, ctx: Arc<ConnCtx>) {
    if ctx.listener.direction == Direction::Gateway {
        return gateway::serve(sock, ctx).await;
    }
    let snap = ctx.state.snapshot();
    let opaque_port = ctx
        .target_port()
        .is_some_and(|p| ctx.listener.opaque_ports.contains(&p));
    let fixed = match (ctx.listener.protocol, ctx.declared_protocol(&snap)) {
        (ListenerProtocol::Tcp, _) | (_, AppProtocol::Tcp) => Some(Protocol::Opaque),
        _ if opaque_port => Some(Protocol::Opaque),
        (ListenerProtocol::Http1, _) => Some(Protocol::Http1),
        (ListenerProtocol::Http2, _) => Some(Protocol::Http2),
        (ListenerProtocol::Detect, _) => None,
    };
    let mtls = ctx.mtls_mode(&snap);
    drop(snap);
    if let (Some(mode), Some(server)) = (mtls, ctx.state.mesh_server.clone()) {
        return mtls::serve(sock, ctx, mode, fixed, server).await;
    }
    let detection = match fixed {
        Some(protocol) => detect::Detection {
            protocol,
            prefix: bytes::Bytes::new(),
            timed_out: false,
        },
        None => match detect::detect(&mut sock, ctx.listener.detect_timeout).await {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!(peer = %ctx.peer, error = %e, "connection failed during protocol detection");
                return;
            }
        },
    };
    if detection.timed_out {
        ctx.state.metrics.detect_timeout(&ctx.listener.name);
        tracing::debug!(listener = %ctx.listener.name, peer = %ctx.peer, "protocol detection timed out; proxying as opaque TCP");
    }
    dispatch(
        PrefixedIo::new(detection.prefix, sock),
        detection.protocol,
        ctx,
    )
    .await;
}

/// Hands a connection whose protocol is known to HTTP or TCP proxying.
async fn dispatch<I>(io: I, protocol: Protocol, ctx: Arc<ConnCtx>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    match protocol {
        Protocol::Http1 => crate::http::serve(io, hyper::Version::HTTP_11, ctx).await,
        Protocol::Http2 => crate::http::serve(io, hyper::Version::HTTP_2, ctx).await,
        Protocol::Tls | Protocol::Opaque => crate::tcp::serve(io, ctx).await,
    }
}
