//! Service port names: Istio picks a port's protocol from `appProtocol` or
//! from a name of the form `<protocol>[-<suffix>]`.

use super::{Index, finding};
use crate::finding::{Finding, Severity};
use crate::kinds::Spec;

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
            if crate::protocol::from_port_name(name).is_some() {
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
