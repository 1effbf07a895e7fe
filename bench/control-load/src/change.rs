//! One change, measured: write the file, wait until every stream has
//! received a newer response, let the control plane settle, and summarize
//! per stream.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::collect::{Collector, StreamLog, Waited};
use crate::stats::{self, Latency, Spread};
use crate::{api, mesh, stream};

/// How long to wait, and where to ask why a change never arrived.
pub struct Patience {
    pub http: String,
    /// For every stream to receive the change.
    pub timeout: Duration,
    /// No response for this long counts as settled.
    pub quiet: Duration,
}

#[derive(Debug, Serialize)]
pub struct ChangeReport {
    pub name: &'static str,
    what: String,
    file: String,
    /// When the file was replaced, for matching the control plane's log.
    pub t0_unix: f64,
    version_before: u64,
    expected: usize,
    received: usize,
    /// Per stream: from the file write to the first response newer than
    /// what it held.
    latency: Option<Latency>,
    /// Per stream, everything that arrived from the write until settled.
    responses: Option<Spread>,
    bytes: Option<Spread>,
    resources: Option<Spread>,
    removed: Option<Spread>,
    /// What the first stream's response carried (when small).
    carried: Vec<String>,
    /// From the write until the last response of the change.
    seconds: f64,
    /// From the write until settled, for resource use.
    #[serde(skip)]
    pub window: (Instant, Instant),
}

/// Makes one change by replacing `path` with `text`, and measures it.
pub async fn change(
    c: &mut Collector,
    patience: &Patience,
    name: &'static str,
    what: String,
    path: &Path,
    text: &str,
) -> Result<ChangeReport, String> {
    c.drain();
    let baseline: Vec<u64> = c.streams.iter().map(|s| s.version()).collect();
    let version_before = baseline.iter().copied().max().unwrap_or_default();
    eprintln!("change {name}: {what}");
    mesh::write(path, text)?;
    let t0 = Instant::now();
    let t0_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let deadline = t0 + patience.timeout;
    let arrived = |streams: &[StreamLog]| {
        streams
            .iter()
            .zip(&baseline)
            .all(|(s, b)| s.ended.is_some() || s.first_after(t0, *b).is_some())
    };
    // The API is not asked anything while the change is under way: the
    // control plane answers it only after it has validated the change,
    // and a waiting request holds one of its two runtime threads.
    if c.wait_until(deadline, arrived).await == Waited::TimedOut {
        // A refused change never arrives: say why rather than just late.
        refused(&api::get(&patience.http, "/api/v1/config").await?)?;
    }
    let last = c.settle(patience.quiet, deadline).await;
    let firsts: Vec<_> = c
        .streams
        .iter()
        .zip(&baseline)
        .filter_map(|(s, b)| s.first_after(t0, *b))
        .collect();
    let per_stream = |f: &dyn Fn(&stream::Received) -> u64| {
        stats::spread(
            c.streams
                .iter()
                .filter(|s| s.ended.is_none())
                .map(|s| s.within(t0, last).map(f).sum())
                .collect(),
        )
    };
    let report = ChangeReport {
        name,
        what,
        file: path.display().to_string(),
        t0_unix,
        version_before,
        expected: c.live(),
        received: firsts.len(),
        latency: stats::latency(firsts.iter().map(|r| r.at.duration_since(t0)).collect()),
        responses: per_stream(&|_| 1),
        bytes: per_stream(&|r| r.bytes as u64),
        resources: per_stream(&|r| r.resources as u64),
        removed: per_stream(&|r| r.removed as u64),
        carried: firsts.first().map(|r| r.names.clone()).unwrap_or_default(),
        seconds: last.saturating_duration_since(t0).as_secs_f64(),
        window: (t0, Instant::now()),
    };
    eprintln!(
        "change {name}: {} of {} streams in {:.3} s (p99 {:.1} ms)",
        report.received,
        report.expected,
        report.seconds,
        report.latency.as_ref().map_or(f64::NAN, |l| l.p99_ms)
    );
    Ok(report)
}

/// An error when the control plane's last change was refused.
pub fn refused(config: &serde_json::Value) -> Result<(), String> {
    match &config["rejected"] {
        serde_json::Value::Null => Ok(()),
        r => Err(format!(
            "the control plane refused the config (source {}): {}",
            r["source"], r["findings"]
        )),
    }
}
