use crate::{Kind, Spec};

use super::Action;

/// Each finding as `severity: file:line: path: message`.
fn findings(yaml: &str) -> Vec<String> {
    crate::load::checked_messages("ap.yaml", yaml)
}

/// `spec` under an AuthorizationPolicy header: its first line is line 5.
fn policy(spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{ name: p, namespace: foo }}\nspec:\n{spec}"
    )
}

fn codes(yaml: &str) -> Vec<String> {
    crate::load::checked("ap.yaml", yaml)
        .findings
        .iter()
        .map(|f| f.code.to_string())
        .collect()
}

#[test]
fn reference_examples_load_clean() {
    // The examples of the AuthorizationPolicy reference (istio/api
    // `authorization_policy.proto`, the CUSTOM one included) and of the
    // RequestAuthentication reference, plus a waypoint policy using the
    // newer fields.
    let set = crate::load::checked("ap.yaml", include_str!("reference-examples.yaml"));
    let m: Vec<String> = set
        .findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect();
    assert!(m.is_empty(), "{m:#?}");
    assert_eq!(set.resources.len(), 9);
    let Spec::AuthorizationPolicy(p) = &set.resources[0].spec else {
        panic!("not an AuthorizationPolicy")
    };
    assert_eq!(set.resources[0].kind, Kind::AuthorizationPolicy);
    assert_eq!(p.action, Action::Allow);
    assert_eq!(
        p.rules[0].from[0].source.principals,
        ["cluster.local/ns/default/sa/sleep"]
    );
    assert_eq!(p.rules[0].to[1].operation.paths, ["/data"]);
    assert_eq!(p.rules[0].when[0].key, "request.auth.claims[iss]");
}

#[test]
fn the_talks_details_viewer_policy_loads_and_its_misprint_does_not() {
    let valid = r#"apiVersion: "security.istio.io/v1beta1"
kind: "AuthorizationPolicy"
metadata:
  name: "details-viewer"
  namespace: default
spec:
  selector:
    matchLabels:
      app: details
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/default/sa/bookinfo-productpage"]
      to:
        - operation:
            methods: ["GET"]
"#;
    assert_eq!(findings(valid), Vec::<String>::new());
    // As printed on the slide: `to:` indented under `from`, which YAML
    // cannot even parse.
    let misprint = valid.replace("      to:\n", "        to:\n");
    let m = findings(&misprint);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("error: ap.yaml:14: not valid YAML"),
        "{m:#?}"
    );
    assert!(
        m[0].contains("`to:` (column 9) is indented deeper than `from:` on line 11 (column 7)"),
        "{m:#?}"
    );
}

#[test]
fn a_typo_is_reported_with_the_field_it_meant() {
    let m = findings(&policy(
        "  rules:\n  - from:\n    - source:\n        principal: [\"cluster.local/ns/default/sa/a\"]\n",
    ));
    assert_eq!(
        m,
        [
            // Only the slip: a resource that does not fit its schema is not
            // checked further.
            "error: ap.yaml:8: spec.rules[0].from[0].source.principal: unknown field `principal` in `spec.rules[0].from[0].source`; did you mean `principals`?",
        ]
    );
}

#[test]
fn principals_with_the_spiffe_scheme_are_errors_and_odd_forms_warnings() {
    let m = findings(&policy(
        r#"  rules:
  - from:
    - source:
        principals:
        - spiffe://cluster.local/ns/default/sa/sleep
        - default/sleep
        - cluster.local/ns/*/sa/sleep
        - "*/sa/sleep"
        - cluster.local/ns/default/sa/*
        notPrincipals: ["spiffe://cluster.local/ns/x/sa/y"]
"#,
    ));
    assert_eq!(
        m,
        [
            "error: ap.yaml:9: spec.rules[0].from[0].source.principals[0]: Istio principals omit the `spiffe://` scheme, so `spiffe://cluster.local/ns/default/sa/sleep` never matches; write `cluster.local/ns/default/sa/sleep`",
            "warning: ap.yaml:10: spec.rules[0].from[0].source.principals[1]: `default/sleep` is not of the form `<trust-domain>/ns/<namespace>/sa/<service-account>` (such as `cluster.local/ns/default/sa/productpage`), so no workload identity matches it",
            "warning: ap.yaml:11: spec.rules[0].from[0].source.principals[2]: `*` only matches at the start or end of a principal, so `cluster.local/ns/*/sa/sleep` matches a literal `*`; write `cluster.local/ns/default/sa/*` or `*/sa/productpage`",
            "error: ap.yaml:14: spec.rules[0].from[0].source.notPrincipals[0]: Istio principals omit the `spiffe://` scheme, so `spiffe://cluster.local/ns/x/sa/y` never matches; write `cluster.local/ns/x/sa/y`",
        ]
    );
    let codes = codes(&policy(
        "  rules:\n  - when:\n    - key: source.principal\n      values: [default/sleep]\n",
    ));
    assert_eq!(codes, ["principal-form"]);
}

