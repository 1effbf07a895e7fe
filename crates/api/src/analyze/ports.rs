//! Service port names: Istio picks a port's protocol from `appProtocol` or
//! from a name of the form `<protocol>[-<suffix>]`.

use super::{Index, finding};
use crate::finding::{Finding, Severity};
use crate::kinds::Spec;

/// Protocols Istio reads from a port name, longest first so `grpc-web`
/// wins over `grpc`.
pub const PORT_PROTOCOLS: [&str; 11] = [
    "grpc-web", "http2", "https", "mongo", "mysql", "redis", "http", "grpc", "tcp", "tls", "udp",
];

/// The protocol a port name declares, if any (`http-api` → `http`).
pub fn protocol_of(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    PORT_PROTOCOLS
        .iter()
        .find(|p| lower == **p || lower.starts_with(&format!("{p}-")))
        .copied()
}

pub(super) fn check(index: &Index<'_>, out: &mut Vec<Finding>) {
    for r in index.resources {
        let Spec::Service(svc) = &r.spec else {
            continue;
        };
        for (i, p) in svc.ports.iter().enumerate() {
            if p.app_protocol.is_some()
                || p.protocol
                    .as_deref()
                    .is_some_and(|pr| pr.eq_ignore_ascii_case("UDP"))
            {
                continue;
            }
            let name = p.name.as_deref().unwrap_or_default();
            if protocol_of(name).is_some() {
                continue;
            }
            let what = if name.is_empty() {
                "this port has no name".to_string()
            } else {
                format!("port name `{name}` does not name a protocol")
            };
            out.push(finding(
                r,
                Severity::Warning,
                "port-name",
                &format!("spec.ports[{i}].name"),
                format!("{what}: name it `<protocol>[-<suffix>]` (such as `http-web` or `grpc`) or set `appProtocol`; until then weft detects the protocol, and a server-first protocol waits for the detection timeout"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_protocols() {
        assert_eq!(protocol_of("http"), Some("http"));
        assert_eq!(protocol_of("http-web"), Some("http"));
        assert_eq!(protocol_of("grpc-web"), Some("grpc-web"));
        assert_eq!(protocol_of("GRPC"), Some("grpc"));
        assert_eq!(protocol_of("httpx"), None);
        assert_eq!(protocol_of("3550"), None);
    }
}
