//! What makes a ServiceEntry impossible on its own, after Istio's
//! `ValidateServiceEntry` (`pkg/config/validation`) and the CRD's rules.

use std::collections::BTreeSet;

use super::super::workload_entry::net::{self, Protocol};
use super::super::workload_entry::validate::EndpointOf;
use super::*;
use crate::check::{Check, Validate};

impl Validate for ServiceEntry {
    fn validate(&self, cx: &mut Check<'_>) {
        let resolution = self.resolution.unwrap_or_default();
        if let Some(sel) = &self.workload_selector {
            net::selector(cx, "spec.workloadSelector", "labels", &sel.labels);
            if !self.endpoints.is_empty() {
                cx.error(
                    "selector",
                    "spec.workloadSelector",
                    "set `workloadSelector` or `endpoints`, not both",
                );
            }
        }

        if self.hosts.is_empty() {
            cx.error(
                "hosts",
                "spec",
                "a ServiceEntry needs `hosts`, such as `hosts: [api.example.com]`",
            );
        }
        for (i, host) in self.hosts.iter().enumerate() {
            let at = format!("spec.hosts[{i}]");
            if host == "*" {
                cx.error(
                    "host",
                    &at,
                    "`*` is not allowed; name the hosts, such as `*.example.com`",
                );
            } else if let Err(why) = net::wildcard_domain(host) {
                cx.error("host", &at, why);
            } else if let Err(why) = net::partial_wildcard(host) {
                cx.warn("host", &at, why);
            }
        }

        let mut cidr = None;
        for (i, address) in self.addresses.iter().enumerate() {
            let at = format!("spec.addresses[{i}]");
            if !net::ip_or_cidr(address) {
                cx.error("address", &at, format!("{address:?} is not an IP address or CIDR block, such as `10.0.0.5` or `192.168.0.0/16`"));
            } else if address.contains('/') {
                cidr.get_or_insert(at);
            }
        }
        if let Some(at) = cidr
            && !matches!(
                resolution,
                ServiceEntryResolution::None | ServiceEntryResolution::Static
            )
        {
            cx.error("address", at, "CIDR addresses need resolution NONE or STATIC; list single IPs or change `resolution`");
        }

        let mut names = BTreeSet::new();
        let mut numbers = BTreeSet::new();
        let mut protocols = Vec::new();
        for (i, p) in self.ports.iter().enumerate() {
            let at = format!("spec.ports[{i}]");
            if p.name.is_empty() {
                cx.error(
                    "port-name",
                    format!("{at}.name"),
                    "a port needs a `name`, such as `http`; endpoints refer to ports by name",
                );
            } else {
                if !names.insert(p.name.as_str()) {
                    cx.error(
                        "port-name",
                        format!("{at}.name"),
                        format!(
                            "port name `{}` is used twice; give each port its own name",
                            p.name
                        ),
                    );
                }
                net::port_name(cx, &format!("{at}.name"), &p.name);
            }
            if !numbers.insert(p.number) {
                cx.error(
                    "port",
                    format!("{at}.number"),
                    format!("port {} is listed twice; list each port once", p.number),
                );
            }
            net::port(cx, &format!("{at}.number"), p.number);
            if let Some(t) = p.target_port {
                net::port(cx, &format!("{at}.targetPort"), t);
                if resolution == ServiceEntryResolution::None {
                    cx.warn("target-port", format!("{at}.targetPort"), "targetPort has no effect with resolution NONE; traffic goes to the port the caller used");
                }
            }
            protocols.push(net::protocol(
                cx,
                &format!("{at}.protocol"),
                p.protocol.as_deref().unwrap_or_default(),
            ));
        }

        self.check_resolution(cx, resolution, &names, &protocols);

        // Istio: plain TCP cannot tell hosts apart (no Host header, no SNI),
        // so several hosts need HTTP or TLS ports unless nothing is resolved.
        if resolution != ServiceEntryResolution::None && self.hosts.len() > 1 {
            let opaque = protocols
                .iter()
                .position(|p| !p.is_some_and(|p| p.is_http() || p.is_tls()));
            if let Some(i) = opaque {
                cx.error(
                    "multiple-hosts",
                    format!("spec.ports[{i}]"),
                    "several hosts cannot share a port that is neither HTTP nor TLS (nothing tells them apart); use one host per ServiceEntry or an HTTP/TLS protocol",
                );
            }
        }

        net::export_to(cx, "spec.exportTo", &self.export_to, true);
    }
}

