//! Distributed tracing on a running mesh: `weft up --tracing-otlp-endpoint`
//! pushes tracing to every proxy, and one product page through the ingress
//! gateway is one connected trace across every hop (gateway → productpage
//! → details and reviews → ratings), as an OTLP collector receives it; an
//! Istio `Telemetry` then turns one workload's span reporting off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use support::local_mesh::{LocalMesh, conformance, samples};
use weft_proto::otlp::trace::v1::Span;
use weft_proto::otlp::trace::v1::span::SpanKind;
use weft_testkit::otlp::{Receiver, attr};

/// The spans of one trace, if it is the full tree of a page that reached
/// ratings: one root, every other span's parent in the trace, each SERVER
/// span the child of a CLIENT span.
fn complete_page(spans: &[&Span]) -> Result<(), String> {
    let by_id: HashMap<&[u8], &Span> = spans.iter().map(|s| (s.span_id.as_slice(), *s)).collect();
    let roots: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id.is_empty())
        .collect();
    if roots.len() != 1 {
        return Err(format!("{} roots", roots.len()));
    }
    let root = roots[0];
    if attr(root, "istio.canonical_service").as_deref() != Some("istio-ingressgateway")
        || root.kind != SpanKind::Client as i32
    {
        return Err(format!("root is not the gateway's CLIENT span: {root:?}"));
    }
    for s in spans {
        if s.parent_span_id.is_empty() {
            continue;
        }
        let Some(parent) = by_id.get(s.parent_span_id.as_slice()) else {
            return Err(format!("{} has a parent outside the trace", s.name));
        };
        if s.kind == SpanKind::Server as i32 && parent.kind != SpanKind::Client as i32 {
            return Err(format!(
                "SERVER span {} is not a CLIENT span's child",
                s.name
            ));
        }
    }
    let servers: Vec<String> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Server as i32)
        .filter_map(|s| attr(s, "istio.canonical_service"))
        .collect();
    for app in ["productpage", "details", "reviews", "ratings"] {
        if !servers.iter().any(|s| s == app) {
            return Err(format!("no SERVER span from {app}: {servers:?}"));
        }
    }
    Ok(())
}

#[test]
fn one_product_page_is_one_connected_trace_across_every_hop() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let collector = rt.block_on(Receiver::start());
    let endpoint = collector.addr.to_string();
    let mesh = LocalMesh::up_with(
        "tr",
        &[
            conformance("platform/bookinfo.yaml"),
            samples("bookinfo/local-images.yaml"),
            conformance("networking/bookinfo-gateway.yaml"),
            conformance("networking/destination-rule-all.yaml"),
        ],
        &[
            "--tracing-otlp-endpoint",
            &endpoint,
            "--tracing-sampling",
            "100",
        ],
    );
    // reviews v2 and v3 call ratings, v1 does not: pages until one did,
    // and its spans (batched every 5 s by each proxy) all arrived.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let page = mesh.page(None);
        assert_eq!(page.status, 200, "{}", page.body);
        std::thread::sleep(Duration::from_millis(500));
        let received = collector.spans();
        let mut traces: BTreeMap<&[u8], Vec<&Span>> = BTreeMap::new();
        for r in &received {
            traces
                .entry(r.span.trace_id.as_slice())
                .or_default()
                .push(&r.span);
        }
        match traces
            .values()
            .map(|t| complete_page(t))
            .find(Result::is_ok)
        {
            Some(_) => break,
            None => assert!(
                Instant::now() < deadline,
                "no connected page trace in 90 s: {} spans in {} traces; {:?}",
                received.len(),
                traces.len(),
                traces
                    .values()
                    .map(|t| complete_page(t))
                    .collect::<Vec<_>>()
            ),
        }
    }

    // Istio's Telemetry turns span reporting off for one workload: ratings'
    // sidecar stops sending its SERVER spans; every other hop goes on.
    let quiet = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tr-ratings-quiet.yaml");
    std::fs::write(
        &quiet,
        "apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: ratings-quiet, namespace: default }
spec:
  selector: { matchLabels: { app: ratings } }
  tracing: [{ disableSpanReporting: true }]
",
    )
    .unwrap();
    mesh.apply(&quiet);
    let servers_of = |app: &str| {
        collector
            .spans()
            .iter()
            .filter(|r| {
                r.span.kind == SpanKind::Server as i32
                    && attr(&r.span, "istio.canonical_service").as_deref() == Some(app)
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (ratings, productpage) = (servers_of("ratings"), servers_of("productpage"));
        for _ in 0..10 {
            assert_eq!(mesh.page(None).status, 200);
        }
        // Every proxy's batch is out within its export interval.
        std::thread::sleep(Duration::from_secs(6));
        let (ratings_now, productpage_now) = (servers_of("ratings"), servers_of("productpage"));
        if ratings_now == ratings && productpage_now >= productpage + 10 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ratings still reports spans ({ratings} → {ratings_now}; productpage {productpage} → {productpage_now})"
        );
    }
    drop(mesh);
}
