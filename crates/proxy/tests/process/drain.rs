//! Graceful drain of the real binary: on SIGTERM (or `POST /drain`) it stops
//! accepting, reports not-ready, lets in-flight requests finish and exits;
//! past `drain_timeout` it exits anyway.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::{Method, Request, StatusCode};
use nix::sys::signal::Signal;
use tokio::sync::mpsc;
use weft_testkit::{PATIENCE, client, eventually};

use crate::support::{
    ECHO, Proc, announcing_server, call, config, read_to_close, refused, try_call,
};

/// Starts a request for `/delay/<ms>` through `listener` and returns once
/// the upstream has it, with the task that finishes it.
async fn in_flight(
    listener: SocketAddr,
    ms: u64,
    arrivals: &mut mpsc::UnboundedReceiver<String>,
) -> tokio::task::JoinHandle<Result<client::Collected, hyper::Error>> {
    let mut tx = client::h1(listener).await;
    let task = tokio::spawn(async move {
        let req = Request::get(format!("/delay/{ms}"))
            .header("host", ECHO)
            .body(client::empty())
            .unwrap();
        let rsp = tx.send_request(req).await?;
        let (parts, body) = rsp.into_parts();
        let body = http_body_util::BodyExt::collect(body).await?.to_bytes();
        Ok(client::Collected {
            status: parts.status,
            headers: parts.headers,
            body,
            trailers: None,
        })
    });
    let path = tokio::time::timeout(PATIENCE, arrivals.recv()).await;
    assert_eq!(path.unwrap().unwrap(), format!("/delay/{ms}"));
    task
}

/// Waits until the process reports not-ready and its listeners refuse
/// connections.
async fn wait_draining(proxy: &Proc) {
    let admin = proxy.admin();
    eventually("/ready answers 503", PATIENCE, || async move {
        call(admin, Method::GET, "/ready").await.status == StatusCode::SERVICE_UNAVAILABLE
    })
    .await;
    for name in ["outbound", "http1", "to-db"] {
        let addr = proxy.listener(name);
        eventually(&format!("listener {name} refuses"), PATIENCE, || {
            refused(addr)
        })
        .await;
    }
}

/// While `task` runs, the process stays draining: not ready, refusing.
async fn assert_draining_until_done<T>(proxy: &Proc, task: &tokio::task::JoinHandle<T>) {
    let mut checks = 0;
    while !task.is_finished() {
        // The request may end, and the process exit, between the check
        // above and this call: then the call fails and the task is done.
        let ready = match try_call(proxy.admin(), Method::GET, "/ready").await {
            Ok(r) => r,
            Err(e) => {
                let ended = tokio::time::timeout(Duration::from_secs(2), async {
                    while !task.is_finished() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                })
                .await;
                assert!(ended.is_ok(), "the admin port failed mid-drain: {e}");
                break;
            }
        };
        assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(ready.text(), "DRAINING\n");
        assert!(refused(proxy.listener("outbound")).await);
        checks += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(checks > 0, "the request ended before draining was observed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_then_exits() {
    let (upstream, mut arrivals) = announcing_server().await;
    // A deadline far off: the exit must come from the work ending.
    let mut proxy = Proc::spawn(&config(upstream, None, "drain_timeout: 30s\n"));

    // A keep-alive connection with nothing in flight: drain closes it.
    let mut idle = tokio::net::TcpStream::connect(proxy.listener("http1"))
        .await
        .unwrap();
    let warm = b"GET /delay/0 HTTP/1.1\r\nHost: echo.test\r\n\r\n";
    tokio::io::AsyncWriteExt::write_all(&mut idle, warm)
        .await
        .unwrap();
    assert_eq!(arrivals.recv().await.unwrap(), "/delay/0");

    let request = in_flight(proxy.listener("outbound"), 1500, &mut arrivals).await;
    let term = Instant::now();
    proxy.signal(Signal::SIGTERM);
    wait_draining(&proxy).await;
    let draining_after = term.elapsed();

    // The idle keep-alive connection is closed, after its one response,
    // without waiting for the other connection's request.
    let seen = read_to_close(&mut idle).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen:?}");
    assert!(!request.is_finished(), "idle connection held until the end");

    assert_draining_until_done(&proxy, &request).await;
    let rsp = request.await.unwrap().expect("in-flight request failed");
    assert_eq!(rsp.status, StatusCode::OK);
    assert_eq!(rsp.text(), "done\n");
    let answered = Instant::now();

    let status = proxy
        .wait_timeout(Duration::from_secs(3))
        .expect("still running 3 s after its last request ended");
    let exited = term.elapsed();
    assert!(status.success(), "{status}");
    // Once gone, nothing answers on the admin port either.
    assert!(refused(proxy.admin()).await);
    eprintln!(
        "SIGTERM drain: draining observed {draining_after:.1?} after SIGTERM; 1.5 s request answered {:.1?} and process gone {exited:.1?} after SIGTERM",
        answered - term,
    );
    let log = proxy.stderr();
    assert!(log.contains("SIGTERM: draining"), "{log}");
    // Not the deadline: the drain ended because the work did.
    assert!(log.contains("drained; exiting"), "{log}");
    proxy.assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_deadline_bounds_how_long_a_slow_request_holds_the_exit() {
    const DEADLINE: Duration = Duration::from_secs(1);
    let (upstream, mut arrivals) = announcing_server().await;
    let mut proxy = Proc::spawn(&config(upstream, None, "drain_timeout: 1s\n"));

    let request = in_flight(proxy.listener("outbound"), 20_000, &mut arrivals).await;
    let term = Instant::now();
    proxy.signal(Signal::SIGTERM);
    wait_draining(&proxy).await;

    let status = proxy
        .wait_timeout(DEADLINE + Duration::from_secs(2))
        .expect("still running well past its drain deadline");
    let took = term.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took >= DEADLINE,
        "exited after {took:?}, before the deadline"
    );
    // The request that outlived the deadline is cut off, not left hanging.
    let cut = tokio::time::timeout(Duration::from_secs(2), request)
        .await
        .expect("the cut-off request still hangs")
        .unwrap();
    assert!(cut.is_err(), "{cut:?}");
    eprintln!("drain deadline {DEADLINE:?}: exited {took:?} after SIGTERM");
    let log = proxy.stderr();
    assert!(log.contains("drain deadline reached"), "{log}");
    proxy.assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_drain_on_the_admin_port_starts_a_drain() {
    let (upstream, mut arrivals) = announcing_server().await;
    let mut proxy = Proc::spawn(&config(upstream, None, "drain_timeout: 5s\n"));
    let request = in_flight(proxy.listener("http1"), 1000, &mut arrivals).await;

    let rsp = call(proxy.admin(), Method::POST, "/drain").await;
    assert_eq!(
        (rsp.status, rsp.text()),
        (StatusCode::OK, "draining\n".into())
    );
    let asked = Instant::now();
    wait_draining(&proxy).await;
    assert_draining_until_done(&proxy, &request).await;
    assert_eq!(request.await.unwrap().unwrap().status, StatusCode::OK);

    let status = proxy
        .wait_timeout(Duration::from_secs(3))
        .expect("still running after its last request ended");
    assert!(status.success(), "{status}");
    eprintln!(
        "POST /drain: process gone {:.1?} after it, a 1 s request having finished",
        asked.elapsed()
    );
    let log = proxy.stderr();
    assert!(log.contains("admin /drain: draining"), "{log}");
    assert!(log.contains("drained; exiting"), "{log}");
    proxy.assert_no_panic();
}
