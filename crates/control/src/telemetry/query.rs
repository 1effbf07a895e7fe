//! Reading the figures back: rows for `weft stat`, `weft routes` and
//! `weft edges`, and the dashboard.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{HISTORY, Key, Telemetry};

/// What the rows are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatKind {
    /// Workloads (deployments), by the requests they received.
    Workload,
    /// Services, by the requests sent to them.
    Service,
    /// Named routes of services.
    Route,
    /// Caller → workload pairs.
    Edge,
}

/// A time window, `10s` to `10m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window(pub Duration);

/// Which rows to return.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatQuery {
    pub kind: StatKind,
    /// Only this namespace (of the workload, the service, or an edge's
    /// either end).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only this workload, service (its FQDN or short name), or for
    /// routes and edges the service / workload they belong to.
    #[serde(default)]
    pub name: Option<String>,
    /// `10s`, `1m` (the default), `10m`, or any whole seconds / minutes
    /// up to 10 minutes.
    #[serde(default)]
    pub window: Option<String>,
}

/// One row of figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatRow {
    pub namespace: String,
    /// The workload, the service, or the route.
    pub name: String,
    /// Routes: their service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// Workloads: connected proxies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meshed: Option<u32>,
    /// Workloads: inbound TCP connections open now (Linkerd's TCP_CONN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_open: Option<u64>,
    /// Edges: the caller (`namespace/workload`) and its mTLS identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_identity: Option<String>,
    /// Edges: every request came over mesh mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secured: Option<bool>,
    pub requests: u64,
    /// Workloads, services and edges: TCP bytes read and written per
    /// second (Linkerd's READ_BYTES/SEC and WRITE_BYTES/SEC): what the
    /// destination received and sent for workloads and edges, what
    /// callers received and sent for services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_bytes_per_sec: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_bytes_per_sec: Option<f64>,
    /// `None` without requests.
    pub success_rate: Option<f64>,
    pub rps: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

// === impl Window ===

impl Window {
    pub const DEFAULT: Window = Window(Duration::from_secs(60));

    /// `10s`, `1m`, `10m`, `90s`...
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a window; write 10s, 1m or 10m (at most 10m)");
        let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
        let n: u64 = n.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            _ => return Err(bad()),
        };
        let d = Duration::from_secs(secs);
        if secs == 0 || d > HISTORY {
            return Err(bad());
        }
        Ok(Window(d))
    }
}

// === impl Telemetry ===

impl Telemetry {
    pub fn stat(&self, q: &StatQuery) -> Result<Vec<StatRow>, String> {
        let window = match &q.window {
            Some(w) => Window::parse(w)?,
            None => Window::DEFAULT,
        };
        let inner = self.inner.lock();
        let slots = self.slots(window.0);
        let since = inner.tick.saturating_sub(slots - 1).max(1);
        // Requests per second over the window, or over the time the
        // figures have been kept when that is shorter.
        let covered = self.interval.as_secs_f64() * (inner.tick.min(slots).max(1)) as f64;
        let ns_ok = |ns: &str| q.namespace.as_deref().is_none_or(|want| want == ns);
        let name_ok = |name: &str| {
            q.name
                .as_deref()
                .is_none_or(|want| name == want || name.split('.').next() == Some(want))
        };
        let mut rows = Vec::new();
        for (key, series) in &inner.series {
            let base = match (q.kind, key) {
                (StatKind::Workload, Key::Workload { namespace, name })
                    if ns_ok(namespace) && name_ok(name) =>
                {
                    row(namespace, name)
                }
                (StatKind::Service, Key::Service { name }) => {
                    let ns = service_namespace(name);
                    if !ns_ok(ns) || !name_ok(name) {
                        continue;
                    }
                    row(ns, name)
                }
                (StatKind::Route, Key::Route { service, name }) => {
                    let ns = service_namespace(service);
                    if !ns_ok(ns) || !name_ok(service) {
                        continue;
                    }
                    StatRow {
                        service: Some(service.clone()),
                        ..row(ns, name)
                    }
                }
                (
                    StatKind::Edge,
                    Key::Edge {
                        src_namespace,
                        src,
                        src_identity,
                        dst_namespace,
                        dst,
                        mtls,
                    },
                ) => {
                    if !(ns_ok(dst_namespace) || ns_ok(src_namespace))
                        || !(name_ok(dst) || name_ok(src))
                    {
                        continue;
                    }
                    StatRow {
                        source: Some(format!("{src_namespace}/{src}")),
                        source_identity: (!src_identity.is_empty() && src_identity != "unknown")
                            .then(|| src_identity.clone()),
                        secured: Some(*mtls),
                        ..row(dst_namespace, dst)
                    }
                }
                _ => continue,
            };
            let f = series.figures(since);
            let tcp = f.read_bytes + f.written_bytes > 0;
            if f.requests == 0 && !tcp && q.kind != StatKind::Workload {
                continue;
            }
            let bytes = q.kind != StatKind::Route;
            rows.push(StatRow {
                requests: f.requests,
                read_bytes_per_sec: bytes.then(|| f.read_bytes as f64 / covered),
                write_bytes_per_sec: bytes.then(|| f.written_bytes as f64 / covered),
                success_rate: (f.requests > 0)
                    .then(|| (f.requests - f.failures.min(f.requests)) as f64 / f.requests as f64),
                rps: f.requests as f64 / covered,
                p50_ms: f.p50,
                p95_ms: f.p95,
                p99_ms: f.p99,
                ..base
            });
        }
        if q.kind == StatKind::Workload {
            for ((ns, name), n) in &inner.meshed {
                if !ns_ok(ns) || !name_ok(name) {
                    continue;
                }
                match rows
                    .iter_mut()
                    .find(|r| &r.namespace == ns && &r.name == name)
                {
                    Some(r) => r.meshed = Some(*n),
                    // A meshed workload no one called yet.
                    None => rows.push(StatRow {
                        meshed: Some(*n),
                        read_bytes_per_sec: Some(0.0),
                        write_bytes_per_sec: Some(0.0),
                        ..row(ns, name)
                    }),
                }
            }
            // Traffic to a workload whose proxies are gone.
            for r in rows.iter_mut().filter(|r| r.meshed.is_none()) {
                r.meshed = Some(0);
            }
            for r in rows.iter_mut() {
                r.tcp_open = Some(
                    inner
                        .tcp_open
                        .get(&(r.namespace.clone(), r.name.clone()))
                        .copied()
                        .unwrap_or(0),
                );
            }
        }
        rows.sort_by(|a, b| {
            (&a.namespace, &a.service, &a.name, &a.source).cmp(&(
                &b.namespace,
                &b.service,
                &b.name,
                &b.source,
            ))
        });
        Ok(rows)
    }
}

fn row(namespace: &str, name: &str) -> StatRow {
    StatRow {
        namespace: namespace.to_string(),
        name: name.to_string(),
        service: None,
        meshed: None,
        tcp_open: None,
        source: None,
        source_identity: None,
        secured: None,
        requests: 0,
        read_bytes_per_sec: None,
        write_bytes_per_sec: None,
        success_rate: None,
        rps: 0.0,
        p50_ms: None,
        p95_ms: None,
        p99_ms: None,
    }
}

/// `reviews.default.svc.cluster.local` → `default`; other names (a
/// ServiceEntry host) have no namespace of their own.
fn service_namespace(fqdn: &str) -> &str {
    let mut parts = fqdn.split('.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(_), Some(ns), Some("svc")) => ns,
        _ => "",
    }
}
