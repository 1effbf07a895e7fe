//! Connections on gateway listeners: clients from outside the mesh. A
//! gateway port with a certificate (the listener's own `tls`, else the
//! pushed server's) terminates TLS and serves HTTP/2 or HTTP/1.1 as ALPN
//! chose; one without serves plaintext HTTP after protocol detection.
//! Either way, requests are routed by Host among the port's virtual hosts
//! (`http::route`), and go into the mesh over mesh mTLS like a sidecar's
//! outbound traffic.

use std::sync::Arc;
use std::time::Duration;

use hyper::Version;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use weft_proto::config::ListenerProtocol;

use super::ConnCtx;
use crate::detect::{self, Protocol};
use crate::io::PrefixedIo;

/// A client's whole TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one client connection on a gateway listener.
pub async fn serve(mut sock: TcpStream, ctx: Arc<ConnCtx>) {
    let tls = ctx
        .state
        .snapshot()
        .gateways
        .tls_for(&ctx.listener.name, ctx.target_port());
    if let Some(config) = tls {
        return terminate(sock, ctx, config).await;
    }
    let protocol = match ctx.listener.protocol {
        ListenerProtocol::Http1 => Protocol::Http1,
        ListenerProtocol::Http2 => Protocol::Http2,
        // Refused by config validation; nothing else is served here.
        ListenerProtocol::Tcp => return,
        ListenerProtocol::Detect => {
            match detect::detect(&mut sock, ctx.listener.detect_timeout).await {
                Ok(d) if matches!(d.protocol, Protocol::Http1 | Protocol::Http2) => {
                    let io = PrefixedIo::new(d.prefix, sock);
                    return crate::http::serve(io, version(d.protocol), ctx).await;
                }
                Ok(d) => {
                    if d.protocol == Protocol::Tls {
                        ctx.state
                            .metrics
                            .tls_refused(&ctx.listener.name, "no_certificate");
                    }
                    tracing::debug!(listener = %ctx.listener.name, peer = %ctx.peer, protocol = ?d.protocol, port = ?ctx.target_port(), "not HTTP on a plaintext gateway port (no certificate for it); closing");
                    return;
                }
                Err(e) => {
                    tracing::debug!(peer = %ctx.peer, error = %e, "connection failed during protocol detection");
                    return;
                }
            }
        }
    };
    crate::http::serve(sock, version(protocol), ctx).await;
}

/// Terminates the client's TLS, then serves what ALPN agreed on
/// (HTTP/1.1 when the client offered none).
async fn terminate(sock: TcpStream, ctx: Arc<ConnCtx>, config: Arc<rustls::ServerConfig>) {
    let accept = TlsAcceptor::from(config).accept(sock);
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
        Ok(Ok(tls)) => tls,
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("did not finish within {HANDSHAKE_TIMEOUT:?}"),
            };
            ctx.state
                .metrics
                .tls_refused(&ctx.listener.name, "handshake");
            tracing::debug!(listener = %ctx.listener.name, peer = %ctx.peer, "client TLS handshake failed: {why}");
            return;
        }
    };
    let ctx = Arc::new(ConnCtx {
        client_tls: true,
        ..(*ctx).clone()
    });
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    let version = if h2 {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    };
    crate::http::serve(tls, version, ctx).await;
}

fn version(p: Protocol) -> Version {
    match p {
        Protocol::Http2 => Version::HTTP_2,
        _ => Version::HTTP_11,
    }
}
