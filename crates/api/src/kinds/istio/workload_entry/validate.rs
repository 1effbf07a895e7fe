//! What makes a WorkloadEntry (or a ServiceEntry endpoint) impossible, after
//! Istio's `validateWorkloadEntry` (`pkg/config/validation`) and the CRD's
//! rules.

use std::collections::BTreeSet;

use super::net::{self, UNIX_PREFIX};
use super::*;
use crate::check::{Check, Validate};

/// Where an endpoint is read: alone, or inside a ServiceEntry whose
/// resolution decides what its address may be.
#[derive(Debug, Clone, Copy)]
pub(crate) enum EndpointOf<'a> {
    /// A WorkloadEntry resource: IP, DNS name or Unix socket.
    Resource,
    /// A `STATIC` ServiceEntry's endpoint: IP or Unix socket, ports named
    /// after the entry's ports.
    Static(&'a BTreeSet<&'a str>),
    /// A `DNS`/`DNS_ROUND_ROBIN` ServiceEntry's endpoint: IP or DNS name.
    Dns(&'a BTreeSet<&'a str>),
}

impl Validate for WorkloadEntry {
    fn validate(&self, cx: &mut Check<'_>) {
        self.check(cx, "spec", EndpointOf::Resource);
    }
}

// === impl WorkloadEntry ===

impl WorkloadEntry {
    pub(crate) fn check(&self, cx: &mut Check<'_>, path: &str, of: EndpointOf<'_>) {
        let address = self.address.as_deref().unwrap_or_default();
        let at = format!("{path}.address");
        if address.is_empty() {
            // Istio: an endpoint in another network may leave its address
            // to that network's gateway.
            if self.network.as_deref().unwrap_or_default().is_empty()
                || matches!(of, EndpointOf::Dns(_))
            {
                cx.error("address", &at, "an address is required; set `address` (an IP address) or, for a workload in another network, `network`");
            }
        } else if let Some(socket) = address.strip_prefix(UNIX_PREFIX) {
            if matches!(of, EndpointOf::Dns(_)) {
                cx.error("address", &at, format!("{address} is a Unix socket, which DNS resolution cannot reach; use resolution STATIC"));
            } else if let Err(why) = net::unix_address(socket) {
                cx.error("address", &at, why);
            }
            if !self.ports.is_empty() {
                cx.error(
                    "address",
                    format!("{path}.ports"),
                    "a Unix socket endpoint has no ports; remove `ports`",
                );
            }
            if let EndpointOf::Static(declared) = of
                && declared.len() != 1
            {
                cx.error("address", &at, format!("a Unix socket endpoint needs its ServiceEntry to have exactly one port (it has {})", declared.len()));
            }
        } else if !net::is_ip(address) {
            match of {
                EndpointOf::Static(_) => cx.error(
                    "address",
                    &at,
                    format!("{address:?} is not an IP address, which resolution STATIC needs; use an IP, or resolution DNS for a DNS name"),
                ),
                EndpointOf::Resource | EndpointOf::Dns(_) => {
                    if net::fqdn(address).is_err() {
                        cx.error(
                            "address",
                            &at,
                            format!("{address:?} is neither an IP address nor a DNS name; write an IP such as `10.0.0.5` or a name such as `vm1.corp.example.com`"),
                        );
                    }
                }
            }
        }

        let declared = match of {
            EndpointOf::Resource => None,
            EndpointOf::Static(p) | EndpointOf::Dns(p) => Some(p),
        };
        for (name, port) in &self.ports {
            let at = net::key_path(&format!("{path}.ports"), name);
            if let Some(declared) = declared
                && !declared.contains(name.as_str())
            {
                let known = declared
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let known = if known.is_empty() {
                    "none; add the port to `ports`".to_string()
                } else {
                    known
                };
                cx.error("endpoint-port", &at, format!("`{name}` is not a port of this ServiceEntry; endpoint ports are keyed by the entry's port names ({known})"));
            }
            net::port_name(cx, &at, name);
            net::port(cx, &at, *port);
        }
        net::labels(cx, &format!("{path}.labels"), &self.labels);
        if let Some(sa) = &self.service_account
            && sa.len() > 253
        {
            cx.error(
                "service-account",
                format!("{path}.serviceAccount"),
                "a service account name is at most 253 characters",
            );
        }
    }
}