#[test]
fn custom_needs_a_provider_and_only_custom_takes_one() {
    let m = findings(&policy(
        "  action: CUSTOM\n  rules:\n  - to:\n    - operation: { paths: [/admin] }\n",
    ));
    assert_eq!(
        m,
        [
            "error: ap.yaml:5: spec.action: a CUSTOM policy needs `provider.name`, the extension provider (from MeshConfig `extensionProviders`) that decides"
        ]
    );
    let m = findings(&policy("  provider: { name: ext }\n  rules: [{}]\n"));
    assert_eq!(
        m,
        [
            "error: ap.yaml:5: spec.provider: `provider` only goes with `action: CUSTOM`, this policy is ALLOW; set `action: CUSTOM` or remove `provider`"
        ]
    );
    let c = codes(&policy(
        "  action: CUSTOM\n  provider: { name: ext }\n  rules:\n  - from:\n    - source: { namespaces: [a], ipBlocks: [10.0.0.1] }\n    when:\n    - key: request.auth.claims[iss]\n      values: [x]\n",
    ));
    assert_eq!(c, ["custom-unsupported", "custom-unsupported"]);
    assert_eq!(codes(&policy("  action: DENY\n")), ["no-rules"]);
}

#[test]
fn ips_ports_and_paths_are_checked_where_written() {
    let m = findings(&policy(
        r#"  action: ALLOW
  rules:
  - from:
    - source:
        ipBlocks: ["10.0.0.0/8", "10.0.0.300", "10.0.0.0/33", "::1/128"]
    to:
    - operation:
        ports: ["8080", "http", "0"]
        paths: ["/api/*", "*.png", "/api/*/users", "/a/{id}", "/{**}/x/{*}", "/foo/{*}/bar/{**}", "/x/**"]
"#,
    ));
    assert_eq!(m.len(), 8, "{m:#?}");
    assert_eq!(
        m[0],
        "error: ap.yaml:9: spec.rules[0].from[0].source.ipBlocks[1]: `10.0.0.300` is not an IP address or CIDR range; write it as `203.0.113.4` or `203.0.113.0/24`"
    );
    assert!(
        m[1].starts_with(
            "error: ap.yaml:9: spec.rules[0].from[0].source.ipBlocks[2]: `10.0.0.0/33`"
        ),
        "{m:#?}"
    );
    assert_eq!(
        m[2],
        "error: ap.yaml:12: spec.rules[0].to[0].operation.ports[1]: `http` is not a port; write a number from 1 to 65535 such as \"8080\" (ports take no wildcards or ranges)"
    );
    assert!(
        m[3].starts_with(
            "error: ap.yaml:12: spec.rules[0].to[0].operation.ports[2]: `0` is not a port"
        ),
        "{m:#?}"
    );
    assert_eq!(
        m[4],
        "error: ap.yaml:13: spec.rules[0].to[0].operation.paths[2]: `*` only matches as a whole path or at its start or end (`/api/*`, `*.png`), so `/api/*/users` would match a literal `*`; for one path segment write `{*}` (`/api/{*}/users`), for any number `{**}`"
    );
    assert!(
        m[5].contains(
            "paths[3]: `/a/{id}` is not a valid path template: segment `{id}` has braces outside"
        ),
        "{m:#?}"
    );
    assert!(
        m[6].contains(
            "paths[4]: `/{**}/x/{*}` is not a valid path template: `{**}` must be the last operator"
        ),
        "{m:#?}"
    );
    assert!(m[7].contains("paths[6]: `*` only matches"), "{m:#?}");
}

