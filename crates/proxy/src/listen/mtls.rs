//! Mesh mTLS on inbound listeners. A connection whose ClientHello offers a
//! mesh ALPN (`weft/h2`, `weft/h1`, `weft/tcp`) is terminated: the client
//! must present a workload certificate of this trust domain, and its
//! identity rides the connection into authorization and metrics. Anything
//! else is plaintext or the app's own TLS, accepted under PERMISSIVE and
//! refused under STRICT.

use std::sync::Arc;
use std::time::Duration;

use hyper::Version;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use weft_identity::{ALPN_H1, ALPN_H2};
use weft_proto::config::MtlsMode;

use super::{ConnCtx, dispatch};
use crate::client_hello;
use crate::detect::{self, Protocol};
use crate::io::PrefixedIo;

/// The whole handshake, ClientHello included, must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves an inbound connection under `mode` (STRICT or PERMISSIVE).
/// `fixed` is the protocol config declares for its port, if any.
pub async fn serve(
    mut sock: TcpStream,
    ctx: Arc<ConnCtx>,
    mode: MtlsMode,
    fixed: Option<Protocol>,
    server: Arc<rustls::ServerConfig>,
) {
    let timeout = ctx.listener.detect_timeout;
    let sniffed = match fixed {
        Some(_) => detect::detect_tls(&mut sock, timeout).await,
        None => detect::detect(&mut sock, timeout).await,
    };
    let detection = match sniffed {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!(peer = %ctx.peer, error = %e, "connection failed during protocol detection");
            return;
        }
    };
    if detection.protocol != Protocol::Tls {
        if mode == MtlsMode::Strict {
            return refuse(
                &ctx,
                "plaintext",
                "plaintext connection refused: mTLS is STRICT",
            );
        }
        if detection.timed_out && fixed.is_none() {
            ctx.state.metrics.detect_timeout(&ctx.listener.name);
        }
        let protocol = fixed.unwrap_or(detection.protocol);
        return dispatch(PrefixedIo::new(detection.prefix, sock), protocol, ctx).await;
    }
    let deadline = tokio::time::Instant::now() + HANDSHAKE_TIMEOUT;
    let hello = match client_hello::read(&mut sock, detection.prefix, deadline).await {
        Ok(h) if h.timed_out => {
            tracing::debug!(peer = %ctx.peer, "no TLS ClientHello within {HANDSHAKE_TIMEOUT:?}; closing");
            return;
        }
        Ok(h) => h,
        Err(e) => {
            tracing::debug!(peer = %ctx.peer, error = %e, "connection failed before its TLS ClientHello was read");
            return;
        }
    };
    if !hello.mesh {
        if mode == MtlsMode::Strict {
            return refuse(
                &ctx,
                "not_mesh_tls",
                "TLS without a mesh ALPN refused: mTLS is STRICT",
            );
        }
        // The app's own TLS, from a client outside the mesh: its bytes.
        return dispatch(PrefixedIo::new(hello.bytes, sock), Protocol::Opaque, ctx).await;
    }
    let accept = TlsAcceptor::from(server).accept(PrefixedIo::new(hello.bytes, sock));
    let tls = match tokio::time::timeout_at(deadline, accept).await {
        Ok(Ok(tls)) => tls,
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("did not finish within {HANDSHAKE_TIMEOUT:?}"),
            };
            ctx.state
                .metrics
                .tls_refused(&ctx.listener.name, "handshake");
            tracing::warn!(listener = %ctx.listener.name, peer = %ctx.peer, "mTLS handshake refused: {why}");
            return;
        }
    };
    let (_, conn) = tls.get_ref();
    let alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
    // The verifier required a certificate; without an ID nothing passed.
    let Some(peer) = weft_identity::peer_id(conn.peer_certificates()) else {
        return refuse(&ctx, "handshake", "mTLS peer presented no SPIFFE ID");
    };
    let ctx = Arc::new(ctx.with_peer_identity(&peer));
    match alpn.as_deref() {
        Some(p) if p == ALPN_H2 => crate::http::serve(tls, Version::HTTP_2, ctx).await,
        Some(p) if p == ALPN_H1 => crate::http::serve(tls, Version::HTTP_11, ctx).await,
        _ => crate::tcp::serve(tls, ctx).await,
    }
}

fn refuse(ctx: &ConnCtx, reason: &'static str, why: &str) {
    ctx.state.metrics.tls_refused(&ctx.listener.name, reason);
    tracing::info!(listener = %ctx.listener.name, peer = %ctx.peer, "{why}");
}
