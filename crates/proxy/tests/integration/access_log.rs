//! Access logs: one JSON line per request, with Envoy's default fields
//! (as Istio's JSON encoding names them), the peers and the trace id.

use std::time::Duration;

use weft_testkit::proxy::TestProxy;
use weft_testkit::{client, servers};

use crate::support::{outbound_to, send};

#[tokio::test]
async fn every_request_is_one_json_line_with_envoys_fields() {
    let app = servers::http_echo("echo").await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let yaml = format!(
        "access_log: {{ path: \"{}\" }}\n{}",
        log.display(),
        outbound_to(&[app.addr], "")
    );
    let proxy = TestProxy::start(&yaml).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    for path in ["/one?x=1", "/two"] {
        let req = http::Request::get(path)
            .header("host", "echo.test")
            .header("user-agent", "curl/8")
            .header("x-request-id", "req-1")
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
            .body(client::empty())
            .unwrap();
        assert_eq!(send(&proxy, req).await.status, 200);
    }
    let lines = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.lines().count() >= 2 || tokio::time::Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let rows: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{lines}");
    let r = &rows[0];
    assert_eq!(r["method"], "GET");
    assert_eq!(r["path"], "/one?x=1");
    assert_eq!(r["protocol"], "HTTP/1.1");
    assert_eq!(r["response_code"], 200);
    assert_eq!(r["response_flags"], "-");
    assert_eq!(r["authority"], "echo.test");
    assert_eq!(r["user_agent"], "curl/8");
    assert_eq!(r["request_id"], "req-1");
    assert_eq!(r["upstream_host"], app.addr.to_string());
    assert_eq!(r["upstream_cluster"], "echo");
    assert_eq!(r["destination_service"], "echo.test.svc.cluster.local");
    assert_eq!(r["trace_id"], trace);
    assert!(r["bytes_sent"].as_u64().unwrap() > 0, "{r}");
    assert!(r["start_time"].as_str().unwrap().ends_with('Z'), "{r}");
    assert_eq!(rows[1]["path"], "/two");
}

#[tokio::test]
async fn a_bad_path_names_the_field() {
    let err = weft_proto::config::ProxyConfig::from_yaml(
        "p.yaml",
        &format!("access_log: {{ path: \" \" }}\n{}", outbound_to(&[], "")),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("access_log.path"), "{err}");
}
