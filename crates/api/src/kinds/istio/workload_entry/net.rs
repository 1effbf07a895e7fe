//! Names, addresses, ports, labels and protocols as Istio's validation
//! reads them (`pkg/config/validation/agent`, `pkg/config/labels`,
//! `pkg/config/protocol`, `pkg/config/visibility`), shared by the
//! networking kinds. Functions taking a `Check` report at the path given;
//! those returning `Result` say why a value is wrong, for the caller to
//! report at its field.

mod dns;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

pub(crate) use self::dns::*;
use crate::check::Check;
use crate::types::Duration;

/// How a Unix domain socket address starts (`unix:///path`, `unix://@name`).
pub(crate) const UNIX_PREFIX: &str = "unix://";

/// What a protocol field accepts, for messages.
pub(crate) const PROTOCOLS: &str =
    "HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, TCP, TLS, MONGO, MYSQL or REDIS";

/// Istio's port protocols (`pkg/config/protocol`), read ignoring case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http,
    Http2,
    HttpProxy,
    Https,
    Grpc,
    GrpcWeb,
    Tcp,
    Tls,
    Udp,
    Mongo,
    Redis,
    Mysql,
}

// === impl Protocol ===

impl Protocol {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "http" => Self::Http,
            "http2" => Self::Http2,
            "http_proxy" => Self::HttpProxy,
            "https" => Self::Https,
            "grpc" => Self::Grpc,
            "grpc-web" => Self::GrpcWeb,
            "tcp" => Self::Tcp,
            "tls" => Self::Tls,
            "udp" => Self::Udp,
            "mongo" => Self::Mongo,
            "redis" => Self::Redis,
            "mysql" => Self::Mysql,
            _ => return None,
        })
    }

    /// Carried over HTTP (Istio `IsHTTP`).
    pub(crate) fn is_http(self) -> bool {
        matches!(
            self,
            Self::Http | Self::Http2 | Self::HttpProxy | Self::Grpc | Self::GrpcWeb
        )
    }

    /// Carried over TLS (Istio `IsTLS`).
    pub(crate) fn is_tls(self) -> bool {
        matches!(self, Self::Https | Self::Tls)
    }

    /// Opaque TCP as far as routing goes (Istio `IsTCP`).
    pub(crate) fn is_tcp(self) -> bool {
        matches!(
            self,
            Self::Tcp | Self::Https | Self::Tls | Self::Mongo | Self::Redis | Self::Mysql
        )
    }
}

/// Checks an optional protocol (empty means "sniff"): Istio
/// `ValidateProtocol`.
pub(crate) fn protocol(cx: &mut Check<'_>, path: &str, text: &str) -> Option<Protocol> {
    if text.is_empty() {
        return None;
    }
    let p = Protocol::parse(text);
    if p.is_none() {
        cx.error(
            "protocol",
            path,
            format!("unknown protocol {text:?}; use {PROTOCOLS}"),
        );
    }
    p
}

/// Istio `ValidatePort`.
pub(crate) fn port(cx: &mut Check<'_>, path: &str, number: u32) {
    if !(1..=65535).contains(&number) {
        cx.error(
            "port",
            path,
            format!("{number} is not a port; use 1 to 65535"),
        );
    }
}

/// A port name: a DNS-1123 label (Istio `ValidatePortName`).
pub(crate) fn port_name(cx: &mut Check<'_>, path: &str, name: &str) {
    if !is_dns1123_label(name) {
        cx.error(
            "port-name",
            path,
            format!("{name:?} is not a valid port name; use up to 63 letters, digits and '-', starting and ending with a letter or digit, such as `http-web`"),
        );
    }
}

/// Istio `ValidateDuration`: at least 1ms, in whole milliseconds.
pub(crate) fn duration(cx: &mut Check<'_>, path: &str, d: &Duration) {
    if d.0 < std::time::Duration::from_millis(1) {
        cx.error(
            "duration",
            path,
            format!("{d} is too short; use at least `1ms`"),
        );
    } else if !d.0.subsec_nanos().is_multiple_of(1_000_000) {
        cx.error(
            "duration",
            path,
            format!(
                "{d} is finer than Istio's millisecond precision; round it to whole milliseconds"
            ),
        );
    }
}

/// A label (or selector) map as Kubernetes accepts it (Istio
/// `labels.Instance.Validate`).
pub(crate) fn labels(cx: &mut Check<'_>, path: &str, labels: &BTreeMap<String, String>) {
    for (k, v) in labels {
        let at = key_path(path, k);
        if let Err(why) = label_key(k) {
            cx.error("label", &at, format!("label key {k:?} is invalid: {why}"));
        }
        if !(v.is_empty() || is_qualified_name(v)) {
            cx.error(
                "label",
                &at,
                format!("label value {v:?} is invalid; use up to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"),
            );
        }
    }
}

