use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::defaults;

/// A socket the proxy accepts connections on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    pub name: String,
    pub address: SocketAddr,
    pub direction: Direction,
    /// How the proxy learns where a connection was headed.
    #[serde(default)]
    pub interception: Interception,
    #[serde(default)]
    pub protocol: ListenerProtocol,
    /// How long protocol detection waits for the client's first bytes
    /// before treating the connection as opaque TCP.
    #[serde(default = "defaults::detect_timeout", with = "crate::duration::serde")]
    pub detect_timeout: Duration,
    /// Destination ports that skip detection and are proxied as opaque TCP
    /// (server-speaks-first protocols such as MySQL and SMTP).
    #[serde(default)]
    pub opaque_ports: Vec<u16>,
    /// Outbound only: send every connection to this `host:port`, as if the
    /// client had asked for it (a per-upstream local port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Inbound: the workload port connections on this listener are for,
    /// when there is no original destination to read it from. Gateway:
    /// the gateway port its requests count as (a Gateway server's port,
    /// e.g. 80 or 443), when it binds another; the bound port otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u16>,
    /// Inbound only: where the app behind `target_port` actually listens,
    /// when not `127.0.0.1:<target_port>`. `weft up`'s explicit mode gives
    /// each app a free local port while services still name the declared
    /// one (9080).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_address: Option<SocketAddr>,
    /// Gateway only: terminate TLS for clients with this certificate
    /// (HTTPS; ALPN h2 and http/1.1), whatever the gateway port's pushed
    /// config says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<super::ServerTls>,
}

/// Which way traffic flows through a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the local app to the mesh (`reporter="source"`).
    Outbound,
    /// From the mesh to the local app (`reporter="destination"`).
    Inbound,
    /// From clients outside the mesh into it: an ingress gateway, routing
    /// by Host among its gateway port's virtual hosts
    /// (`reporter="source"`, as Istio's gateways report).
    Gateway,
}

/// How a listener finds each connection's destination.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interception {
    /// Clients address the proxy itself: HTTP proxy semantics (Host header,
    /// absolute-form URIs, CONNECT), or a fixed `destination`/`target_port`.
    #[default]
    Explicit,
    /// Connections were redirected by iptables; the destination is the
    /// socket's `SO_ORIGINAL_DST`.
    Transparent,
}

/// The protocol a listener expects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListenerProtocol {
    /// Sniff TLS / HTTP/2 / HTTP/1 / anything else per connection.
    #[default]
    Detect,
    Http1,
    Http2,
    /// Opaque TCP; no detection.
    Tcp,
}
