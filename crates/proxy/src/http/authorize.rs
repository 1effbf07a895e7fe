//! Inbound authorization of one HTTP request.

use std::borrow::Cow;
use std::net::IpAddr;

use http::Request;
use hyper::body::Incoming;

use crate::authz::{Attrs, HttpAttrs, Verdict};
use crate::errors::ProxyError;
use crate::listen::ConnCtx;
use crate::state::Snapshot;
use crate::telemetry::DeniedProtocol;

/// Checks `req` against the workload's policies; a denial is counted and
/// becomes a 403 (RBAC) naming the policy.
pub fn check(ctx: &ConnCtx, snap: &Snapshot, req: &Request<Incoming>) -> Result<(), ProxyError> {
    let authority = req
        .uri()
        .authority()
        .map(|a| a.as_str())
        .or_else(|| {
            req.headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
        })
        .unwrap_or_default();
    let (host, host_port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse().ok()),
        _ => (authority, None),
    };
    // Host patterns are lowercase; lowercase only a host that is not.
    let host: Cow<'_, str> = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    let attrs = Attrs {
        peer: ctx.peer.ip(),
        remote: forwarded_for(req).unwrap_or(ctx.peer.ip()),
        local: ctx.orig_dst,
        port: ctx.target_port().or(host_port).unwrap_or(0),
        identity: ctx.identity.as_deref(),
        http: Some(HttpAttrs {
            method: req.method().as_str(),
            host: &host,
            path: req.uri().path(),
            headers: req.headers(),
        }),
    };
    match snap.authz.check(&attrs) {
        Verdict::Allow => Ok(()),
        Verdict::Deny(policy) => {
            ctx.state.metrics.denied(&policy, DeniedProtocol::http);
            Err(ProxyError::Denied { policy })
        }
    }
}

/// The original client: the first address of `X-Forwarded-For`.
fn forwarded_for(req: &Request<Incoming>) -> Option<IpAddr> {
    let v = req.headers().get("x-forwarded-for")?.to_str().ok()?;
    v.split(',').next()?.trim().parse().ok()
}
