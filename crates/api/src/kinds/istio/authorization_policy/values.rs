//! The forms the strings of an authorization rule take: IPs and CIDRs,
//! ports, service accounts, principals and paths, following Istio's
//! `pkg/config/security` (`ValidateIPs`, `ValidatePorts`,
//! `CheckServiceAccount`, `CheckValidPathTemplate`, `CheckEmptyValues`).
//! Each checker takes the list's field path and reports at the item.

use std::net::IpAddr;

use crate::check::Check;

/// Istio caps service-account lists to bound the generated config.
const MAX_SERVICE_ACCOUNTS: usize = 16;
const MAX_SERVICE_ACCOUNT_LEN: usize = 320;

/// Istio rejects empty strings in every rule list.
pub(super) fn not_empty(cx: &mut Check<'_>, path: &str, values: &[String]) {
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() {
            cx.error(
                "empty-value",
                format!("{path}[{i}]"),
                "empty value; remove it, or write `*` to match any non-empty value",
            );
        }
    }
}

/// Single IPs (`203.0.113.4`) or CIDRs (`203.0.113.0/24`), IPv4 or IPv6.
pub(super) fn ips(cx: &mut Check<'_>, path: &str, values: &[String]) {
    for (i, v) in values.iter().enumerate() {
        if !v.is_empty() && !is_ip_or_cidr(v) {
            cx.error(
                "ip-block",
                format!("{path}[{i}]"),
                format!("`{v}` is not an IP address or CIDR range; write it as `203.0.113.4` or `203.0.113.0/24`"),
            );
        }
    }
}

/// Port numbers written as strings, as Istio's `ports` fields hold them.
pub(super) fn ports(cx: &mut Check<'_>, path: &str, values: &[String]) {
    for (i, v) in values.iter().enumerate() {
        if !v.is_empty() && !v.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p)) {
            cx.error(
                "port",
                format!("{path}[{i}]"),
                format!("`{v}` is not a port; write a number from 1 to 65535 such as \"8080\" (ports take no wildcards or ranges)"),
            );
        }
    }
}

/// `<service-account>` or `<namespace>/<service-account>`, no wildcards.
pub(super) fn service_accounts(cx: &mut Check<'_>, path: &str, values: &[String]) {
    if values.len() > MAX_SERVICE_ACCOUNTS {
        cx.error(
            "service-account",
            path,
            format!("{} service accounts, Istio allows at most {MAX_SERVICE_ACCOUNTS}; split the rule, or use `namespaces`", values.len()),
        );
    }
    for (i, v) in values.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if v.is_empty() {
            continue;
        }
        let form = "write `<service-account>` or `<namespace>/<service-account>`, such as `default/productpage`";
        if v.contains('*') {
            cx.error(
                "service-account",
                at,
                format!("`{v}`: service accounts take no wildcards; {form}"),
            );
        } else if v.len() > MAX_SERVICE_ACCOUNT_LEN {
            cx.error(
                "service-account",
                at,
                format!("`{v}` is longer than {MAX_SERVICE_ACCOUNT_LEN} characters"),
            );
        } else if v.matches('/').count() > 1 || v.starts_with('/') || v.ends_with('/') {
            cx.error(
                "service-account",
                at,
                format!("`{v}` is not a service account; {form}"),
            );
        }
    }
}

