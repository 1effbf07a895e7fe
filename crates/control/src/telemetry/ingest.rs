//! One proxy's scrape into the series: counter increments since its last
//! scrape, attributed to the keys each sample is about.
//!
//! * `istio_requests_total` / `istio_request_duration_milliseconds`:
//!   `reporter="destination"` samples are the proxy's workload's inbound
//!   requests (its workload key, and the edge from the caller);
//!   `reporter="source"` samples are requests to `destination_service`.
//! * `weft_route_requests_total` / `weft_route_response_latency_ms`:
//!   per-route requests (`route`, `service`).
//! * `istio_tcp_received_bytes_total` / `istio_tcp_sent_bytes_total`: TCP
//!   bytes, keyed as requests are (read = received by the reporter).
//!
//! A request fails when its status is 5xx or its gRPC status is not OK
//! (Linkerd's default classification), or when its route classified it
//! as a failure.

use std::collections::HashMap;
use std::sync::Arc;

use super::text::{Sample, samples};
use super::{Inner, Key, Scraped};

const REQUESTS: &str = "istio_requests_total";
const DURATION: &str = "istio_request_duration_milliseconds_bucket";
const ROUTE_REQUESTS: &str = "weft_route_requests_total";
const ROUTE_LATENCY: &str = "weft_route_response_latency_ms_bucket";
const TCP_RECEIVED: &str = "istio_tcp_received_bytes_total";
const TCP_SENT: &str = "istio_tcp_sent_bytes_total";

/// Families whose buckets make latency histograms.
const HISTOGRAMS: [&str; 2] = [DURATION, ROUTE_LATENCY];

