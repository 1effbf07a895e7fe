use super::*;

mod telemetry;

fn load(yaml: &str) -> ResourceSet {
    ResourceSet::from_text("test.yaml", yaml)
}

fn messages(set: &ResourceSet) -> Vec<String> {
    set.findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect()
}

#[test]
fn loads_a_multi_document_file() {
    let set = load(
        "apiVersion: v1
kind: Service
metadata: { name: reviews }
spec:
  ports: [{ port: 9080, name: http }]
  selector: { app: reviews }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: prod }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v1 }
",
    );
    assert!(set.findings.is_empty(), "{:?}", messages(&set));
    assert_eq!(set.resources.len(), 2);
    let vs = &set.resources[1];
    assert_eq!(
        (vs.kind, vs.namespace(), vs.name()),
        (Kind::VirtualService, "prod", "reviews")
    );
    assert_eq!(vs.source.line, 8);
    assert_eq!(vs.line_of("spec.http[0].route[0].destination"), 15);
}

#[test]
fn weights_that_do_not_sum_to_100_name_file_line_and_field() {
    let set = load(
        "apiVersion: networking.istio.io/v1alpha3
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v1 }
      weight: 50
    - destination: { host: reviews, subset: v2 }
      weight: 40
",
    );
    assert_eq!(
        messages(&set),
        ["error: test.yaml:11: spec.http[0].route[1].weight: weights sum to 90, must sum to 100"]
    );
}

#[test]
fn unknown_kinds_are_ignored_typos_are_not() {
    let set = load(
        "apiVersion: batch/v1
kind: Job
metadata: { name: j }
---
apiVersion: networking.istio.io/v1
kind: VirtualSevice
metadata: { name: x }
---
apiVersion: networking.istio.io/v1beta1
kind: ProxyConfig
metadata: { name: y }
---
apiVersion: networking.istio.io/v2
kind: VirtualService
metadata: { name: z }
",
    );
    let m = messages(&set);
    assert!(
        m[0].starts_with("info: test.yaml:2: kind: Job (batch/v1) is not a kind weft reads"),
        "{m:?}"
    );
    assert!(
        m[1].contains(
            "unknown kind `VirtualSevice` in networking.istio.io/v1; did you mean `VirtualService`?"
        ),
        "{m:?}"
    );
    assert!(
        m[2].starts_with("warning: test.yaml:10: kind: weft does not implement ProxyConfig"),
        "{m:?}"
    );
    assert!(
        m[3].contains("weft reads VirtualService as `networking.istio.io/v1`"),
        "{m:?}"
    );
    assert!(set.resources.is_empty());
}

#[test]
fn duplicates_are_errors_that_point_at_both() {
    let doc = "apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: a }\n";
    let set = load(&format!("{doc}---\n{doc}"));
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].contains("ServiceAccount default/a is defined twice; the other is at test.yaml:1"),
        "{m:?}"
    );
}

#[test]
fn typos_in_metadata_are_caught_and_server_fields_are_not() {
    let set = load(
        "apiVersion: v1
kind: ServiceAccount
metadata:
  name: a
  uid: 1234
  resourceVersion: '5'
  lables: { app: x }
",
    );
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].contains("test.yaml:7: metadata.lables: unknown field `lables` in `metadata`; did you mean `labels`?"), "{m:?}");
}

#[test]
fn syntax_errors_point_at_the_line() {
    let set = load("apiVersion: v1\nkind: Service\nmetadata:\n  name: [a\n");
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].starts_with("error: test.yaml:"), "{m:?}");
    assert!(m[0].contains("not valid YAML"), "{m:?}");
}

