//! A traffic generator: a fixed request rate (open model: requests are sent
//! on schedule whether or not earlier ones have answered), a mix of users,
//! and a summary line at every interval.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http::Uri;
use tokio::sync::Mutex;

use crate::call::Caller;

/// Users the generator signs requests as (`end-user` header), as the
/// bookinfo demo's users.
const USERS: [&str; 4] = ["jason", "alice", "bob", ""];

#[derive(Default)]
struct Stats {
    sent: AtomicU64,
    ok: AtomicU64,
    failed: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
}

/// Totals over a whole run.
#[derive(Debug, Clone, Copy)]
pub struct Totals {
    pub sent: u64,
    pub ok: u64,
    pub failed: u64,
}

/// Sends `rate` requests per second to `target` until `duration` (forever
/// when `None`), printing a summary every `every`.
pub async fn run(target: Uri, rate: u32, duration: Option<Duration>, every: Duration) -> Totals {
    let caller = Caller::new(None);
    let stats = Arc::new(Stats::default());
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut last_report = Instant::now();
    let mut totals = Totals {
        sent: 0,
        ok: 0,
        failed: 0,
    };
    let mut n = 0usize;
    let mut inflight = tokio::task::JoinSet::new();
    loop {
        tick.tick().await;
        if duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        let user = USERS[n % USERS.len()];
        n += 1;
        stats.sent.fetch_add(1, Ordering::Relaxed);
        let (c, s, uri) = (caller.clone(), stats.clone(), target.clone());
        inflight.spawn(async move {
            let t = Instant::now();
            let headers: &[(&str, &str)] = if user.is_empty() {
                &[]
            } else {
                &[("end-user", user)]
            };
            match c.get(&uri, headers, Duration::from_secs(10)).await {
                Ok(r) if r.status < 400 => {
                    s.ok.fetch_add(1, Ordering::Relaxed);
                    s.latencies_us
                        .lock()
                        .await
                        .push(t.elapsed().as_micros() as u64);
                }
                Ok(r) => {
                    s.failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "loadgen: {} {}",
                        r.status,
                        String::from_utf8_lossy(&r.body).trim()
                    );
                }
                Err(e) => {
                    s.failed.fetch_add(1, Ordering::Relaxed);
                    eprintln!("loadgen: {e}");
                }
            }
        });
        while inflight.try_join_next().is_some() {}
        if last_report.elapsed() >= every {
            report(&stats, &mut totals).await;
            last_report = Instant::now();
        }
    }
    while inflight.join_next().await.is_some() {}
    report(&stats, &mut totals).await;
    totals
}

async fn report(stats: &Stats, totals: &mut Totals) {
    let sent = stats.sent.swap(0, Ordering::Relaxed);
    let ok = stats.ok.swap(0, Ordering::Relaxed);
    let failed = stats.failed.swap(0, Ordering::Relaxed);
    let mut lat = std::mem::take(&mut *stats.latencies_us.lock().await);
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    let done = ok + failed;
    let rate = if done > 0 {
        ok as f64 * 100.0 / done as f64
    } else {
        100.0
    };
    println!(
        "traffic: {sent} sent, {ok} ok, {failed} failed ({rate:.1}% success), latency p50 {:.1} ms p99 {:.1} ms",
        pct(0.5),
        pct(0.99)
    );
    totals.sent += sent;
    totals.ok += ok;
    totals.failed += failed;
}