// === impl ServiceEntry ===

impl ServiceEntry {
    fn check_resolution(
        &self,
        cx: &mut Check<'_>,
        resolution: ServiceEntryResolution,
        ports: &BTreeSet<&str>,
        protocols: &[Option<Protocol>],
    ) {
        let at = if self.resolution.is_some() {
            "spec.resolution"
        } else {
            "spec"
        };
        match resolution {
            ServiceEntryResolution::None => {
                if !self.endpoints.is_empty() {
                    cx.error("endpoints", "spec.endpoints", "resolution NONE takes no endpoints; remove `endpoints` or set `resolution: STATIC` (or DNS)");
                }
                if self.workload_selector.is_some() {
                    cx.warn("selector", "spec.workloadSelector", "workloadSelector has no effect with resolution NONE; set `resolution: STATIC`");
                }
            }
            ServiceEntryResolution::Static => {
                if self.endpoints.is_empty() && self.workload_selector.is_none() {
                    cx.warn(
                        "endpoints",
                        at,
                        "resolution STATIC without `endpoints` or `workloadSelector` has no endpoints to send to; add either",
                    );
                }
                for (i, e) in self.endpoints.iter().enumerate() {
                    e.check(
                        cx,
                        &format!("spec.endpoints[{i}]"),
                        EndpointOf::Static(ports),
                    );
                }
            }
            ServiceEntryResolution::Dns | ServiceEntryResolution::DnsRoundRobin => {
                let mode = if resolution == ServiceEntryResolution::Dns {
                    "DNS"
                } else {
                    "DNS_ROUND_ROBIN"
                };
                if self.endpoints.is_empty() {
                    for (i, host) in self.hosts.iter().enumerate() {
                        if host != "*"
                            && net::wildcard_domain(host).is_ok()
                            && net::fqdn(host).is_err()
                        {
                            cx.error(
                                "dns-host",
                                format!("spec.hosts[{i}]"),
                                format!("with resolution {mode} and no endpoints the host itself is resolved, so {host:?} must be a DNS name without wildcards; use resolution NONE (or DYNAMIC_DNS) for wildcards"),
                            );
                        }
                    }
                }
                if resolution == ServiceEntryResolution::DnsRoundRobin && self.endpoints.len() > 1 {
                    cx.error("endpoints", "spec.endpoints", "resolution DNS_ROUND_ROBIN takes at most one endpoint; use resolution DNS for several");
                }
                for (i, e) in self.endpoints.iter().enumerate() {
                    e.check(cx, &format!("spec.endpoints[{i}]"), EndpointOf::Dns(ports));
                }
                if self.workload_selector.is_some() {
                    cx.warn("selector", "spec.workloadSelector", format!("workloadSelector has no effect with resolution {mode}; use resolution STATIC"));
                }
                if !self.addresses.is_empty()
                    && self.hosts.len() > 1
                    && protocols.iter().any(|p| p.is_some_and(Protocol::is_tcp))
                {
                    cx.warn("multiple-hosts", "spec.hosts", "several hosts with `addresses` and a TCP port cannot be told apart; use one host per ServiceEntry");
                }
            }
            // Newer than the validation weft follows: only the general
            // checks above apply.
            ServiceEntryResolution::DynamicDns => {}
        }
    }
}