/// A workload selector's labels (Istio `validateWorkloadSelector` and
/// `ValidateAlphaWorkloadSelector`): no empty keys, no wildcards; an empty
/// selector selects every workload, which is warned about.
pub(crate) fn selector(
    cx: &mut Check<'_>,
    path: &str,
    field: &str,
    labels: &BTreeMap<String, String>,
) {
    if labels.is_empty() {
        cx.warn(
            "selector",
            path,
            format!("the selector has no `{field}`, so it applies to every workload in the namespace; add labels or remove the selector"),
        );
    }
    for (k, v) in labels {
        let at = key_path(&format!("{path}.{field}"), k);
        if k.is_empty() {
            cx.error(
                "selector",
                &at,
                "empty label key; name the label to match, such as `app`",
            );
        }
        if k.contains('*') || v.contains('*') {
            cx.error(
                "selector",
                &at,
                format!(
                    "wildcards are not supported in selectors ({k}={v}); match exact label values"
                ),
            );
        }
    }
}

/// An `exportTo` list (Istio `validateExportTo`): `.`, `*` or namespace
/// names, no repeats, `*` alone; ServiceEntries may also say `~` (no one).
pub(crate) fn export_to(cx: &mut Check<'_>, path: &str, entries: &[String], allow_none: bool) {
    let mut seen = BTreeSet::new();
    for (i, e) in entries.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if !seen.insert(e.as_str()) {
            cx.error(
                "export-to",
                &at,
                format!("{e:?} is listed twice; remove the repeat"),
            );
            continue;
        }
        let ok = match e.as_str() {
            "." | "*" => true,
            "~" => allow_none,
            name => is_dns1123_label(name),
        };
        if !ok {
            let none = if allow_none { ", `~` (no one)" } else { "" };
            cx.error(
                "export-to",
                &at,
                format!("{e:?} is not a valid exportTo entry; use `.` (this namespace), `*` (all){none} or a namespace name"),
            );
        }
    }
    if entries.len() > 1 {
        if seen.contains("*") {
            cx.error(
                "export-to",
                path,
                "`*` exports to every namespace already; remove the other entries",
            );
        }
        if seen.contains("~") {
            cx.error(
                "export-to",
                path,
                "`~` exports to no one and cannot be combined with other entries",
            );
        }
    }
}

/// A Kubernetes qualified name: at most 63 characters of letters, digits,
/// `-`, `_` and `.`, beginning and ending with a letter or digit.
fn is_qualified_name(s: &str) -> bool {
    let edge = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    s.len() <= 63
        && edge(s.bytes().next())
        && edge(s.bytes().last())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && (p.is_empty() || p.len() > 253 || !p.split('.').all(is_dns1123_label))
    {
        return Err(format!(
            "prefix {p:?} must be a DNS subdomain such as `example.com`"
        ));
    }
    if !is_qualified_name(name) {
        return Err("the name must be 1 to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit".to_string());
    }
    Ok(())
}

pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// Istio `ValidateIPSubnet`: an IP address or a CIDR block.
pub(crate) fn ip_or_cidr(s: &str) -> bool {
    match s.split_once('/') {
        Some((ip, bits)) => match (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
            (Ok(IpAddr::V4(_)), Ok(b)) => b <= 32,
            (Ok(IpAddr::V6(_)), Ok(b)) => b <= 128,
            _ => false,
        },
        None => is_ip(s),
    }
}

/// Istio `ValidateUnixAddress`, for the part after `unix://`: an absolute
/// file path or an abstract socket (`@name`).
pub(crate) fn unix_address(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("the Unix socket address is empty; write `unix:///path/to/socket`".to_string());
    }
    if path.starts_with('@') {
        return Ok(());
    }
    if !path.starts_with('/') || path.ends_with('/') {
        return Err(format!(
            "{path:?} is not an absolute path to a socket file; write `unix:///path/to/socket` or `unix://@name`"
        ));
    }
    Ok(())
}

/// The path of `key` in a map at `path`; keys a field path cannot spell
/// (with `.` or `[`) point at the map itself.
pub(crate) fn key_path(path: &str, key: &str) -> String {
    if key.is_empty() || key.contains(['.', '[', ']']) {
        path.to_string()
    } else {
        format!("{path}.{key}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_labels() {
        assert!(ip_or_cidr("192.192.192.192/24"));
        assert!(ip_or_cidr("2001:1::1/64"));
        assert!(!ip_or_cidr("10.0.0.0/33"));
        assert!(!ip_or_cidr("example.com"));
        assert!(unix_address("/var/run/sock").is_ok());
        assert!(unix_address("@abstract").is_ok());
        assert!(unix_address("var/run/").is_err());
        assert!(label_key("app.kubernetes.io/name").is_ok());
        assert!(label_key("app").is_ok());
        assert!(label_key("/app").is_err());
        assert!(label_key("a b").is_err());
        assert_eq!(Protocol::parse("grpc-web"), Some(Protocol::GrpcWeb));
        assert_eq!(Protocol::parse("tcp"), Some(Protocol::Tcp));
        assert_eq!(Protocol::parse("HTTP/2"), None);
    }
}
