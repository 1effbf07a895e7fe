use std::time::Duration;

use super::*;

/// A page as a destination proxy of `reviews-v1` serves it: `ok` 200s
/// and `bad` 503s from productpage over mTLS, with latencies.
fn page(ok: u64, bad: u64, fast: u64) -> String {
    let labels = |code: u16| {
        format!(
            "reporter=\"destination\",source_workload=\"unknown\",source_workload_namespace=\"default\",source_principal=\"spiffe://cluster.local/ns/default/sa/bookinfo-productpage\",destination_workload=\"reviews-v1\",destination_workload_namespace=\"default\",destination_service=\"reviews.default.svc.cluster.local\",response_code=\"{code}\",grpc_response_status=\"\",connection_security_policy=\"mutual_tls\""
        )
    };
    let total = ok + bad;
    format!(
        "# TYPE istio_requests_total counter
istio_requests_total{{{ok_l}}} {ok}
istio_requests_total{{{bad_l}}} {bad}
istio_request_duration_milliseconds_bucket{{{ok_l},le=\"5.0\"}} {fast}
istio_request_duration_milliseconds_bucket{{{ok_l},le=\"50.0\"}} {total}
istio_request_duration_milliseconds_bucket{{{ok_l},le=\"+Inf\"}} {total}
# EOF
",
        ok_l = labels(200),
        bad_l = labels(503),
    )
}

fn scraped(id: &str, workload: &str, sa: &str, text: Option<String>) -> Scraped {
    Scraped {
        id: id.into(),
        namespace: "default".into(),
        workload: workload.into(),
        service_account: sa.into(),
        text,
    }
}

fn query(kind: StatKind, window: &str) -> StatQuery {
    StatQuery {
        kind,
        namespace: None,
        name: None,
        window: Some(window.into()),
    }
}

#[test]
fn increments_since_the_baseline_become_rates_and_percentiles() {
    let t = Telemetry::new(Duration::from_secs(5));
    let pp = || scraped("pp-1", "productpage-v1", "bookinfo-productpage", None);
    // The first round only sets the baseline: those 1000 requests
    // happened before the control plane started.
    t.record_round(&[
        scraped(
            "r-1",
            "reviews-v1",
            "bookinfo-reviews",
            Some(page(900, 100, 500)),
        ),
        pp(),
    ]);
    let rows = t.stat(&query(StatKind::Workload, "1m")).unwrap();
    let reviews = rows.iter().find(|r| r.name == "reviews-v1").unwrap();
    assert_eq!((reviews.requests, reviews.meshed), (0, Some(1)));
    // 90 more 200s and 10 more 503s, 50 of them fast.
    t.record_round(&[
        scraped(
            "r-1",
            "reviews-v1",
            "bookinfo-reviews",
            Some(page(990, 110, 550)),
        ),
        pp(),
    ]);
    let rows = t.stat(&query(StatKind::Workload, "1m")).unwrap();
    let reviews = rows.iter().find(|r| r.name == "reviews-v1").unwrap();
    assert_eq!(reviews.requests, 100);
    assert_eq!(reviews.success_rate, Some(0.9));
    // Two rounds of 5 s kept: 100 requests over 10 s.
    assert!((reviews.rps - 10.0).abs() < 1e-9, "{}", reviews.rps);
    assert_eq!(reviews.p50_ms, Some(5.0));
    assert_eq!(reviews.p99_ms, Some(49.1));
    // The productpage proxy, not called, is listed as meshed.
    let pp_row = rows.iter().find(|r| r.name == "productpage-v1").unwrap();
    assert_eq!((pp_row.requests, pp_row.meshed), (0, Some(1)));

    // The edge names the caller's workload from its identity, since only
    // one workload runs as that service account.
    let edges = t.stat(&query(StatKind::Edge, "1m")).unwrap();
    assert_eq!(edges.len(), 1, "{edges:#?}");
    assert_eq!(edges[0].source.as_deref(), Some("default/productpage-v1"));
    assert_eq!(edges[0].secured, Some(true));
    assert_eq!(edges[0].requests, 100);

    // A restarted proxy's counters start again from zero: what it shows
    // is all new.
    t.record_round(&[
        scraped("r-1", "reviews-v1", "bookinfo-reviews", Some(page(5, 0, 5))),
        pp(),
    ]);
    let rows = t.stat(&query(StatKind::Workload, "1m")).unwrap();
    assert_eq!(
        rows.iter()
            .find(|r| r.name == "reviews-v1")
            .unwrap()
            .requests,
        105
    );
    // The 10 s window holds the last two rounds only.
    let rows = t.stat(&query(StatKind::Workload, "10s")).unwrap();
    assert_eq!(
        rows.iter()
            .find(|r| r.name == "reviews-v1")
            .unwrap()
            .requests,
        105
    );
    t.record_round(&[
        scraped("r-1", "reviews-v1", "bookinfo-reviews", Some(page(5, 0, 5))),
        pp(),
    ]);
    t.record_round(&[
        scraped("r-1", "reviews-v1", "bookinfo-reviews", Some(page(5, 0, 5))),
        pp(),
    ]);
    let rows = t.stat(&query(StatKind::Workload, "10s")).unwrap();
    assert_eq!(
        rows.iter()
            .find(|r| r.name == "reviews-v1")
            .unwrap()
            .requests,
        0
    );
}

#[test]
fn a_proxy_first_seen_later_counts_everything_and_gone_proxies_are_forgotten() {
    let t = Telemetry::new(Duration::from_secs(1));
    t.record_round(&[]);
    t.record_round(&[scraped("r-1", "reviews-v1", "sa", Some(page(7, 3, 10)))]);
    let rows = t.stat(&query(StatKind::Workload, "10s")).unwrap();
    assert_eq!(rows[0].requests, 10);
    t.record_round(&[]);
    let rows = t.stat(&query(StatKind::Workload, "10s")).unwrap();
    // Its traffic stays in the window; it is no longer meshed.
    assert_eq!((rows[0].requests, rows[0].meshed), (10, Some(0)));
    assert!(t.inner.lock().last.is_empty());
}

#[test]
fn windows_are_checked() {
    assert_eq!(Window::parse("10s"), Ok(Window(Duration::from_secs(10))));
    assert_eq!(Window::parse("10m"), Ok(Window(Duration::from_secs(600))));
    for bad in ["", "0s", "11m", "1h", "m", "5"] {
        assert!(Window::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn keys_are_capped() {
    let t = Telemetry::new(Duration::from_secs(1));
    let mut inner = t.inner.lock();
    for i in 0..MAX_KEYS + 5 {
        let _ = inner.series(
            Key::Service {
                name: format!("s{i}"),
            },
            "istio_request_duration_milliseconds_bucket",
        );
    }
    assert_eq!(inner.series.len(), MAX_KEYS);
    assert_eq!(inner.dropped_keys, 5);
}

#[test]
fn open_tcp_connections_are_opened_minus_closed_across_proxies() {
    let t = Telemetry::new(Duration::from_secs(1));
    let page = |opened: u64, closed: u64| {
        Some(format!(
            "istio_tcp_connections_opened_total{{reporter=\"destination\",source_workload=\"a\"}} {opened}
istio_tcp_connections_closed_total{{reporter=\"destination\",source_workload=\"a\"}} {closed}
istio_tcp_connections_opened_total{{reporter=\"source\",source_workload=\"db\"}} 100
"
        ))
    };
    t.record_round(&[
        scraped("db-1", "db", "db", page(10, 7)),
        scraped("db-2", "db", "db", page(5, 5)),
    ]);
    let rows = t.stat(&query(StatKind::Workload, "1m")).unwrap();
    assert_eq!(rows[0].tcp_open, Some(3), "{rows:#?}");
    assert_eq!(rows[0].meshed, Some(2));
}

#[test]
fn tcp_bytes_become_read_and_write_rates_per_workload_service_and_edge() {
    let t = Telemetry::new(Duration::from_secs(1));
    // A destination proxy of `db` and its caller's source proxy.
    let page = |received: u64, sent: u64| {
        let dst = "destination_workload=\"db\",destination_workload_namespace=\"default\",destination_service=\"db.default.svc.cluster.local\",source_workload=\"app\",source_workload_namespace=\"default\",source_principal=\"spiffe://cluster.local/ns/default/sa/app\",connection_security_policy=\"mutual_tls\"";
        Some(format!(
            "istio_tcp_received_bytes_total{{reporter=\"destination\",{dst}}} {received}
istio_tcp_sent_bytes_total{{reporter=\"destination\",{dst}}} {sent}
istio_tcp_sent_bytes_total{{reporter=\"source\",{dst}}} {received}
istio_tcp_received_bytes_total{{reporter=\"source\",{dst}}} {sent}
"
        ))
    };
    // Baseline, then 6000 bytes in and 600 out over two rounds.
    for (received, sent) in [(1000, 100), (4000, 400), (7000, 700)] {
        t.record_round(&[scraped("db-1", "db", "db", page(received, sent))]);
    }
    let rows = t.stat(&query(StatKind::Workload, "1m")).unwrap();
    let db = rows.iter().find(|r| r.name == "db").unwrap();
    // Two rounds of 1 s kept (three ticks; the first is the baseline).
    let covered = 3.0;
    assert_eq!(db.read_bytes_per_sec, Some(6000.0 / covered), "{rows:#?}");
    assert_eq!(db.write_bytes_per_sec, Some(600.0 / covered), "{rows:#?}");
    assert_eq!((db.requests, db.success_rate), (0, None));
    // Callers' view of the service: they wrote what db read.
    let svc = t.stat(&query(StatKind::Service, "1m")).unwrap();
    assert_eq!(svc.len(), 1, "{svc:#?}");
    assert_eq!(svc[0].write_bytes_per_sec, Some(6000.0 / covered));
    assert_eq!(svc[0].read_bytes_per_sec, Some(600.0 / covered));
    // A TCP-only edge is an edge too, secured by mTLS.
    let edges = t.stat(&query(StatKind::Edge, "1m")).unwrap();
    assert_eq!(edges.len(), 1, "{edges:#?}");
    assert_eq!(edges[0].source.as_deref(), Some("default/app"));
    assert_eq!(edges[0].secured, Some(true));
    assert_eq!(edges[0].read_bytes_per_sec, Some(6000.0 / covered));
}
