//! The string formats the Gateway API CRDs enforce with `Pattern` markers
//! (kubernetes-sigs/gateway-api `apis/v1/shared_types.go`), checked by hand
//! so that each failure can say which part is wrong.
//!
//! Each function returns `None` when the value is well formed, or why it is
//! not, phrased to follow "`value` is not a valid X: ".

use std::net::IpAddr;

/// `Hostname` (wildcard allowed) or `PreciseHostname`: lower-case RFC 1123
/// labels, no IPs, no port, optionally a leading `*.` label.
pub(crate) fn hostname(h: &str, wildcard_ok: bool) -> Option<String> {
    if h.is_empty() {
        return Some("it is empty".into());
    }
    if h.len() > 253 {
        return Some(format!("it is {} characters long, more than 253", h.len()));
    }
    if h.parse::<IpAddr>().is_ok() {
        return Some("it is an IP address, and Gateway API hostnames are DNS names".into());
    }
    if let Some((host, port)) = h.rsplit_once(':')
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        return Some(format!(
            "a hostname carries no port; drop `:{port}` and write `{host}`"
        ));
    }
    let rest = match h.strip_prefix("*.") {
        Some(rest) if wildcard_ok => rest,
        Some(_) => return Some("a wildcard is not allowed here; name one host".into()),
        None => h,
    };
    if rest.contains('*') {
        return Some(if wildcard_ok {
            "a wildcard must be the whole first label, as in `*.example.com`".into()
        } else {
            "a wildcard is not allowed here; name one host".into()
        });
    }
    if rest.ends_with('.') {
        return Some("it ends with a dot; drop the trailing `.`".into());
    }
    if rest.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some(format!(
            "hostnames are lower case; write `{}`",
            h.to_ascii_lowercase()
        ));
    }
    subdomain(rest)
}

/// An RFC 1123 subdomain as the CRDs spell it:
/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`.
pub(crate) fn subdomain(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    if s.len() > 253 {
        return Some(format!("it is {} characters long, more than 253", s.len()));
    }
    for label in s.split('.') {
        if let Some(why) = label_chars(label) {
            return Some(why);
        }
    }
    None
}

/// An RFC 1123 label (a namespace): `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at
/// most 63 characters.
pub(crate) fn dns_label(s: &str) -> Option<String> {
    if s.len() > 63 {
        return Some(format!("it is {} characters long, more than 63", s.len()));
    }
    if s.contains('.') {
        return Some("it has a `.`; a namespace is a single DNS label".into());
    }
    label_chars(s)
}

fn label_chars(label: &str) -> Option<String> {
    if label.is_empty() {
        return Some("it has an empty label (two dots in a row, or a leading dot)".into());
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "{c:?} is not allowed; use lower-case letters, digits and `-`"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Some(format!("label `{label}` starts or ends with `-`"));
    }
    None
}

/// `Group`: empty (the core group) or an RFC 1123 subdomain.
pub(crate) fn group(s: &str) -> Option<String> {
    if s.is_empty() { None } else { subdomain(s) }
}

/// `Kind`: `^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$`, at most 63 characters.
pub(crate) fn kind(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    if s.len() > 63 {
        return Some(format!("it is {} characters long, more than 63", s.len()));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return Some("it must start with a letter".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Some(format!("{c:?} is not allowed in a kind"));
    }
    if s.ends_with('-') {
        return Some("it ends with `-`".into());
    }
    None
}

/// `ObjectName`: 1 to 253 characters.
pub(crate) fn object_name(s: &str) -> Option<String> {
    match s.len() {
        0 => Some("it is empty".into()),
        n if n > 253 => Some(format!("it is {n} characters long, more than 253")),
        _ => None,
    }
}

/// `HeaderName` (also query parameter names): an RFC 7230 token of 1 to 256
/// characters, `^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$`.
pub(crate) fn header_name(s: &str) -> Option<String> {
    if s.is_empty() {
        return Some("it is empty".into());
    }
    if s.len() > 256 {
        return Some(format!("it is {} characters long, more than 256", s.len()));
    }
    if s.starts_with(':') {
        return Some(
            "HTTP/2 pseudo-headers (`:path`, `:authority`, ...) cannot be matched or modified here"
                .into(),
        );
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    s.chars()
        .find(|c| !token(*c))
        .map(|c| format!("{c:?} cannot appear in a header name"))
}

/// The characters a path may hold for `Exact` and `PathPrefix` matches
/// and path modifiers: `^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$`.
pub(crate) fn path_chars(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return Some("`%` must start a percent-encoded byte such as `%20`".into());
            }
            i += 3;
            continue;
        }
        let ok = b.is_ascii_alphanumeric() || b"-/._~!$&'()*+,;=:@".contains(&b);
        if !ok {
            let c = s[i..].chars().next().unwrap_or('?');
            return Some(format!(
                "{c:?} cannot appear unescaped in a URL path; percent-encode it"
            ));
        }
        i += 1;
    }
    None
}

