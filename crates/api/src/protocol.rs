//! Which application protocol a port carries, as Istio decides it: from
//! `appProtocol`, from a port name of the form `<protocol>[-<suffix>]`, or
//! from a ServiceEntry/Gateway `protocol` field.

/// Protocols Istio reads from a port name, longest first so `grpc-web`
/// wins over `grpc`.
pub const PORT_PROTOCOLS: [&str; 11] = [
    "grpc-web", "http2", "https", "mongo", "mysql", "redis", "http", "grpc", "tcp", "tls", "udp",
];

/// What the data plane does with a port's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Http,
    Http2,
    Grpc,
    /// Opaque bytes: TCP (databases, anything undeclared as HTTP).
    Tcp,
    /// TLS the mesh passes through (`tls`, `https`): opaque bytes too,
    /// but routed by the ClientHello's server name (VirtualService `tls`
    /// rules apply to these ports, `tcp` rules to the others).
    Tls,
    /// Not declared: sniff each connection.
    Unknown,
}

impl Protocol {
    /// Opaque to the proxy: never parsed as HTTP.
    pub fn is_opaque(self) -> bool {
        matches!(self, Protocol::Tcp | Protocol::Tls)
    }
}

/// The protocol a port name declares, if any (`http-api` → `http`).
pub fn from_port_name(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    PORT_PROTOCOLS
        .iter()
        .find(|p| lower == **p || lower.starts_with(&format!("{p}-")))
        .copied()
}

/// Reads a protocol name as Istio spells it in port names, `appProtocol`
/// and ServiceEntry ports (`HTTP`, `http2`, `GRPC`, `kubernetes.io/h2c`).
pub fn parse(name: &str) -> Protocol {
    match name.to_ascii_lowercase().as_str() {
        "http" | "http1" => Protocol::Http,
        "http2" | "kubernetes.io/h2c" | "h2c" => Protocol::Http2,
        "grpc" | "grpc-web" => Protocol::Grpc,
        "tls" | "https" => Protocol::Tls,
        "tcp" | "mongo" | "mysql" | "redis" | "kubernetes.io/ws" | "kubernetes.io/wss" => {
            Protocol::Tcp
        }
        _ => Protocol::Unknown,
    }
}

/// A Kubernetes Service port's protocol: `appProtocol` first, then the
/// name's prefix.
pub fn of_service_port(app_protocol: Option<&str>, name: Option<&str>) -> Protocol {
    if let Some(p) = app_protocol {
        return parse(p);
    }
    name.and_then(from_port_name)
        .map_or(Protocol::Unknown, parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_protocols() {
        assert_eq!(from_port_name("http"), Some("http"));
        assert_eq!(from_port_name("http-web"), Some("http"));
        assert_eq!(from_port_name("grpc-web"), Some("grpc-web"));
        assert_eq!(from_port_name("GRPC"), Some("grpc"));
        assert_eq!(from_port_name("httpx"), None);
        assert_eq!(from_port_name("3550"), None);
    }

    #[test]
    fn app_protocol_wins_over_the_name() {
        assert_eq!(
            of_service_port(Some("kubernetes.io/h2c"), Some("tcp")),
            Protocol::Http2
        );
        assert_eq!(of_service_port(None, Some("grpc-api")), Protocol::Grpc);
        assert_eq!(of_service_port(None, Some("mysql")), Protocol::Tcp);
        assert_eq!(of_service_port(None, Some("web")), Protocol::Unknown);
        assert_eq!(parse("HTTPS"), Protocol::Tls);
        assert_eq!(of_service_port(None, Some("tls-istiod")), Protocol::Tls);
    }
}
