use crate::Spec;

fn findings(yaml: &str) -> Vec<String> {
    crate::load::checked_messages("ra.yaml", yaml)
}

/// `spec` under a RequestAuthentication header: its first line is line 5.
fn policy(spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {{ name: jwt, namespace: foo }}\nspec:\n{spec}"
    )
}

#[test]
fn reference_examples_load_clean() {
    // The RequestAuthentication and JWTRule references' examples (istio/api
    // `request_authentication.proto`, `jwt.proto`).
    let set = crate::load::checked(
        "ra.yaml",
        r#"apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: httpbin
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: "issuer-foo"
    jwksUri: https://example.com/.well-known/jwks.json
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: two-issuers
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  jwtRules:
  - issuer: "issuer-foo"
  - issuer: "issuer-bar"
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata:
  name: ingress
  namespace: istio-system
spec:
  targetRef:
    kind: Gateway
    group: gateway.networking.k8s.io
    name: ingress
  jwtRules:
  - issuer: https://example.com
    audiences:
    - bookstore_android.apps.example.com
    - bookstore_web.apps.example.com
    jwks: '{"keys": [{"kty": "RSA", "e": "AQAB", "n": "xyz"}]}'
    fromHeaders:
    - name: x-goog-iap-jwt-assertion
      prefix: "Bearer "
    fromParams: [my_token]
    fromCookies: [session]
    outputPayloadToHeader: x-jwt-payload
    forwardOriginalToken: true
    outputClaimToHeaders:
    - header: x-my-company-jwt-group
      claim: my-group
    - header: x-jwt-claim-group
      claim: nested.key.group
    timeout: 10s
"#,
    );
    let m: Vec<String> = set
        .findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect();
    assert!(m.is_empty(), "{m:#?}");
    let Spec::RequestAuthentication(r) = &set.resources[2].spec else {
        panic!("not a RequestAuthentication")
    };
    let rule = &r.jwt_rules[0];
    assert_eq!(rule.from_headers[0].prefix.as_deref(), Some("Bearer "));
    assert!(rule.forward_original_token);
    assert_eq!(rule.timeout.map(|t| t.0.as_secs()), Some(10));
}

#[test]
fn a_rule_needs_an_issuer_and_one_key_source() {
    let m = findings(&policy(
        r#"  jwtRules:
  - audiences: [""]
  - jwksUri: https://example.com/jwks.json
  - issuer: https://example.com
    jwksUri: example.com/jwks.json
    jwks: '{"keys": [{"kty": "RSA"}]}'
  - issuer: https://example.com
    jwksUri: ftp://example.com/jwks
  - issuer: https://example.com
    jwks: 'not json'
"#,
    ));
    assert_eq!(m.len(), 7, "{m:#?}");
    assert_eq!(
        m[0],
        "error: ra.yaml:6: spec.jwtRules[0]: a JWT rule needs `issuer`, the `iss` claim its tokens carry (such as `https://accounts.google.com`)"
    );
    assert_eq!(
        m[1],
        "error: ra.yaml:6: spec.jwtRules[0].audiences[0]: empty value; write an audience or remove the entry"
    );
    assert_eq!(
        m[2],
        "warning: ra.yaml:7: spec.jwtRules[1]: no `issuer`: tokens from any issuer signed by these keys are accepted; set `issuer` to the `iss` claim you expect"
    );
    assert_eq!(
        m[3],
        "error: ra.yaml:9: spec.jwtRules[2].jwksUri: `example.com/jwks.json` is not a JWKS URL: it has no `https://` scheme; write it as `https://example.com/.well-known/jwks.json`"
    );
    assert_eq!(
        m[4],
        "error: ra.yaml:10: spec.jwtRules[2].jwks: set `jwksUri` or `jwks`, not both (Istio ignores `jwksUri` when `jwks` is set)"
    );
    assert!(m[5].starts_with("error: ra.yaml:12: spec.jwtRules[3].jwksUri: `ftp://example.com/jwks` is not a JWKS URL: the scheme `ftp` is not supported"), "{m:#?}");
    assert!(m[6].starts_with("error: ra.yaml:14: spec.jwtRules[4].jwks: not a JSON Web Key Set: the JSON does not parse"), "{m:#?}");
}

#[test]
fn locations_claims_and_timeouts_are_checked() {
    let m = findings(&policy(
        r#"  jwtRules:
  - issuer: a
    fromHeaders: [{ prefix: "Bearer " }]
    fromParams: [""]
    outputClaimToHeaders:
    - { header: x-group, claim: group }
    - { header: X-Group, claim: other }
    - { header: "bad header", claim: c }
    - { claim: c }
    timeout: 0.5ms
"#,
    ));
    assert_eq!(
        m,
        [
            "error: ra.yaml:7: spec.jwtRules[0].fromHeaders[0].name: a token header needs a `name`, such as `x-jwt-assertion`",
            "error: ra.yaml:8: spec.jwtRules[0].fromParams[0]: empty value; write a query parameter or remove the entry",
            "error: ra.yaml:11: spec.jwtRules[0].outputClaimToHeaders[1].header: header `X-Group` is written twice; each claim needs its own header",
            "error: ra.yaml:12: spec.jwtRules[0].outputClaimToHeaders[2].header: `bad header` is not a valid header name; use letters, digits and `-`",
            "error: ra.yaml:13: spec.jwtRules[0].outputClaimToHeaders[3]: set both `header` and `claim`, such as `header: x-jwt-group` and `claim: group`",
            "error: ra.yaml:14: spec.jwtRules[0].timeout: must be at least `1ms`",
        ]
    );
}

#[test]
fn a_typo_is_reported() {
    let m = findings(&policy(
        "  jwtRules:\n  - issuer: a\n    jwksURI: https://example.com/jwks.json\n",
    ));
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("error: ra.yaml:7: spec.jwtRules[0].jwksURI: unknown field `jwksURI`"),
        "{m:#?}"
    );
    assert!(m[0].contains("`jwksUri`"), "{m:#?}");
}

#[test]
fn selector_and_target_ref_exclude_each_other() {
    let m = findings(&policy(
        "  selector: { matchLabels: { app: a } }\n  targetRef: { kind: Service, name: a }\n",
    ));
    assert_eq!(
        m,
        [
            "error: ra.yaml:6: spec.targetRef: set only one of `selector`, `targetRef` and `targetRefs` (found `selector` and `targetRef`); a policy applies either to the workloads a selector picks or to the resources it targets"
        ]
    );
}