/// A GEP-2257 duration: `^([0-9]{1,5}(h|m|s|ms)){1,4}$`, a stricter form
/// than Go's (no fractions, no `us` or `ns`, no sign).
pub(crate) fn gep2257(s: &str) -> bool {
    let bytes = s.as_bytes();
    let (mut i, mut parts) = (0, 0);
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 5 {
            return false;
        }
        match bytes.get(i..i + 2) {
            Some(b"ms") => i += 2,
            _ => match bytes.get(i) {
                Some(b'h' | b'm' | b's') => i += 1,
                _ => return false,
            },
        }
        parts += 1;
    }
    (1..=4).contains(&parts)
}

/// An annotation or label key: an optional DNS-subdomain prefix and `/`,
/// then a name of up to 63 characters,
/// `([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]`.
pub(crate) fn qualified_key(s: &str) -> Option<String> {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if let Some(p) = prefix
        && let Some(why) = subdomain(p)
    {
        return Some(format!("prefix `{p}`: {why}"));
    }
    if name.is_empty() || name.len() > 63 {
        return Some("the name after the prefix must be 1 to 63 characters".into());
    }
    label_value(name)
}

/// A label value: empty, or up to 63 characters `[-A-Za-z0-9_.]` that
/// start and end with a letter or digit.
pub(crate) fn label_value(s: &str) -> Option<String> {
    if s.len() > 63 {
        return Some(format!("it is {} characters long, more than 63", s.len()));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return Some(format!(
            "{c:?} is not allowed; use letters, digits, `-`, `_` and `.`"
        ));
    }
    let edge = |c: Option<char>| c.is_none_or(|c| c.is_ascii_alphanumeric());
    if !edge(s.chars().next()) || !edge(s.chars().last()) {
        return Some("it must start and end with a letter or digit".into());
    }
    None
}

/// A domain-prefixed name such as `example.com/my-protocol`:
/// `<subdomain>/<path>`.
fn domain_prefixed(s: &str, path_ok: impl Fn(char) -> bool) -> bool {
    match s.split_once('/') {
        Some((domain, path)) => {
            subdomain(domain).is_none() && !path.is_empty() && path.chars().all(path_ok)
        }
        None => false,
    }
}

/// `ProtocolType`: a core name (`HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP`, or
/// another un-prefixed token) or a domain-prefixed one.
pub(crate) fn protocol(s: &str) -> Option<String> {
    if s.is_empty() || s.len() > 255 {
        return Some("it must be 1 to 255 characters".into());
    }
    let token = s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if token || domain_prefixed(s, |c| c.is_ascii_alphanumeric()) {
        None
    } else {
        Some("use HTTP, HTTPS, TLS, TCP or UDP, or a domain-prefixed name such as `example.com/my-protocol`".into())
    }
}

/// `AddressType`: `IPAddress`, `Hostname`, `NamedAddress` or a
/// domain-prefixed name.
pub(crate) fn address_type(s: &str) -> Option<String> {
    let path_ok = |c: char| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c);
    if matches!(s, "IPAddress" | "Hostname" | "NamedAddress") || domain_prefixed(s, path_ok) {
        None
    } else {
        Some("use `IPAddress`, `Hostname`, or a domain-prefixed type such as `example.com/my-address`".into())
    }
}

