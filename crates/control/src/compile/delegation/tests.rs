use weft_api::ResourceSet;
use weft_api::kinds::istio::VirtualService;

use super::expand;

/// The merged root of `yaml` (its first resource).
fn merged(yaml: &str) -> VirtualService {
    let set = ResourceSet::from_text("vs.yaml", yaml);
    assert!(
        !set.has_errors(),
        "{:?}",
        set.errors().map(|f| f.message.clone()).collect::<Vec<_>>()
    );
    let resources: Vec<_> = set.resources.into_iter().collect();
    let mut out = expand(&resources);
    out.remove(&0).expect("the first resource is a root")
}

const ROOT: &str = "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: root, namespace: front }
spec:
  hosts: [web.front.svc.cluster.local]
  http:
  - name: api
    match: [{ uri: { prefix: /api } }]
    timeout: 3s
    delegate: { name: api, namespace: team }
  - name: missing
    match: [{ uri: { prefix: /gone } }]
    delegate: { name: nowhere }
  - name: rest
    route: [{ destination: { host: web } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: team }
spec:
  http:
  - name: v2
    match: [{ uri: { prefix: /api/v2 }, headers: { x-beta: { exact: '1' } } }]
    route: [{ destination: { host: api-v2 } }]
  - name: outside
    match: [{ uri: { prefix: /other } }]
    route: [{ destination: { host: other } }]
  - name: fallback
    timeout: 1s
    route: [{ destination: { host: api-v1 } }]
";

#[test]
fn delegate_rules_replace_the_root_rule_within_its_match() {
    let vs = merged(ROOT);
    let names: Vec<_> = vs
        .http
        .iter()
        .map(|r| r.name.clone().unwrap_or_default())
        .collect();
    // `outside` is not within /api (dropped); the missing delegate drops
    // its root rule; the plain rule stays.
    assert_eq!(names, ["api-v2", "api-fallback", "rest"]);

    let v2 = &vs.http[0];
    assert_eq!(v2.matches.len(), 1);
    assert_eq!(
        v2.matches[0].uri.as_ref().and_then(|u| u.prefix.as_deref()),
        Some("/api/v2")
    );
    assert!(v2.matches[0].headers.contains_key("x-beta"));
    assert_eq!(
        v2.timeout.map(|t| t.0.as_secs()),
        Some(3),
        "the root's timeout"
    );
    assert_eq!(
        v2.route[0].destination.host, "api-v2.team.svc.cluster.local",
        "hosts are the delegate's namespace's"
    );

    let fallback = &vs.http[1];
    assert_eq!(
        fallback.matches[0]
            .uri
            .as_ref()
            .and_then(|u| u.prefix.as_deref()),
        Some("/api"),
        "no match of its own: the root's"
    );
    assert_eq!(
        fallback.timeout.map(|t| t.0.as_secs()),
        Some(1),
        "its own timeout wins"
    );
    assert!(vs.http.iter().all(|r| r.delegate.is_none()));
}

#[test]
fn istios_conflict_rules() {
    use super::string_conflict;
    use weft_api::kinds::istio::StringMatch;
    let exact = |s: &str| StringMatch {
        exact: Some(s.into()),
        ..Default::default()
    };
    let prefix = |s: &str| StringMatch {
        prefix: Some(s.into()),
        ..Default::default()
    };
    let regex = |s: &str| StringMatch {
        regex: Some(s.into()),
        ..Default::default()
    };
    let cases = [
        (prefix("/a"), prefix("/a/b"), false),
        (prefix("/a/b"), prefix("/a"), true),
        (prefix("/a"), exact("/a/x"), false),
        (exact("/a"), exact("/a"), false),
        (exact("/a"), exact("/b"), true),
        (exact("/a"), prefix("/a"), true),
        (regex("/a.*"), prefix("/a"), true),
        (prefix("/a"), regex("/a.*"), true),
    ];
    for (root, leaf, want) in cases {
        assert_eq!(
            string_conflict(Some(&root), Some(&leaf)),
            want,
            "{root:?} vs {leaf:?}"
        );
    }
    assert!(!string_conflict(None, Some(&prefix("/x"))));
}
