//! `x-request-id`: a request without one gets a UUIDv4 the app sees, the
//! span tags (`guid:x-request-id`) and the access log records; one that
//! has one keeps it, through a sidecar's outbound and the next inbound.

use std::time::Duration;

use http::Request;
use weft_testkit::otlp::{Receiver, attr};
use weft_testkit::proxy::TestProxy;
use weft_testkit::{client, servers};

use crate::support::{outbound_to, send};

/// The `x-request-id` the echo app saw, from its JSON description.
fn seen(rsp: &client::Collected) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(&rsp.text()).unwrap();
    body["headers"]["x-request-id"].as_str().map(str::to_string)
}

fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

fn get(id: Option<&str>) -> Request<client::Body> {
    let mut req = Request::get("/").header("host", "echo.test");
    if let Some(id) = id {
        req = req.header("x-request-id", id);
    }
    req.body(client::empty()).unwrap()
}

#[tokio::test]
async fn a_missing_id_is_generated_for_the_app_the_span_and_the_log() {
    let app = servers::http_echo("echo").await;
    let collector = Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("access.log");
    let yaml = format!(
        "access_log: {{ path: \"{}\" }}\ntracing: {{ otlp: {{ endpoint: \"{}\" }}, sampling: 100 }}\n{}",
        log.display(),
        collector.addr,
        outbound_to(&[app.addr], "")
    );
    let proxy = TestProxy::start(&yaml).await;

    let first = seen(&send(&proxy, get(None)).await).expect("the app sees an id");
    let second = seen(&send(&proxy, get(None)).await).expect("the app sees an id");
    assert!(
        is_uuid_v4(&first) && is_uuid_v4(&second),
        "{first} {second}"
    );
    assert_ne!(first, second, "one id per request");
    let kept = seen(&send(&proxy, get(Some("caller-id-1"))).await);
    assert_eq!(kept.as_deref(), Some("caller-id-1"));

    let spans = collector.wait_for(3, Duration::from_secs(30)).await;
    let mut tagged: Vec<String> = spans
        .iter()
        .filter_map(|r| attr(&r.span, "guid:x-request-id"))
        .collect();
    tagged.sort();
    let mut expected = vec![first.clone(), second.clone(), "caller-id-1".to_string()];
    expected.sort();
    assert_eq!(tagged, expected);

    let lines = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.lines().count() >= 3 || tokio::time::Instant::now() > deadline {
                break text;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    let logged: Vec<String> = lines
        .lines()
        .map(|l| {
            let row: serde_json::Value = serde_json::from_str(l).unwrap();
            row["request_id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(logged, [first, second, "caller-id-1".to_string()]);
}

/// client → [client sidecar outbound] → [echo sidecar inbound] → echo: the
/// id the first proxy made is the one the app sees, and an app's own id
/// arrives unchanged; a request straight to the inbound listener gets one
/// there.
#[tokio::test]
async fn one_id_from_the_first_proxy_to_the_app() {
    let app = servers::http_echo("echo").await;
    let port = app.addr.port();
    let inbound = TestProxy::start(&format!(
        "node: {{ workload: echo-v1, namespace: test, app: echo, version: v1 }}
listeners:
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: {port} }}
inbound:
  - {{ port: {port}, service: echo.test.svc.cluster.local }}
"
    ))
    .await;
    let outbound = TestProxy::start(&outbound_to(&[inbound.listener("inbound")], "")).await;

    let direct = seen(
        &client::get(
            inbound.listener("inbound"),
            http::Version::HTTP_11,
            "echo.test",
            "/",
        )
        .await,
    );
    assert!(direct.as_deref().is_some_and(is_uuid_v4), "{direct:?}");

    let made = seen(&send(&outbound, get(None)).await);
    assert!(made.as_deref().is_some_and(is_uuid_v4), "{made:?}");
    let kept = seen(&send(&outbound, get(Some("caller-id-2"))).await);
    assert_eq!(kept.as_deref(), Some("caller-id-2"));
}
