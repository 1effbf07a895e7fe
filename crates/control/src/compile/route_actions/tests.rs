use std::time::Duration;

use weft_api::ResourceSet;
use weft_api::kinds::Spec;
use weft_proto::config::{
    AbortStatus, DirectResponse, FaultAbort, FaultDelay, HeaderEdits, HttpRoute, Redirect,
    RedirectPort, RegexRewrite, ResponseBody, Rewrite,
};

use super::apply;
use weft_api::kinds::istio::grpc_status_code as grpc_code;

/// The routes `apply` makes of each rule of the VirtualService in `yaml`.
fn routes(yaml: &str) -> Vec<HttpRoute> {
    let set = ResourceSet::from_text("vs.yaml", yaml);
    assert!(
        !set.has_errors(),
        "{:?}",
        set.errors().map(|f| f.message.clone()).collect::<Vec<_>>()
    );
    let Spec::VirtualService(vs) = &set.resources[0].spec else {
        panic!("not a VirtualService")
    };
    vs.http
        .iter()
        .map(|rule| {
            let mut r = HttpRoute::default();
            apply(rule, &mut r);
            r
        })
        .collect()
}

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{ name: r }}\nspec:\n  hosts: [ratings]\n  http:\n{http}"
    )
}

#[test]
fn bookinfo_faults_become_proxy_faults() {
    let abort = routes(include_str!(
        "../../../../../samples/bookinfo-networking/virtual-service-ratings-test-abort.yaml"
    ));
    assert_eq!(
        abort[0].fault.as_ref().unwrap().abort,
        Some(FaultAbort {
            status: AbortStatus::Http(500),
            percent: 100.0
        })
    );
    assert!(abort[1].fault.is_none(), "only jason's rule faults");
    let delay = routes(include_str!(
        "../../../../../samples/bookinfo-networking/virtual-service-ratings-test-delay.yaml"
    ));
    assert_eq!(
        delay[0].fault.as_ref().unwrap().delay,
        Some(FaultDelay {
            fixed: Duration::from_secs(7),
            percent: 100.0
        })
    );
}

