use std::time::Duration;

use super::local_rate_limit::recognize;
use super::*;
use crate::ResourceSet;
use crate::kinds::Spec;

fn load(yaml: &str) -> ResourceSet {
    crate::load::checked("ef.yaml", yaml)
}

fn messages(set: &ResourceSet) -> Vec<String> {
    set.findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect()
}

fn filter(set: &ResourceSet) -> &EnvoyFilter {
    match &set.resources[0].spec {
        Spec::EnvoyFilter(f) => f,
        other => panic!("not an EnvoyFilter: {other:?}"),
    }
}

/// Istio's "Enabling Rate Limits using Envoy" task: the local rate limit
/// for every request to productpage.
pub(crate) const WORKLOAD_LIMIT: &str = r#"
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-svc
  namespace: istio-system
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
              token_bucket:
                max_tokens: 4
                tokens_per_fill: 4
                fill_interval: 60s
              filter_enabled:
                runtime_key: local_rate_limit_enabled
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              filter_enforced:
                runtime_key: local_rate_limit_enforced
                default_value:
                  numerator: 100
                  denominator: HUNDRED
              response_headers_to_add:
                - append: false
                  header:
                    key: x-local-rate-limit
                    value: 'true'
"#;

/// The same task's per-route shape: the filter without a bucket, and the
/// bucket on the inbound route of port 9080.
pub(crate) const ROUTE_LIMIT: &str = r#"
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata:
  name: filter-local-ratelimit-svc
  namespace: istio-system
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
    - applyTo: HTTP_ROUTE
      match:
        context: SIDECAR_INBOUND
        routeConfiguration:
          vhost:
            name: "inbound|http|9080"
            route:
              action: ANY
      patch:
        operation: MERGE
        value:
          typed_per_filter_config:
            envoy.filters.http.local_ratelimit:
              "@type": type.googleapis.com/udpa.type.v1.TypedStruct
              type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
              value:
                stat_prefix: http_local_rate_limiter
                token_bucket:
                  max_tokens: 4
                  tokens_per_fill: 4
                  fill_interval: 60s
                filter_enabled:
                  runtime_key: local_rate_limit_enabled
                  default_value:
                    numerator: 100
                    denominator: HUNDRED
                filter_enforced:
                  runtime_key: local_rate_limit_enforced
                  default_value:
                    numerator: 100
                    denominator: HUNDRED
                response_headers_to_add:
                  - append: false
                    header:
                      key: x-local-rate-limit
                      value: 'true'
"#;

fn docs_limit() -> LocalRateLimit {
    LocalRateLimit {
        max_tokens: 4,
        tokens_per_fill: 4,
        fill_interval: Duration::from_secs(60),
        enabled_percent: 100.0,
        enforced_percent: 100.0,
        set_headers: vec![("x-local-rate-limit".into(), "true".into())],
        add_headers: vec![],
    }
}

#[test]
fn the_istio_task_workload_limit_loads_clean_and_is_recognized() {
    let set = load(WORKLOAD_LIMIT);
    assert!(set.findings.is_empty(), "{:?}", messages(&set));
    let f = filter(&set);
    let got = recognize(&f.config_patches[0]).unwrap().unwrap();
    assert_eq!(got.context, PatchContext::SidecarInbound);
    assert_eq!(got.scope, RateLimitScope::Filter { port: None });
    assert_eq!(got.limit, Some(docs_limit()));
}

#[test]
fn the_istio_task_route_limit_loads_clean_and_is_recognized() {
    let set = load(ROUTE_LIMIT);
    assert!(set.findings.is_empty(), "{:?}", messages(&set));
    let f = filter(&set);
    let listener = recognize(&f.config_patches[0]).unwrap().unwrap();
    assert_eq!(listener.limit, None, "the filter alone has no bucket");
    let route = recognize(&f.config_patches[1]).unwrap().unwrap();
    assert_eq!(
        route.scope,
        RateLimitScope::Route {
            port: None,
            vhost: Some("inbound|http|9080".into()),
            route: None
        }
    );
    assert_eq!(route.limit, Some(docs_limit()));
}

