//! Distributed tracing: proxies join the caller's trace, record CLIENT and
//! SERVER spans with Envoy's and Istio's tags, and export them over OTLP to
//! a collector (an in-process receiver of the official `TraceService`).

use std::net::SocketAddr;
use std::time::Duration;

use http::{Request, StatusCode, Version};
use weft_proto::otlp::trace::v1::Span;
use weft_proto::otlp::trace::v1::span::SpanKind;
use weft_testkit::otlp::{Receiver, attr};
use weft_testkit::proxy::TestProxy;
use weft_testkit::{client, servers};

use crate::support::{outbound_to, send, wait_metric};

/// A batch short of 512 spans leaves 5 s after its first span (the
/// OpenTelemetry SDK's `scheduledDelay`): room for a few.
const PATIENCE: Duration = Duration::from_secs(30);

fn tracing(collector: SocketAddr, sampling: f64) -> String {
    format!("tracing: {{ otlp: {{ endpoint: \"{collector}\" }}, sampling: {sampling} }}\n")
}

/// A sidecar with an inbound listener for the app on `app_port` (service
/// `app.test`), and an outbound one whose `backend` service goes to
/// `backend_at`.
fn sidecar(app: &str, app_port: u16, backend: Option<(&str, SocketAddr)>, trace: &str) -> String {
    let mut yaml = format!(
        "node: {{ workload: {app}-v1, namespace: test, app: {app}, version: v1 }}
{trace}listeners:
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: {app_port} }}
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
inbound:
  - {{ port: {app_port}, service: {app}.test.svc.cluster.local }}
"
    );
    if let Some((name, at)) = backend {
        yaml.push_str(&format!(
            "services:
  - name: {name}.test.svc.cluster.local
    hosts: [{name}.test]
    ports: [{{ port: 80, cluster: {name} }}]
clusters:
  - name: {name}
    endpoints: [{{ address: \"{at}\", workload: {{ workload: {name}-v1, namespace: test, app: {name} }} }}]
"
        ));
    }
    yaml
}

fn span_of<'a>(spans: &'a [Span], service: &str, kind: SpanKind) -> &'a Span {
    spans
        .iter()
        .find(|s| {
            attr(s, "istio.canonical_service").as_deref() == Some(service) && s.kind == kind as i32
        })
        .unwrap_or_else(|| panic!("no {kind:?} span from {service} in {spans:#?}"))
}

/// client → [client sidecar] → [front sidecar] → front app → [front
/// sidecar] → [echo sidecar] → echo: four spans, one trace, each the child
/// of the one before, because the proxies write their span into the trace
/// headers and the front app copies them onto its call.
#[tokio::test]
async fn one_request_is_one_connected_trace_across_two_hops() {
    let collector = Receiver::start().await;
    let trace = tracing(collector.addr, 100.0);
    let echo = servers::http_echo("echo").await;
    let echo_sidecar = TestProxy::start(&sidecar("echo", echo.addr.port(), None, &trace)).await;

    let front_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let front_port = front_listener.local_addr().unwrap().port();
    let front_sidecar = TestProxy::start(&sidecar(
        "front",
        front_port,
        Some(("echo", echo_sidecar.listener("inbound"))),
        &trace,
    ))
    .await;
    let front = tokio::spawn(weft_sample::frontend::serve(
        front_listener,
        "front",
        "http://echo.test/hello".parse().unwrap(),
        Some(front_sidecar.listener("outbound")),
    ));
    let client_sidecar = TestProxy::start(&sidecar(
        "client",
        1,
        Some(("front", front_sidecar.listener("inbound"))),
        &trace,
    ))
    .await;

    let rsp = client::get(
        client_sidecar.listener("outbound"),
        Version::HTTP_11,
        "front.test",
        "/page",
    )
    .await;
    assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());

    let spans: Vec<Span> = collector
        .wait_for(4, PATIENCE)
        .await
        .into_iter()
        .map(|r| r.span)
        .collect();
    assert_eq!(spans.len(), 4, "{spans:#?}");
    let trace_id = &spans[0].trace_id;
    assert_eq!(trace_id.len(), 16);
    assert!(
        spans.iter().all(|s| &s.trace_id == trace_id),
        "one trace: {spans:#?}"
    );

    let root = span_of(&spans, "client", SpanKind::Client);
    let front_in = span_of(&spans, "front", SpanKind::Server);
    let front_out = span_of(&spans, "front", SpanKind::Client);
    let echo_in = span_of(&spans, "echo", SpanKind::Server);
    assert!(
        root.parent_span_id.is_empty(),
        "the client's proxy starts the trace"
    );
    assert_eq!(front_in.parent_span_id, root.span_id);
    assert_eq!(
        front_out.parent_span_id, front_in.span_id,
        "the app propagated"
    );
    assert_eq!(echo_in.parent_span_id, front_out.span_id);

    // Envoy's operation name and standard tags, Istio's custom tags.
    assert_eq!(root.name, "front.test.svc.cluster.local:80/*");
    assert_eq!(echo_in.name, "echo.test.svc.cluster.local:80/*");
    for s in [root, front_in, front_out, echo_in] {
        assert_eq!(attr(s, "http.method").as_deref(), Some("GET"));
        assert_eq!(attr(s, "http.status_code").as_deref(), Some("200"));
        assert_eq!(attr(s, "component").as_deref(), Some("proxy"));
        assert_eq!(attr(s, "istio.namespace").as_deref(), Some("test"));
        assert_eq!(attr(s, "istio.mesh_id").as_deref(), Some("cluster.local"));
        assert_eq!(attr(s, "response_flags").as_deref(), Some("-"));
        assert_eq!(attr(s, "peer.address").as_deref(), Some("127.0.0.1"));
        assert!(attr(s, "error").is_none());
        assert!(s.start_time_unix_nano > 0 && s.end_time_unix_nano >= s.start_time_unix_nano);
    }
    assert_eq!(
        attr(root, "http.url").as_deref(),
        Some("http://front.test/page")
    );
    assert_eq!(
        attr(echo_in, "http.url").as_deref(),
        Some("http://echo.test/hello")
    );
    assert_eq!(attr(root, "upstream_cluster").as_deref(), Some("front"));
    assert_eq!(
        attr(root, "upstream_address"),
        Some(front_sidecar.listener("inbound").to_string())
    );
    assert_eq!(attr(root, "node_id").as_deref(), Some("client-v1.test"));
    assert!(collector.spans().iter().any(|r| r.service == "front.test"));
    front.abort();
}

