//! Listener checks: protocol, port, hostname and TLS rules, allowed
//! routes, and the CEL rules that keep a Gateway's listeners distinct
//! (`Listener`, `ListenerTLSConfig`, `AllowedRoutes` and
//! `GatewaySpec.listeners` in `apis/v1/gateway_types.go`).

use std::collections::HashMap;

use super::{secret_ref, validation};
use crate::check::Check;
use crate::kinds::gateway_api::common::GATEWAY_GROUP;
use crate::kinds::gateway_api::common::validate::{self as common, well_formed};
use crate::kinds::gateway_api::gateway::*;
use crate::kinds::gateway_api::syntax;

// === impl Listener ===

impl Listener {
    pub(super) fn check(&self, cx: &mut Check<'_>, path: &str) {
        well_formed(
            cx,
            "name",
            &format!("{path}.name"),
            "listener name",
            &self.name,
            syntax::subdomain,
        );
        common::port(cx, &format!("{path}.port"), self.port);
        well_formed(
            cx,
            "protocol",
            &format!("{path}.protocol"),
            "protocol",
            &self.protocol,
            syntax::protocol,
        );
        let protocol = self.protocol.as_str();
        if let Some(h) = &self.hostname {
            if matches!(protocol, "TCP" | "UDP") {
                cx.error(
                    "listener-hostname",
                    format!("{path}.hostname"),
                    format!("{} listener cannot match a hostname (there is no SNI or Host header); remove `hostname`", a(protocol)),
                );
            } else if let Some(why) = syntax::hostname(h, true) {
                cx.error(
                    "hostname",
                    format!("{path}.hostname"),
                    format!("{h:?} is not a valid hostname: {why}"),
                );
            }
        }
        match (&self.tls, protocol) {
            (Some(_), "HTTP" | "TCP" | "UDP") => cx.error(
                "listener-tls",
                format!("{path}.tls"),
                format!("{} listener has no TLS; remove `tls`, or use protocol HTTPS (or TLS) to terminate TLS here", a(protocol)),
            ),
            (None, "HTTPS") => cx.error(
                "listener-tls",
                path,
                "an HTTPS listener needs `tls` with `certificateRefs` naming the Secret with its certificate",
            ),
            (None, "TLS") => cx.error(
                "listener-tls",
                path,
                "a TLS listener needs `tls`: `mode: Passthrough` to forward TLS by SNI, or `certificateRefs` to terminate it",
            ),
            (Some(tls), _) => tls.check(cx, &format!("{path}.tls"), protocol),
            (None, _) => {}
        }
        if let Some(routes) = &self.allowed_routes {
            routes.check(cx, &format!("{path}.allowedRoutes"), protocol);
        }
    }
}

impl ListenerTlsConfig {
    fn check(&self, cx: &mut Check<'_>, path: &str, protocol: &str) {
        let mode = self.mode.unwrap_or_default();
        if protocol == "HTTPS" && mode == TlsModeType::Passthrough {
            cx.error(
                "listener-tls",
                format!("{path}.mode"),
                "an HTTPS listener terminates TLS, so `mode` must be `Terminate`; to pass TLS through to the backend, use protocol TLS",
            );
        }
        if mode == TlsModeType::Terminate
            && self.certificate_refs.is_empty()
            && self.options.is_empty()
        {
            cx.error(
                "tls-certificates",
                path,
                "terminating TLS needs a certificate: add `certificateRefs` naming a Secret of type kubernetes.io/tls (or use `mode: Passthrough`)",
            );
        }
        common::max_items(
            cx,
            &format!("{path}.certificateRefs"),
            self.certificate_refs.len(),
            64,
            "remove some",
        );
        for (i, r) in self.certificate_refs.iter().enumerate() {
            secret_ref(cx, &format!("{path}.certificateRefs[{i}]"), r);
        }
        let options = format!("{path}.options");
        common::max_items(cx, &options, self.options.len(), 16, "remove some");
        for (key, value) in &self.options {
            if let Some(why) = syntax::qualified_key(key) {
                cx.error("tls-options", &options, format!("option key {key:?} is not valid: {why}; use a domain-prefixed key such as `example.com/my-option`"));
            }
            if value.len() > 4096 {
                cx.error(
                    "tls-options",
                    &options,
                    format!(
                        "option `{key}` is {} characters long, more than 4096",
                        value.len()
                    ),
                );
            }
        }
        if let Some(v) = &self.frontend_validation {
            validation(cx, &format!("{path}.frontendValidation"), v);
        }
    }
}

