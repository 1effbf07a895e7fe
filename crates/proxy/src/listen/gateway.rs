//! Connections on gateway listeners: clients from outside the mesh.
//!
//! A gateway port with routes for opaque connections (Istio's TLS
//! `PASSTHROUGH` and TCP servers) first reads the ClientHello's server
//! name where those routes choose by it; a connection one of them takes
//! is relayed as it is, its TLS never terminated here. Everything else is
//! HTTP: a gateway port with a certificate (the listener's own `tls`,
//! else the pushed server's) terminates TLS and serves HTTP/2 or HTTP/1.1
//! as ALPN chose; one without serves plaintext HTTP after protocol
//! detection. Either way, requests are routed by Host among the port's
//! virtual hosts (`http::route`), and go into the mesh over mesh mTLS
//! like a sidecar's outbound traffic.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Version;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use weft_proto::config::ListenerProtocol;

use super::ConnCtx;
use crate::client_hello;
use crate::detect::{self, Protocol};
use crate::io::PrefixedIo;

/// A client's whole TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one client connection on a gateway listener.
pub async fn serve(mut sock: TcpStream, ctx: Arc<ConnCtx>) {
    let snap = ctx.state.snapshot();
    let port = ctx.target_port();
    let tls = snap.gateways.tls_for(&ctx.listener.name, port);
    let Some(server) = port
        .and_then(|p| snap.gateways.server(p))
        .filter(|s| !s.tcp_routes.is_empty())
    else {
        drop(snap);
        return serve_http(sock, ctx, tls).await;
    };
    let need_sni = server.tcp_routes.need_sni();
    let http_too = server.serves_http();
    drop(snap);
    let (prefix, sni) = match need_sni {
        true => match client_hello::sni_of(&mut sock, ctx.peer).await {
            Some(read) => read,
            None => return,
        },
        false => (Bytes::new(), None),
    };
    let taken = port
        .and_then(|p| {
            ctx.state
                .snapshot()
                .gateways
                .server(p)
                .map(|s| s.tcp_routes.pick(sni.as_deref()).is_some())
        })
        .unwrap_or(false);
    let io = PrefixedIo::new(prefix, sock);
    if taken || !http_too {
        // Not taken and no HTTP here: closed as `NR` by the TCP path.
        return crate::tcp::serve_routed(io, ctx, sni.as_deref()).await;
    }
    serve_http(io, ctx, tls).await;
}

/// Serves HTTP, terminating the client's TLS when the port has a
/// certificate.
async fn serve_http<I>(mut io: I, ctx: Arc<ConnCtx>, tls: Option<Arc<rustls::ServerConfig>>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if let Some(config) = tls {
        return terminate(io, ctx, config).await;
    }
    let protocol = match ctx.listener.protocol {
        ListenerProtocol::Http1 => Protocol::Http1,
        ListenerProtocol::Http2 => Protocol::Http2,
        // Refused by config validation; nothing else is served here.
        ListenerProtocol::Tcp => return,
        ListenerProtocol::Detect => {
            match detect::detect(&mut io, ctx.listener.detect_timeout).await {
                Ok(d) if matches!(d.protocol, Protocol::Http1 | Protocol::Http2) => {
                    let io = PrefixedIo::new(d.prefix, io);
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
    crate::http::serve(io, version(protocol), ctx).await;
}

/// Terminates the client's TLS, then serves what ALPN agreed on
/// (HTTP/1.1 when the client offered none).
async fn terminate<I>(io: I, ctx: Arc<ConnCtx>, config: Arc<rustls::ServerConfig>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let accept = TlsAcceptor::from(config).accept(io);
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
