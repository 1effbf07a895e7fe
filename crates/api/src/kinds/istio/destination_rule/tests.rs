use crate::kinds::Spec;
use crate::{ResourceSet, Severity};

fn load(yaml: &str) -> ResourceSet {
    crate::load::checked("dr.yaml", yaml)
}

fn messages(set: &ResourceSet) -> Vec<String> {
    set.findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect()
}

fn dr(spec: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{ name: r }}\nspec:\n{spec}"
    )
}

/// The examples in istio/api's `destination_rule.proto` reference.
const DOC_EXAMPLES: &str = include_str!("doc_examples.yaml");

#[test]
fn documentation_examples_load_clean() {
    let set = load(DOC_EXAMPLES);
    assert!(set.findings.is_empty(), "{:#?}", messages(&set));
    assert_eq!(set.resources.len(), 11);
    let Spec::DestinationRule(rule) = &set.resources[0].spec else {
        panic!("not a DestinationRule")
    };
    assert_eq!(rule.host, "ratings.prod.svc.cluster.local");
    assert_eq!(rule.subsets[0].name, "testversion");
    assert_eq!(rule.subsets[0].labels["version"], "v3");
    let lb = rule.subsets[0]
        .traffic_policy
        .as_ref()
        .and_then(|t| t.load_balancer.as_ref());
    assert_eq!(lb.and_then(|l| l.simple), Some(super::SimpleLb::RoundRobin));
}

