use crate::Spec;

fn findings(yaml: &str) -> Vec<String> {
    crate::load::checked_messages("sp.yaml", yaml)
}

/// `spec` under a ServiceProfile header: its first line is line 5.
fn profile(spec: &str) -> String {
    format!(
        "apiVersion: linkerd.io/v1alpha2\nkind: ServiceProfile\nmetadata: {{ name: web.ns.svc.cluster.local, namespace: ns }}\nspec:\n{spec}"
    )
}

#[test]
fn reference_examples_load_clean() {
    // The talks' profile (as `linkerd profile` writes it, with
    // `creationTimestamp: null`) and the Linkerd service profile reference
    // and retries docs' examples.
    let set = crate::load::checked(
        "sp.yaml",
        "apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  creationTimestamp: null
  name: webapp.booksapp.svc.cluster.local
  namespace: booksapp
spec:
  routes:
    - condition:
        method: GET
        pathRegex: /
      name: GET /
    - condition:
        method: POST
        pathRegex: /authors
      name: POST /authors
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata:
  name: books.booksapp.svc.cluster.local
  namespace: booksapp
spec:
  routes:
  - name: GET /books/{id}.json
    condition:
      all:
      - method: GET
      - pathRegex: /books/[^/]*\\.json
      - not:
          pathRegex: /books/admin.*
    responseClasses:
    - condition:
        status:
          min: 500
          max: 599
      isFailure: true
    - condition:
        any:
        - status: { min: 400, max: 403 }
        - not: { status: { max: 399 } }
      isFailure: false
    isRetryable: true
    timeout: 300ms
  - name: HEAD /authors/{id}.json
    condition:
      any:
      - method: HEAD
      - method: GET
    timeout: 1m30s
  retryBudget:
    retryRatio: 0.2
    minRetriesPerSecond: 10
    ttl: 10s
  dstOverrides:
  - authority: books.booksapp.svc.cluster.local:7002
    weight: 900m
  - authority: books-v2.booksapp.svc.cluster.local:7002
    weight: 100m
",
    );
    let m: Vec<String> = set
        .findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect();
    assert!(m.is_empty(), "{m:#?}");
    let Spec::ServiceProfile(p) = &set.resources[1].spec else {
        panic!("not a ServiceProfile")
    };
    let route = &p.routes[0];
    let not = route.condition.as_ref().and_then(|c| c.all[2].not.as_ref());
    assert_eq!(
        not.and_then(|n| n.path_regex.as_deref()),
        Some("/books/admin.*")
    );
    assert_eq!(route.timeout.map(|t| t.0.as_millis()), Some(300));
    assert_eq!(p.dst_overrides[1].weight.milli, 100);
}

#[test]
fn routes_need_unique_names_and_conditions() {
    let m = findings(&profile(
        "  routes:\n  - name: a\n    condition: { method: GET }\n  - name: a\n    condition: {}\n  - condition: { pathRegex: \"/books/(\" }\n  - name: b\n",
    ));
    assert_eq!(
        m,
        [
            "error: sp.yaml:8: spec.routes[1].name: route name `a` is already used by routes[0]; give each route its own name, or its metrics merge",
            "error: sp.yaml:9: spec.routes[1].condition: a request condition needs at least one of `method`, `pathRegex`, `all`, `any` or `not`",
            "error: sp.yaml:10: spec.routes[2].condition.pathRegex: regex \"/books/(\" does not compile: unclosed group; use RE2 syntax (no look-around or back-references)",
            "error: sp.yaml:10: spec.routes[2].name: a route needs a `name`, such as `GET /books/{id}`; metrics are labelled with it",
            "error: sp.yaml:11: spec.routes[3]: a route needs a `condition`, such as `condition: {method: GET, pathRegex: /books}`",
        ]
    );
    assert_eq!(
        findings(&profile(
            "  retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s }\n"
        )),
        [
            "error: sp.yaml:4: spec.routes: a ServiceProfile needs at least one route, such as `- name: GET /books` with `condition: {method: GET, pathRegex: /books}`"
        ]
    );
}

