//! Istio's standard metrics as the real binary serves them on its
//! Prometheus port, after real HTTP and TCP traffic.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::{StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use weft_testkit::metrics::{scrape, sum};
use weft_testkit::{PATIENCE, client, servers};

use crate::support::{ECHO, Proc, config};

const SERVICE: &str = "echo.test.svc.cluster.local";

/// Scrapes until `name{want}` sums to `value` (requests are recorded when
/// their response body ends, a moment after the client has it), returning
/// the scrape.
async fn wait_for(metrics: SocketAddr, name: &str, want: &[(&str, &str)], value: f64) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = scrape(metrics).await;
        if sum(&text, name, want) == Some(value) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{name}{want:?} never became {value}; last scrape:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn http_requests_are_counted_with_istio_names_and_labels() {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    let out = proxy.listener("outbound");

    for _ in 0..3 {
        let rsp = client::get(out, Version::HTTP_11, ECHO, "/bytes/1000").await;
        assert_eq!((rsp.status, rsp.body.len()), (StatusCode::OK, 1000));
    }
    let rsp = client::get(out, Version::HTTP_2, ECHO, "/status/503").await;
    assert_eq!(rsp.status, StatusCode::SERVICE_UNAVAILABLE);
    // registry_only: a host no service claims is refused with NR.
    let rsp = client::get(out, Version::HTTP_11, "nowhere.test", "/").await;
    assert_eq!(rsp.status, StatusCode::NOT_FOUND);

    let ok = [
        ("reporter", "source"),
        ("source_workload", "client-v1"),
        ("source_workload_namespace", "test"),
        ("destination_service", SERVICE),
        ("response_code", "200"),
        ("response_flags", "-"),
    ];
    let text = wait_for(proxy.metrics(), "istio_requests_total", &ok, 3.0).await;
    let failed = [
        ("reporter", "source"),
        ("source_workload", "client-v1"),
        ("destination_service", SERVICE),
        ("response_code", "503"),
    ];
    let text = match sum(&text, "istio_requests_total", &failed) {
        Some(_) => text,
        None => wait_for(proxy.metrics(), "istio_requests_total", &failed, 1.0).await,
    };
    assert_eq!(sum(&text, "istio_requests_total", &failed), Some(1.0));
    let no_route = [("response_code", "404"), ("response_flags", "NR")];
    assert_eq!(
        sum(&text, "istio_requests_total", &no_route),
        Some(1.0),
        "{text}"
    );

    // The duration histogram, Prometheus-style: buckets, sum and count.
    assert_eq!(
        sum(&text, "istio_request_duration_milliseconds_count", &ok),
        Some(3.0)
    );
    let le_inf = [ok.as_slice(), &[("le", "+Inf")]].concat();
    assert_eq!(
        sum(&text, "istio_request_duration_milliseconds_bucket", &le_inf),
        Some(3.0),
        "{text}"
    );
    assert!(sum(&text, "istio_request_duration_milliseconds_sum", &ok).is_some());

    // Body sizes: 3 empty requests, 3 responses of 1000 bytes.
    assert_eq!(sum(&text, "istio_request_bytes_count", &ok), Some(3.0));
    assert_eq!(sum(&text, "istio_request_bytes_sum", &ok), Some(0.0));
    assert_eq!(sum(&text, "istio_response_bytes_count", &ok), Some(3.0));
    assert_eq!(sum(&text, "istio_response_bytes_sum", &ok), Some(3000.0));
    assert!(
        sum(&text, "istio_response_bytes_bucket", &[("le", "+Inf")]).is_some(),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with("# EOF"),
        "not OpenMetrics:\n{text}"
    );
    proxy.assert_no_panic();
}

#[tokio::test]
async fn tcp_connections_are_counted_with_istio_names_and_labels() {
    let echo = servers::http_echo("echo").await;
    let tcp = servers::tcp_echo().await;
    let proxy = Proc::spawn(&config(echo.addr, Some(tcp.addr), ""));

    for _ in 0..2 {
        let mut sock = TcpStream::connect(proxy.listener("to-db")).await.unwrap();
        sock.write_all(&[7u8; 5000]).await.unwrap();
        sock.shutdown().await.unwrap();
        let mut back = Vec::new();
        sock.read_to_end(&mut back).await.unwrap();
        assert_eq!(back.len(), 5000);
    }

    let want = [
        ("reporter", "source"),
        ("source_workload", "client-v1"),
        ("destination_service", "tcp.test"),
    ];
    let text = wait_for(
        proxy.metrics(),
        "istio_tcp_connections_closed_total",
        &want,
        2.0,
    )
    .await;
    let get = |name| sum(&text, name, &want);
    assert_eq!(
        get("istio_tcp_connections_opened_total"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(get("istio_tcp_sent_bytes_total"), Some(10_000.0), "{text}");
    assert_eq!(
        get("istio_tcp_received_bytes_total"),
        Some(10_000.0),
        "{text}"
    );
    proxy.assert_no_panic();
}
