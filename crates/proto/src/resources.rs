//! The pieces of a proxy's config that the control plane pushes, as typed,
//! versioned resources on the config stream (see `proto/weft/mesh/v1`).
//!
//! A body is the JSON of the `config` type its `type_url` names: the same
//! model the static config file is written in, so `/config_dump`, the file
//! and the wire all say the same thing.

use std::hash::{Hash, Hasher};

use crate::config::{
    AccessLog, AuthorizationPolicy, Cluster, GatewayServer, InboundPort, PeerAuthentication,
    ProxyConfig, Service, Tracing, TrustRoots,
};
use crate::discovery::{Resource, ResourceName};

pub const SERVICE: &str = "weft.dev/Service";
pub const CLUSTER: &str = "weft.dev/Cluster";
pub const INBOUND: &str = "weft.dev/InboundPort";
pub const AUTHORIZATION: &str = "weft.dev/AuthorizationPolicy";
pub const PEER_AUTHENTICATION: &str = "weft.dev/PeerAuthentication";
/// One port of an ingress gateway, named by its port number.
pub const GATEWAY_SERVER: &str = "weft.dev/GatewayServer";

pub const TRUST_ROOTS: &str = "weft.dev/TrustRoots";
/// Mesh-wide tracing (`weft control --tracing-otlp-endpoint`); one per
/// proxy, named `default`.
pub const TRACING: &str = "weft.dev/Tracing";
/// Access logging for this proxy (Istio's `Telemetry` `accessLogging`);
/// one per view, present only when logging is on.
pub const ACCESS_LOG: &str = "weft.dev/AccessLog";

/// The one PeerAuthentication (and TrustRoots) resource a proxy holds is
/// named this.
pub const PEER_AUTHENTICATION_NAME: &str = "default";

/// One pushable resource.
#[derive(Debug, Clone, PartialEq)]
pub enum Typed {
    Service(Service),
    Cluster(Cluster),
    Inbound(InboundPort),
    Authorization(AuthorizationPolicy),
    /// The mTLS mode of this workload's inbound side.
    PeerAuthentication(PeerAuthentication),
    /// What a gateway serves on one gateway port.
    GatewayServer(GatewayServer),
    /// The trust bundle, pushed so a root rotation reaches every proxy at
    /// once. Not part of the proxy's config: it goes to its credentials.
    TrustRoots(TrustRoots),
    /// Where spans go and how many requests are sampled: the `tracing`
    /// section of the proxy's config.
    Tracing(Tracing),
    /// The proxy writes access logs: on when present.
    AccessLog(AccessLog),
}

/// A body that does not decode as its type says.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown resource type {0:?}")]
    UnknownType(String),
    #[error("{type_url} {name:?} does not decode: {source}")]
    Body {
        type_url: String,
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{type_url} named {name:?} decodes to one named {actual:?}")]
    NameMismatch {
        type_url: String,
        name: String,
        actual: String,
    },
}

/// A pushed resource whose name the static config file already uses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{type_url} {name:?} is defined both in the config file and by the control plane; remove it from the file"
)]
pub struct ConflictError {
    pub type_url: &'static str,
    pub name: String,
}

