//! Identity endpoints: bootstrap tokens for workloads without a
//! certificate (local runtime, VMs), the trust bundle, and the CA's
//! counters on `/metrics`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use weft_identity::SpiffeId;

use super::Api;

/// Tokens are short-lived unless asked otherwise: one is meant to be used
/// within moments of being issued.
const DEFAULT_TOKEN_TTL: Duration = Duration::from_secs(3600);
const MAX_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    pub namespace: String,
    pub service_account: String,
    /// Seconds; one hour unless set.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct TokenResponse {
    pub token: String,
    pub identity: String,
    pub expires_in_seconds: u64,
}

/// `POST /api/v1/tokens`. Whoever holds a token becomes the identity it
/// names, so only callers on this machine may ask for one.
pub async fn issue_token(
    State(api): State<Api>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(req): Json<TokenRequest>,
) -> Response {
    if !peer.ip().is_loopback() {
        tracing::warn!(%peer, "refused a bootstrap token request from off this machine");
        return (
            StatusCode::FORBIDDEN,
            "bootstrap tokens are issued only to callers on the control plane's machine\n",
        )
            .into_response();
    }
    let id = match SpiffeId::new(
        api.authority.ca.trust_domain(),
        &req.namespace,
        &req.service_account,
    ) {
        Ok(id) => id,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    };
    let ttl = req
        .ttl_seconds
        .map_or(DEFAULT_TOKEN_TTL, Duration::from_secs)
        .min(MAX_TOKEN_TTL);
    let token = api.authority.tokens.issue(id.clone(), ttl);
    // The token itself is a secret: never logged.
    tracing::info!(identity = %id, ttl = ?ttl, "issued a bootstrap token");
    Json(TokenResponse {
        token,
        identity: id.to_string(),
        expires_in_seconds: ttl.as_secs(),
    })
    .into_response()
}

/// `GET /api/v1/trust-bundle`: the roots, PEM. Informational: a proxy must
/// get its first trust anchor out of band (the file), not over plain HTTP.
pub async fn trust_bundle(State(api): State<Api>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        api.authority.ca.bundle().to_pem().to_string(),
    )
        .into_response()
}

/// `GET /metrics`: the control plane's own counters.
pub async fn metrics(State(api): State<Api>) -> Response {
    let mut registry = prometheus_client::registry::Registry::default();
    api.authority.metrics.register(&mut registry);
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        out,
    )
        .into_response()
}