impl AllowedRoutes {
    fn check(&self, cx: &mut Check<'_>, path: &str, protocol: &str) {
        if let Some(ns) = &self.namespaces {
            namespaces(cx, &format!("{path}.namespaces"), ns, false);
        }
        let kinds = format!("{path}.kinds");
        common::max_items(cx, &kinds, self.kinds.len(), 8, "remove some");
        let served: &[&str] = match protocol {
            "HTTP" | "HTTPS" => &["HTTPRoute", "GRPCRoute"],
            "TLS" => &["TLSRoute", "TCPRoute"],
            "TCP" => &["TCPRoute"],
            "UDP" => &["UDPRoute"],
            _ => &[],
        };
        for (i, k) in self.kinds.iter().enumerate() {
            let at = format!("{kinds}[{i}]");
            if let Some(g) = &k.group {
                well_formed(
                    cx,
                    "name",
                    &format!("{at}.group"),
                    "API group",
                    g,
                    syntax::group,
                );
            }
            well_formed(
                cx,
                "name",
                &format!("{at}.kind"),
                "kind",
                &k.kind,
                syntax::kind,
            );
            let group = k.group.as_deref().unwrap_or(GATEWAY_GROUP);
            if group == GATEWAY_GROUP && !served.is_empty() && !served.contains(&k.kind.as_str()) {
                cx.warn(
                    "route-kind",
                    format!("{at}.kind"),
                    format!("{} listener does not serve {} (it serves {}); no route of this kind can attach", a(protocol), k.kind, served.join(" and ")),
                );
            }
        }
    }
}

/// `RouteNamespaces` / `ListenerNamespaces`: `from: Selector` needs a
/// `selector`; `None` is only for ListenerSets.
pub(super) fn namespaces(cx: &mut Check<'_>, path: &str, ns: &RouteNamespaces, none_ok: bool) {
    match ns.from {
        Some(FromNamespaces::Selector) if ns.selector.is_none() => cx.error(
            "allowed-namespaces",
            path,
            "`from: Selector` needs `selector`, such as `selector: {matchLabels: {shared-gateway-access: \"true\"}}`",
        ),
        Some(FromNamespaces::None) if !none_ok => cx.error(
            "allowed-namespaces",
            format!("{path}.from"),
            "`None` is not a choice for routes; use `Same`, `All` or `Selector` (to allow no routes, list no route kinds)",
        ),
        Some(FromNamespaces::Selector) => {}
        _ if ns.selector.is_some() => cx.warn(
            "allowed-namespaces",
            format!("{path}.selector"),
            "`selector` is ignored unless `from: Selector`; set `from: Selector` or remove it",
        ),
        _ => {}
    }
}

/// Listener names unique, and each (port, protocol, hostname) used once
/// (CEL rules on `spec.listeners`); a TCP listener shares its port with no
/// HTTP, HTTPS or TLS listener (the spec's distinctness rules).
pub(super) fn distinct(cx: &mut Check<'_>, listeners: &[Listener]) {
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut combos: HashMap<(i32, &str, &str), usize> = HashMap::new();
    for (i, l) in listeners.iter().enumerate() {
        let path = format!("spec.listeners[{i}]");
        if let Some(j) = names.insert(&l.name, i) {
            cx.error(
                "listener-name",
                format!("{path}.name"),
                format!("listener name `{}` is already used by listeners[{j}]; names must be unique within the Gateway (routes pick a listener by name with `sectionName`)", l.name),
            );
        }
        let host = l.hostname.as_deref().unwrap_or("");
        if let Some(j) = combos.insert((l.port, &l.protocol, host), i) {
            let host = if host.is_empty() {
                "no hostname".to_string()
            } else {
                format!("hostname `{host}`")
            };
            cx.error(
                "listener-conflict",
                &path,
                format!("listeners[{j}] already has port {}, protocol {} and {host}; change the port or the hostname so each listener is distinct", l.port, l.protocol),
            );
        }
    }
    for (i, l) in listeners.iter().enumerate() {
        if !matches!(l.protocol.as_str(), "HTTP" | "HTTPS" | "TLS") {
            continue;
        }
        if let Some(j) = listeners
            .iter()
            .position(|t| t.protocol == "TCP" && t.port == l.port)
        {
            cx.warn(
                "listener-conflict",
                format!("spec.listeners[{i}].port"),
                format!("port {} is also used by the TCP listener listeners[{j}]; a TCP listener takes the whole port, so neither is accepted — use another port", l.port),
            );
        }
    }
}

/// "a TCP", "an HTTP": the protocol with its article.
fn a(protocol: &str) -> String {
    let article = if protocol.starts_with(['H', 'A', 'E', 'I', 'O', 'U']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {protocol}")
}
