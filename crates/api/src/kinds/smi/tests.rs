use crate::Spec;

fn findings(yaml: &str) -> Vec<String> {
    crate::load::checked_messages("ts.yaml", yaml)
}

/// `spec` under a v1alpha4 TrafficSplit header: its first line is line 5.
fn split(spec: &str) -> String {
    format!(
        "apiVersion: split.smi-spec.io/v1alpha4\nkind: TrafficSplit\nmetadata: {{ name: canary }}\nspec:\n{spec}"
    )
}

#[test]
fn every_version_loads_with_its_weights() {
    // The booksapp split (v1alpha1 quantities), the talks' canary and the
    // SMI spec's A/B example (v1alpha4 integers, `matches`).
    let set = crate::load::checked(
        "ts.yaml",
        "apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata:
  name: authors-split
spec:
  service: authors
  backends:
  - service: authors
    weight: 500m
  - service: authors-clone
    weight: 500m
---
apiVersion: split.smi-spec.io/v1alpha1
kind: TrafficSplit
metadata:
  name: webapp-split
spec:
  service: webapp
  backends:
  - service: webapp
    weight: 1000m
  - service: webapp-clone
    weight: 0m
---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata:
  name: canary
spec:
  # The root service that clients use to connect to the destination application.
  service: website
  # Services inside the namespace with their own selectors, endpoints and configuration.
  backends:
  - service: website-v1
    weight: 90
  - service: website-v2
    weight: 10
---
apiVersion: split.smi-spec.io/v1alpha3
kind: TrafficSplit
metadata:
  name: ab-test
spec:
  service: website
  matches:
  - kind: HTTPRouteGroup
    name: ab-test
    apiGroup: specs.smi-spec.io
  backends:
  - service: website-v1
    weight: 0
  - service: website-v2
    weight: 100
---
apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata:
  name: foobar-rollout
spec:
  service: foobar
  backends:
  - service: foobar-v2
    weight: 1
",
    );
    let m: Vec<String> = set
        .findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect();
    assert!(m.is_empty(), "{m:#?}");
    let weights: Vec<Vec<i64>> = set
        .resources
        .iter()
        .map(|r| match &r.spec {
            Spec::TrafficSplit(s) => s.backends.iter().map(|b| b.weight.milli).collect(),
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(
        weights,
        [
            vec![500, 500],
            vec![1000, 0],
            vec![90_000, 10_000],
            vec![0, 100_000],
            vec![1000]
        ]
    );
}

#[test]
fn service_and_backends_are_required() {
    let m = findings(&split("  backends: []\n"));
    assert_eq!(
        m,
        [
            "error: ts.yaml:4: spec.service: a TrafficSplit needs `service`, the root service clients address, such as `service: website`",
            "error: ts.yaml:5: spec.backends: a TrafficSplit needs `backends`, such as `- service: website-v1` with `weight: 90`",
        ]
    );
    let m = findings(&split(
        "  service: website\n  backends:\n  - service: website-v1\n",
    ));
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("error: ts.yaml:7: spec.backends[0]: "),
        "{m:#?}"
    );
    assert!(m[0].contains("weight"), "{m:#?}");
}

#[test]
fn weights_must_route_something_to_distinct_backends() {
    let m = findings(&split(
        "  service: website\n  backends:\n  - service: website-v1\n    weight: 0\n  - service: website-v1\n    weight: -5\n  - weight: 0\n",
    ));
    assert_eq!(
        m,
        [
            "error: ts.yaml:9: spec.backends[1].service: backend `website-v1` is already listed at backends[0]; list each service once, with the sum of the weights",
            "error: ts.yaml:10: spec.backends[1].weight: weight is negative; use 0 or more",
            "error: ts.yaml:11: spec.backends[2].service: a backend needs `service`, the Kubernetes service to send its share to",
            "error: ts.yaml:11: spec.backends[2].weight: every weight is 0, so no backend gets traffic; give at least one backend a positive weight",
        ]
    );
}

#[test]
fn matches_name_http_route_groups() {
    let m = findings(&split(
        "  service: website\n  matches:\n  - kind: TCPRoute\n    name: t\n  - kind: HTTPRouteGroup\n  backends:\n  - { service: website-v2, weight: 1 }\n",
    ));
    assert_eq!(
        m,
        [
            "error: ts.yaml:7: spec.matches[0].kind: `kind: TCPRoute` cannot be matched; a TrafficSplit matches `kind: HTTPRouteGroup`",
            "error: ts.yaml:9: spec.matches[1].name: a match needs the `name` of an HTTPRouteGroup",
        ]
    );
}

#[test]
fn a_typo_is_reported() {
    let m = findings(&split(
        "  service: website\n  backends:\n  - service: website-v1\n    wieght: 1\n    weight: 1\n",
    ));
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("error: ts.yaml:8: spec.backends[0].wieght: unknown field `wieght`"),
        "{m:#?}"
    );
}
