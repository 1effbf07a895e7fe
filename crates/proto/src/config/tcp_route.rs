//! Routes for opaque connections: TCP, and TLS the proxy passes through
//! unread (Istio VirtualService `tcp` and `tls` rules, Gateway API
//! `TCPRoute`). A connection has no requests, so it is routed once, by
//! what is known when it opens: its port, and for TLS the server name
//! (SNI) its ClientHello asks for.

use serde::{Deserialize, Serialize};

use super::Backend;

/// Where a connection goes when it matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpRoute {
    /// Informational (config dumps, logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The TLS server names (SNI) this route takes: `db.example.com`,
    /// `*.example.com` (any subdomain) or `*` (every connection, with or
    /// without SNI); case-insensitive. The most specific pattern among a
    /// port's routes wins, as Envoy's `server_names` filter-chain match.
    /// Empty: every connection (a TCP route).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sni: Vec<String>,
    /// Weighted destinations, one picked per connection. `headers` has
    /// no meaning here and is refused.
    pub backends: Vec<Backend>,
}

// === impl TcpRoute ===

impl TcpRoute {
    /// Whether choosing among `routes` needs the connection's SNI.
    pub fn need_sni(routes: &[TcpRoute]) -> bool {
        routes.iter().any(|r| r.sni.iter().any(|s| s != "*"))
    }
}