#[test]
fn response_classes_need_valid_status_ranges() {
    let m = findings(&profile(
        r#"  routes:
  - name: r
    condition: { method: GET }
    responseClasses:
    - condition:
        all:
        - status: { min: 600 }
        - status: { min: 500, max: 404 }
        - not: {}
      isFailure: true
    - isFailure: true
"#,
    ));
    assert_eq!(
        m,
        [
            "error: sp.yaml:11: spec.routes[0].responseClasses[0].condition.all[0].status.min: 600 is not an HTTP status; use 100 to 599",
            "error: sp.yaml:12: spec.routes[0].responseClasses[0].condition.all[1].status.max: max 404 is below min 500; the range matches no status",
            "error: sp.yaml:13: spec.routes[0].responseClasses[0].condition.all[2].not: a response condition needs at least one of `status`, `all`, `any` or `not`",
            "error: sp.yaml:15: spec.routes[0].responseClasses[1]: a response class needs a `condition`, such as `condition: {status: {min: 500, max: 599}}`",
        ]
    );
}

#[test]
fn retry_budgets_need_a_ttl_and_a_non_negative_ratio() {
    let m = findings(&profile(
        "  routes: [{ name: r, condition: { method: GET } }]\n  retryBudget:\n    retryRatio: -0.5\n    minRetriesPerSecond: 10\n  dstOverrides:\n  - { authority: \"\", weight: 1 }\n  opaquePorts: [\"3306\"]\n",
    ));
    assert_eq!(
        m,
        [
            "error: sp.yaml:6: spec.retryBudget: a retry budget needs `ttl`, the window it is measured over, such as `ttl: 10s`",
            "error: sp.yaml:7: spec.retryBudget.retryRatio: retryRatio -0.5 is negative; use 0 or more, such as 0.2 for retries of at most 20% of requests",
            "error: sp.yaml:10: spec.dstOverrides[0].authority: an override needs an `authority`, such as `web-v2.ns.svc.cluster.local:80`",
            "warning: sp.yaml:11: spec.opaquePorts: Linkerd sets `opaquePorts` itself and overwrites what is written here; annotate the Service or pods with `config.linkerd.io/opaque-ports` instead",
        ]
    );
}

#[test]
fn misplaced_fields_are_reported() {
    // A retry budget written inside a route, as blog posts often show it.
    let m = findings(&profile(
        "  routes:\n  - name: r\n    condition: { method: GET, pathRegex: /x }\n    retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s }\n",
    ));
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with(
            "error: sp.yaml:8: spec.routes[0].retryBudget: unknown field `retryBudget`"
        ),
        "{m:#?}"
    );
}

#[test]
fn weft_acts_on_everything_but_not_conditions_and_opaque_ports() {
    let set = crate::ResourceSet::from_text(
        "sp.yaml",
        &profile(
            "  routes:
  - name: r
    condition: { all: [{ method: GET }, { not: { pathRegex: /admin } }] }
    responseClasses: [{ condition: { not: { status: { min: 500 } } }, isFailure: true }]
    isRetryable: true
    timeout: 1s
  retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttl: 10s }
  dstOverrides: [{ authority: 'web-v2.ns.svc.cluster.local:80', weight: 1 }]
  opaquePorts: ['3306']
",
        ),
    );
    let m: Vec<String> = set
        .findings
        .iter()
        .filter(|f| f.code == "not-implemented")
        .map(|f| f.to_string())
        .collect();
    assert_eq!(m.len(), 2, "{m:#?}");
    assert!(
        m.iter().any(|f| f.starts_with("sp.yaml:7: spec.routes[0].condition.all[1].not: weft does not carry out `not` request conditions yet")),
        "{m:#?}"
    );
    assert!(m.iter().any(|f| f.contains("spec.opaquePorts")), "{m:#?}");
}