#[test]
fn every_newer_field_reads() {
    let set = load(&dr(r#"
  host: reviews
  exportTo: ["."]
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie:
          name: session
          path: /
          ttl: 10s
          attributes:
          - name: SameSite
            value: Strict
        maglev:
          tableSize: 65537
      warmup:
        duration: 60s
        minimumPercent: 10
        aggression: 1.5
    connectionPool:
      tcp:
        maxConnectionDuration: 1h
        idleTimeout: 0s
      http:
        h2UpgradePolicy: UPGRADE
        maxConcurrentStreams: 100
        idleTimeout: 30s
    outlierDetection:
      splitExternalLocalOriginErrors: true
      consecutiveLocalOriginFailures: 5
      consecutiveGatewayErrors: 3
      maxEjectionPercent: 50
      minHealthPercent: 20
    tls:
      mode: SIMPLE
      sni: reviews.example.com
      subjectAltNames: [reviews.example.com]
      caCrl: /etc/crl.pem
    proxyProtocol:
      version: V2
    retryBudget:
      percent: 25
      minRetryConcurrency: 5
      budgetInterval: 10s
"#));
    assert!(set.findings.is_empty(), "{:#?}", messages(&set));
}

#[test]
fn proto_snake_case_names_are_accepted() {
    let set = load(&dr(
        "  host: reviews\n  traffic_policy:\n    load_balancer:\n      simple: RANDOM\n    connection_pool:\n      http:\n        http1_max_pending_requests: 10\n",
    ));
    assert!(set.findings.is_empty(), "{:#?}", messages(&set));
}

#[test]
fn subset_names_must_be_present_unique_and_dns_labels() {
    let set = load(&dr("  host: reviews
  subsets:
  - name: v1
    labels: { version: v1 }
  - name: v1
    labels: { version: v2 }
  - labels: { version: v3 }
  - name: V_4
"));
    assert_eq!(
        messages(&set),
        [
            "error: dr.yaml:9: spec.subsets[1].name: subset `v1` is defined twice; give each subset its own name",
            "error: dr.yaml:11: spec.subsets[2].name: a subset needs a `name`, such as `v1`; routes pick subsets by name",
            "error: dr.yaml:12: spec.subsets[3].name: \"V_4\" is not a valid subset name; use up to 63 letters, digits and '-', starting and ending with a letter or digit",
        ]
    );
}

#[test]
fn host_is_required_and_must_be_a_dns_name() {
    let set = load(&dr("  subsets: [{ name: v1 }]\n"));
    assert_eq!(
        messages(&set),
        [
            "error: dr.yaml:4: spec.host: a DestinationRule needs `host`, the service it applies to, such as `reviews.prod.svc.cluster.local`"
        ]
    );
    let set = load(&dr("  host: reviews_v1.default\n"));
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].starts_with(
            "error: dr.yaml:5: spec.host: \"reviews_v1.default\" is not a valid DNS name"
        ),
        "{m:?}"
    );
}

#[test]
fn outlier_detection_ranges_and_durations() {
    let set = load(&dr("  host: reviews
  trafficPolicy:
    outlierDetection:
      maxEjectionPercent: 150
      minHealthPercent: -1
      interval: 500us
      baseEjectionTime: 1500500us
      consecutiveLocalOriginFailures: 3
      consecutiveErrors: 5
"));
    assert_eq!(
        messages(&set),
        [
            "error: dr.yaml:8: spec.trafficPolicy.outlierDetection.maxEjectionPercent: 150 is not a percentage; use a value from 0 to 100",
            "error: dr.yaml:9: spec.trafficPolicy.outlierDetection.minHealthPercent: -1 is not a percentage; use a value from 0 to 100",
            "error: dr.yaml:10: spec.trafficPolicy.outlierDetection.interval: 500µs is too short; use at least `1ms`",
            "error: dr.yaml:11: spec.trafficPolicy.outlierDetection.baseEjectionTime: 1.5005s is finer than Istio's millisecond precision; round it to whole milliseconds",
            "error: dr.yaml:12: spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures: consecutiveLocalOriginFailures only counts with `splitExternalLocalOriginErrors: true`; set that or remove this",
            "warning: dr.yaml:13: spec.trafficPolicy.outlierDetection.consecutiveErrors: consecutiveErrors is deprecated; use `consecutive5xxErrors` or `consecutiveGatewayErrors`",
        ]
    );
}

#[test]
fn load_balancer_oneofs() {
    let set = load(&dr("  host: reviews
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      consistentHash:
        httpHeaderName: x-user
        useSourceIp: true
        ringHash: { minimumRingSize: 1024 }
        maglev: { tableSize: 1000 }
"));
    assert_eq!(
        messages(&set),
        [
            "error: dr.yaml:7: spec.trafficPolicy.loadBalancer: set `simple` or `consistentHash`, not both",
            "error: dr.yaml:9: spec.trafficPolicy.loadBalancer.consistentHash: set `ringHash` or `maglev`, not both",
            "error: dr.yaml:9: spec.trafficPolicy.loadBalancer.consistentHash: set exactly one of `httpHeaderName`, `httpCookie`, `useSourceIp` or `httpQueryParameterName` (found 2)",
            "error: dr.yaml:13: spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: 1000 is not a prime number; Maglev needs a prime table size, such as 65537",
        ]
    );
}

#[test]
fn hash_keys_must_be_names_envoy_takes() {
    let set = load(&dr("  host: reviews
  trafficPolicy:
    loadBalancer:
      consistentHash: { httpHeaderName: 'x user' }
    portLevelSettings:
    - port: { number: 80 }
      loadBalancer: { consistentHash: { httpCookie: { name: 'a=b', path: '/a b', attributes: [{ name: 'S S', value: 'a;b' }] } } }
  subsets:
  - name: v1
    trafficPolicy:
      loadBalancer: { consistentHash: { httpQueryParameterName: '', maglev: { tableSize: 65536 } } }
"));
    assert_eq!(
        messages(&set),
        [
            "error: dr.yaml:8: spec.trafficPolicy.loadBalancer.consistentHash.httpHeaderName: \"x user\" is not a valid header name; use letters, digits and `-`, such as `x-user`",
            "error: dr.yaml:11: spec.trafficPolicy.portLevelSettings[0].loadBalancer.consistentHash.httpCookie.attributes[0].name: \"S S\" is not a valid cookie attribute name, such as `SameSite`",
            "error: dr.yaml:11: spec.trafficPolicy.portLevelSettings[0].loadBalancer.consistentHash.httpCookie.attributes[0].value: \"a;b\" cannot be a cookie attribute value: no `;` or control characters",
            "error: dr.yaml:11: spec.trafficPolicy.portLevelSettings[0].loadBalancer.consistentHash.httpCookie.name: \"a=b\" is not a valid cookie name; use letters, digits and `-_.`",
            "error: dr.yaml:11: spec.trafficPolicy.portLevelSettings[0].loadBalancer.consistentHash.httpCookie.path: \"/a b\" cannot be a cookie path: no spaces, `;` or control characters; write it like `/cart`",
            "error: dr.yaml:15: spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.httpQueryParameterName: name the query parameter to hash on, such as `user`",
            "error: dr.yaml:15: spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.maglev.tableSize: 65536 is not a prime number; Maglev needs a prime table size, such as 65537",
        ]
    );
}

#[test]
fn consistent_hash_details() {
    let set = load(&dr("  host: reviews
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpCookie: { ttl: 1s }
        minimumRingSize: 10
        ringHash: { minimumRingSize: 10 }
"));
    let m = messages(&set);
    assert!(m.contains(&"error: dr.yaml:9: spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name: httpCookie needs `name`, the cookie to hash on".to_string()), "{m:#?}");
    assert!(m.iter().any(|m| m.starts_with("error: dr.yaml:10: spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: the deprecated minimumRingSize cannot be combined")), "{m:#?}");
    assert_eq!(m.len(), 2, "{m:#?}");
    let set = load(&dr(
        "  host: reviews\n  trafficPolicy:\n    loadBalancer:\n      consistentHash: { minimumRingSize: 10 }\n",
    ));
    let m = messages(&set);
    assert!(m.iter().any(|m| m.starts_with("warning: dr.yaml:8: spec.trafficPolicy.loadBalancer.consistentHash: consistentHash has no hash key")), "{m:#?}");
    assert!(m.iter().any(|m| m.starts_with("warning: dr.yaml:8: spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize: minimumRingSize is deprecated")), "{m:#?}");
}

#[test]
fn locality_settings() {
    let set = load(&dr("  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        distribute:
        - from: us-west/*
          to: { \"us-west/zone1\": 60, \"us-west/zone2\": 30 }
"));
    assert_eq!(
        messages(&set),
        [
            "error: dr.yaml:11: spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to: weights sum to 90, must sum to 100"
        ]
    );
    let set = load(&dr("  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failover:
        - { from: us-east, to: us-east }
        - { from: us-west/zone1, to: \"eu-*\" }
"));
    let m = messages(&set);
    assert_eq!(m.len(), 4, "{m:#?}");
    assert!(m[1].starts_with("error: dr.yaml:10: spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]: failover `from` and `to` are the same region"), "{m:#?}");
    assert!(
        m.iter().any(|m| m.contains("failover names regions only")),
        "{m:#?}"
    );
    assert!(m.iter().any(|m| m.contains("cannot contain `*`")), "{m:#?}");
    assert!(
        m.iter()
            .any(|m| m.starts_with("warning: dr.yaml:8:") && m.contains("add `outlierDetection`")),
        "{m:#?}"
    );
    let set = load(&dr("  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        distribute:
        - { from: \"us-west/*\", to: { \"us-east/*\": 100 } }
        - { from: us-west/zone1, to: { \"us-east/*\": 100 } }
"));
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].contains(
            "distribute[1].from: locality \"us-west/zone1\" overlaps one listed before it"
        ),
        "{m:#?}"
    );
}

#[test]
fn client_tls_requirements() {
    let set = load(&dr("  host: db.example.com
  trafficPolicy:
    tls:
      mode: MUTUAL
      caCertificates: /etc/ca.pem
"));
    assert_eq!(
        messages(&set),
        [
            "error: dr.yaml:8: spec.trafficPolicy.tls.mode: MUTUAL TLS needs `clientCertificate` (a file path) or `credentialName` (a secret); use ISTIO_MUTUAL for Istio's own certificates",
            "error: dr.yaml:8: spec.trafficPolicy.tls.mode: MUTUAL TLS needs `privateKey` (a file path) or `credentialName` (a secret); use ISTIO_MUTUAL for Istio's own certificates",
        ]
    );
    let set = load(&dr("  host: db.example.com
  trafficPolicy:
    tls:
      mode: SIMPLE
      credentialName: db-ca
      caCertificates: /etc/ca.pem
      insecureSkipVerify: true
"));
    let m = messages(&set);
    assert_eq!(m.len(), 2, "{m:#?}");
    assert!(m[0].starts_with("error: dr.yaml:9: spec.trafficPolicy.tls.credentialName: with credentialName the certificates come from the secret"), "{m:#?}");
    assert!(m[1].starts_with("error: dr.yaml:11: spec.trafficPolicy.tls.insecureSkipVerify: insecureSkipVerify turns off"), "{m:#?}");
}

#[test]
fn empty_policies_tunnels_and_pools() {
    let set = load(&dr("  host: reviews
  trafficPolicy:
    tunnel: { protocol: GET, targetHost: \"bad host\", targetPort: 0 }
    proxyProtocol: { version: V1 }
    connectionPool:
      http: { h2UpgradePolicy: UPGRADE, useClientProtocol: true, maxRetries: -1 }
    portLevelSettings:
    - loadBalancer: { simple: RANDOM }
    - port: { number: 8080 }
  subsets:
  - name: v1
    trafficPolicy: {}
"));
    let m = messages(&set);
    for want in [
        "error: dr.yaml:7: spec.trafficPolicy.tunnel: set `tunnel` or `proxyProtocol`, not both",
        "error: dr.yaml:7: spec.trafficPolicy.tunnel.protocol: \"GET\" is not a tunnel protocol; use `CONNECT` or `POST`",
        "error: dr.yaml:7: spec.trafficPolicy.tunnel.targetPort: 0 is not a port; use 1 to 65535",
        "error: dr.yaml:10: spec.trafficPolicy.connectionPool.http.maxRetries: -1 is negative; use 0 or more",
        "error: dr.yaml:10: spec.trafficPolicy.connectionPool.http.useClientProtocol: useClientProtocol keeps HTTP/1.1 and contradicts `h2UpgradePolicy: UPGRADE`; drop one",
        "error: dr.yaml:12: spec.trafficPolicy.portLevelSettings[0]: a port-level policy needs `port`, such as `port: {number: 443}`",
        "error: dr.yaml:13: spec.trafficPolicy.portLevelSettings[1]: a port-level policy needs loadBalancer, connectionPool, outlierDetection or tls",
        "error: dr.yaml:16: spec.subsets[0].trafficPolicy: an empty trafficPolicy does nothing; set loadBalancer, connectionPool, outlierDetection, tls, portLevelSettings, tunnel, proxyProtocol or retryBudget, or remove it",
    ] {
        assert!(m.contains(&want.to_string()), "missing {want}\n{m:#?}");
    }
    assert!(
        m.iter().any(|m| m
            .contains("tunnel.targetHost: \"bad host\" is neither a DNS name nor an IP address")),
        "{m:#?}"
    );
    assert_eq!(m.len(), 9, "{m:#?}");
}

#[test]
fn export_to_and_selector() {
    let set = load(&dr("  host: reviews
  exportTo: [\"*\", \".\", \".\", Bad_NS]
  workloadSelector: { matchLabels: { app: \"ratings*\" } }
"));
    let m = messages(&set);
    for want in [
        "error: dr.yaml:6: spec.exportTo[2]: \".\" is listed twice; remove the repeat",
        "error: dr.yaml:6: spec.exportTo[3]: \"Bad_NS\" is not a valid exportTo entry; use `.` (this namespace), `*` (all) or a namespace name",
        "error: dr.yaml:6: spec.exportTo: `*` exports to every namespace already; remove the other entries",
        "error: dr.yaml:7: spec.workloadSelector.matchLabels.app: wildcards are not supported in selectors (app=ratings*); match exact label values",
        "error: dr.yaml:6: spec.exportTo: a DestinationRule with a workloadSelector applies only in its own namespace; set `exportTo: [\".\"]` or remove exportTo",
    ] {
        assert!(m.contains(&want.to_string()), "missing {want}\n{m:#?}");
    }
    assert_eq!(m.len(), 5, "{m:#?}");
}

#[test]
fn typos_are_reported_with_their_place() {
    let set = load(&dr("  host: reviews
  trafficPolicy:
    loadBalancer:
      simpel: ROUND_ROBIN
    outlierDetection:
      consecutive5xxErrrors: 3
"));
    let m = messages(&set);
    assert_eq!(m.len(), 2, "{m:#?}");
    assert!(
        m[0].starts_with(
            "error: dr.yaml:8: spec.trafficPolicy.loadBalancer.simpel: unknown field `simpel`"
        ),
        "{m:#?}"
    );
    assert!(m[0].contains("did you mean `simple`?"), "{m:#?}");
    assert!(
        m[1].contains("did you mean `consecutive5xxErrors`?"),
        "{m:#?}"
    );
    assert!(set.findings.iter().all(|f| f.severity == Severity::Error));
}

#[test]
fn unknown_enum_values_name_the_choices() {
    let set = load(&dr(
        "  host: reviews\n  trafficPolicy:\n    tls: { mode: STRICT }\n",
    ));
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].contains("spec.trafficPolicy.tls.mode"), "{m:#?}");
    assert!(m[0].contains("`ISTIO_MUTUAL`"), "{m:#?}");
}
