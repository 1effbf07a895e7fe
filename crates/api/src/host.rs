//! Host names as the mesh resolves them: Istio's short-name rule and
//! wildcard matching.

/// The DNS suffix of Kubernetes services (Istio's default `cluster.local`).
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// The fully qualified name of `host` as written in a resource of
/// `namespace`. Istio (`ResolveShortnameToFQDN`): a name without dots
/// (`reviews`) is short for `reviews.<namespace>.svc.cluster.local`; any
/// name with a dot is taken as written, so `reviews.prod` is not expanded
/// (and `example.com` never becomes a cluster name). Wildcards stay as
/// written.
pub fn fqdn(host: &str, namespace: &str) -> String {
    if host.starts_with('*') || host.contains('.') {
        host.to_string()
    } else {
        format!("{host}.{namespace}.svc.{CLUSTER_DOMAIN}")
    }
}

/// The FQDN of a Kubernetes Service.
pub fn service_fqdn(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.svc.{CLUSTER_DOMAIN}")
}

/// Whether `pattern` (a host that may start with `*`) covers `host`.
/// `*` covers everything; `*.example.com` covers `a.example.com` and
/// `a.b.example.com` but not `example.com`.
pub fn matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some("") => true,
        Some(suffix) => host.len() > suffix.len() && host.ends_with(suffix),
        None => pattern.eq_ignore_ascii_case(host),
    }
}

/// Whether two host patterns can both cover some host.
pub fn overlaps(a: &str, b: &str) -> bool {
    matches(a, b) || matches(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_resolve_in_the_resource_namespace() {
        assert_eq!(fqdn("reviews", "prod"), "reviews.prod.svc.cluster.local");
        assert_eq!(fqdn("reviews.prod", "default"), "reviews.prod");
        assert_eq!(fqdn("example.com", "x"), "example.com");
        assert_eq!(fqdn("*.example.com", "x"), "*.example.com");
    }

    #[test]
    fn wildcards_cover_subdomains_only() {
        assert!(matches("*", "anything"));
        assert!(matches("*.example.com", "a.example.com"));
        assert!(matches("*.example.com", "a.b.example.com"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(matches(
            "Reviews.default.svc.cluster.local",
            "reviews.default.svc.cluster.local"
        ));
        assert!(overlaps("a.example.com", "*.example.com"));
    }
}
