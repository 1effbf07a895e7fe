//! The control plane's HTTP API (15014): what `weft apply`, `weft delete`,
//! `weft proxy-status` and `weft proxy-config` talk to.
//!
//! | method | path | what |
//! |---|---|---|
//! | GET | `/` | the web dashboard (`dashboard.rs`) |
//! | GET | `/healthz` | `ok` |
//! | GET | `/api/v1/config` | the config in force: counts, files, findings, the last refusal |
//! | POST | `/api/v1/apply` | `{name, text}`: add or replace resources; 422 with findings when refused |
//! | POST | `/api/v1/delete` | `{name, text}`: remove applied resources |
//! | GET | `/api/v1/proxies` | connected proxies and whether each is synced |
//! | GET | `/api/v1/services` | services with their addresses, ports and instances |
//! | GET | `/api/v1/proxies/{id}/config` | what one proxy holds (by node id or workload name) |
//! | POST | `/api/v1/tokens` | `{namespace, serviceAccount, ttlSeconds?}`: a single-use bootstrap token (loopback callers only) |
//! | GET | `/api/v1/trust-bundle` | the CA's roots, PEM |
//! | GET | `/api/v1/tap?workload=&namespace=&direction=&to=&path=&method=&max_rps=` | a live tap, one JSON line per request; needs `Authorization: Bearer <tap token>` |
//! | GET | `/api/v1/check` | health checks of the running mesh (`weft check`) |
//! | GET | `/api/v1/prometheus/targets` | every proxy as a Prometheus HTTP SD target group |
//! | GET | `/api/v1/stat?kind=workload\|service\|route\|edge&namespace=&name=&window=1m` | golden metrics rows (`telemetry/`) |
//! | GET | `/metrics` | the CA's counters (`weft_ca_*`) |

pub mod check;
mod identity;
pub mod prometheus;

pub use identity::{TokenRequest, TokenResponse};

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use weft_proto::config::{AuthorizationPolicy, Cluster, InboundPort, Service};
use weft_proto::discovery::ListenerInfo;
use weft_proto::resources::Typed;

use crate::server::{ProxyStatus, Registry};
use crate::store::{Refused, Store};

/// What handlers share.
#[derive(Clone)]
pub struct Api {
    pub store: Arc<Store>,
    pub registry: Arc<Registry>,
    pub authority: Arc<crate::ca::Authority>,
    pub compiler: Arc<crate::compile::Compiler>,
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    pub tap: Arc<crate::tap::TapBroker>,
}

/// One service as `weft get services` shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct ServiceInfo {
    pub name: String,
    pub namespace: String,
    pub addresses: Vec<String>,
    /// `port/protocol` (`9080/http`).
    pub ports: Vec<String>,
    /// Where its instances are reached (`198.18.0.4:9080`).
    pub endpoints: Vec<String>,
    /// The workloads serving it (`reviews-v1`), each once: what the
    /// dashboard's workload view follows to the routes it serves.
    #[serde(default)]
    pub workloads: Vec<String>,
}

/// A body for apply and delete: the text as the user wrote it, and the
/// file name findings should name.
#[derive(Debug, Serialize, Deserialize)]
pub struct Submission {
    pub name: String,
    pub text: String,
}

/// What one proxy holds, decoded.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProxyConfigDump {
    pub id: String,
    pub workload: String,
    pub namespace: String,
    pub version: Option<String>,
    pub listeners: Vec<ListenerDump>,
    pub services: Vec<Service>,
    pub clusters: Vec<Cluster>,
    pub inbound: Vec<InboundPort>,
    /// Authorization policies enforced on its inbound traffic.
    #[serde(default)]
    pub policies: Vec<AuthorizationPolicy>,
    /// The mTLS mode of its inbound side.
    #[serde(default)]
    pub peer_authentication: Option<weft_proto::config::PeerAuthentication>,
    /// Where it sends spans, when the mesh traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<weft_proto::config::Tracing>,
    /// Where it writes access logs, when they are on for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<weft_proto::config::AccessLog>,
    /// What it serves on each gateway port, when it is a gateway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gateway_servers: Vec<weft_proto::config::GatewayServer>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ListenerDump {
    pub name: String,
    pub address: String,
    pub direction: String,
    pub interception: String,
    pub protocol: String,
}

// === impl Api ===

impl Api {
    pub fn router(self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok\n" }))
            .route("/api/v1/config", get(config))
            .route("/api/v1/apply", post(apply))
            .route("/api/v1/delete", post(delete))
            .route("/api/v1/proxies", get(proxies))
            .route("/api/v1/services", get(services))
            .route("/api/v1/proxies/{id}/config", get(proxy_config))
            .route("/api/v1/tokens", post(identity::issue_token))
            .route("/api/v1/trust-bundle", get(identity::trust_bundle))
            .route("/api/v1/stat", get(stat))
            .route("/api/v1/check", get(check::checks))
            .route("/api/v1/tap", get(tap))
            .route("/api/v1/prometheus/targets", get(prometheus::targets))
            .route("/metrics", get(identity::metrics))
            .merge(crate::dashboard::routes())
            .with_state(self)
    }
}

