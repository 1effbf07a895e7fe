//! What makes a Gateway impossible on its own, after Istio's
//! `ValidateGateway`, `validateServer` and `validateTLSOptions`
//! (`pkg/config/validation`) and the CRD's rules.

use std::collections::BTreeSet;

use super::super::workload_entry::net::{self, PROTOCOLS, Protocol, UNIX_PREFIX};
use super::*;
use crate::check::{Check, Validate};

/// The cipher suites Istio accepts (`pkg/config/security`, from
/// BoringSSL).
const CIPHER_SUITES: [&str; 15] = [
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA",
    "AES256-SHA",
    "DES-CBC3-SHA",
];

impl Validate for Gateway {
    fn validate(&self, cx: &mut Check<'_>) {
        if self.servers.is_empty() {
            cx.error(
                "no-servers",
                "spec",
                "a Gateway needs at least one entry in `servers`",
            );
        }
        let mut port_names = BTreeSet::new();
        let mut server_names = BTreeSet::new();
        for (i, server) in self.servers.iter().enumerate() {
            let path = format!("spec.servers[{i}]");
            server.check(cx, &path);
            if !server.port.name.is_empty() && !port_names.insert(server.port.name.as_str()) {
                cx.error(
                    "port-name",
                    format!("{path}.port.name"),
                    format!("port name `{}` is used by another server; give each server's port its own name", server.port.name),
                );
            }
            if let Some(name) = server.name.as_deref().filter(|n| !n.is_empty())
                && !server_names.insert(name)
            {
                cx.error(
                    "server-name",
                    format!("{path}.name"),
                    format!("server name `{name}` is used twice; server names must be unique"),
                );
            }
        }
    }
}

// === impl Server ===

impl Server {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if self.hosts.is_empty() {
            cx.error(
                "hosts",
                format!("{path}.hosts"),
                "a server needs `hosts`, such as `\"*\"` or `\"prod/*.example.com\"`",
            );
        }
        for (j, host) in self.hosts.iter().enumerate() {
            if let Err(why) = net::namespaced_host(host, true) {
                cx.error("host", format!("{path}.hosts[{j}]"), why);
            }
        }
        let bind = self.bind.as_deref().unwrap_or_default();
        let protocol = self.check_port(cx, &format!("{path}.port"), bind);
        if let Some(socket) = bind.strip_prefix(UNIX_PREFIX) {
            if let Err(why) = net::unix_address(socket) {
                cx.error("bind", format!("{path}.bind"), why);
            }
            if self.port.number != 0 {
                cx.error(
                    "bind",
                    format!("{path}.port.number"),
                    "a server bound to a Unix socket takes port number 0",
                );
            }
        } else if !bind.is_empty() && !net::is_ip(bind) {
            cx.error(
                "bind",
                format!("{path}.bind"),
                format!("{bind:?} is not an IP address or `unix://` socket"),
            );
        }
        if let Some(tls) = &self.tls {
            tls.check(cx, &format!("{path}.tls"));
        }
        let Some(p) = protocol else { return };
        let proto = &self.port.protocol;
        match &self.tls {
            None if p.is_tls() => cx.error(
                "tls",
                path,
                format!("a {proto} server needs `tls`, such as `tls: {{mode: SIMPLE, credentialName: my-cert}}`, or `tls: {{mode: PASSTHROUGH}}`"),
            ),
            Some(tls) if !p.is_tls() && p.is_http() => {
                let passthrough = matches!(tls.mode(), ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough);
                let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
                if !passthrough || set(&tls.ca_certificates) || set(&tls.private_key) || set(&tls.server_certificate) {
                    cx.error(
                        "tls",
                        format!("{path}.tls"),
                        format!("a plain-text {proto} server takes no TLS settings but `httpsRedirect`; use protocol HTTPS to terminate TLS"),
                    );
                }
            }
            Some(_) if !p.is_tls() => cx.error(
                "tls",
                format!("{path}.tls"),
                format!("a {proto} server takes no TLS settings; use protocol TLS or HTTPS for TLS"),
            ),
            _ => {}
        }
        if !p.is_http() && self.tls.as_ref().is_some_and(|t| t.https_redirect) {
            cx.warn(
                "tls",
                format!("{path}.tls.httpsRedirect"),
                "httpsRedirect only applies to HTTP servers; remove it",
            );
        }
    }

    /// Istio `validateServerPort`; the protocol, when the port is valid.
    fn check_port(&self, cx: &mut Check<'_>, path: &str, bind: &str) -> Option<Protocol> {
        let port = &self.port;
        if port.number == 0 && port.protocol.is_empty() && port.name.is_empty() {
            cx.error(
                "port",
                path,
                "a server needs `port`, such as `port: {number: 80, name: http, protocol: HTTP}`",
            );
            return None;
        }
        let mut ok = true;
        let protocol = Protocol::parse(&port.protocol);
        if protocol.is_none() {
            ok = false;
            let what = if port.protocol.is_empty() {
                "a server port needs `protocol`".to_string()
            } else {
                format!("unknown protocol {:?}", port.protocol)
            };
            cx.error(
                "protocol",
                format!("{path}.protocol"),
                format!("{what}; use {PROTOCOLS}"),
            );
        }
        if port.number > 0 || !bind.starts_with(UNIX_PREFIX) {
            ok &= (1..=65535).contains(&port.number);
            net::port(cx, &format!("{path}.number"), port.number);
        }
        if port.target_port.is_some_and(|t| t > 0) {
            ok = false;
            cx.error(
                "target-port",
                format!("{path}.targetPort"),
                "targetPort has no effect on Gateways; remove it",
            );
        }
        if port.name.is_empty() {
            ok = false;
            cx.error(
                "port-name",
                format!("{path}.name"),
                "a server port needs a `name`, such as `http`",
            );
        }
        if ok { protocol } else { None }
    }
}