#[test]
fn conditions_need_known_keys_and_values() {
    let m = findings(&policy(
        r#"  rules:
  - when:
    - key: request.header[x]
      values: [a]
    - key: destination.labels[app]
      values: [a]
    - key: request.headers[]
      values: [a]
    - key: destination.port
      values: ["80", "x"]
    - key: source.ip
"#,
    ));
    assert_eq!(m.len(), 5, "{m:#?}");
    assert!(
        m[0].starts_with("error: ap.yaml:7: spec.rules[0].when[0].key: unknown condition key `request.header[x]`; use one of `request.headers[<name>]`, "),
        "{m:#?}"
    );
    assert_eq!(
        m[1],
        "error: ap.yaml:9: spec.rules[0].when[1].key: `destination.labels[app]` is not a condition: select the workload with `selector.matchLabels` instead"
    );
    assert!(m[2].starts_with("error: ap.yaml:11: spec.rules[0].when[2].key: `request.headers[]` needs the entry in brackets"), "{m:#?}");
    assert!(
        m[3].starts_with("error: ap.yaml:14: spec.rules[0].when[3].values[1]: `x` is not a port"),
        "{m:#?}"
    );
    assert_eq!(
        m[4],
        "error: ap.yaml:15: spec.rules[0].when[4]: the condition on `source.ip` needs `values` or `notValues`"
    );
}

#[test]
fn sources_and_operations_cannot_be_empty_or_mixed() {
    let m = findings(&policy(
        r#"  rules:
  - from:
    - source: {}
    - source:
        namespaces: [foo]
        serviceAccounts: ["foo/*", "a/b/c"]
    to:
    - operation: {}
"#,
    ));
    assert_eq!(
        m,
        [
            "error: ap.yaml:7: spec.rules[0].from[0].source: a `from` entry needs a `source` with at least one field, such as `principals`, `namespaces` or `ipBlocks`",
            "error: ap.yaml:10: spec.rules[0].from[1].source.serviceAccounts: `serviceAccounts` cannot be combined with `principals` or `namespaces` in one source; put them in separate `from` entries",
            "error: ap.yaml:10: spec.rules[0].from[1].source.serviceAccounts[0]: `foo/*`: service accounts take no wildcards; write `<service-account>` or `<namespace>/<service-account>`, such as `default/productpage`",
            "error: ap.yaml:10: spec.rules[0].from[1].source.serviceAccounts[1]: `a/b/c` is not a service account; write `<service-account>` or `<namespace>/<service-account>`, such as `default/productpage`",
            "error: ap.yaml:12: spec.rules[0].to[0].operation: a `to` entry needs an `operation` with at least one field, such as `methods`, `paths` or `ports`",
        ]
    );
}

#[test]
fn a_policy_applies_by_selector_or_by_target_not_both() {
    let m = findings(&policy(
        r#"  selector:
    matchLabels: { app: "*" }
  targetRefs:
  - kind: Deployment
    name: web
    namespace: other
"#,
    ));
    assert_eq!(
        m,
        [
            "error: ap.yaml:6: spec.selector.matchLabels.app: wildcards are not supported in selectors (`app: *`); name the exact label value",
            "error: ap.yaml:7: spec.targetRefs: set only one of `selector`, `targetRef` and `targetRefs` (found `selector` and `targetRefs`); a policy applies either to the workloads a selector picks or to the resources it targets",
            "error: ap.yaml:8: spec.targetRefs[0].kind: `Deployment` cannot be a policy target; use `kind: Service` (group \"\"), `kind: ServiceEntry` (group `networking.istio.io`), or `kind: Gateway` or `GatewayClass` (group `gateway.networking.k8s.io`)",
            "error: ap.yaml:10: spec.targetRefs[0].namespace: remove `namespace`: a policy can only target resources in its own namespace",
        ]
    );
    assert_eq!(codes(&policy("  selector: {}\n")), ["selector"]);
}

#[test]
fn deny_rules_on_http_attributes_alone_warn_like_istio() {
    let c = codes(&policy(
        "  action: DENY\n  rules:\n  - to:\n    - operation: { paths: [/headers] }\n",
    ));
    assert_eq!(c, ["deny-http-only"]);
    let c = codes(&policy(
        "  action: DENY\n  rules:\n  - from:\n    - source: { requestPrincipals: [\"*\"] }\n",
    ));
    assert_eq!(c, ["deny-http-only"]);
    let c = codes(&policy(
        "  action: DENY\n  rules:\n  - from:\n    - source: { namespaces: [dev] }\n",
    ));
    assert!(c.is_empty(), "{c:?}");
}