/// A live tap: 401 without the tap token, 404 when no proxy of the
/// workload can be tapped, else request events as JSON lines until the
/// caller hangs up (which stops the tap).
async fn tap(
    State(api): State<Api>,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<crate::tap::TapQuery>,
) -> Response {
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !api.tap.authorized(auth) {
        return (
            StatusCode::UNAUTHORIZED,
            "tap needs the control plane's tap token (Authorization: Bearer <token>); `weft tap` reads it with --token-file\n",
        )
            .into_response();
    }
    match api.tap.open(&q) {
        Ok(open) => {
            use tokio_stream::StreamExt;
            // The body owns the tap: a caller hanging up drops it, which
            // stops the tap on every proxy.
            let lines = open.map(|e| {
                let mut line = serde_json::to_vec(&e).unwrap_or_default();
                line.push(b'\n');
                Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(line))
            });
            (
                [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")],
                axum::body::Body::from_stream(lines),
            )
                .into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, format!("{e}\n")).into_response(),
    }
}

/// Golden metrics rows (`weft stat`, `routes`, `edges`): 400 naming the
/// problem for a bad window.
async fn stat(
    State(api): State<Api>,
    axum::extract::Query(q): axum::extract::Query<crate::telemetry::StatQuery>,
) -> Response {
    match api.telemetry.stat(&q) {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response(),
    }
}

async fn config(State(api): State<Api>) -> impl IntoResponse {
    Json(api.store.status())
}

async fn apply(State(api): State<Api>, Json(sub): Json<Submission>) -> Response {
    // Validation of the whole set runs off the runtime's threads.
    changed(tokio::task::spawn_blocking(move || api.store.apply(&sub.name, &sub.text)).await)
}

async fn delete(State(api): State<Api>, Json(sub): Json<Submission>) -> Response {
    changed(tokio::task::spawn_blocking(move || api.store.delete(&sub.name, &sub.text)).await)
}

fn changed(r: Result<Result<crate::store::Change, Refused>, tokio::task::JoinError>) -> Response {
    match r {
        Ok(Ok(change)) => Json(change).into_response(),
        Ok(Err(refused)) => (StatusCode::UNPROCESSABLE_ENTITY, Json(refused)).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the change failed: {e}\n"),
        )
            .into_response(),
    }
}

async fn proxies(State(api): State<Api>) -> Json<Vec<ProxyStatus>> {
    Json(api.registry.list())
}

async fn services(State(api): State<Api>) -> Json<Vec<ServiceInfo>> {
    let generation = api.compiler.current();
    let mesh = &generation.mesh;
    let list = mesh
        .services
        .values()
        .map(|s| {
            let instances = mesh.instances_of(s);
            ServiceInfo {
                name: s.fqdn.clone(),
                namespace: s.namespace.clone(),
                addresses: s.vips.iter().map(ToString::to_string).collect(),
                ports: s
                    .ports
                    .iter()
                    .map(|p| format!("{}/{:?}", p.port, p.protocol).to_ascii_lowercase())
                    .collect(),
                endpoints: s
                    .ports
                    .iter()
                    .filter_map(|p| match p.target {
                        crate::model::Target::Port(t) => Some(t),
                        crate::model::Target::Named(_) => None,
                    })
                    .flat_map(|t| instances.iter().map(move |i| i.dial(t).to_string()))
                    .collect(),
                workloads: instances
                    .iter()
                    .filter_map(|i| i.workload.clone())
                    .collect::<std::collections::BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            }
        })
        .collect();
    Json(list)
}

async fn proxy_config(State(api): State<Api>, Path(id): Path<String>) -> Response {
    let found = api.registry.get(&id).or_else(|| {
        api.registry
            .list()
            .into_iter()
            .find(|p| p.workload == id || format!("{}.{}", p.workload, p.namespace) == id)
    });
    let Some(p) = found else {
        let msg = format!(
            "no connected proxy has id or workload {id:?}; `weft proxy-status` lists them\n"
        );
        return (StatusCode::NOT_FOUND, msg).into_response();
    };
    let mut dump = ProxyConfigDump {
        id: p.id.clone(),
        workload: p.workload.clone(),
        namespace: p.namespace.clone(),
        version: p.acked_version.clone(),
        listeners: p.node.listeners.iter().map(listener).collect(),
        services: Vec::new(),
        clusters: Vec::new(),
        inbound: Vec::new(),
        policies: Vec::new(),
        peer_authentication: None,
        tracing: None,
        access_log: None,
        gateway_servers: Vec::new(),
    };
    for r in p.held.iter().flat_map(|v| v.resources.values()) {
        match Typed::decode(r) {
            Ok(Typed::Service(s)) => dump.services.push(s),
            Ok(Typed::Cluster(c)) => dump.clusters.push(c),
            Ok(Typed::Inbound(i)) => dump.inbound.push(i),
            Ok(Typed::Authorization(a)) => dump.policies.push(a),
            Ok(Typed::PeerAuthentication(p)) => dump.peer_authentication = Some(p),
            Ok(Typed::GatewayServer(g)) => dump.gateway_servers.push(g),
            Ok(Typed::TrustRoots(_)) => {}
            Ok(Typed::Tracing(t)) => dump.tracing = Some(t),
            Ok(Typed::AccessLog(a)) => dump.access_log = Some(a),
            Err(e) => tracing::error!("a held resource does not decode: {e}"),
        }
    }
    Json(dump).into_response()
}

fn listener(l: &ListenerInfo) -> ListenerDump {
    ListenerDump {
        name: l.name.clone(),
        address: l.address.clone(),
        direction: l.direction.clone(),
        interception: l.interception.clone(),
        protocol: l.protocol.clone(),
    }
}