#[test]
fn fault_percentages_and_grpc_statuses() {
    let r = routes(&vs("  - fault:
      delay: { fixedDelay: 1s, percent: 30 }
      abort: { grpcStatus: UNAVAILABLE, percentage: { value: 0.5 } }
    route: [{ destination: { host: ratings } }]
  - fault:
      delay: { fixedDelay: 1s }
    route: [{ destination: { host: ratings } }]
"));
    let f = r[0].fault.as_ref().unwrap();
    assert_eq!(
        f.delay.as_ref().unwrap().percent,
        30.0,
        "the legacy integer"
    );
    assert_eq!(
        f.abort,
        Some(FaultAbort {
            status: AbortStatus::Grpc(14),
            percent: 0.5
        })
    );
    assert_eq!(
        r[1].fault.as_ref().unwrap().delay.as_ref().unwrap().percent,
        0.0,
        "no percentage injects into no request, as Istio"
    );
    assert_eq!(grpc_code("unavailable"), Some(14));
    assert_eq!(grpc_code("16"), Some(16));
    assert_eq!(grpc_code("17"), None);
    assert_eq!(grpc_code("NOPE"), None);
}

#[test]
fn redirects_direct_responses_and_rewrites() {
    let r = routes(&vs("  - redirect: { uri: /v2/ratings, authority: new.example.com, derivePort: FROM_REQUEST_PORT }
  - redirect: { scheme: https, port: 8443, redirectCode: 308 }
  - directResponse: { status: 503, body: { string: closed } }
  - directResponse: { status: 200, body: { bytes: aGk= } }
  - rewrite: { uri: /v2, authority: ratings.internal }
    route: [{ destination: { host: ratings } }]
  - rewrite: { uriRegexRewrite: { match: '^/r/(.*)$', rewrite: '/\\1' } }
    route: [{ destination: { host: ratings } }]
"));
    assert_eq!(
        r[0].redirect,
        Some(Redirect {
            path: Some("/v2/ratings".into()),
            authority: Some("new.example.com".into()),
            scheme: None,
            port: Some(RedirectPort::FromRequest),
            status: 301,
        })
    );
    let second = r[1].redirect.as_ref().unwrap();
    assert_eq!(
        (second.scheme.as_deref(), second.port, second.status),
        (Some("https"), Some(RedirectPort::Number(8443)), 308)
    );
    assert_eq!(
        r[2].direct_response,
        Some(DirectResponse {
            status: 503,
            body: Some(ResponseBody::Text("closed".into()))
        })
    );
    assert_eq!(
        r[3].direct_response.as_ref().unwrap().body,
        Some(ResponseBody::Base64("aGk=".into()))
    );
    assert_eq!(
        r[4].rewrite,
        Some(Rewrite {
            uri: Some("/v2".into()),
            uri_regex: None,
            authority: Some("ratings.internal".into()),
        })
    );
    assert_eq!(
        r[5].rewrite.as_ref().unwrap().uri_regex,
        Some(RegexRewrite {
            pattern: "^/r/(.*)$".into(),
            substitution: "/\\1".into()
        })
    );
}

#[test]
fn header_edits_keep_their_kind_and_lower_case_names() {
    let r = routes(&vs("  - headers:
      request: { set: { X-Env: prod }, add: { X-Trace: a }, remove: [X-Debug] }
      response: { remove: [Server] }
    route: [{ destination: { host: ratings } }]
"));
    assert_eq!(
        r[0].headers.request,
        HeaderEdits {
            set: vec![("x-env".into(), "prod".into())],
            add: vec![("x-trace".into(), "a".into())],
            remove: vec!["x-debug".into()],
        }
    );
    assert_eq!(r[0].headers.response.remove, ["server"]);
}

#[test]
fn a_lone_destinations_edits_follow_the_rules_as_in_istio() {
    let set = ResourceSet::from_text(
        "vs.yaml",
        &vs("  - headers: { request: { set: { x-who: rule } } }
    route:
    - destination: { host: ratings }
      headers: { request: { set: { x-who: destination } } }
"),
    );
    let Spec::VirtualService(v) = &set.resources[0].spec else {
        panic!()
    };
    let mut r = HttpRoute {
        backends: vec![weft_proto::config::Backend {
            cluster: "c".into(),
            weight: 1,
            headers: crate::compile::route_actions::header_ops(v.http[0].route[0].headers.as_ref()),
        }],
        ..HttpRoute::default()
    };
    apply(&v.http[0], &mut r);
    assert!(r.backends[0].headers.is_empty());
    assert_eq!(
        r.headers.request.set,
        [
            ("x-who".to_string(), "rule".to_string()),
            ("x-who".to_string(), "destination".to_string())
        ],
        "applied in order: the destination's set wins"
    );
}

#[test]
fn retries_follow_istio_attempts_retry_on_and_back_off() {
    use weft_proto::config::{RetryOn, RetryPolicy};
    let r = routes(&vs("  - retries: { attempts: 3, perTryTimeout: 2s, retryOn: 'gateway-error,connect-failure,409,503,unavailable,envoy-ratelimited' }
    route: [{ destination: { host: ratings } }]
  - retries: { attempts: 2 }
    route: [{ destination: { host: ratings } }]
  - retries: { attempts: 0, perTryTimeout: 1s }
    route: [{ destination: { host: ratings } }]
  - route: [{ destination: { host: ratings } }]
"));
    assert_eq!(
        r[0].retries,
        Some(RetryPolicy {
            attempts: 3,
            per_try_timeout: Some(Duration::from_secs(2)),
            retry_on: vec![
                RetryOn::GatewayError,
                RetryOn::ConnectFailure,
                RetryOn::Unavailable,
                RetryOn::RetriableStatusCodes
            ],
            status_codes: vec![409, 503],
            backoff: Duration::from_millis(25),
        }),
        "numbers become retriable status codes; unknown names are left out"
    );
    let default_on = r[1].retries.as_ref().unwrap();
    assert_eq!(
        (default_on.retry_on.len(), &default_on.status_codes[..]),
        (5, &[503][..]),
        "attempts without retryOn take Istio's default conditions"
    );
    assert!(r[2].retries.is_none(), "attempts 0 turns retries off");
    assert_eq!(
        r[3].retries.as_ref(),
        Some(&super::default_retries()),
        "a rule without retries gets Istio's default policy"
    );
    let d = super::default_retries();
    assert_eq!(
        (d.attempts, &d.retry_on[..], &d.status_codes[..]),
        (
            2,
            &[
                RetryOn::ConnectFailure,
                RetryOn::RefusedStream,
                RetryOn::Unavailable,
                RetryOn::Cancelled,
                RetryOn::RetriableStatusCodes
            ][..],
            &[503][..]
        )
    );
}

#[test]
fn cors_policy_follows_istio() {
    use weft_proto::config::{Cors, StringMatch};
    let r = routes(&vs("  - corsPolicy:
      allowOrigins: [{ exact: 'https://a.example' }, { regex: 'https://.*\\.b\\.example' }]
      allowMethods: [GET, POST]
      allowHeaders: [x-a]
      exposeHeaders: [x-b]
      maxAge: 24h
      allowCredentials: true
      unmatchedPreflights: IGNORE
    route: [{ destination: { host: ratings } }]
  - corsPolicy: { allowOrigin: ['https://old.example'] }
    route: [{ destination: { host: ratings } }]
"));
    assert_eq!(
        r[0].cors,
        Some(Cors {
            allow_origins: vec![
                StringMatch::Exact("https://a.example".into()),
                StringMatch::Regex("https://.*\\.b\\.example".into()),
            ],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["x-a".into()],
            expose_headers: vec!["x-b".into()],
            max_age: Some(Duration::from_secs(86_400)),
            allow_credentials: true,
            forward_unmatched_preflights: false,
        })
    );
    let old = r[1].cors.as_ref().unwrap();
    assert_eq!(
        old.allow_origins,
        [StringMatch::Exact("https://old.example".into())],
        "the deprecated allowOrigin when allowOrigins is empty"
    );
    assert!(old.forward_unmatched_preflights, "FORWARD by default");
}

#[test]
fn mirrors_follow_istio() {
    let set = ResourceSet::from_text(
        "vs.yaml",
        &vs("  - route: [{ destination: { host: ratings } }]
    mirror: { host: ratings, subset: v2 }
    mirrorPercentage: { value: 12.5 }
  - route: [{ destination: { host: ratings } }]
    mirror: { host: shadow }
  - route: [{ destination: { host: ratings } }]
    mirror: { host: shadow }
    mirrorPercent: 30
  - route: [{ destination: { host: ratings } }]
    mirrors:
    - { destination: { host: a } }
    - { destination: { host: b }, percentage: { value: 5 } }
  - route: [{ destination: { host: ratings } }]
"),
    );
    assert!(!set.has_errors());
    let Spec::VirtualService(v) = &set.resources[0].spec else {
        panic!()
    };
    let got: Vec<Vec<(String, f64)>> = v
        .http
        .iter()
        .map(|rule| {
            super::mirrors(rule, |d| {
                format!("{}/{}", d.host, d.subset.as_deref().unwrap_or(""))
            })
            .into_iter()
            .map(|m| (m.cluster, m.percent))
            .collect()
        })
        .collect();
    let want: Vec<Vec<(String, f64)>> = vec![
        vec![("ratings/v2".into(), 12.5)],
        vec![("shadow/".into(), 100.0)],
        vec![("shadow/".into(), 30.0)],
        vec![("a/".into(), 100.0), ("b/".into(), 5.0)],
        vec![],
    ];
    assert_eq!(got, want);
}
