//! `weft top`: the paths a workload serves or calls right now, by count,
//! with best, worst and last latency and success rate, refreshed every
//! second (Linkerd's top), from a tap.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use weft_proto::discovery::TapEvent;

use crate::table::{Format, dash};
use crate::tap::{Filter, stream};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Rows shown at most.
const ROWS: usize = 20;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    filter: Filter,
    /// Run this long, then print the table once and exit (for scripts;
    /// without it, refresh until Ctrl-C).
    #[arg(long)]
    seconds: Option<u64>,
    /// Stop after this many requests, then print the table once.
    #[arg(long)]
    count: Option<u64>,
    /// Output: the table, a wider one (failures, requests over mTLS), or
    /// JSON (one array of rows per refresh, each on one line).
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
}

/// One row: requests from `source` to `destination` for `method path`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    source: String,
    destination: String,
    method: String,
    path: String,
}

#[derive(Debug, Clone, Default)]
struct Row {
    count: u64,
    ok: u64,
    mtls: u64,
    best: f64,
    worst: f64,
    last: f64,
}

/// A row as `-o json` prints it.
#[derive(Debug, Serialize)]
struct JsonRow<'a> {
    source: &'a str,
    destination: &'a str,
    method: &'a str,
    path: &'a str,
    count: u64,
    failures: u64,
    mtls: u64,
    success_rate: f64,
    best_ms: f64,
    worst_ms: f64,
    last_ms: f64,
}

#[derive(Debug, Default)]
struct Table(HashMap<Key, Row>);

impl Table {
    fn add(&mut self, t: &TapEvent) {
        let key = Key {
            source: t.source.clone(),
            destination: t.destination.clone(),
            method: t.method.clone(),
            path: t.path.clone(),
        };
        let row = self.0.entry(key).or_default();
        let failed = t.status >= 500 || (!t.grpc_status.is_empty() && t.grpc_status != "0");
        if row.count == 0 || t.latency_ms < row.best {
            row.best = t.latency_ms;
        }
        row.worst = row.worst.max(t.latency_ms);
        row.last = t.latency_ms;
        row.count += 1;
        row.ok += u64::from(!failed);
        row.mtls += u64::from(t.mtls);
    }

    /// The busiest rows first, at most [`ROWS`].
    fn top(&self) -> Vec<(&Key, &Row)> {
        let mut rows: Vec<(&Key, &Row)> = self.0.iter().collect();
        rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
        rows.truncate(ROWS);
        rows
    }

    fn render(&self, format: Format) -> String {
        if format == Format::Json {
            let rows: Vec<JsonRow<'_>> = self
                .top()
                .into_iter()
                .map(|(k, r)| JsonRow {
                    source: &k.source,
                    destination: &k.destination,
                    method: &k.method,
                    path: &k.path,
                    count: r.count,
                    failures: r.count - r.ok,
                    mtls: r.mtls,
                    success_rate: r.ok as f64 / r.count as f64,
                    best_ms: r.best,
                    worst_ms: r.worst,
                    last_ms: r.last,
                })
                .collect();
            // Rows of plain strings and numbers always serialize.
            return serde_json::to_string(&rows).unwrap_or_default() + "\n";
        }
        let wide = format == Format::Wide;
        let body: Vec<Vec<String>> = self
            .top()
            .into_iter()
            .map(|(k, r)| {
                let mut row = vec![
                    dash(&k.source),
                    dash(&k.destination),
                    k.method.clone(),
                    k.path.clone(),
                    r.count.to_string(),
                    format!("{:.1}ms", r.best),
                    format!("{:.1}ms", r.worst),
                    format!("{:.1}ms", r.last),
                    format!("{:.2}%", 100.0 * r.ok as f64 / r.count as f64),
                ];
                if wide {
                    row.push((r.count - r.ok).to_string());
                    row.push(format!("{}/{}", r.mtls, r.count));
                }
                row
            })
            .collect();
        let mut headers = vec![
            "SOURCE",
            "DESTINATION",
            "METHOD",
            "PATH",
            "COUNT",
            "BEST",
            "WORST",
            "LAST",
            "SUCCESS",
        ];
        if wide {
            headers.extend(["FAILED", "MTLS"]);
        }
        crate::table::render(&headers, &body)
    }
}