/// Peer identities. Istio writes them without the `spiffe://` scheme (an
/// error: such a principal never matches) and as
/// `<trust-domain>/ns/<namespace>/sa/<service-account>` (anything else is
/// probably not what the author meant, so a warning).
pub(super) fn principals(cx: &mut Check<'_>, path: &str, values: &[String]) {
    for (i, v) in values.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if let Some(rest) = v.strip_prefix("spiffe://") {
            cx.error(
                "principal-scheme",
                at,
                format!("Istio principals omit the `spiffe://` scheme, so `{v}` never matches; write `{rest}`"),
            );
        } else if v.is_empty() || is_edge_wildcard(v) {
            // Exact forms are checked below; `*`, `prefix*` and `*suffix`
            // are deliberate.
        } else if v.contains('*') {
            cx.warn(
                "principal-form",
                at,
                format!("`*` only matches at the start or end of a principal, so `{v}` matches a literal `*`; write `cluster.local/ns/default/sa/*` or `*/sa/productpage`"),
            );
        } else if !is_spiffe_path(v) {
            cx.warn(
                "principal-form",
                at,
                format!("`{v}` is not of the form `<trust-domain>/ns/<namespace>/sa/<service-account>` (such as `cluster.local/ns/default/sa/productpage`), so no workload identity matches it"),
            );
        }
    }
}

/// Request paths: exact, `prefix*`, `*suffix` or `*`, or an Envoy URI
/// template with `{*}` (one segment) and `{**}` (the rest, last).
pub(super) fn paths(cx: &mut Check<'_>, path: &str, values: &[String]) {
    for (i, v) in values.iter().enumerate() {
        let at = format!("{path}[{i}]");
        if v.contains('{') || v.contains('}') {
            if let Err(why) = check_template(v) {
                cx.error(
                    "path",
                    at,
                    format!("`{v}` is not a valid path template: {why}"),
                );
            }
        } else if v.contains('*') && !is_edge_wildcard(v) {
            cx.error(
                "path",
                at,
                format!("`*` only matches as a whole path or at its start or end (`/api/*`, `*.png`), so `{v}` would match a literal `*`; for one path segment write `{{*}}` (`/api/{{*}}/users`), for any number `{{**}}`"),
            );
        }
    }
}

/// `*`, or a single `*` at the start or the end.
pub(super) fn is_edge_wildcard(v: &str) -> bool {
    v == "*" || (v.matches('*').count() == 1 && (v.starts_with('*') || v.ends_with('*')))
}

fn is_ip_or_cidr(v: &str) -> bool {
    match v.split_once('/') {
        None => v.parse::<IpAddr>().is_ok(),
        Some((ip, bits)) => {
            let max = match ip.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => 32,
                Ok(IpAddr::V6(_)) => 128,
                Err(_) => return false,
            };
            bits.bytes().all(|b| b.is_ascii_digit()) && bits.parse::<u8>().is_ok_and(|b| b <= max)
        }
    }
}

/// `<trust-domain>/ns/<namespace>/sa/<service-account>`.
fn is_spiffe_path(v: &str) -> bool {
    matches!(
        v.split('/').collect::<Vec<_>>().as_slice(),
        [td, "ns", ns, "sa", sa] if !td.is_empty() && !ns.is_empty() && !sa.is_empty()
    )
}

/// Istio's `CheckValidPathTemplate`: segments are `{*}`, `{**}` (at most
/// one, after every other operator) or RFC 3986 path characters.
fn check_template(path: &str) -> Result<(), String> {
    let has_operator = path.contains("{*}") || path.contains("{**}");
    let mut seen_any = false;
    for segment in path.trim_matches('/').split('/') {
        match segment {
            "{*}" | "{**}" if seen_any => return Err("`{**}` must be the last operator".into()),
            "{*}" => continue,
            "{**}" => {
                seen_any = true;
                continue;
            }
            _ => {}
        }
        if segment.contains(['{', '}']) {
            return Err(format!(
                "segment `{segment}` has braces outside the `{{*}}` and `{{**}}` operators; match a path parameter with `{{*}}`"
            ));
        }
        if has_operator && (segment.is_empty() || !segment.chars().all(is_pchar)) {
            return Err(format!(
                "segment `{segment}` is not a literal (a template allows letters, digits and `-._~%!$&'()+,;:@=`, no `*`); use `{{*}}` for any segment"
            ));
        }
    }
    Ok(())
}

/// RFC 3986 `pchar`, less `*` (which a template reserves).
fn is_pchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~%!$&'()+,;:@=".contains(c)
}
