//! What makes a Gateway impossible on its own: the CRD's validation
//! markers and CEL rules in kubernetes-sigs/gateway-api
//! `apis/v1/gateway_types.go`, and `apis/v1/validation/gateway.go`.

mod listeners;

use std::collections::{HashMap, HashSet};

use super::*;
use crate::check::{Check, Validate};
use crate::kinds::gateway_api::common::validate::{self as common, well_formed};
use crate::kinds::gateway_api::syntax;

impl Validate for Gateway {
    fn validate(&self, cx: &mut Check<'_>) {
        well_formed(
            cx,
            "name",
            "spec.gatewayClassName",
            "GatewayClass name",
            &self.gateway_class_name,
            syntax::object_name,
        );
        if self.listeners.is_empty() {
            cx.error("required", "spec.listeners", "a Gateway needs at least one listener, such as `- name: http`, `port: 80`, `protocol: HTTP`");
        }
        common::max_items(
            cx,
            "spec.listeners",
            self.listeners.len(),
            64,
            "split them across Gateways",
        );
        for (i, l) in self.listeners.iter().enumerate() {
            l.check(cx, &format!("spec.listeners[{i}]"));
        }
        listeners::distinct(cx, &self.listeners);
        addresses(cx, &self.addresses);
        if let Some(infra) = &self.infrastructure {
            infra.check(cx, "spec.infrastructure");
        }
        if let Some(ns) = self
            .allowed_listeners
            .as_ref()
            .and_then(|a| a.namespaces.as_ref())
        {
            listeners::namespaces(cx, "spec.allowedListeners.namespaces", ns, true);
        }
        if let Some(tls) = &self.tls {
            if let Some(r) = tls
                .backend
                .as_ref()
                .and_then(|b| b.client_certificate_ref.as_ref())
            {
                secret_ref(cx, "spec.tls.backend.clientCertificateRef", r);
            }
            if let Some(f) = &tls.frontend {
                frontend(cx, "spec.tls.frontend", f);
            }
        }
        if let Some(r) = self
            .backend_tls
            .as_ref()
            .and_then(|b| b.client_certificate_ref.as_ref())
        {
            secret_ref(cx, "spec.backendTLS.clientCertificateRef", r);
        }
    }
}

/// `spec.addresses`: at most 16; IP addresses parse and are unique;
/// hostnames are DNS names and unique.
fn addresses(cx: &mut Check<'_>, addresses: &[GatewaySpecAddress]) {
    common::max_items(cx, "spec.addresses", addresses.len(), 16, "remove some");
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for (i, a) in addresses.iter().enumerate() {
        let path = format!("spec.addresses[{i}]");
        let type_ = a.type_.as_deref().unwrap_or("IPAddress");
        if a.type_.is_some() {
            well_formed(
                cx,
                "address",
                &format!("{path}.type"),
                "address type",
                type_,
                syntax::address_type,
            );
        }
        if type_ == "NamedAddress" {
            cx.warn("address", format!("{path}.type"), "`NamedAddress` is deprecated; use an implementation-specific domain-prefixed type instead");
        }
        let Some(value) = a.value.as_deref() else {
            continue;
        };
        let at = format!("{path}.value");
        if value.len() > 253 {
            cx.error(
                "address",
                &at,
                format!(
                    "the value is {} characters long, more than 253",
                    value.len()
                ),
            );
        }
        match type_ {
            "IPAddress" if !syntax::is_ip(value) => cx.error(
                "address",
                &at,
                format!("{value:?} is not an IP address; write one such as `10.0.0.1` or `2001:db8::1`, or set `type: Hostname`"),
            ),
            "Hostname" => {
                if let Some(why) = syntax::hostname(value, true) {
                    cx.error("address", &at, format!("{value:?} is not a valid hostname: {why}"));
                }
            }
            _ => {}
        }
        if matches!(type_, "IPAddress" | "Hostname") && !seen.insert((type_, value)) {
            cx.error(
                "address",
                &at,
                format!("{type_} `{value}` is listed twice; remove one"),
            );
        }
    }
}