pub async fn run(args: Args) -> Result<(), Error> {
    let table = Arc::new(Mutex::new(Table::default()));
    let count = args.count;
    let feed = {
        let table = table.clone();
        let filter = &args.filter;
        async move {
            let mut seen = 0u64;
            stream(filter, |_, t| {
                if let Some(t) = t {
                    table.lock().add(t);
                }
                seen += 1;
                count.is_none_or(|n| seen < n)
            })
            .await
        }
    };
    if args.seconds.is_some() || count.is_some() {
        let limit = Duration::from_secs(args.seconds.unwrap_or(u64::MAX / 4));
        if let Ok(result) = tokio::time::timeout(limit, feed).await {
            result?;
        }
        print!("{}", table.lock().render(args.output));
        return Ok(());
    }
    // JSON goes one array per line to scripts, never redrawn in place.
    let live = std::io::stdout().is_terminal() && args.output != Format::Json;
    let format = args.output;
    let painter = {
        let table = table.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let text = table.lock().render(format);
                if live {
                    // Clear the screen and draw from the top.
                    print!("\x1b[2J\x1b[H{text}");
                } else {
                    println!("{text}");
                }
            }
        })
    };
    let result = feed.await;
    painter.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(path: &str, status: u32, ms: f64) -> TapEvent {
        TapEvent {
            direction: "inbound".into(),
            source: "default/productpage-v1".into(),
            destination: "default/reviews-v1".into(),
            method: "GET".into(),
            authority: "reviews:9080".into(),
            path: path.into(),
            status,
            latency_ms: ms,
            mtls: true,
            ..TapEvent::default()
        }
    }

    #[test]
    fn rows_count_latencies_and_success_by_path() {
        let mut t = Table::default();
        t.add(&line("/reviews/0", 200, 5.0));
        t.add(&line("/reviews/0", 503, 1.0));
        t.add(&line("/reviews/0", 200, 9.0));
        t.add(&line("/health", 200, 2.0));
        let out = t.render(Format::Table);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("SOURCE"), "{out}");
        // Busiest first.
        assert!(lines[1].contains("/reviews/0"), "{out}");
        for cell in ["3", "1.0ms", "9.0ms", "66.67%"] {
            assert!(lines[1].contains(cell), "{cell} in {out}");
        }
        assert!(lines[1].split_whitespace().any(|c| c == "9.0ms"), "{out}");
        assert!(
            lines[2].contains("/health") && lines[2].contains("100.00%"),
            "{out}"
        );
    }

    #[test]
    fn wide_and_json_add_failures_and_mtls() {
        let mut t = Table::default();
        t.add(&line("/reviews/0", 200, 5.0));
        t.add(&TapEvent {
            mtls: false,
            ..line("/reviews/0", 503, 1.0)
        });
        let wide = t.render(Format::Wide);
        let lines: Vec<&str> = wide.lines().collect();
        assert!(lines[0].ends_with("SUCCESS  FAILED  MTLS"), "{wide}");
        assert!(lines[1].ends_with("50.00%   1       1/2"), "{wide}");
        let json: serde_json::Value = serde_json::from_str(&t.render(Format::Json)).unwrap();
        assert_eq!(
            json,
            serde_json::json!([{
                "source": "default/productpage-v1",
                "destination": "default/reviews-v1",
                "method": "GET",
                "path": "/reviews/0",
                "count": 2,
                "failures": 1,
                "mtls": 1,
                "success_rate": 0.5,
                "best_ms": 1.0,
                "worst_ms": 5.0,
                "last_ms": 1.0,
            }])
        );
    }
}