/// A caller's "not sampled" (W3C flags 00, `x-b3-sampled: 0`) is honoured
/// and passed on untouched; a caller's "sampled" wins over `sampling: 0`
/// and its trace is joined.
#[tokio::test]
async fn the_callers_sampling_decision_is_honoured() {
    let collector = Receiver::start().await;
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&format!(
        "{}{}",
        tracing(collector.addr, 0.0),
        outbound_to(&[echo.addr], "")
    ))
    .await;
    let traceparent =
        |flags: &str| format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}");
    let get = |headers: Vec<(&'static str, String)>| {
        let mut req = Request::get("/").header("host", "echo.test");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.body(client::empty()).unwrap()
    };

    // Not sampled: headers reach the app as they were sent.
    let rsp = send(
        &proxy,
        get(vec![
            ("traceparent", traceparent("00")),
            ("tracestate", "a=b".into()),
        ]),
    )
    .await;
    let seen = &rsp.json()["headers"];
    assert_eq!(seen["traceparent"], traceparent("00"));
    assert_eq!(seen["tracestate"], "a=b");
    let rsp = send(&proxy, get(vec![("x-b3-sampled", "0".into())])).await;
    assert_eq!(rsp.json()["headers"]["x-b3-sampled"], "0");

    // No decision and `sampling: 0`: a new trace, marked not sampled for
    // the hops after this one, in W3C and in B3 (a decision alone: no
    // unused random ids on the wire).
    let rsp = send(&proxy, get(vec![])).await;
    let seen = &rsp.json()["headers"];
    assert!(
        seen["traceparent"]
            .as_str()
            .is_some_and(|t| t.ends_with("-00")),
        "{seen}"
    );
    assert_eq!(seen["x-b3-sampled"], "0");
    assert!(
        seen.get("x-b3-traceid").is_none() && seen.get("x-b3-spanid").is_none(),
        "{seen}"
    );

    // Sampled by the caller (B3 multi): joined, with the caller's span as
    // the parent, and the app sees this proxy's span as its parent.
    let rsp = send(
        &proxy,
        get(vec![
            ("x-b3-traceid", "4bf92f3577b34da6a3ce929d0e0e4736".into()),
            ("x-b3-spanid", "00f067aa0ba902b7".into()),
            ("x-b3-sampled", "1".into()),
        ]),
    )
    .await;
    let seen = rsp.json()["headers"].clone();
    let spans = collector.wait_for(1, PATIENCE).await;
    assert_eq!(spans.len(), 1, "only the sampled request: {spans:#?}");
    let span = &spans[0].span;
    assert_eq!(
        weft_testkit::otlp::hex(&span.trace_id),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(
        weft_testkit::otlp::hex(&span.parent_span_id),
        "00f067aa0ba902b7"
    );
    let own = weft_testkit::otlp::hex(&span.span_id);
    assert_eq!(seen["x-b3-spanid"], own.as_str());
    assert_eq!(seen["x-b3-parentspanid"], "00f067aa0ba902b7");
    assert_eq!(
        seen["traceparent"],
        format!("00-4bf92f3577b34da6a3ce929d0e0e4736-{own}-01")
    );
    assert_eq!(span.kind, SpanKind::Client as i32);
}

