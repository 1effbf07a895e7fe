use std::time::Duration;

use weft_api::kinds::istio::TrafficPolicy;
use weft_proto::config::{self, Cluster, LbPolicy, UpstreamProtocol};

use super::apply;

fn policy(yaml: &str) -> TrafficPolicy {
    serde_saphyr::from_str(yaml).unwrap()
}

fn compiled(rule: Option<&str>, subset: Option<&str>, port: u16) -> Cluster {
    let mut c = Cluster {
        name: "outbound|9080||reviews".into(),
        service: None,
        protocol: UpstreamProtocol::Auto,
        lb: LbPolicy::default(),
        connect_timeout: Cluster::default_connect_timeout(),
        endpoints: Vec::new(),
        tls: None,
        connection_pool: None,
        outlier_detection: None,
    };
    let (rule, subset) = (rule.map(policy), subset.map(policy));
    apply(&mut c, rule.as_ref(), subset.as_ref(), port);
    c
}

#[test]
fn every_pool_field_maps_to_its_envoy_limit() {
    let c = compiled(
        Some(
            "connectionPool:
  tcp: { maxConnections: 3, connectTimeout: 250ms, maxConnectionDuration: 1m }
  http:
    http1MaxPendingRequests: 4
    http2MaxRequests: 5
    maxRequestsPerConnection: 1
    maxRetries: 2
    idleTimeout: 30s
",
        ),
        None,
        9080,
    );
    assert_eq!(c.connect_timeout, Duration::from_millis(250));
    assert_eq!(
        c.connection_pool,
        Some(Box::new(config::ConnectionPool {
            max_connections: Some(3),
            max_pending_requests: Some(4),
            max_requests: Some(5),
            max_retries: Some(2),
            max_requests_per_connection: Some(1),
            idle_timeout: Some(Duration::from_secs(30)),
            max_connection_duration: Some(Duration::from_secs(60)),
        }))
    );
    assert_eq!(c.outlier_detection, None);
}

#[test]
fn zero_limits_are_no_limits_and_a_timeout_alone_sets_no_pool() {
    let c = compiled(
        Some(
            "connectionPool: { tcp: { maxConnections: 0, connectTimeout: 2s }, http: { http2MaxRequests: 0 } }",
        ),
        None,
        9080,
    );
    assert_eq!(c.connect_timeout, Duration::from_secs(2));
    assert_eq!(c.connection_pool, None);
}

#[test]
fn outlier_defaults_are_envoys_and_set_values_win() {
    let c = compiled(Some("outlierDetection: {}"), None, 9080);
    assert_eq!(
        c.outlier_detection,
        Some(Box::new(config::OutlierDetection::default()))
    );
    let o = compiled(
        Some(
            "outlierDetection:
  consecutive5xxErrors: 0
  consecutiveGatewayErrors: 3
  splitExternalLocalOriginErrors: true
  consecutiveLocalOriginFailures: 2
  interval: 100ms
  baseEjectionTime: 300ms
  maxEjectionPercent: 50
",
        ),
        None,
        9080,
    )
    .outlier_detection
    .unwrap();
    assert_eq!(
        *o,
        config::OutlierDetection {
            consecutive_5xx: 0,
            consecutive_gateway_errors: 3,
            split_external_local_origin_errors: true,
            consecutive_local_origin_failures: 2,
            interval: Duration::from_millis(100),
            base_ejection_time: Duration::from_millis(300),
            max_ejection_percent: 50,
        }
    );
    // Istio only passes maxEjectionPercent above 0 on: 0 is Envoy's 10.
    let o = compiled(
        Some("outlierDetection: { maxEjectionPercent: 0 }"),
        None,
        9080,
    );
    assert_eq!(o.outlier_detection.unwrap().max_ejection_percent, 10);
}

#[test]
fn port_level_replaces_the_policy_and_subsets_override_part_by_part() {
    let rule = "
connectionPool: { tcp: { maxConnections: 10 } }
outlierDetection: { consecutive5xxErrors: 7 }
portLevelSettings:
  - port: { number: 9443 }
    connectionPool: { http: { http2MaxRequests: 2 } }
";
    // Another port: the rule's policy.
    let c = compiled(Some(rule), None, 9080);
    assert_eq!(c.connection_pool.unwrap().max_connections, Some(10));
    assert_eq!(c.outlier_detection.unwrap().consecutive_5xx, 7);
    // The port-level policy replaces all of it: no outlier detection.
    let c = compiled(Some(rule), None, 9443);
    let pool = c.connection_pool.unwrap();
    assert_eq!((pool.max_connections, pool.max_requests), (None, Some(2)));
    assert_eq!(c.outlier_detection, None);
    // A subset's outlierDetection overrides; its missing pool inherits.
    let subset = "outlierDetection: { consecutive5xxErrors: 1 }";
    let c = compiled(Some(rule), Some(subset), 9080);
    assert_eq!(c.connection_pool.unwrap().max_connections, Some(10));
    assert_eq!(c.outlier_detection.unwrap().consecutive_5xx, 1);
    // A subset's port-level policy replaces everything for that port.
    let subset = "
outlierDetection: { consecutive5xxErrors: 1 }
portLevelSettings:
  - port: { number: 9080 }
    connectionPool: { tcp: { maxConnections: 1 } }
";
    let c = compiled(Some(rule), Some(subset), 9080);
    assert_eq!(c.connection_pool.unwrap().max_connections, Some(1));
    assert_eq!(c.outlier_detection, None);
}