/// The config a proxy runs: its static file plus what the control plane
/// pushed. A pushed resource never silently replaces one from the file:
/// the same name in both is refused, and the push is NACKed.
///
/// Cost: one clone of every resource, static and pushed.
pub fn compose<'a>(
    base: &ProxyConfig,
    pushed: impl IntoIterator<Item = &'a Typed>,
) -> Result<ProxyConfig, ConflictError> {
    let mut out = base.clone();
    let conflict = |type_url, name: &str| ConflictError {
        type_url,
        name: name.to_string(),
    };
    for t in pushed {
        match t {
            Typed::Service(s) => {
                if base.services.iter().any(|b| b.name == s.name) {
                    return Err(conflict(SERVICE, &s.name));
                }
                out.services.push(s.clone());
            }
            Typed::Cluster(c) => {
                if base.clusters.iter().any(|b| b.name == c.name) {
                    return Err(conflict(CLUSTER, &c.name));
                }
                out.clusters.push(c.clone());
            }
            Typed::Inbound(p) => {
                if base.inbound.iter().any(|b| b.port == p.port) {
                    return Err(conflict(INBOUND, &p.port.to_string()));
                }
                out.inbound.push(p.clone());
            }
            Typed::Authorization(a) => {
                if base.authorization.iter().any(|b| b.name == a.name) {
                    return Err(conflict(AUTHORIZATION, &a.name));
                }
                out.authorization.push(a.clone());
            }
            Typed::PeerAuthentication(p) => {
                if base.peer_authentication.is_some() {
                    return Err(conflict(PEER_AUTHENTICATION, PEER_AUTHENTICATION_NAME));
                }
                out.peer_authentication = Some(p.clone());
            }
            Typed::GatewayServer(g) => {
                if base.gateway_servers.iter().any(|b| b.port == g.port) {
                    return Err(conflict(GATEWAY_SERVER, &g.port.to_string()));
                }
                out.gateway_servers.push(g.clone());
            }
            Typed::TrustRoots(_) => {}
            Typed::Tracing(t) => {
                if base.tracing.is_some() {
                    return Err(conflict(TRACING, PEER_AUTHENTICATION_NAME));
                }
                out.tracing = Some(t.clone());
            }
            // The file's own `access_log` (an operator's choice for this
            // proxy) stands; the control plane's turns it on otherwise.
            Typed::AccessLog(a) => {
                if base.access_log.is_none() {
                    out.access_log = Some(a.clone());
                }
            }
        }
    }
    Ok(out)
}

// === impl Typed ===