// === impl ServerTlsSettings ===

impl ServerTlsSettings {
    /// Istio `validateTLSOptions` plus the CRD's rules; Sidecar ingress
    /// listeners share it.
    pub(crate) fn check(&self, cx: &mut Check<'_>, path: &str) {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        let secret = set(&self.credential_name);
        let secrets = !self.credential_names.is_empty();
        let inline = !self.tls_certificates.is_empty();
        for (field, n) in [
            ("credentialNames", self.credential_names.len()),
            ("tlsCertificates", self.tls_certificates.len()),
        ] {
            if n > 2 {
                cx.error(
                    "tls",
                    format!("{path}.{field}"),
                    format!("{field} holds at most 2 entries (found {n})"),
                );
            }
        }
        if [secret, secrets, inline].iter().filter(|s| **s).count() > 1 {
            cx.error(
                "tls",
                path,
                "set only one of `credentialName`, `credentialNames` and `tlsCertificates`",
            );
        }
        if matches!(
            self.min_protocol_version,
            Some(TlsProtocolVersion::Tlsv10 | TlsProtocolVersion::Tlsv11)
        ) && self.cipher_suites.is_empty()
        {
            cx.warn(
                "tls",
                format!("{path}.minProtocolVersion"),
                "TLS versions below 1.2 need `cipherSuites` that support them; the default ciphers do not",
            );
        }
        let mut seen = BTreeSet::new();
        for (i, cs) in self.cipher_suites.iter().enumerate() {
            let at = format!("{path}.cipherSuites[{i}]");
            // Istio lets expressions (`-`, `+`, `[a|b]`) through unparsed.
            let expression = cs.chars().next().is_some_and(|c| !c.is_alphanumeric());
            if !(cs.is_empty() || cs == "ALL" || expression || CIPHER_SUITES.contains(&cs.as_str()))
            {
                cx.warn("cipher", &at, format!("{cs:?} is not a cipher suite Envoy knows; it is ignored (e.g. `ECDHE-RSA-AES128-GCM-SHA256`)"));
            } else if !seen.insert(cs.as_str()) {
                cx.warn(
                    "cipher",
                    &at,
                    format!("{cs:?} is listed twice; the repeat is ignored"),
                );
            }
        }
        let mode = self.mode();
        match mode {
            ServerTlsMode::IstioMutual => {
                for (field, v) in [
                    ("serverCertificate", &self.server_certificate),
                    ("privateKey", &self.private_key),
                    ("caCertificates", &self.ca_certificates),
                    ("credentialName", &self.credential_name),
                ] {
                    if set(v) {
                        cx.error("tls", format!("{path}.{field}"), format!("ISTIO_MUTUAL uses Istio's certificates; remove `{field}` (or use MUTUAL)"));
                    }
                }
                return;
            }
            ServerTlsMode::Passthrough | ServerTlsMode::AutoPassthrough
                if [
                    &self.ca_crl,
                    &self.server_certificate,
                    &self.private_key,
                    &self.ca_certificates,
                    &self.credential_name,
                ]
                .into_iter()
                .any(set) =>
            {
                let m = if mode == ServerTlsMode::Passthrough {
                    "PASSTHROUGH"
                } else {
                    "AUTO_PASSTHROUGH"
                };
                cx.warn("tls", path, format!("{m} does not terminate TLS, so its certificates are ignored; remove them or use SIMPLE"));
            }
            _ => {}
        }
        // Istio: certificates fetched from a secret need no file paths.
        if secret || secrets || inline {
            if matches!(
                mode,
                ServerTlsMode::Simple | ServerTlsMode::Mutual | ServerTlsMode::OptionalMutual
            ) {
                return;
            }
        } else {
            let (m, need) = match mode {
                ServerTlsMode::Simple => (
                    "SIMPLE",
                    &[
                        ("serverCertificate", &self.server_certificate),
                        ("privateKey", &self.private_key),
                    ][..],
                ),
                ServerTlsMode::Mutual | ServerTlsMode::OptionalMutual => (
                    if mode == ServerTlsMode::Mutual {
                        "MUTUAL"
                    } else {
                        "OPTIONAL_MUTUAL"
                    },
                    &[
                        ("serverCertificate", &self.server_certificate),
                        ("privateKey", &self.private_key),
                        ("caCertificates", &self.ca_certificates),
                    ][..],
                ),
                _ => ("", &[][..]),
            };
            for (field, v) in need {
                if !set(v) {
                    cx.error(
                        "tls",
                        format!("{path}.mode"),
                        format!("{m} TLS needs `{field}` (a file path), or the certificates in a secret named by `credentialName`"),
                    );
                }
            }
        }
        if set(&self.ca_crl) {
            if secret {
                cx.error(
                    "tls",
                    format!("{path}.caCrl"),
                    "with credentialName the CRL comes from the secret (`ca.crl`); remove caCrl",
                );
            }
            if mode == ServerTlsMode::Simple {
                cx.error("tls", format!("{path}.caCrl"), "SIMPLE TLS does not check client certificates, so caCrl cannot apply; remove it or use MUTUAL");
            }
        }
    }
}
