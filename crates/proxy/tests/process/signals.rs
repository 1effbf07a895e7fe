//! Signals to the real binary: SIGINT drains like SIGTERM, a second signal
//! cuts a drain short, and a signal sent the moment the process says it is
//! up is handled, not fatal.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use weft_testkit::PATIENCE;

use crate::support::{Proc, announcing_server, config};

#[tokio::test]
async fn sigint_drains_too() {
    let (upstream, _arrivals) = announcing_server().await;
    let mut proxy = Proc::spawn(&config(upstream, None, ""));
    proxy.signal(Signal::SIGINT);
    let status = proxy
        .wait_timeout(Duration::from_secs(5))
        .expect("SIGINT did not stop an idle proxy");
    assert!(status.success(), "{status}");
    let log = proxy.stderr();
    assert!(log.contains("SIGINT: draining"), "{log}");
    assert!(log.contains("drained; exiting"), "{log}");
    proxy.assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_ends_a_drain_at_once() {
    let (upstream, mut arrivals) = announcing_server().await;
    let mut proxy = Proc::spawn(&config(upstream, None, "drain_timeout: 30s\n"));
    let mut tx = weft_testkit::client::h1(proxy.listener("http1")).await;
    let req = http::Request::get("/delay/20000")
        .header("host", crate::support::ECHO)
        .body(weft_testkit::client::empty())
        .unwrap();
    let request = tokio::spawn(tx.send_request(req));
    assert_eq!(arrivals.recv().await.unwrap(), "/delay/20000");

    proxy.signal(Signal::SIGTERM);
    let admin = proxy.admin();
    weft_testkit::eventually("/ready answers 503", PATIENCE, || async move {
        crate::support::call(admin, http::Method::GET, "/ready")
            .await
            .status
            == http::StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    let second = Instant::now();
    proxy.signal(Signal::SIGTERM);
    let status = proxy
        .wait_timeout(Duration::from_secs(3))
        .expect("a second SIGTERM did not end the drain");
    eprintln!("second SIGTERM: exited {:.1?} after it", second.elapsed());
    assert!(status.success(), "{status}");
    assert!(request.await.unwrap().is_err());
    let log = proxy.stderr();
    assert!(log.contains("second signal: exiting now"), "{log}");
    proxy.assert_no_panic();
}

/// The bound-addresses file is how a supervisor (and these tests) learn the
/// process is up; a SIGTERM sent the instant it appears must drain. Polls
/// the file without sleeping, so the signal lands right after it is written.
#[test]
fn sigterm_the_moment_the_process_is_up_drains() {
    const ROUNDS: usize = 20;
    // No traffic: the endpoint is never dialled.
    let nowhere = "127.0.0.1:9".parse().unwrap();
    let yaml = format!(
        "admin_address: 127.0.0.1:0\nmetrics_address: 127.0.0.1:0\nhealth_address: null\n{}",
        config(nowhere, None, "")
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("proxy.yaml");
    std::fs::write(&cfg, yaml).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_weft-proxy"));
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let bound = dir.path().join(format!("bound-{round}.json"));
        let mut child = Command::new(bin)
            .arg("--config")
            .arg(&cfg)
            .arg("--bound-addresses-file")
            .arg(&bound)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + PATIENCE;
        while !bound.exists() {
            assert!(Instant::now() < deadline, "weft-proxy did not start");
            std::thread::yield_now();
        }
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        match status {
            Some(s) if s.success() => {}
            Some(s) => failures.push(format!("round {round}: {s}")),
            None => failures.push(format!("round {round}: signal ignored")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
