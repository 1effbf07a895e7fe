use http::HeaderValue;

use super::*;

fn authorizer(json: &str) -> Authorizer {
    let policies: Vec<AuthorizationPolicy> = serde_json::from_str(json).unwrap();
    Authorizer::new(&policies)
}

fn identity(sa: &str) -> Identity {
    Identity {
        principal: format!("cluster.local/ns/default/sa/{sa}"),
        namespace: "default".into(),
    }
}

/// A request (HTTP when `method` is set) from `peer` to port 9080.
struct Req {
    peer: &'static str,
    identity: Option<Identity>,
    method: Option<&'static str>,
    path: &'static str,
    host: &'static str,
    port: u16,
    headers: HeaderMap,
}

fn http(method: &'static str, path: &'static str, who: Option<&str>) -> Req {
    Req {
        peer: "198.18.0.2",
        identity: who.map(identity),
        method: Some(method),
        path,
        host: "details",
        port: 9080,
        headers: HeaderMap::new(),
    }
}

fn tcp(who: Option<&str>) -> Req {
    Req {
        method: None,
        ..http("GET", "/", who)
    }
}

fn check(a: &Authorizer, r: &Req) -> Verdict {
    let attrs = Attrs {
        peer: r.peer.parse().unwrap(),
        remote: r.peer.parse().unwrap(),
        local: None,
        port: r.port,
        identity: r.identity.as_ref(),
        http: r.method.map(|m| HttpAttrs {
            method: m,
            host: r.host,
            path: r.path,
            headers: &r.headers,
        }),
    };
    a.check(&attrs)
}

fn denied_by(v: Verdict) -> String {
    match v {
        Verdict::Allow => "allowed".into(),
        Verdict::Deny(p) => p.to_string(),
    }
}

const DETAILS_VIEWER: &str = r#"[{
  "name": "default/details-viewer", "action": "allow",
  "rules": [{ "from": [{ "principals": ["cluster.local/ns/default/sa/bookinfo-productpage"] }],
              "to": [{ "methods": ["GET"] }] }]
}]"#;

#[test]
fn the_seed_policy_lets_only_productpage_get() {
    let a = authorizer(DETAILS_VIEWER);
    assert_eq!(
        check(&a, &http("GET", "/details/0", Some("bookinfo-productpage"))),
        Verdict::Allow
    );
    assert_eq!(
        denied_by(check(
            &a,
            &http("POST", "/details/0", Some("bookinfo-productpage"))
        )),
        NO_ALLOW_MATCHED
    );
    assert_eq!(
        denied_by(check(
            &a,
            &http("GET", "/details/0", Some("bookinfo-reviews"))
        )),
        NO_ALLOW_MATCHED
    );
    assert_eq!(
        denied_by(check(&a, &http("GET", "/details/0", None))),
        NO_ALLOW_MATCHED,
        "plaintext has no principal"
    );
}

#[test]
fn deny_comes_before_allow_and_no_allow_policy_allows() {
    let a = authorizer(
        r#"[
      { "name": "ns/allow-all", "action": "allow", "rules": [{}] },
      { "name": "ns/no-admin", "action": "deny", "rules": [{ "to": [{ "paths": ["/admin*"] }] }] }
    ]"#,
    );
    assert_eq!(check(&a, &http("GET", "/x", None)), Verdict::Allow);
    assert_eq!(
        denied_by(check(&a, &http("GET", "/admin/users", None))),
        "ns/no-admin"
    );
    let deny_only = authorizer(
        r#"[{ "name": "ns/no-post", "action": "deny", "rules": [{ "to": [{ "methods": ["POST"] }] }] }]"#,
    );
    assert_eq!(
        check(&deny_only, &http("GET", "/", None)),
        Verdict::Allow,
        "no ALLOW policy: allowed"
    );
    let nothing = authorizer(r#"[{ "name": "ns/deny-all", "action": "allow" }]"#);
    assert_eq!(
        denied_by(check(&nothing, &http("GET", "/", None))),
        NO_ALLOW_MATCHED,
        "ALLOW with no rules denies all"
    );
}