#[test]
fn fields_weft_does_not_act_on_are_warnings_on_their_lines() {
    let set = load(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  exportTo: ['.']
  http:
  - match:
    - method: { prefix: GE }
      withoutHeaders: { x-debug: {}, x-test: { exact: '1' } }
      uri: { prefix: /api }
    retries: { attempts: 3, retryOn: 'reset,http3-post-connect-failure', retryRemoteLocalities: true }
    timeout: 1s
    route:
    - destination: { host: reviews, subset: v1 }
    fault: { abort: { http2Error: CANCEL, percentage: { value: 1 } } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec:
  host: api.example.com
  trafficPolicy: { tls: { mode: SIMPLE, credentialName: api-ca } }
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt }
spec: { jwtRules: [{ issuer: https://example.com }] }
",
    );
    assert_eq!(
        messages(&set),
        [
            "warning: test.yaml:6: spec.exportTo: weft does not implement `exportTo` here yet: it is checked, and otherwise ignored",
            "warning: test.yaml:10: spec.http[0].match[0].withoutHeaders.x-test.exact: weft does not implement `exact` here yet: it is checked, and otherwise ignored",
            "warning: test.yaml:12: spec.http[0].retries.retryOn: weft does not retry on `http3-post-connect-failure` yet: that condition is left out",
            "warning: test.yaml:12: spec.http[0].retries.retryRemoteLocalities: weft does not implement `retryRemoteLocalities` here yet: it is checked, and otherwise ignored",
            "warning: test.yaml:16: spec.http[0].fault.abort.http2Error: weft does not implement `http2Error` here yet: it is checked, and otherwise ignored",
            "warning: test.yaml:23: spec.trafficPolicy.tls.credentialName: weft does not implement `credentialName` here yet: it is checked, and otherwise ignored",
            "warning: test.yaml:26: kind: weft does not act on RequestAuthentication resources yet: this one is checked, and otherwise ignored",
        ]
    );
}

#[test]
fn what_weft_implements_draws_no_warning() {
    let set = load(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  gateways: [mesh]
  http:
  - name: jason
    match: [{ headers: { end-user: { exact: jason } }, sourceLabels: { app: productpage }, port: 9080 }]
    timeout: 0.5s
    route:
    - { destination: { host: reviews, subset: v2, port: { number: 9080 } }, weight: 50 }
    - { destination: { host: reviews, subset: v3 }, weight: 50 }
  tcp:
  - route: [{ destination: { host: reviews } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST }, connectionPool: { tcp: { connectTimeout: 2s } } }
  subsets: [{ name: v2, labels: { version: v2 } }, { name: v3, labels: { version: v3, tier: x } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: api }
spec:
  host: api.example.com
  trafficPolicy:
    tls: { mode: SIMPLE, sni: api.example.com, caCertificates: /etc/api-ca.pem, subjectAltNames: [api.example.com] }
    portLevelSettings: [{ port: { number: 8443 }, tls: { mode: MUTUAL, clientCertificate: /c.pem, privateKey: /k.pem } }]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: details }
spec:
  selector: { matchLabels: { app: details } }
  mtls: { mode: STRICT }
  portLevelMtls: { '9080': { mode: DISABLE } }
",
    );
    assert_eq!(messages(&set), Vec::<String>::new());
}

#[test]
fn consistent_hashing_draws_no_warning_at_any_level() {
    let set = load(
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: x-user, ringHash: { minimumRingSize: 2048 } } }
    portLevelSettings:
    - port: { number: 9090 }
      loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 65537 } } }
    - port: { number: 9091 }
      loadBalancer: { consistentHash: { httpQueryParameterName: cart, minimumRingSize: 4096 } }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy:
      loadBalancer: { consistentHash: { httpCookie: { name: user, path: /, ttl: 1h } } }
      portLevelSettings:
      - port: { number: 9090 }
        loadBalancer:
          consistentHash:
            httpCookie: { name: user, ttl: 0s, attributes: [{ name: SameSite, value: Strict }] }
",
    );
    let m = messages(&set);
    // Only the deprecation Istio warns about too.
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("warning: test.yaml:12: spec.trafficPolicy.portLevelSettings[1].loadBalancer.consistentHash.minimumRingSize: minimumRingSize is deprecated"),
        "{m:#?}"
    );
}