impl Typed {
    pub fn type_url(&self) -> &'static str {
        match self {
            Typed::Service(_) => SERVICE,
            Typed::Cluster(_) => CLUSTER,
            Typed::Inbound(_) => INBOUND,
            Typed::Authorization(_) => AUTHORIZATION,
            Typed::PeerAuthentication(_) => PEER_AUTHENTICATION,
            Typed::GatewayServer(_) => GATEWAY_SERVER,
            Typed::TrustRoots(_) => TRUST_ROOTS,
            Typed::Tracing(_) => TRACING,
            Typed::AccessLog(_) => ACCESS_LOG,
        }
    }

    /// The resource's name, unique within its type: a service's or
    /// cluster's name, an inbound or gateway port's number.
    pub fn name(&self) -> String {
        match self {
            Typed::Service(s) => s.name.clone(),
            Typed::Cluster(c) => c.name.clone(),
            Typed::Inbound(p) => p.port.to_string(),
            Typed::GatewayServer(g) => g.port.to_string(),
            Typed::Authorization(a) => a.name.clone(),
            Typed::PeerAuthentication(_)
            | Typed::TrustRoots(_)
            | Typed::Tracing(_)
            | Typed::AccessLog(_) => PEER_AUTHENTICATION_NAME.to_string(),
        }
    }

    pub fn key(&self) -> ResourceName {
        ResourceName {
            type_url: self.type_url().to_string(),
            name: self.name(),
        }
    }

    /// The wire form. The version is a hash of the body, so it changes
    /// exactly when the content does.
    pub fn encode(&self) -> Resource {
        let body = match self {
            Typed::Service(s) => serde_json::to_vec(s),
            Typed::Cluster(c) => serde_json::to_vec(c),
            Typed::Inbound(p) => serde_json::to_vec(p),
            Typed::Authorization(a) => serde_json::to_vec(a),
            Typed::PeerAuthentication(p) => serde_json::to_vec(p),
            Typed::GatewayServer(g) => serde_json::to_vec(g),
            Typed::TrustRoots(r) => serde_json::to_vec(r),
            Typed::Tracing(t) => serde_json::to_vec(t),
            Typed::AccessLog(a) => serde_json::to_vec(a),
        }
        // Serializing these plain structs cannot fail: map keys are
        // strings or integers (written as strings), no custom serializers that error.
        .unwrap_or_default();
        let mut h = std::hash::DefaultHasher::new();
        body.hash(&mut h);
        Resource {
            type_url: self.type_url().to_string(),
            name: self.name(),
            version: format!("{:016x}", h.finish()),
            body: body.into(),
        }
    }

    pub fn decode(r: &Resource) -> Result<Self, DecodeError> {
        let err = |source| DecodeError::Body {
            type_url: r.type_url.clone(),
            name: r.name.clone(),
            source,
        };
        let typed = match r.type_url.as_str() {
            SERVICE => Typed::Service(serde_json::from_slice(&r.body).map_err(err)?),
            CLUSTER => Typed::Cluster(serde_json::from_slice(&r.body).map_err(err)?),
            INBOUND => Typed::Inbound(serde_json::from_slice(&r.body).map_err(err)?),
            AUTHORIZATION => Typed::Authorization(serde_json::from_slice(&r.body).map_err(err)?),
            PEER_AUTHENTICATION => {
                Typed::PeerAuthentication(serde_json::from_slice(&r.body).map_err(err)?)
            }
            GATEWAY_SERVER => Typed::GatewayServer(serde_json::from_slice(&r.body).map_err(err)?),
            TRUST_ROOTS => Typed::TrustRoots(serde_json::from_slice(&r.body).map_err(err)?),
            TRACING => Typed::Tracing(serde_json::from_slice(&r.body).map_err(err)?),
            ACCESS_LOG => Typed::AccessLog(serde_json::from_slice(&r.body).map_err(err)?),
            other => return Err(DecodeError::UnknownType(other.to_string())),
        };
        let actual = typed.name();
        if actual != r.name {
            return Err(DecodeError::NameMismatch {
                type_url: r.type_url.clone(),
                name: r.name.clone(),
                actual,
            });
        }
        Ok(typed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Endpoint, ProxyConfig};

    fn cluster() -> Cluster {
        let cfg = ProxyConfig::from_yaml(
            "t.yaml",
            "listeners: []\nclusters: [{ name: reviews-v1, endpoints: [{ address: 10.0.0.1:9080 }] }]\n",
        )
        .unwrap();
        cfg.clusters[0].clone()
    }

    #[test]
    fn round_trips_and_versions_follow_content() {
        let c = cluster();
        let wire = Typed::Cluster(c.clone()).encode();
        assert_eq!(
            (wire.type_url.as_str(), wire.name.as_str()),
            (CLUSTER, "reviews-v1")
        );
        assert_eq!(Typed::decode(&wire).unwrap(), Typed::Cluster(c.clone()));
        assert_eq!(Typed::Cluster(c.clone()).encode().version, wire.version);
        let mut changed = c;
        changed.endpoints.push(Endpoint {
            address: "10.0.0.2:9080".parse().unwrap(),
            ..changed.endpoints[0].clone()
        });
        assert_ne!(Typed::Cluster(changed).encode().version, wire.version);
    }

    #[test]
    fn peer_authentication_round_trips_with_port_overrides() {
        use crate::config::{MtlsMode, PeerAuthentication};
        let pa = Typed::PeerAuthentication(PeerAuthentication {
            mode: MtlsMode::Strict,
            ports: [(9080, MtlsMode::Disable)].into(),
        });
        let wire = pa.encode();
        assert_eq!(wire.name, PEER_AUTHENTICATION_NAME);
        assert_eq!(Typed::decode(&wire).unwrap(), pa);
        let base = ProxyConfig::from_yaml("t.yaml", "listeners: []\n").unwrap();
        let out = compose(&base, [&pa]).unwrap();
        assert_eq!(out.peer_authentication.unwrap().mode, MtlsMode::Strict);
    }

    #[test]
    fn compose_adds_pushed_resources_and_refuses_conflicts() {
        let base = ProxyConfig::from_yaml(
            "t.yaml",
            "listeners: []\nclusters: [{ name: local, endpoints: [{ address: 127.0.0.1:80 }] }]\n",
        )
        .unwrap();
        let pushed = [Typed::Cluster(cluster())];
        let out = compose(&base, &pushed).unwrap();
        let names: Vec<&str> = out.clusters.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["local", "reviews-v1"]);
        let mut clash = cluster();
        clash.name = "local".into();
        let err = compose(&base, &[Typed::Cluster(clash)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "weft.dev/Cluster \"local\" is defined both in the config file and by the control plane; remove it from the file"
        );
    }

    #[test]
    fn pushed_access_logging_turns_it_on_unless_the_file_chose() {
        let typed = Typed::AccessLog(AccessLog::default());
        let wire = typed.encode();
        assert_eq!(wire.type_url, ACCESS_LOG);
        assert_eq!(Typed::decode(&wire).unwrap(), typed);
        let plain = ProxyConfig::from_yaml("t.yaml", "listeners: []\n").unwrap();
        let out = compose(&plain, std::slice::from_ref(&typed)).unwrap();
        assert_eq!(out.access_log, Some(AccessLog::default()));
        let own = ProxyConfig::from_yaml(
            "t.yaml",
            "listeners: []\naccess_log: { path: /var/log/weft.log }\n",
        )
        .unwrap();
        let out = compose(&own, &[typed]).unwrap();
        assert_eq!(out.access_log.unwrap().path, "/var/log/weft.log");
    }

    #[test]
    fn pushed_tracing_round_trips_and_never_replaces_the_files() {
        let with = ProxyConfig::from_yaml(
            "t.yaml",
            "listeners: []\ntracing: { otlp: { endpoint: \"127.0.0.1:4317\" }, sampling: 5 }\n",
        )
        .unwrap();
        let typed = Typed::Tracing(with.tracing.clone().unwrap());
        let wire = typed.encode();
        assert_eq!(
            (wire.type_url.as_str(), wire.name.as_str()),
            (TRACING, "default")
        );
        assert_eq!(Typed::decode(&wire).unwrap(), typed);

        let without = ProxyConfig::from_yaml("t.yaml", "listeners: []\n").unwrap();
        let out = compose(&without, [&typed]).unwrap();
        assert_eq!(out.tracing, with.tracing);
        let err = compose(&with, [&typed]).unwrap_err();
        assert_eq!(err.type_url, TRACING);
    }

    #[test]
    fn gateway_servers_are_named_by_port_and_never_replace_the_files() {
        let base = ProxyConfig::from_yaml(
            "t.yaml",
            "listeners: []\ngateway_servers: [{ port: 443, virtual_hosts: [] }]\n",
        )
        .unwrap();
        let mut server = base.gateway_servers[0].clone();
        server.port = 80;
        let pushed = Typed::GatewayServer(server);
        let wire = pushed.encode();
        assert_eq!(
            (wire.type_url.as_str(), wire.name.as_str()),
            (GATEWAY_SERVER, "80")
        );
        assert_eq!(Typed::decode(&wire).unwrap(), pushed);
        let out = compose(&base, [&pushed]).unwrap();
        let ports: Vec<u16> = out.gateway_servers.iter().map(|g| g.port).collect();
        assert_eq!(ports, [443, 80]);
        let clash = Typed::GatewayServer(base.gateway_servers[0].clone());
        assert_eq!(compose(&base, [&clash]).unwrap_err().name, "443");
    }

    #[test]
    fn a_name_that_disagrees_with_the_body_is_refused() {
        let mut wire = Typed::Cluster(cluster()).encode();
        wire.name = "other".into();
        assert!(matches!(
            Typed::decode(&wire),
            Err(DecodeError::NameMismatch { .. })
        ));
        wire.type_url = "weft.dev/Nope".into();
        assert!(matches!(
            Typed::decode(&wire),
            Err(DecodeError::UnknownType(_))
        ));
    }
}