/// One histogram's increments: its keys, family, and `(le, cumulative
/// increment)` per bucket.
type Buckets = (Vec<Key>, &'static str, Vec<(f64, u64)>);

fn wanted(name: &str) -> bool {
    matches!(
        name,
        REQUESTS | DURATION | ROUTE_REQUESTS | ROUTE_LATENCY | TCP_RECEIVED | TCP_SENT
    )
}

/// Adds `s`'s increments at `tick`. On the aggregator's first round the
/// counters only set the baseline (they hold whatever happened before the
/// control plane started); a proxy first seen later is new, so all it
/// counted is new.
pub(super) fn proxy(inner: &mut Inner, s: &Scraped, tick: u64, first_round: bool) {
    let Some(text) = s.text.as_deref() else {
        return;
    };
    learn_bounds(inner, text);
    tcp_open(inner, s, text);
    let seen_before = inner.last.contains_key(&s.id);
    let baseline = first_round && !seen_before;
    let mut last = inner.last.remove(&s.id).unwrap_or_default();
    // Histogram increments, grouped by series without `le`.
    let mut buckets: HashMap<String, Buckets> = HashMap::new();
    for sample in samples(text, wanted) {
        let id = series_id(&sample, &[]);
        let before = last.insert(id, sample.value);
        if baseline {
            continue;
        }
        // A counter below its last value restarted (a proxy restart).
        let delta = match before {
            Some(b) if sample.value >= b => sample.value - b,
            _ => sample.value,
        };
        let delta = delta.round() as u64;
        let Some((keys, family)) = keys(&sample, &inner.accounts) else {
            continue;
        };
        if HISTOGRAMS.contains(&family) {
            let le = match sample.label("le") {
                "+Inf" => f64::INFINITY,
                v => match v.parse() {
                    Ok(v) => v,
                    Err(_) => continue,
                },
            };
            let group = series_id(&sample, &["le"]);
            buckets
                .entry(group)
                .or_insert_with(|| (keys, family, Vec::new()))
                .2
                .push((le, delta));
        } else if delta > 0 && matches!(family, TCP_RECEIVED | TCP_SENT) {
            let (read, written) = if family == TCP_RECEIVED {
                (delta, 0)
            } else {
                (0, delta)
            };
            for key in keys {
                if let Some(series) = inner.series(key, DURATION) {
                    series.add_bytes(tick, read, written);
                }
            }
        } else if delta > 0 {
            let failed = if failure(&sample) { delta } else { 0 };
            for key in keys {
                if let Some(series) = inner.series(key, family_of_counter(family)) {
                    series.add_requests(tick, delta, failed);
                }
            }
        }
    }
    for (_, (keys, family, mut cumulative)) in buckets {
        // Cumulative bucket increments to per-bucket ones.
        cumulative.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut below = 0;
        let per_bucket: Vec<(f64, u64)> = cumulative
            .iter()
            .map(|(le, c)| {
                let n = c.saturating_sub(below);
                below = (*c).max(below);
                (*le, n)
            })
            .collect();
        if per_bucket.iter().all(|(_, n)| *n == 0) {
            continue;
        }
        for key in keys {
            if let Some(series) = inner.series(key, family) {
                series.add_latency(tick, &per_bucket);
            }
        }
    }
    inner.last.insert(s.id.clone(), last);
}

/// The histogram family whose bounds a counter's keys use.
fn family_of_counter(family: &'static str) -> &'static str {
    match family {
        ROUTE_REQUESTS => ROUTE_LATENCY,
        _ => DURATION,
    }
}

/// Which keys a sample counts toward, and its family.
fn keys(
    s: &Sample<'_>,
    accounts: &HashMap<(String, String), Option<String>>,
) -> Option<(Vec<Key>, &'static str)> {
    let family = match s.name {
        REQUESTS => REQUESTS,
        DURATION => DURATION,
        ROUTE_REQUESTS => ROUTE_REQUESTS,
        ROUTE_LATENCY => ROUTE_LATENCY,
        TCP_RECEIVED => TCP_RECEIVED,
        TCP_SENT => TCP_SENT,
        _ => return None,
    };
    let keys = match family {
        REQUESTS | DURATION | TCP_RECEIVED | TCP_SENT => match s.label("reporter") {
            "destination" => {
                let (dst_ns, dst) = (
                    s.label("destination_workload_namespace"),
                    s.label("destination_workload"),
                );
                vec![
                    Key::Workload {
                        namespace: dst_ns.to_string(),
                        name: dst.to_string(),
                    },
                    Key::Edge {
                        src_namespace: s.label("source_workload_namespace").to_string(),
                        src: source_workload(s, accounts),
                        src_identity: s.label("source_principal").to_string(),
                        dst_namespace: dst_ns.to_string(),
                        dst: dst.to_string(),
                        mtls: s.label("connection_security_policy") == "mutual_tls",
                    },
                ]
            }
            "source" => vec![Key::Service {
                name: s.label("destination_service").to_string(),
            }],
            _ => return None,
        },
        _ => vec![Key::Route {
            service: s.label("service").to_string(),
            name: s.label("route").to_string(),
        }],
    };
    Some((keys, family))
}

/// The caller's workload: as labelled, else the one workload running as
/// the identity mTLS proved (`spiffe://td/ns/N/sa/A`), else the service
/// account itself.
fn source_workload(s: &Sample<'_>, accounts: &HashMap<(String, String), Option<String>>) -> String {
    let labelled = s.label("source_workload");
    if !labelled.is_empty() && labelled != "unknown" {
        return labelled.to_string();
    }
    let principal = s.label("source_principal");
    let parsed = principal
        .split_once("/ns/")
        .and_then(|(_, rest)| rest.split_once("/sa/"));
    match parsed {
        Some((ns, sa)) => match accounts.get(&(ns.to_string(), sa.to_string())) {
            Some(Some(workload)) => workload.clone(),
            _ => format!("sa:{sa}"),
        },
        None => labelled.to_string(),
    }
}

fn failure(s: &Sample<'_>) -> bool {
    if s.name == ROUTE_REQUESTS {
        return s.label("classification") == "failure";
    }
    let code: u16 = s.label("response_code").parse().unwrap_or(0);
    let grpc = s.label("grpc_response_status");
    code >= 500 || (!grpc.is_empty() && grpc != "0")
}

/// The series' name and labels as one key, leaving out the labels named
/// in `skip` (`le`, to group a histogram's buckets).
fn series_id(s: &Sample<'_>, skip: &[&str]) -> String {
    let mut id = String::from(s.name);
    for (k, v) in s.labels.iter().filter(|(k, _)| !skip.contains(k)) {
        id.push('\u{1f}');
        id.push_str(k);
        id.push('=');
        id.push_str(v);
    }
    id
}

/// The bucket bounds of each histogram family, from the first text that
/// has them (every proxy of one build uses the same).
fn learn_bounds(inner: &mut Inner, text: &str) {
    for family in HISTOGRAMS {
        if inner.bounds.contains_key(family) {
            continue;
        }
        let mut les: Vec<f64> = samples(text, |n| n == family)
            .filter_map(|s| match s.label("le") {
                "+Inf" => Some(f64::INFINITY),
                v => v.parse().ok(),
            })
            .collect();
        if les.is_empty() {
            continue;
        }
        les.sort_by(f64::total_cmp);
        les.dedup();
        inner.bounds.insert(family, Arc::from(les));
    }
}

/// Adds the proxy's open inbound TCP connections (opened minus closed
/// since it started) to its workload's.
fn tcp_open(inner: &mut Inner, s: &Scraped, text: &str) {
    let (mut opened, mut closed) = (0.0, 0.0);
    for sample in samples(text, |n| {
        n == "istio_tcp_connections_opened_total" || n == "istio_tcp_connections_closed_total"
    }) {
        if sample.label("reporter") != "destination" {
            continue;
        }
        match sample.name {
            "istio_tcp_connections_opened_total" => opened += sample.value,
            _ => closed += sample.value,
        }
    }
    let open = (opened - closed).max(0.0).round() as u64;
    *inner
        .tcp_open
        .entry((s.namespace.clone(), s.workload.clone()))
        .or_default() += open;
}
