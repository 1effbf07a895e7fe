//! DNS names and `namespace/dnsName` hosts as Istio validates them
//! (`ValidateWildcardDomain`, `ValidateFQDN`,
//! `ValidateNamespaceSlashWildcardHostname`, `labels.IsDNS1123Label`).

use super::is_ip;

/// A `namespace/dnsName` host as Gateway servers and Sidecar egress
/// listeners take it (Istio `ValidateNamespaceSlashWildcardHostname`). A
/// gateway host may leave out `namespace/`, and may be an IP address.
pub(crate) fn namespaced_host(host: &str, gateway: bool) -> Result<(), String> {
    let Some((ns, name)) = host.split_once('/') else {
        if gateway {
            return host_part(host, true);
        }
        return Err(format!(
            "host {host:?} must be written `namespace/dnsName`, such as `*/{host}` or `./{host}`"
        ));
    };
    if ns.is_empty() || name.is_empty() {
        return Err(format!(
            "host {host:?} needs both a namespace and a DNS name, such as `prod/*` or `*/foo.example.com`"
        ));
    }
    let special = if gateway {
        matches!(ns, "*" | ".")
    } else {
        matches!(ns, "*" | "." | "~")
    };
    if !special && !is_dns1123_label(ns) {
        let allowed = if gateway { "`*`, `.`" } else { "`*`, `.`, `~`" };
        return Err(format!(
            "{ns:?} in host {host:?} is not a namespace; use {allowed} or a namespace name"
        ));
    }
    host_part(name, gateway)
}

fn host_part(name: &str, gateway: bool) -> Result<(), String> {
    if name != "*" && !name.contains('.') && !(gateway && is_ip(name)) {
        return Err(format!(
            "{name:?} is a short name; use a fully qualified name such as `{name}.prod.svc.cluster.local`, or `*`"
        ));
    }
    if let Err(why) = wildcard_domain(name)
        && !(gateway && is_ip(name))
    {
        return Err(why);
    }
    partial_wildcard(name)
}

/// Istio `ValidatePartialWildCard`: a wildcard is `*` alone or a whole
/// leading `*.`.
pub(crate) fn partial_wildcard(host: &str) -> Result<(), String> {
    let whole = host == "*"
        || host
            .strip_prefix("*.")
            .is_some_and(|rest| !rest.contains('*'));
    if host.contains('*') && !whole {
        return Err(format!(
            "partial wildcard {host:?} is not allowed; a wildcard must be the whole first label, such as `*.example.com`"
        ));
    }
    Ok(())
}

/// Istio `ValidateWildcardDomain`: a DNS name whose first label may be a
/// wildcard (`*`, `*.example.com`).
pub(crate) fn wildcard_domain(domain: &str) -> Result<(), String> {
    dns_preconditions(domain)?;
    let (first, rest) = match domain.split_once('.') {
        Some((f, r)) => (f, Some(r)),
        None => (domain, None),
    };
    if !is_wildcard_dns1123_label(first) {
        return Err(format!(
            "{domain:?} is not a valid DNS name: label {first:?} is invalid; use letters, digits and '-' (a wildcard only as the whole first label)"
        ));
    }
    match rest {
        Some(r) => dns_labels(domain, r),
        None => Ok(()),
    }
}

/// Istio `ValidateFQDN`: a DNS name without wildcards.
pub(crate) fn fqdn(name: &str) -> Result<(), String> {
    dns_preconditions(name)?;
    dns_labels(name, name)
}

fn dns_preconditions(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty host; name a DNS host such as `foo.example.com`".to_string());
    }
    if name.len() > 255 {
        return Err(format!("{name:?} is longer than 255 characters"));
    }
    Ok(())
}

fn dns_labels(whole: &str, domain: &str) -> Result<(), String> {
    let parts: Vec<&str> = domain.split('.').collect();
    let last = parts.len() - 1;
    if !parts[last].is_empty() && parts[last].bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{whole:?} is not a valid DNS name: its top-level label {:?} is all digits",
            parts[last]
        ));
    }
    for (i, label) in parts.iter().enumerate() {
        // A trailing dot (`istio.io.`) is allowed.
        if i == last && label.is_empty() {
            break;
        }
        if !is_dns1123_label(label) {
            return Err(format!(
                "{whole:?} is not a valid DNS name: label {label:?} is invalid; use 1 to 63 letters, digits and '-', not starting or ending with '-'"
            ));
        }
    }
    Ok(())
}

/// `[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?`, at most 63 characters, as
/// Istio's `labels.IsDNS1123Label` accepts.
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// `*`, or a DNS-1123 label optionally prefixed `*` or `*-`.
fn is_wildcard_dns1123_label(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    let rest = s
        .strip_prefix("*-")
        .or_else(|| s.strip_prefix('*'))
        .unwrap_or(s);
    s.len() <= 63 && is_dns1123_label(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_follow_istio() {
        for ok in [
            "reviews",
            "*",
            "*.example.com",
            "reviews.prod.svc.cluster.local",
            "istio.io.",
            "*-foo.bar.com",
        ] {
            assert!(wildcard_domain(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a_b.com", "-a.com", "foo.*.com", "example.123", "a..b"] {
            assert!(wildcard_domain(bad).is_err(), "{bad}");
        }
        assert!(fqdn("*.example.com").is_err());
        assert!(fqdn("www.googleapis.com").is_ok());
    }

    #[test]
    fn namespaced_hosts_follow_istio() {
        for ok in [
            "*",
            "*.local",
            "uk.bookinfo.com",
            "ns1/*",
            "./foo.example.com",
            "bookinfo-namespace/*.bookinfo.com",
            "10.0.0.1",
        ] {
            assert!(namespaced_host(ok, true).is_ok(), "{ok}");
        }
        for ok in ["prod-us1/*", "*/mysql.foo.com", "~/*", "./*"] {
            assert!(namespaced_host(ok, false).is_ok(), "{ok}");
        }
        assert!(
            namespaced_host("reviews", true)
                .unwrap_err()
                .contains("short name")
        );
        assert!(
            namespaced_host("foo.example.com", false)
                .unwrap_err()
                .contains("namespace/dnsName")
        );
        assert!(namespaced_host("~/foo.com", true).is_err());
        assert!(
            namespaced_host("ns/foo*.com", true)
                .unwrap_err()
                .contains("whole first label")
        );
        assert!(
            partial_wildcard("*foo.com")
                .unwrap_err()
                .contains("partial wildcard")
        );
        assert!(partial_wildcard("*.foo.com").is_ok());
        assert!(namespaced_host("Bad_NS/*", false).is_err());
    }
}