#[test]
fn locality_load_balancing_draws_no_warning_at_any_level() {
    let set = load(
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3 }
    loadBalancer: { localityLbSetting: { failover: [{ from: us-east, to: eu-west }] } }
    portLevelSettings:
    - port: { number: 9090 }
      loadBalancer: { localityLbSetting: { distribute: [{ from: us-east/*, to: { us-east/*: 80, eu-west/*: 20 } }] } }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy:
      outlierDetection: {}
      loadBalancer: { localityLbSetting: { failoverPriority: [version], enabled: true } }
      portLevelSettings:
      - port: { number: 9090 }
        loadBalancer: { localityLbSetting: { enabled: false } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm }
spec: { address: 10.0.0.5, labels: { app: reviews }, locality: us-east/zone1 }
",
    );
    assert_eq!(messages(&set), Vec::<String>::new());
}

#[test]
fn authorization_policies_warn_about_what_is_not_enforced() {
    let set = load(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ext }
spec:
  action: CUSTOM
  provider: { name: opa }
  rules: [{ from: [{ source: { ipBlocks: [10.0.0.0/8] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: jwt }
spec:
  rules:
  - from: [{ source: { requestPrincipals: ['*'] } }]
    when: [{ key: 'request.auth.claims[group]', values: [admins] }]
",
    );
    assert_eq!(
        messages(&set),
        [
            "warning: test.yaml:5: spec.action: weft does not implement external authorization (CUSTOM) yet: it denies every request this policy would send to its provider",
            "warning: test.yaml:6: spec.provider: weft does not implement `provider` here yet: it is checked, and otherwise ignored",
            "warning: test.yaml:14: spec.rules[0].from[0].source.requestPrincipals: weft does not implement `requestPrincipals` here yet: it is checked, and otherwise ignored",
            "warning: test.yaml:15: spec.rules[0].when[0].key: weft does not validate JWTs yet (RequestAuthentication): a condition on `request.auth.*` never holds",
        ]
    );
}

#[test]
fn route_actions_that_cannot_work_are_refused_and_faults_without_a_share_warned() {
    let set = load(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - fault:
      delay: { fixedDelay: 1s }
      abort: { grpcStatus: NOT_A_STATUS, percentage: { value: 10 } }
    headers:
      request: { set: { Host: other }, add: { 'bad name': x } }
    route:
    - destination: { host: ratings }
      headers: { response: { remove: [':status'] } }
",
    );
    assert_eq!(
        messages(&set),
        [
            "warning: test.yaml:8: spec.http[0].fault.delay: no `percentage`: as in Istio, no request is delayed; add `percentage: { value: 100 }` to delay every request",
            "error: test.yaml:9: spec.http[0].fault.abort.grpcStatus: `NOT_A_STATUS` is not a gRPC status; use a name such as UNAVAILABLE, or a number 0 to 16",
            "error: test.yaml:11: spec.http[0].headers.request.add.bad name: `bad name` is not a header name; use letters, digits and `-`",
            "error: test.yaml:11: spec.http[0].headers.request.set.Host: `Host` cannot be edited as a header; change the host with `rewrite.authority`",
            "error: test.yaml:14: spec.http[0].route[0].headers.response.remove.:status: `:status` is a pseudo-header, which cannot be edited",
        ]
    );
}

#[test]
fn rules_that_answer_themselves_take_no_fault_or_rewrite_and_say_where_to_go() {
    let set = load(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - redirect: {}
    fault: { abort: { httpStatus: 500, percentage: { value: 1 } } }
  - directResponse: { status: 200, body: { bytes: '!!notbase64' } }
    rewrite: { authority: x }
  - rewrite: { uriRegexRewrite: { match: '^/a$', rewrite: '/\\2\\q' } }
    route: [{ destination: { host: ratings } }]
",
    );
    let got = messages(&set);
    let has = |s: &str| got.iter().any(|m| m.contains(s));
    assert!(
        has("test.yaml:7: spec.http[0].redirect: a redirect needs"),
        "{got:#?}"
    );
    assert!(
        has("spec.http[0].fault: a rule that redirects or answers directly cannot also fault"),
        "{got:#?}"
    );
    assert!(
        has("spec.http[1].rewrite: a rule that redirects or answers directly cannot also rewrite"),
        "{got:#?}"
    );
    assert!(
        has("spec.http[1].directResponse.body.bytes: not standard base64"),
        "{got:#?}"
    );
    assert!(
        has("spec.http[2].rewrite.uriRegexRewrite.rewrite: \\q is not an escape"),
        "{got:#?}"
    );
}

#[test]
fn circuit_breakers_and_outlier_detection_draw_no_warning_except_what_is_left_out() {
    let set = load(
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 10, connectTimeout: 1s, maxConnectionDuration: 1h }
      http: { http1MaxPendingRequests: 5, http2MaxRequests: 20, maxRequestsPerConnection: 1, idleTimeout: 30s }
    outlierDetection:
      consecutive5xxErrors: 3
      consecutiveGatewayErrors: 2
      splitExternalLocalOriginErrors: true
      consecutiveLocalOriginFailures: 4
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
    portLevelSettings:
    - port: { number: 9080 }
      connectionPool: { http: { http2MaxRequests: 1 } }
      outlierDetection: { consecutive5xxErrors: 1 }
  subsets:
  - name: v1
    labels: { version: v1 }
    trafficPolicy:
      connectionPool: { tcp: { maxConnections: 1 }, http: { maxRetries: 2 } }
      outlierDetection: { interval: 5s, minHealthPercent: 50 }
      portLevelSettings:
      - port: { number: 9080 }
        connectionPool: { tcp: { idleTimeout: 1m } }
",
    );
    assert_eq!(
        messages(&set),
        [
            "warning: test.yaml:27: spec.subsets[0].trafficPolicy.outlierDetection.minHealthPercent: weft does not implement `minHealthPercent` here yet: it is checked, and otherwise ignored",
            "warning: test.yaml:30: spec.subsets[0].trafficPolicy.portLevelSettings[0].connectionPool.tcp.idleTimeout: weft does not implement `idleTimeout` here yet: it is checked, and otherwise ignored",
        ]
    );
}

#[test]
fn impossible_circuit_breakers_and_outlier_settings_are_errors() {
    let set = load(
        "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy:
    connectionPool: { http: { http2MaxRequests: -1 } }
    outlierDetection: { maxEjectionPercent: 150, consecutiveLocalOriginFailures: 3 }
",
    );
    let errors: Vec<String> = messages(&set)
        .into_iter()
        .filter(|m| m.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    for field in [
        "http2MaxRequests",
        "maxEjectionPercent",
        "consecutiveLocalOriginFailures",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(field)),
            "{field}: {errors:#?}"
        );
    }
}
