//! RSS and CPU time of a process, from `/proc`, sampled in the background
//! so that peaks between the run's own checkpoints are seen.

use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// `sysconf(_SC_CLK_TCK)` is 100 on every Linux we run on; reading it
/// would need libc for one constant.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub at: Instant,
    pub rss_kb: u64,
    pub cpu_seconds: f64,
}

/// One phase of the run, as a process lived it.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseUse {
    pub phase: String,
    pub seconds: f64,
    pub rss_mb_start: f64,
    pub rss_mb_peak: f64,
    pub rss_mb_end: f64,
    pub cpu_seconds: f64,
    /// CPU seconds per wall second over the phase.
    pub cores: f64,
}

/// Reads one sample; `pid` is `self` or a number.
pub fn sample(pid: &str) -> Result<Sample, String> {
    let at = Instant::now();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no VmRSS in /proc/{pid}/status"))?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map_err(|e| format!("cannot read /proc/{pid}/stat: {e}"))?;
    // The command name may hold spaces and parentheses: fields are counted
    // from the last `)`. utime and stime are fields 14 and 15 of the line,
    // so 12 and 13 after the name.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    let (Some(utime), Some(stime)) = (ticks(11), ticks(12)) else {
        return Err(format!("cannot read utime and stime from /proc/{pid}/stat"));
    };
    #[allow(clippy::cast_precision_loss)] // ticks stay far below 2^52
    let cpu_seconds = (utime + stime) as f64 / TICKS_PER_SECOND;
    Ok(Sample {
        at,
        rss_kb,
        cpu_seconds,
    })
}

/// Samples `pid` until `stop` flips, then returns every sample. A process
/// that goes away ends the sampling early.
pub async fn sample_until(pid: String, mut stop: watch::Receiver<bool>) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => match sample(&pid) {
                Ok(s) => out.push(s),
                Err(_) => return out,
            },
            _ = stop.wait_for(|s| *s) => {
                if let Ok(s) = sample(&pid) {
                    out.push(s);
                }
                return out;
            }
        }
    }
}

/// The use over each phase `(name, start, end)`.
pub fn phases(samples: &[Sample], marks: &[(String, Instant, Instant)]) -> Vec<PhaseUse> {
    marks
        .iter()
        .filter_map(|(name, start, end)| {
            // The last sample at or before each edge, and every one within.
            let before = |t: Instant| samples.iter().rev().find(|s| s.at <= t);
            let first = before(*start).or_else(|| samples.first())?;
            let last = before(*end)?;
            let peak = samples
                .iter()
                .filter(|s| s.at >= *start && s.at <= *end)
                .map(|s| s.rss_kb)
                .max()
                .unwrap_or(last.rss_kb)
                .max(first.rss_kb);
            let seconds = end.duration_since(*start).as_secs_f64();
            let cpu = last.cpu_seconds - first.cpu_seconds;
            Some(PhaseUse {
                phase: name.clone(),
                seconds,
                rss_mb_start: mb(first.rss_kb),
                rss_mb_peak: mb(peak),
                rss_mb_end: mb(last.rss_kb),
                cpu_seconds: cpu,
                cores: if seconds > 0.0 { cpu / seconds } else { 0.0 },
            })
        })
        .collect()
}

#[allow(clippy::cast_precision_loss)] // RSS in kB stays far below 2^52
fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = sample("self").unwrap();
        assert!(s.rss_kb > 0);
        assert!(s.cpu_seconds >= 0.0);
    }
}