#[test]
fn the_bare_message_and_camel_case_names_are_read_too() {
    let yaml = r#"
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: gw-limit, namespace: istio-system }
spec:
  workloadSelector:
    labels: { istio: ingressgateway }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener: { portNumber: 8080 }
    patch:
      operation: INSERT_FIRST
      value:
        name: envoy.filters.http.local_ratelimit
        typedConfig:
          "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          statPrefix: gw
          tokenBucket: { maxTokens: "10", fillInterval: 0.5s }
          filterEnabled: { defaultValue: { numerator: 5000, denominator: TEN_THOUSAND } }
          responseHeadersToAdd:
          - header: { key: x-rl, value: "1" }
"#;
    let set = load(yaml);
    assert!(set.findings.is_empty(), "{:?}", messages(&set));
    let got = recognize(&filter(&set).config_patches[0]).unwrap().unwrap();
    assert_eq!(got.context, PatchContext::Gateway);
    assert_eq!(got.scope, RateLimitScope::Filter { port: Some(8080) });
    let limit = got.limit.unwrap();
    assert_eq!(limit.max_tokens, 10);
    assert_eq!(limit.tokens_per_fill, 1, "Envoy's default");
    assert_eq!(limit.fill_interval, Duration::from_millis(500));
    assert_eq!(limit.enabled_percent, 50.0);
    assert_eq!(limit.enforced_percent, 0.0, "unset is 0%, as in Envoy");
    assert_eq!(
        limit.add_headers,
        vec![("x-rl".to_string(), "1".to_string())]
    );
}

#[test]
fn other_patches_load_with_the_ignored_warning_on_their_line() {
    let yaml = r#"
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: lua }
spec:
  workloadSelector:
    labels: { app: reviews }
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.http_connection_manager
            subFilter: { name: envoy.filters.http.router }
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.lua
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua
          inlineCode: "function envoy_on_request(h) end"
"#;
    let set = load(yaml);
    let msgs = messages(&set);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert!(msgs[0].starts_with("warning"), "{msgs:?}");
    assert!(msgs[0].contains(super::validate::IGNORED), "{msgs:?}");
    assert_eq!(set.findings[0].line, Some(9));
    assert_eq!(
        set.findings[0].path.as_deref(),
        Some("spec.configPatches[0]")
    );
}

#[test]
fn istio_validation_errors_name_their_field() {
    let yaml = r#"
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: { name: bad }
spec:
  workloadSelector:
    labels: { app: reviews }
  targetRefs:
  - { kind: Gateway, group: gateway.networking.k8s.io, name: gw }
  configPatches:
  - applyTo: CLUSTER
    match: { context: SIDECAR_OUTBOUND, cluster: { service: reviews } }
    patch: { operation: INSERT_FIRST, value: { name: x } }
  - applyTo: NETWORK_FILTER
    match:
      listener:
        filterChain:
          filter:
            name: envoy.filters.network.tcp_proxy
            subFilter: { name: x }
    patch: { operation: MERGE }
  - match: { context: GATEWAY }
    patch: { operation: MERGE, value: {} }
  - applyTo: HTTP_ROUTE
    match: { listener: { portNumber: 80 } }
    patch: { operation: MERGE, value: {} }
"#;
    let set = load(yaml);
    let paths: Vec<_> = set
        .findings
        .iter()
        .filter(|f| f.severity == crate::finding::Severity::Error)
        .filter_map(|f| f.path.clone())
        .collect();
    for want in [
        "spec.targetRefs",
        "spec.configPatches[0].patch.operation",
        "spec.configPatches[1].patch.value",
        "spec.configPatches[1].match.listener.filterChain.filter.subFilter",
        "spec.configPatches[2].applyTo",
        "spec.configPatches[3].match",
    ] {
        assert!(
            paths.iter().any(|p| p == want),
            "{want} missing from {paths:?}"
        );
    }
}

#[test]
fn a_rate_limit_without_a_fill_interval_is_an_error_at_its_field() {
    let yaml = WORKLOAD_LIMIT.replace("                fill_interval: 60s\n", "");
    let set = load(&yaml);
    let errors: Vec<_> = set
        .findings
        .iter()
        .filter(|f| f.severity == crate::finding::Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{:?}", messages(&set));
    assert_eq!(
        errors[0].path.as_deref(),
        Some("spec.configPatches[0].patch.value.typed_config.value.token_bucket.fill_interval")
    );
    assert_eq!(errors[0].line, Some(28), "the token_bucket's line");
}