impl GatewayInfrastructure {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        for (field, map, is_label) in [
            ("labels", &self.labels, true),
            ("annotations", &self.annotations, false),
        ] {
            let at = format!("{path}.{field}");
            common::max_items(cx, &at, map.len(), 8, "remove some");
            for (key, value) in map {
                if let Some(why) = syntax::qualified_key(key) {
                    cx.error(
                        "infrastructure",
                        &at,
                        format!("key {key:?} is not valid: {why}"),
                    );
                }
                if is_label && let Some(why) = syntax::label_value(value) {
                    cx.error(
                        "infrastructure",
                        &at,
                        format!("label `{key}` has value {value:?}, which is not valid: {why}"),
                    );
                } else if !is_label && value.len() > 4096 {
                    cx.error(
                        "infrastructure",
                        &at,
                        format!(
                            "annotation `{key}` is {} characters long, more than 4096",
                            value.len()
                        ),
                    );
                }
            }
        }
        if let Some(r) = &self.parameters_ref {
            let at = format!("{path}.parametersRef");
            well_formed(
                cx,
                "name",
                &format!("{at}.group"),
                "API group",
                &r.group,
                syntax::group,
            );
            well_formed(
                cx,
                "name",
                &format!("{at}.kind"),
                "kind",
                &r.kind,
                syntax::kind,
            );
            well_formed(
                cx,
                "name",
                &format!("{at}.name"),
                "object name",
                &r.name,
                syntax::object_name,
            );
        }
    }
}

/// `spec.tls.frontend`: the default validation, and per-port overrides
/// with unique ports.
fn frontend(cx: &mut Check<'_>, path: &str, f: &FrontendTlsConfig) {
    if let Some(v) = &f.default.validation {
        validation(cx, &format!("{path}.default.validation"), v);
    }
    let per_port = format!("{path}.perPort");
    common::max_items(cx, &per_port, f.per_port.len(), 64, "remove some");
    let mut ports: HashMap<i32, usize> = HashMap::new();
    for (i, p) in f.per_port.iter().enumerate() {
        let at = format!("{per_port}[{i}]");
        common::port(cx, &format!("{at}.port"), p.port);
        if let Some(j) = ports.insert(p.port, i) {
            cx.error(
                "tls-per-port",
                format!("{at}.port"),
                format!(
                    "port {} already has a configuration at perPort[{j}]; merge the two",
                    p.port
                ),
            );
        }
        if let Some(v) = &p.tls.validation {
            validation(cx, &format!("{at}.tls.validation"), v);
        }
    }
}

/// `FrontendTLSValidation`: 1 to 8 CA certificate references.
fn validation(cx: &mut Check<'_>, path: &str, v: &FrontendTlsValidation) {
    let refs = format!("{path}.caCertificateRefs");
    if v.ca_certificate_refs.is_empty() {
        cx.error("required", path, "client certificate validation needs `caCertificateRefs`, such as a ConfigMap holding `ca.crt`");
    }
    common::max_items(cx, &refs, v.ca_certificate_refs.len(), 8, "remove some");
    for (i, r) in v.ca_certificate_refs.iter().enumerate() {
        let at = format!("{refs}[{i}]");
        well_formed(
            cx,
            "name",
            &format!("{at}.group"),
            "API group",
            &r.group,
            syntax::group,
        );
        well_formed(
            cx,
            "name",
            &format!("{at}.kind"),
            "kind",
            &r.kind,
            syntax::kind,
        );
        well_formed(
            cx,
            "name",
            &format!("{at}.name"),
            "object name",
            &r.name,
            syntax::object_name,
        );
        if let Some(ns) = &r.namespace {
            well_formed(
                cx,
                "name",
                &format!("{at}.namespace"),
                "namespace",
                ns,
                syntax::dns_label,
            );
        }
    }
}

/// A certificate reference: names well formed.
fn secret_ref(cx: &mut Check<'_>, path: &str, r: &SecretObjectReference) {
    if let Some(g) = &r.group {
        well_formed(
            cx,
            "name",
            &format!("{path}.group"),
            "API group",
            g,
            syntax::group,
        );
    }
    if let Some(k) = &r.kind {
        well_formed(cx, "name", &format!("{path}.kind"), "kind", k, syntax::kind);
    }
    well_formed(
        cx,
        "name",
        &format!("{path}.name"),
        "object name",
        &r.name,
        syntax::object_name,
    );
    if let Some(ns) = &r.namespace {
        well_formed(
            cx,
            "name",
            &format!("{path}.namespace"),
            "namespace",
            ns,
            syntax::dns_label,
        );
    }
}
