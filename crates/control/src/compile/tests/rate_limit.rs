//! EnvoyFilter local rate limits, as the compiler carries them into the
//! inbound ports and gateway servers of the workloads they select.

use std::time::Duration;

use weft_proto::resources::GATEWAY_SERVER;

use super::*;

/// Istio's "Enabling Rate Limits using Envoy" task (workload level), in
/// the root namespace selecting productpage.
const WORKLOAD_LIMIT: &str = r#"
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: filter-local-ratelimit-svc, namespace: istio-system }
spec:
  workloadSelector:
    labels:
      app: productpage
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener:
          filterChain:
            filter:
              name: "envoy.filters.network.http_connection_manager"
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value:
              stat_prefix: http_local_rate_limiter
              token_bucket: { max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s }
              filter_enabled: { runtime_key: e, default_value: { numerator: 100, denominator: HUNDRED } }
              filter_enforced: { runtime_key: f, default_value: { numerator: 50, denominator: HUNDRED } }
              response_headers_to_add:
                - append: false
                  header: { key: x-local-rate-limit, value: 'true' }
"#;

/// The task's per-route shape: the filter with no bucket, the bucket on
/// the inbound route of 9080.
const ROUTE_LIMIT: &str = r#"
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: route-limit }
spec:
  workloadSelector: { labels: { app: reviews } }
  configPatches:
    - applyTo: HTTP_FILTER
      match:
        context: SIDECAR_INBOUND
        listener: { filterChain: { filter: { name: envoy.filters.network.http_connection_manager } } }
      patch:
        operation: INSERT_BEFORE
        value:
          name: envoy.filters.http.local_ratelimit
          typed_config:
            "@type": type.googleapis.com/udpa.type.v1.TypedStruct
            type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            value: { stat_prefix: http_local_rate_limiter }
    - applyTo: HTTP_ROUTE
      match:
        context: SIDECAR_INBOUND
        routeConfiguration: { vhost: { name: "inbound|http|9080", route: { action: ANY } } }
      patch:
        operation: MERGE
        value:
          typed_per_filter_config:
            envoy.filters.http.local_ratelimit:
              "@type": type.googleapis.com/udpa.type.v1.TypedStruct
              type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              value:
                stat_prefix: http_local_rate_limiter
                token_bucket: { max_tokens: 10, fill_interval: 1s }
                filter_enabled: { default_value: { numerator: 100 } }
                filter_enforced: { default_value: { numerator: 100 } }
"#;

fn inbound_port(c: &Compiler, n: &Node, port: u16) -> InboundPort {
    match decoded(&c.view(n), INBOUND, &port.to_string()) {
        Typed::Inbound(p) => p,
        other => panic!("{other:?}"),
    }
}

fn reviews_v1() -> Node {
    node(
        "reviews-v1-1",
        "default",
        &[("app", "reviews"), ("version", "v1")],
        "198.18.0.3",
    )
}

#[test]
fn a_workload_filter_limits_the_selected_workloads_inbound_ports_only() {
    let c = compiler(&format!("{MESH}---{WORKLOAD_LIMIT}"));
    let page = connect_bookinfo(&c);
    let limit = inbound_port(&c, &page, 9080).rate_limit.expect("limited");
    assert_eq!(limit.max_tokens, 4);
    assert_eq!(limit.tokens_per_fill, 4);
    assert_eq!(limit.fill_interval, Duration::from_secs(60));
    assert_eq!(limit.enabled_percent, 100.0);
    assert_eq!(limit.enforced_percent, 50.0);
    assert_eq!(
        limit.response_headers.set,
        vec![("x-local-rate-limit".to_string(), "true".to_string())]
    );
    // reviews is not selected.
    assert_eq!(inbound_port(&c, &reviews_v1(), 9080).rate_limit, None);
}

#[test]
fn a_route_patch_limits_the_inbound_route_of_its_port() {
    let c = compiler(&format!("{MESH}---{ROUTE_LIMIT}"));
    let page = connect_bookinfo(&c);
    let limit = inbound_port(&c, &reviews_v1(), 9080)
        .rate_limit
        .expect("limited");
    assert_eq!((limit.max_tokens, limit.tokens_per_fill), (10, 1));
    assert_eq!(inbound_port(&c, &page, 9080).rate_limit, None);

    // Another vhost name is another port: nothing here.
    let other = ROUTE_LIMIT.replace("inbound|http|9080", "inbound|http|9090");
    let c = compiler(&format!("{MESH}---{other}"));
    connect_bookinfo(&c);
    assert_eq!(inbound_port(&c, &reviews_v1(), 9080).rate_limit, None);
}

#[test]
fn a_route_patch_without_the_filter_in_the_chain_does_nothing() {
    // Envoy runs a route's per-filter config only for a filter it has.
    let route_only = {
        let start = ROUTE_LIMIT.find("    - applyTo: HTTP_FILTER").unwrap();
        let end = ROUTE_LIMIT.find("    - applyTo: HTTP_ROUTE").unwrap();
        format!("{}{}", &ROUTE_LIMIT[..start], &ROUTE_LIMIT[end..])
    };
    let c = compiler(&format!("{MESH}---{route_only}"));
    connect_bookinfo(&c);
    assert_eq!(inbound_port(&c, &reviews_v1(), 9080).rate_limit, None);
}

#[test]
fn a_gateway_filter_limits_the_gateway_port() {
    let yaml = format!(
        "{MESH}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{ name: gw }}
spec:
  selector: {{ istio: ingressgateway }}
  servers: [{{ port: {{ number: 8080, name: http, protocol: HTTP }}, hosts: ['*'] }}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: page }}
spec:
  hosts: ['*']
  gateways: [gw]
  http: [{{ route: [{{ destination: {{ host: productpage }} }}] }}]
---
{}",
        WORKLOAD_LIMIT
            .replace("SIDECAR_INBOUND", "GATEWAY")
            .replace("app: productpage", "istio: ingressgateway")
    );
    let c = compiler(&yaml);
    let mut gw = node(
        "gw-1",
        "default",
        &[("istio", "ingressgateway")],
        "198.18.1.1",
    );
    gw.transparent_inbound = false;
    gw.listeners = vec![weft_proto::discovery::ListenerInfo {
        name: "http".into(),
        address: "127.0.0.1:8080".into(),
        direction: "gateway".into(),
        interception: "explicit".into(),
        protocol: "detect".into(),
    }];
    c.proxy_connected(&gw);
    c.rebuild();
    let Typed::GatewayServer(server) = decoded(&c.view(&gw), GATEWAY_SERVER, "8080") else {
        panic!()
    };
    assert_eq!(server.rate_limit.map(|l| l.max_tokens), Some(4));
}
