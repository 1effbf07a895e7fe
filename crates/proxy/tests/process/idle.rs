//! Thousands of idle connections to the real binary: everyone else is still
//! served, and every file descriptor comes back once they go.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tokio::net::TcpStream;
use weft_testkit::{PATIENCE, eventually, metrics, process, servers};

use crate::support::{Proc, config};

const IDLE: usize = 2000;
/// Connections opened at once.
const BURST: usize = 250;
/// How far above its baseline the child's descriptor count may settle
/// (an upstream connection opened or closed meanwhile, say).
const FD_SLACK: usize = 4;

/// The child's soft open-file limit, from `/proc/<pid>/limits`.
fn nofile_limit(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

/// Connections the proxy's listeners hold, by its own gauge.
async fn active(proxy: &Proc) -> f64 {
    let text = metrics::scrape(proxy.metrics()).await;
    metrics::sum(&text, "weft_listener_connections_active", &[]).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_idle_connections_starve_no_one_and_are_released() {
    // The test holds IDLE sockets and the child as many; tests running
    // alongside need some too. The child inherits the limit.
    process::raise_nofile_limit(3 * IDLE as u64 + 1024);
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    let limit = nofile_limit(proxy.pid());
    assert!(
        limit > IDLE as u64 + 100,
        "weft-proxy may open only {limit} files; this test needs {IDLE} and more"
    );

    // Warm up (the upstream pool's connection is part of the baseline),
    // then wait for the client connections to be gone.
    proxy.assert_serving().await;
    eventually("no downstream connections", PATIENCE, || async {
        active(&proxy).await == 0.0
    })
    .await;
    let baseline = proxy.open_fds();
    let rss_before = proxy.rss_bytes().unwrap();

    let addr = proxy.listener("http1");
    let started = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for _ in 0..IDLE / BURST {
        // A burst of simultaneous connects: more than a 128-deep accept
        // queue holds, well within the 1024 the proxy asks for.
        let burst = join_all((0..BURST).map(|_| TcpStream::connect(addr))).await;
        idle.extend(burst.into_iter().map(Result::unwrap));
        let (want, proxy) = (baseline + idle.len(), &proxy);
        eventually("the proxy accepts the burst", PATIENCE, || async move {
            proxy.open_fds() + FD_SLACK >= want
        })
        .await;
    }
    let connected_in = started.elapsed();
    // Each is a connection the proxy knows about (a SYN dropped from a full
    // accept queue can leave one that only the client believes in).
    eventually(
        "the proxy counts every idle connection",
        PATIENCE,
        || async { active(&proxy).await == IDLE as f64 },
    )
    .await;
    let opened_in = started.elapsed();
    let held = proxy.open_fds();
    let rss_held = proxy.rss_bytes().unwrap();

    // Everyone else is still served, promptly.
    let served = Instant::now();
    proxy.assert_serving().await;
    let served_in = served.elapsed();
    assert!(
        served_in < Duration::from_secs(2),
        "a request took {served_in:?} beside {IDLE} idle connections"
    );

    drop(idle);
    eventually("every descriptor released", PATIENCE, || async {
        proxy.open_fds() <= baseline + FD_SLACK
    })
    .await;
    let after = proxy.open_fds();
    eprintln!(
        "{IDLE} idle connections (child limit {limit}): fds baseline {baseline}, held {held}, after close {after}; \
         connected in {connected_in:.1?}, all counted in {opened_in:.1?}; RSS {:.1} -> {:.1} MiB; request beside them took {served_in:.1?}",
        rss_before as f64 / (1 << 20) as f64,
        rss_held as f64 / (1 << 20) as f64,
    );
    assert_eq!(active(&proxy).await, 0.0);
    proxy.assert_no_panic();
}