/// Whether `s` is an IP address as Go's `netip.ParseAddr` reads one.
pub(crate) fn is_ip(s: &str) -> bool {
    s.parse::<IpAddr>().is_ok()
}

/// A CORS origin: `*`, or `<scheme>://<host>[:<port>]` where the host may
/// hold a `*` wildcard.
pub(crate) fn cors_origin(s: &str) -> Option<String> {
    if s == "*" {
        return None;
    }
    let Some((scheme, rest)) = s.split_once("://") else {
        return Some(
            "write it as `<scheme>://<host>[:<port>]`, such as `https://www.example.com`".into(),
        );
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Some(format!(
            "`{scheme}` is not a URL scheme; use `http` or `https`"
        ));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if host.is_empty() || host.contains(['/', '?', '#', ':']) {
        return Some(
            "an origin has no path, query or fragment: only `<scheme>://<host>[:<port>]`".into(),
        );
    }
    if let Some(p) = port
        && (p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some(format!("`{p}` is not a port"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        for ok in ["foo.example.com", "*.example.com", "localhost", "a-1.b"] {
            assert_eq!(hostname(ok, true), None, "{ok}");
        }
        assert_eq!(
            hostname("*.example.com", false).as_deref(),
            Some("a wildcard is not allowed here; name one host")
        );
        for bad in [
            "",
            "1.2.3.4",
            "::1",
            "foo.com:8080",
            "foo.*.com",
            "Foo.com",
            "foo.com.",
            "-a.com",
            "a..b",
            "a_b.com",
        ] {
            assert!(hostname(bad, true).is_some(), "{bad}");
        }
        assert_eq!(
            hostname("foo.com:8080", true).as_deref(),
            Some("a hostname carries no port; drop `:8080` and write `foo.com`")
        );
    }

    #[test]
    fn names() {
        assert_eq!(dns_label("default"), None);
        assert!(dns_label("a.b").is_some());
        assert_eq!(group(""), None);
        assert_eq!(group("gateway.networking.k8s.io"), None);
        assert!(group("example.com/bar").is_some());
        assert_eq!(kind("HTTPRoute"), None);
        assert!(kind("invalid/kind").is_some());
        assert!(kind("1Kind").is_some());
        assert_eq!(header_name("X-Forwarded-For"), None);
        assert!(header_name(":method").is_some());
        assert!(header_name("my header").is_some());
        assert_eq!(qualified_key("example.com/my-option"), None);
        assert!(qualified_key("example~").is_some());
        assert_eq!(label_value(""), None);
        assert!(label_value("-x").is_some());
    }

    #[test]
    fn paths_and_durations() {
        assert_eq!(path_chars("/foo/bar%20baz"), None);
        assert!(path_chars("/foo bar").is_some());
        assert!(path_chars("/foo%2").is_some());
        for ok in ["10s", "1h30m", "500ms", "0s", "1h2m3s4ms"] {
            assert!(gep2257(ok), "{ok}");
        }
        for bad in ["", "1.5s", "10", "1us", "123456s", "1h2m3s4ms5ms", "-1s"] {
            assert!(!gep2257(bad), "{bad}");
        }
    }

    #[test]
    fn protocols_addresses_origins() {
        assert_eq!(protocol("HTTPS"), None);
        assert_eq!(protocol("example.com/bar"), None);
        assert!(protocol("example.com").is_some());
        assert_eq!(address_type("IPAddress"), None);
        assert_eq!(address_type("acme.io/CustomAddressType"), None);
        assert!(address_type("Bogus").is_some());
        assert!(is_ip("2001:db8::1") && is_ip("10.0.0.1") && !is_ip("example.com"));
        for ok in [
            "*",
            "https://www.foo.com",
            "https://*.bar.com",
            "http://a.b:8080",
        ] {
            assert_eq!(cors_origin(ok), None, "{ok}");
        }
        for bad in ["www.foo.com", "https://foo.com/path", "http://a.b:port"] {
            assert!(cors_origin(bad).is_some(), "{bad}");
        }
    }
}
