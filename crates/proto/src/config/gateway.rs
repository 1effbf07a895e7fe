//! Ingress gateway config: what a proxy in gateway mode serves on each
//! gateway port (the virtual hosts and their routes, Envoy's route
//! configuration), and the TLS it terminates for clients outside the mesh.
//!
//! The control plane compiles these from Istio `Gateway` servers with the
//! VirtualServices bound to them, and from Gateway API `Gateway` listeners
//! with their `HTTPRoute`s; a static file may write them too.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::HttpRoute;

/// One port of an ingress gateway: every server (Istio) or listener
/// (Gateway API) on that port, merged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayServer {
    /// The gateway port (a Gateway server's `port.number`, a Gateway API
    /// listener's `port`). Gateway listeners whose `target_port` is this
    /// serve it, whatever address they bind.
    pub port: u16,
    /// TLS terminated for clients (Istio's `SIMPLE`): the certificate
    /// chain and key files, read by the proxy. Unset: plaintext HTTP,
    /// unless the listener has its own `tls`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ServerTls>,
    /// Requests pick one by their Host: an exact name beats a wildcard,
    /// a longer wildcard suffix beats a shorter one, and `*` takes the
    /// rest. No virtual host for the Host: 404 `NR`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub virtual_hosts: Vec<VirtualHost>,
    /// Connections passed through as they are (Istio's TLS `PASSTHROUGH`
    /// and TCP servers): chosen by SNI (most specific pattern first)
    /// before any TLS is terminated. A connection that no route takes is
    /// served as HTTP (terminating `tls` if set) when the port has
    /// virtual hosts, and closed (`NR`) when it has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tcp_routes: Vec<super::TcpRoute>,
    /// One token bucket for every HTTP request on this gateway port; a
    /// route's own `rate_limit` replaces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<super::LocalRateLimit>,
}

/// Names clients use for a set of routes on one gateway port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtualHost {
    /// Informational (config dumps, `NR` details).
    pub name: String,
    /// `bookinfo.example.com`, `*.example.com` (any subdomain, not the
    /// domain itself) or `*`; case-insensitive. A host belongs to one
    /// virtual host of a port only.
    pub hosts: Vec<String>,
    /// Tried in order; the first match wins. None matching: 404 `NR`.
    #[serde(default)]
    pub routes: Vec<HttpRoute>,
}

/// A server certificate and its key, as PEM files on the proxy's host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerTls {
    /// The certificate chain, leaf first.
    pub certificate: PathBuf,
    /// PKCS#8, PKCS#1 or SEC1 PEM.
    pub private_key: PathBuf,
}
