use crate::config::{LoadError, ProxyConfig};

const GOOD: &str = "\
node:
  workload: productpage-v1
  namespace: default
admin_address: 127.0.0.1:15000
listeners:
  - name: outbound
    address: 127.0.0.1:15001
    direction: outbound
  - name: inbound
    address: 0.0.0.0:15006
    direction: inbound
    interception: transparent
    detect_timeout: 250ms
    opaque_ports: [3306]
services:
  - name: reviews.default.svc.cluster.local
    hosts: [reviews]
    addresses: [198.18.0.10]
    ports:
      - port: 9080
        protocol: http
        routes:
          - match:
              - path: { prefix: /api }
                headers:
                  - name: end-user
                    value: { exact: jason }
            backends:
              - cluster: reviews-v2
            timeout: 0.5s
          - backends:
              - { cluster: reviews-v1, weight: 90 }
              - { cluster: reviews-v2, weight: 10 }
inbound:
  - port: 9080
    protocol: http
clusters:
  - name: reviews-v1
    endpoints:
      - address: 127.0.0.1:9081
  - name: reviews-v2
    lb: round_robin
    protocol: http2
    connect_timeout: 250ms
    endpoints:
      - address: 127.0.0.1:9082
        weight: 3
";

fn invalid(yaml: &str) -> String {
    match ProxyConfig::from_yaml("proxy.yaml", yaml) {
        Err(e @ LoadError::Invalid { .. }) | Err(e @ LoadError::Parse { .. }) => e.to_string(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_complete_config_loads() {
    let cfg = ProxyConfig::from_yaml("proxy.yaml", GOOD).expect("valid");
    assert_eq!(cfg.listeners.len(), 2);
    assert_eq!(
        cfg.listeners[1].detect_timeout,
        std::time::Duration::from_millis(250)
    );
    assert_eq!(cfg.services[0].ports[0].routes[1].backends[0].weight, 90);
    assert_eq!(cfg.clusters[0].endpoints[0].weight, 1);
    assert_eq!(cfg.metrics_address, Some("0.0.0.0:15090".parse().unwrap()));
}

#[test]
fn round_trips_through_json_for_config_dump() {
    let cfg = ProxyConfig::from_yaml("proxy.yaml", GOOD).expect("valid");
    let json = serde_json::to_string(&cfg).unwrap();
    let back: ProxyConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(cfg, back);
}

#[test]
fn an_unknown_cluster_names_file_line_field_and_fix() {
    let yaml = GOOD.replace("- cluster: reviews-v2\n", "- cluster: reviewz\n");
    let err = invalid(&yaml);
    assert_eq!(
        err,
        "proxy.yaml:29: services[0].ports[0].routes[0].backends[0].cluster: \
         no cluster named \"reviewz\"; define it under clusters or fix the name"
    );
}

#[test]
fn a_typo_in_a_field_name_is_a_parse_error_with_a_line() {
    let yaml = GOOD.replace("connect_timeout: 250ms", "conect_timeout: 250ms");
    let err = invalid(&yaml);
    assert!(err.contains("conect_timeout"), "{err}");
    assert!(err.contains("proxy.yaml:44:5"), "{err}");
}

#[test]
fn a_bad_duration_explains_the_format() {
    let yaml = GOOD.replace("timeout: 0.5s", "timeout: half a second");
    let err = invalid(&yaml);
    assert!(err.contains("write it like 100ms"), "{err}");
}

#[test]
fn bad_regexes_and_duplicates_are_all_reported() {
    let yaml = GOOD
        .replace("{ prefix: /api }", "{ regex: \"/api/(\" }")
        .replace("name: reviews-v2\n    lb", "name: reviews-v1\n    lb");
    let err = invalid(&yaml);
    assert!(
        err.contains("path.regex: \"/api/(\" does not compile"),
        "{err}"
    );
    assert!(
        err.contains("a cluster named \"reviews-v1\" is already defined"),
        "{err}"
    );
}

#[test]
fn listener_fields_must_fit_the_direction() {
    let yaml = GOOD.replace(
        "    direction: outbound\n",
        "    direction: outbound\n    target_port: 80\n",
    );
    let err = invalid(&yaml);
    assert!(
        err.contains("listeners[0].target_port: only inbound"),
        "{err}"
    );

    let yaml = GOOD.replace("    interception: transparent\n", "");
    let err = invalid(&yaml);
    assert!(
        err.contains("listeners[1].target_port: an explicit inbound listener"),
        "{err}"
    );

    let yaml = GOOD.replace(
        "    interception: transparent\n",
        "    interception: transparent\n    app_address: 127.0.0.1:4000\n",
    );
    let err = invalid(&yaml);
    assert!(
        err.contains(
            "listeners[1].app_address: app_address says where the app behind target_port listens"
        ),
        "{err}"
    );
}

#[test]
fn two_services_cannot_claim_one_host_and_port() {
    let yaml = GOOD.replace(
        "inbound:\n",
        "  - name: other\n    hosts: [reviews]\n    ports:\n      - port: 9080\n        cluster: reviews-v1\ninbound:\n",
    );
    let err = invalid(&yaml);
    assert!(
        err.contains("reviews:9080 is already claimed by service"),
        "{err}"
    );
}

#[test]
fn authority_parsing() {
    use crate::config::parse_authority;
    assert_eq!(parse_authority("reviews:9080"), Some(("reviews", 9080)));
    assert_eq!(parse_authority("[::1]:80"), Some(("::1", 80)));
    assert_eq!(parse_authority("reviews"), None);
    assert_eq!(parse_authority("reviews:0"), None);
    assert_eq!(parse_authority(":80"), None);
}

#[test]
fn an_http_port_without_routes_is_allowed_a_tcp_one_is_not() {
    let cfg = |protocol: &str| {
        format!(
            "listeners: []\nservices:\n  - name: a.test\n    ports:\n      - port: 80\n        protocol: {protocol}\n"
        )
    };
    // Every request gets 404 (NR): a host claimed with no route for us.
    assert!(ProxyConfig::from_yaml("t.yaml", &cfg("http")).is_ok());
    let err = ProxyConfig::from_yaml("t.yaml", &cfg("tcp"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("has neither routes nor a cluster"), "{err}");
    assert!(ProxyConfig::from_yaml("t.yaml", &cfg("detect")).is_err());
}

#[test]
fn circuit_breakers_and_outlier_detection_load_with_defaults_and_are_checked() {
    let yaml = GOOD.replace(
        "    connect_timeout: 250ms\n",
        "    connect_timeout: 250ms
    connection_pool: { max_connections: 1, max_pending_requests: 0, idle_timeout: 30s }
    outlier_detection: { consecutive_5xx: 3, interval: 100ms }
",
    );
    let cfg = ProxyConfig::from_yaml("proxy.yaml", &yaml).expect("valid");
    let c = &cfg.clusters[1];
    let pool = c.connection_pool.as_ref().unwrap();
    assert_eq!(
        (
            pool.max_connections,
            pool.max_pending_requests,
            pool.max_requests
        ),
        (Some(1), Some(0), None)
    );
    let o = c.outlier_detection.as_ref().unwrap();
    assert_eq!((o.consecutive_5xx, o.consecutive_gateway_errors), (3, 0));
    assert_eq!(
        (o.base_ejection_time, o.max_ejection_percent),
        (std::time::Duration::from_secs(30), 10)
    );
    // Unset, nothing is written back.
    let json = serde_json::to_string(&cfg.clusters[0]).unwrap();
    assert!(
        !json.contains("connection_pool") && !json.contains("outlier"),
        "{json}"
    );

    let yaml = GOOD.replace(
        "    connect_timeout: 250ms\n",
        "    connect_timeout: 250ms
    connection_pool: { max_requests: 0, max_connection_duration: 0s }
    outlier_detection: { max_ejection_percent: 101, base_ejection_time: 0s }
",
    );
    let err = invalid(&yaml);
    for want in [
        "clusters[1].connection_pool.max_requests: 0 would refuse every request",
        "clusters[1].connection_pool.max_connection_duration: must be longer than 0s",
        "clusters[1].outlier_detection.max_ejection_percent: 101 is more than 100 percent",
        "clusters[1].outlier_detection.base_ejection_time: must be longer than 0s",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}

#[test]
fn route_metrics_need_a_name_and_status_ranges() {
    let with = |metrics: &str| {
        GOOD.replace(
            "            timeout: 0.5s\n",
            &format!("            timeout: 0.5s\n            metrics: {metrics}\n"),
        )
    };
    let cfg = ProxyConfig::from_yaml(
        "proxy.yaml",
        &with("{ name: GET /api, failures: [{ min: 429, max: 429 }, { min: 500, max: 599 }] }"),
    )
    .expect("valid");
    let m = cfg.services[0].ports[0].routes[0].metrics.as_ref().unwrap();
    assert!(m.is_failure(429, None) && m.is_failure(503, None) && !m.is_failure(404, None));
    let err = invalid(&with("{ name: '', failures: [{ min: 500, max: 404 }] }"));
    assert!(
        err.contains(
            "services[0].ports[0].routes[0].metrics.name: per-route metrics need a route name"
        ),
        "{err}"
    );
    let err = invalid(&with("{ name: r, failures: [{ min: 500, max: 404 }] }"));
    assert!(
        err.contains("routes[0].metrics.failures[0]: 500..=404 is not a range of HTTP statuses"),
        "{err}"
    );
}

#[test]
fn tcp_routes_are_checked_where_they_are_written() {
    let err = invalid(
        "listeners: []
services:
  - name: db.test
    ports:
      - port: 443
        protocol: tcp
        tcp_routes:
          - { sni: ['db.example.com:443'], backends: [{ cluster: db }] }
          - { backends: [] }
          - { backends: [{ cluster: nope }, { cluster: db, weight: 0, headers: { request: { remove: [a] } } }] }
gateway_servers:
  - port: 15012
    tcp_routes: [{ sni: ['*.*.com'], backends: [{ cluster: db }] }]
clusters:
  - { name: db, endpoints: [] }
",
    );
    for want in [
        "services[0].ports[0].tcp_routes[0].sni[0]",
        "services[0].ports[0].tcp_routes[1].backends",
        "services[0].ports[0].tcp_routes[2].backends[0].cluster",
        "services[0].ports[0].tcp_routes[2].backends[1].headers",
        "gateway_servers[0].tcp_routes[0].sni[0]",
    ] {
        assert!(err.contains(want), "{want} missing from:\n{err}");
    }
    // A port with only tcp_routes has somewhere to send its traffic.
    let ok = ProxyConfig::from_yaml(
        "t.yaml",
        "listeners: []
services:
  - name: db.test
    ports: [{ port: 5432, protocol: tcp, tcp_routes: [{ backends: [{ cluster: db }] }] }]
clusters: [{ name: db, endpoints: [] }]
",
    );
    assert!(ok.is_ok(), "{ok:?}");
}