#[test]
fn on_tcp_http_only_fields_fail_closed_both_ways() {
    let allow = authorizer(
        r#"[{ "name": "ns/get-only", "action": "allow", "rules": [{ "to": [{ "methods": ["GET"] }] }] }]"#,
    );
    assert_eq!(
        denied_by(check(&allow, &tcp(None))),
        NO_ALLOW_MATCHED,
        "an ALLOW rule that needs HTTP cannot match TCP"
    );
    let deny = authorizer(
        r#"[{ "name": "ns/no-delete-9080", "action": "deny",
        "rules": [{ "to": [{ "methods": ["DELETE"], "ports": [9080] }] }] }]"#,
    );
    assert_eq!(
        denied_by(check(&deny, &tcp(None))),
        "ns/no-delete-9080",
        "a DENY rule drops its HTTP-only part"
    );
    let mut other_port = tcp(None);
    other_port.port = 9090;
    assert_eq!(
        check(&deny, &other_port),
        Verdict::Allow,
        "its TCP part still has to match"
    );
}

#[test]
fn sources_addresses_ports_hosts_and_conditions() {
    let a = authorizer(
        r#"[{ "name": "ns/p", "action": "allow", "rules": [
      { "from": [{ "ip_blocks": ["198.18.0.0/24"], "not_ip_blocks": ["198.18.0.9"] }] }
    ]}]"#,
    );
    assert_eq!(check(&a, &http("GET", "/", None)), Verdict::Allow);
    let mut outside = http("GET", "/", None);
    outside.peer = "198.18.1.2";
    assert_ne!(check(&a, &outside), Verdict::Allow);
    let mut excluded = http("GET", "/", None);
    excluded.peer = "198.18.0.9";
    assert_ne!(check(&a, &excluded), Verdict::Allow);

    let b = authorizer(
        r#"[{ "name": "ns/q", "action": "allow", "rules": [{
        "to": [{ "hosts": ["*.example.com"], "ports": [9080], "paths": ["*.json"] }],
        "when": [{ "key": "request.headers[x-tenant]", "values": ["gold-*"] }] }]}]"#,
    );
    let mut ok = http("GET", "/a/b.json", None);
    ok.host = "api.example.com";
    ok.headers
        .insert("x-tenant", HeaderValue::from_static("gold-7"));
    assert_eq!(check(&b, &ok), Verdict::Allow);
    ok.headers
        .insert("x-tenant", HeaderValue::from_static("silver-1"));
    assert_ne!(check(&b, &ok), Verdict::Allow, "the header condition fails");
}

#[test]
fn not_principals_star_denies_plaintext_peers() {
    let a = authorizer(
        r#"[{ "name": "ns/require-mtls", "action": "deny", "rules": [{ "from": [{ "not_principals": ["*"] }] }] }]"#,
    );
    assert_eq!(
        denied_by(check(&a, &http("GET", "/", None))),
        "ns/require-mtls"
    );
    assert_eq!(check(&a, &http("GET", "/", Some("anyone"))), Verdict::Allow);
    assert_eq!(
        denied_by(check(&a, &tcp(None))),
        "ns/require-mtls",
        "principals are a TCP attribute"
    );
}

#[test]
fn conditions_on_the_source_principal() {
    let a = authorizer(
        r#"[{ "name": "ns/only-pp", "action": "allow", "rules": [{
        "when": [{ "key": "source.principal", "values": ["cluster.local/ns/default/sa/bookinfo-productpage"] }] }]}]"#,
    );
    assert_eq!(
        check(&a, &http("GET", "/", Some("bookinfo-productpage"))),
        Verdict::Allow
    );
    assert_ne!(
        check(&a, &http("GET", "/", Some("bookinfo-reviews"))),
        Verdict::Allow
    );
    assert_ne!(check(&a, &tcp(None)), Verdict::Allow);
}
