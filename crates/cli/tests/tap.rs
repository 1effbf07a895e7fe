//! `weft tap` end to end (`weft up` bookinfo, explicit mode): the control
//! plane starts a tap on reviews-v1's sidecar over its tap stream, the
//! product pages that reach reviews-v1 stream back with their source,
//! path, status, latency and mTLS, and the tap ends with the command. A
//! caller without the tap token is refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::local_mesh::LocalMesh;

#[test]
fn tap_streams_a_workloads_requests_to_a_caller_with_the_token() {
    let mesh = LocalMesh::bookinfo("tap");
    let token = weft_local::state::dir_for(&mesh.name).join("tap-token");
    assert!(token.is_file(), "no tap token at {}", token.display());
    let deadline = Instant::now() + Duration::from_secs(20);
    while mesh.page(None).status != 200 {
        assert!(Instant::now() < deadline, "bookinfo never answered");
    }

    let mut tap = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "tap",
            "reviews-v1",
            "--path",
            "/reviews/",
            "-o",
            "json",
            "--count",
            "3",
        ])
        .args(["--control", &mesh.api()])
        .arg("--token-file")
        .arg(&token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = tap.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Product pages until three reach reviews-v1 (round robin over three
    // versions, so about one in three).
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while lines.len() < 3 {
        assert!(Instant::now() < deadline, "tap saw {lines:?}");
        assert_eq!(mesh.page(None).status, 200);
        while let Ok(l) = rx.try_recv() {
            lines.push(l);
        }
    }
    let status = tap.wait().unwrap();
    assert!(status.success(), "weft tap failed");
    for l in &lines {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["direction"], "inbound", "{v}");
        assert_eq!(v["source"], "default/productpage-v1", "{v}");
        assert_eq!(
            v["source_identity"], "spiffe://cluster.local/ns/default/sa/bookinfo-productpage",
            "{v}"
        );
        assert_eq!(v["destination"], "default/reviews-v1", "{v}");
        assert_eq!(v["method"], "GET", "{v}");
        assert!(v["path"].as_str().unwrap().starts_with("/reviews/"), "{v}");
        assert_eq!(v["status"], 200, "{v}");
        assert_eq!(v["mtls"], true, "{v}");
        assert!(v["latency_ms"].as_f64().unwrap() > 0.0, "{v}");
    }

    // The human form, wide: with both identities and the service.
    let human = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "tap",
            "productpage-v1",
            "--direction",
            "outbound",
            "--count",
            "1",
            "-o",
            "wide",
        ])
        .args(["--control", &mesh.api()])
        .arg("--token-file")
        .arg(&token)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || human.wait_with_output().unwrap());
    while !waiter.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no outbound tap line"
        );
        mesh.page(None);
    }
    let out = waiter.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(" outbound default/productpage-v1 (spiffe://cluster.local/ns/default/sa/bookinfo-productpage) -> default/")
            && text.contains(".default.svc.cluster.local")
            && text.contains("mTLS"),
        "{text}"
    );

    // `weft top`: the paths reviews-v1 serves, busiest first.
    let top = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "top",
            "reviews-v1",
            "--count",
            "3",
            "--control",
            &mesh.api(),
        ])
        .arg("--token-file")
        .arg(&token)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let waiter = std::thread::spawn(move || top.wait_with_output().unwrap());
    let started = Instant::now();
    while !waiter.is_finished() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "weft top saw no 3 requests"
        );
        mesh.page(None);
    }
    let out = waiter.join().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap_or_default().starts_with("SOURCE"),
        "{text}"
    );
    let row = lines.next().unwrap_or_default();
    assert!(
        row.contains("default/productpage-v1")
            && row.contains("/reviews/0")
            && row.contains("100.00%"),
        "{text}"
    );

    // Without the token: refused.
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), "not-the-token").unwrap();
    let refused = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "tap",
            "reviews-v1",
            "--count",
            "1",
            "--control",
            &mesh.api(),
        ])
        .arg("--token-file")
        .arg(wrong.path())
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("401") && err.contains("tap token"), "{err}");
}
