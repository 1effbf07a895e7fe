//! What makes a Sidecar impossible on its own, after Istio's
//! `ValidateSidecar` (`pkg/config/validation`).

use std::collections::{BTreeMap, BTreeSet};

use super::super::ServerTlsMode;
use super::super::workload_entry::net::{self, Protocol, UNIX_PREFIX};
use super::*;
use crate::check::{Check, Validate};

/// Hosts a `defaultEndpoint` may name: the workload's own loopback or
/// wildcard address.
const LOCAL_HOSTS: [&str; 5] = ["", "127.0.0.1", "0.0.0.0", "::1", "::"];

impl Validate for Sidecar {
    fn validate(&self, cx: &mut Check<'_>) {
        if let Some(sel) = &self.workload_selector {
            net::selector(cx, "spec.workloadSelector", "labels", &sel.labels);
        }
        if self.ingress.is_empty()
            && self.egress.is_empty()
            && self.outbound_traffic_policy.is_none()
            && self.inbound_connection_pool.is_none()
        {
            cx.error("empty", "spec", "an empty Sidecar changes nothing; add `egress`, `ingress`, `outboundTrafficPolicy` or `inboundConnectionPool`");
        }

        let mut ports = BTreeSet::new();
        for (i, l) in self.ingress.iter().enumerate() {
            l.check(cx, &format!("spec.ingress[{i}]"), &mut ports);
        }
        if let Some(pool) = &self.inbound_connection_pool {
            pool.check(cx, "spec.inboundConnectionPool");
        }

        let mut ports = BTreeSet::new();
        let mut sockets = BTreeSet::new();
        let mut catch_all = false;
        let last = self.egress.len().saturating_sub(1);
        for (i, l) in self.egress.iter().enumerate() {
            let path = format!("spec.egress[{i}]");
            match &l.port {
                None if catch_all => cx.error("egress-port", &path, "only one egress listener may leave out `port`; give this one a port or merge the two"),
                None if i != last => cx.error("egress-port", &path, "the egress listener without a `port` must be the last one; move it to the end"),
                None => catch_all = true,
                Some(p) => {
                    let bind = l.bind.as_deref().unwrap_or_default();
                    check_egress_port(cx, &path, p, bind, l.capture_mode);
                    if p.number == 0 {
                        if !sockets.insert(bind) {
                            cx.error("egress-port", format!("{path}.bind"), format!("another egress listener binds {bind:?} already; each Unix socket once"));
                        }
                    } else if !ports.insert(p.number) {
                        cx.error("egress-port", format!("{path}.port.number"), format!("port {} is used by another egress listener; each port once", p.number));
                    }
                }
            }
            check_egress_hosts(cx, &path, &l.hosts);
        }

        if let Some(otp) = &self.outbound_traffic_policy
            && let Some(proxy) = &otp.egress_proxy
        {
            let at = "spec.outboundTrafficPolicy.egressProxy";
            if otp.mode != Some(OutboundTrafficPolicyMode::AllowAny) {
                cx.error("egress-proxy", at, "egressProxy only applies with `mode: ALLOW_ANY`; set the mode or remove egressProxy");
            } else {
                if let Err(why) = net::fqdn(&proxy.host) {
                    cx.error("egress-proxy", format!("{at}.host"), why);
                }
                if let Some(s) = &proxy.subset
                    && !net::is_dns1123_label(s)
                {
                    cx.error(
                        "egress-proxy",
                        format!("{at}.subset"),
                        format!("{s:?} is not a valid subset name; use letters, digits and '-'"),
                    );
                }
                match &proxy.port {
                    Some(p) => p.check(cx, &format!("{at}.port")),
                    None => cx.error(
                        "egress-proxy",
                        at,
                        "egressProxy needs `port`, such as `port: {number: 3128}`",
                    ),
                }
            }
        }
    }
}

// === impl IstioIngressListener ===

impl IstioIngressListener {
    fn check(&self, cx: &mut Check<'_>, path: &str, ports: &mut BTreeSet<u32>) {
        let Some(port) = &self.port else {
            cx.error("ingress-port", path, "an ingress listener needs `port`, such as `port: {number: 9080, protocol: HTTP, name: http}`");
            return;
        };
        let at = format!("{path}.port");
        if port.target_port.is_some_and(|t| t > 0) {
            cx.error(
                "target-port",
                format!("{at}.targetPort"),
                "targetPort has no effect on Sidecars; remove it",
            );
        }
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            net::port_name(cx, &format!("{at}.name"), name);
        }
        let protocol = net::protocol(
            cx,
            &format!("{at}.protocol"),
            port.protocol.as_deref().unwrap_or_default(),
        );
        net::port(cx, &format!("{at}.number"), port.number);
        if let Some(bind) = self.bind.as_deref().filter(|b| !b.is_empty())
            && !net::is_ip(bind)
        {
            cx.error(
                "bind",
                format!("{path}.bind"),
                format!("{bind:?} is not an IP address; an ingress listener binds an IP"),
            );
        }
        if !ports.insert(port.number) {
            cx.error(
                "ingress-port",
                format!("{at}.number"),
                format!(
                    "port {} is used by another ingress listener; each port once",
                    port.number
                ),
            );
        }
        if let Some(ep) = self.default_endpoint.as_deref().filter(|e| !e.is_empty()) {
            check_default_endpoint(cx, &format!("{path}.defaultEndpoint"), ep);
        }
        if let Some(tls) = &self.tls {
            let at = format!("{path}.tls");
            if !tls.subject_alt_names.is_empty() {
                cx.error(
                    "tls",
                    format!("{at}.subjectAltNames"),
                    "subjectAltNames is not supported on a sidecar's ingress TLS; remove it",
                );
            }
            if tls.https_redirect {
                cx.error(
                    "tls",
                    format!("{at}.httpsRedirect"),
                    "httpsRedirect is not supported on a sidecar; remove it",
                );
            }
            if tls
                .credential_name
                .as_deref()
                .is_some_and(|c| !c.is_empty())
            {
                cx.error("tls", format!("{at}.credentialName"), "credentialName is not supported on a sidecar; use serverCertificate and privateKey file paths");
            }
            if let mode @ (ServerTlsMode::IstioMutual | ServerTlsMode::AutoPassthrough) = tls.mode()
            {
                let m = if mode == ServerTlsMode::IstioMutual {
                    "ISTIO_MUTUAL"
                } else {
                    "AUTO_PASSTHROUGH"
                };
                cx.error(
                    "tls",
                    format!("{at}.mode"),
                    format!("{m} cannot be used on a sidecar's ingress; use SIMPLE or MUTUAL"),
                );
            }
            tls.check(cx, &at);
        }
        if let Some(pool) = &self.connection_pool {
            pool.check(cx, &format!("{path}.connectionPool"));
            if pool.http.is_some() && !protocol.is_some_and(Protocol::is_http) {
                cx.warn(
                    "connection-pool",
                    format!("{path}.connectionPool.http"),
                    format!(
                        "port {} is not HTTP, so only the `tcp` pool settings apply",
                        port.number
                    ),
                );
            }
        }
    }
}