/// OTLP/HTTP (`protocol: http_protobuf`) carries the same spans.
#[tokio::test]
async fn spans_also_export_over_otlp_http() {
    let collector = Receiver::start_http().await;
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&format!(
        "tracing: {{ otlp: {{ endpoint: \"{}\", protocol: http_protobuf }}, sampling: 100 }}\n{}",
        collector.addr,
        outbound_to(&[echo.addr], "")
    ))
    .await;
    let rsp = crate::support::get(&proxy, "echo.test", "/over-http").await;
    assert_eq!(rsp.status, StatusCode::OK);
    let spans = collector.wait_for(1, PATIENCE).await;
    let span = &spans[0].span;
    assert_eq!(span.kind, SpanKind::Client as i32);
    assert_eq!(
        attr(span, "http.url").as_deref(),
        Some("http://echo.test/over-http")
    );
    assert_eq!(spans[0].service, "client.test");
}

/// A collector that is down costs requests nothing: they succeed, and the
/// spans that could not be sent are counted as dropped.
#[tokio::test]
async fn a_dead_collector_never_fails_requests() {
    let dead = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap()
    };
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&format!(
        "{}{}",
        tracing(dead, 100.0),
        outbound_to(&[echo.addr], "")
    ))
    .await;
    for i in 0..10 {
        let rsp = crate::support::get(&proxy, "echo.test", &format!("/{i}")).await;
        assert_eq!(rsp.status, StatusCode::OK);
    }
    // Ten spans: one batch (short of 512, it leaves after 5 s), refused by
    // the closed port.
    wait_metric(
        &proxy,
        "weft_tracing_spans_dropped_total",
        &[("reason", "export_failed")],
        10.0,
    )
    .await;
}

/// Spans short of a full batch leave together, in one export call, once
/// the first has waited the batch delay; they do not go a few at a time.
#[tokio::test]
async fn spans_below_a_full_batch_leave_in_one_export() {
    let collector = Receiver::start().await;
    let echo = servers::http_echo("echo").await;
    let proxy = TestProxy::start(&format!(
        "{}{}",
        tracing(collector.addr, 100.0),
        outbound_to(&[echo.addr], "")
    ))
    .await;
    let began = std::time::Instant::now();
    for i in 0..20 {
        let rsp = crate::support::get(&proxy, "echo.test", &format!("/{i}")).await;
        assert_eq!(rsp.status, StatusCode::OK);
    }
    let sent = began.elapsed();
    let spans = collector.wait_for(20, PATIENCE).await;
    assert_eq!(spans.len(), 20);
    // Twenty requests inside the 5 s delay are one batch; on a machine so
    // loaded they took longer, one more batch per 5 s they took.
    let most = 1 + (sent.as_secs() / 5) as usize;
    assert!(
        (1..=most).contains(&collector.exports()),
        "{} exports for 20 spans sent in {sent:?}",
        collector.exports()
    );
}

/// A proxy shutting down sends the spans and writes the access log lines
/// its writers were holding to batch (up to 5 s and 1 s): a rolling
/// restart loses neither.
#[tokio::test]
async fn a_draining_proxy_sends_what_it_holds() {
    let collector = Receiver::start().await;
    let echo = servers::http_echo("echo").await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let mut proxy = TestProxy::start(&format!(
        "{}access_log: {{ path: \"{}\" }}\n{}",
        tracing(collector.addr, 100.0),
        log.display(),
        outbound_to(&[echo.addr], "")
    ))
    .await;
    for i in 0..3 {
        let rsp = crate::support::get(&proxy, "echo.test", &format!("/{i}")).await;
        assert_eq!(rsp.status, StatusCode::OK);
    }
    let began = std::time::Instant::now();
    assert!(proxy.drain(Duration::from_secs(5)).await);
    // Well inside the 5 s batch delay: the drain sent them.
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "drain took {:?}",
        began.elapsed()
    );
    assert_eq!(collector.spans().len(), 3, "spans exported by the drain");
    assert_eq!(collector.exports(), 1);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
}