/// `127.0.0.1:PORT` and the like, or `unix:///path` (Istio
/// `ValidateSidecar`).
fn check_default_endpoint(cx: &mut Check<'_>, path: &str, ep: &str) {
    if let Some(socket) = ep.strip_prefix(UNIX_PREFIX) {
        if let Err(why) = net::unix_address(socket) {
            cx.error("default-endpoint", path, why);
        }
        return;
    }
    let fix = "use 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix:///path";
    let Some((host, port)) = split_host_port(ep) else {
        cx.error(
            "default-endpoint",
            path,
            format!("{ep:?} is not host:port; {fix}"),
        );
        return;
    };
    if !LOCAL_HOSTS.contains(&host) {
        cx.error(
            "default-endpoint",
            path,
            format!("{host:?} is not the workload's own address; {fix}"),
        );
    }
    match port.parse::<u32>() {
        Ok(n) => net::port(cx, path, n),
        Err(_) => cx.error(
            "default-endpoint",
            path,
            format!("port {port:?} is not a number; {fix}"),
        ),
    }
}

/// Go's `net.SplitHostPort`, for the forms a default endpoint takes.
fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once("]:");
    }
    let (host, port) = s.rsplit_once(':')?;
    (!host.contains(':')).then_some((host, port))
}

/// Istio `validateSidecarEgressPortBindAndCaptureMode`.
fn check_egress_port(
    cx: &mut Check<'_>,
    path: &str,
    port: &SidecarPort,
    bind: &str,
    capture: Option<CaptureMode>,
) {
    let at = format!("{path}.port");
    if port.target_port.is_some_and(|t| t > 0) {
        cx.error(
            "target-port",
            format!("{at}.targetPort"),
            "targetPort has no effect on Sidecars; remove it",
        );
    }
    if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
        net::port_name(cx, &format!("{at}.name"), name);
    }
    net::protocol(
        cx,
        &format!("{at}.protocol"),
        port.protocol.as_deref().unwrap_or_default(),
    );
    if port.number == 0 {
        match bind.strip_prefix(UNIX_PREFIX) {
            None => cx.error(
                "bind",
                format!("{at}.number"),
                "port 0 means a Unix socket listener; set `bind: unix:///path`, or a port number",
            ),
            Some(socket) => {
                if let Err(why) = net::unix_address(socket) {
                    cx.error("bind", format!("{path}.bind"), why);
                }
            }
        }
        if capture == Some(CaptureMode::Iptables) {
            cx.error(
                "capture-mode",
                format!("{path}.captureMode"),
                "a Unix socket listener takes captureMode DEFAULT or NONE",
            );
        }
    } else {
        net::port(cx, &format!("{at}.number"), port.number);
        if !bind.is_empty() && !net::is_ip(bind) {
            cx.error(
                "bind",
                format!("{path}.bind"),
                format!(
                    "{bind:?} is not an IP address; bind an IP, or a `unix://` socket with port 0"
                ),
            );
        }
    }
}

/// Egress hosts: `namespace/dnsName`, no repeats.
fn check_egress_hosts(cx: &mut Check<'_>, path: &str, hosts: &[String]) {
    if hosts.is_empty() {
        cx.error(
            "egress-hosts",
            format!("{path}.hosts"),
            "an egress listener needs `hosts`, such as `[\"./*\", \"istio-system/*\"]`",
        );
        return;
    }
    let mut by_ns: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (j, host) in hosts.iter().enumerate() {
        let at = format!("{path}.hosts[{j}]");
        if let Some((ns, name)) = host.split_once('/') {
            let names = by_ns.entry(ns).or_default();
            let repeat = if name == "*" {
                !names.is_empty()
            } else {
                names.contains(name) || names.contains("*")
            };
            if repeat {
                cx.warn(
                    "egress-hosts",
                    &at,
                    format!(
                        "{host:?} is already covered by another host of this listener; remove it"
                    ),
                );
            }
            names.insert(name);
        }
        if let Err(why) = net::namespaced_host(host, false) {
            cx.error("egress-host", &at, why);
        }
    }
    if by_ns.get("*").is_some_and(|n| n.contains("*")) && by_ns.len() > 1 {
        cx.warn(
            "egress-hosts",
            format!("{path}.hosts"),
            "`*/*` already selects every host; the other namespaces add nothing",
        );
    }
}
