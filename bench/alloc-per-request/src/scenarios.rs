//! The scenarios, their proxy configs, and the table.

use std::net::SocketAddr;
use std::time::Duration;

use crate::client::{Client, Shape};
use crate::counting::{self, Counts, Role};
use crate::proxies::{Mesh, ProxyThread};
use crate::{Args, Error, upstream};

/// The Host every request carries: the service's name in the configs.
const HOST: &str = "bench.local";

/// Istio's default retry policy, as `weft control` puts it on every route
/// that sets no `retries` (`default_retries` in
/// `crates/control/src/compile/route_actions.rs`).
const DEFAULT_RETRIES: &str = "{ attempts: 2, retry_on: [connect-failure, refused-stream, unavailable, cancelled, retriable-status-codes], status_codes: [503], backoff: 25ms }";

const GET: Shape = Shape {
    method: "GET",
    body: b"",
};
const POST: Shape = Shape {
    method: "POST",
    body: &[b'p'; 64],
};

/// How the proxies are arranged.
#[derive(Debug, Clone, Copy)]
enum Topology {
    /// client -> outbound listener -> route -> cluster -> upstream, all
    /// HTTP/1.1.
    Outbound,
    /// client -> client sidecar (outbound) ==mTLS, HTTP/2==> server
    /// sidecar (inbound, STRICT) -> upstream.
    SidecarPair,
}

struct Scenario {
    name: &'static str,
    shape: Shape,
    /// The route, a YAML flow mapping.
    route: String,
    topology: Topology,
}

/// One scenario's result.
struct Measured {
    proxy: Counts,
    peer: Counts,
    /// Every thread of the process.
    process: Counts,
}

/// Runs every scenario (or those `--only` names) and prints the table.
pub async fn run(args: &Args) -> Result<(), Error> {
    let upstream = upstream::start().await?;
    let mesh = Mesh::new()?;
    println!("{}", method(args));
    println!(
        "| scenario | proxy | allocations/req | reallocations/req | bytes/req | direct run, whole process: allocations/req | through the proxy − direct: allocations/req |"
    );
    println!("|---|---|---|---|---|---|---|");
    let wanted = |s: &Scenario| args.only.as_ref().is_none_or(|o| s.name.contains(o));
    for s in scenarios().iter().filter(|s| wanted(s)) {
        let direct = measure(upstream, s.shape, args).await?;
        let m = match s.topology {
            Topology::Outbound => {
                let proxy = ProxyThread::start(Role::Proxy, outbound(&s.route, upstream, "", ""))?;
                measure(proxy.listener("outbound")?, s.shape, args).await?
            }
            Topology::SidecarPair => {
                let (server_id, server_creds) = mesh.workload("bench", "bench-server")?;
                let (_, client_creds) = mesh.workload("bench", "bench-client")?;
                let cp = mesh.control_plane_yaml();
                let server = ProxyThread::start_with_identity(
                    Role::PeerProxy,
                    inbound(upstream, &cp),
                    server_creds,
                )?;
                // A generous connect timeout: under valgrind (see
                // BENCHMARKS.md) the first mTLS handshake is slow. Once
                // per connection, so no per-request cost.
                let to_server = format!(
                    "    protocol: http2\n    connect_timeout: 10s\n    endpoints: [{{ address: \"{}\", identity: \"{server_id}\" }}]\n",
                    server.listener("inbound")?
                );
                let yaml = outbound(&s.route, upstream, &to_server, &cp);
                let client = ProxyThread::start_with_identity(Role::Proxy, yaml, client_creds)?;
                measure(client.listener("outbound")?, s.shape, args).await?
            }
        };
        // The whole process, direct and through the proxy.
        let check = Some((direct.process, m.process));
        let n = args.requests;
        match s.topology {
            Topology::Outbound => row(s.name, "outbound", m.proxy, check, n),
            Topology::SidecarPair => {
                row(s.name, "client sidecar", m.proxy, None, n);
                row(s.name, "server sidecar", m.peer, None, n);
                row(s.name, "both", m.proxy + m.peer, check, n);
            }
        }
    }
    Ok(())
}

fn scenarios() -> Vec<Scenario> {
    let route = |extra: &str| format!("{{ backends: [{{ cluster: backend }}]{extra} }}");
    let retries = format!(", retries: {DEFAULT_RETRIES}");
    let edits = format!(
        "{retries}, headers: {{ request: {{ set: [[x-bench-set, \"1\"]], add: [[x-bench-add, a]], remove: [x-bench-remove] }}, response: {{ set: [[x-bench-served-by, weft]] }} }}"
    );
    let outbound = |name, shape, route| Scenario {
        name,
        shape,
        route,
        topology: Topology::Outbound,
    };
    vec![
        outbound("GET, default retry policy", GET, route(&retries)),
        outbound("GET, no retries (`attempts: 0`)", GET, route("")),
        outbound("POST 64 B, default retry policy", POST, route(&retries)),
        outbound("POST 64 B, no retries", POST, route("")),
        outbound("GET, default retries + header edits", GET, route(&edits)),
        Scenario {
            name: "GET, sidecar pair (mTLS, HTTP/2 between), default retries",
            shape: GET,
            route: route(&retries),
            topology: Topology::SidecarPair,
        },
    ]
}

/// Warms up, then counts `args.requests` requests to `addr`.
async fn measure(addr: SocketAddr, shape: Shape, args: &Args) -> Result<Measured, Error> {
    let mut client = Client::connect(addr, HOST).await?;
    client.run(shape, args.warmup).await?;
    let before = settled().await;
    client.run(shape, args.requests).await?;
    let after = settled().await;
    Ok(Measured {
        proxy: after.0 - before.0,
        peer: after.1 - before.1,
        process: after.2 - before.2,
    })
}

/// The counts once the last response's tail work (metrics are recorded as
/// a body ends, a moment after the client has it) is done. Not a timed
/// assertion: a short pause before reading counters that only grow, so
/// the last request of a run is counted whole.
async fn settled() -> (Counts, Counts, Counts) {
    tokio::time::sleep(Duration::from_millis(50)).await;
    (
        counting::counts(Role::Proxy),
        counting::counts(Role::PeerProxy),
        counting::total(),
    )
}

/// One table row; `check` is the whole process's counts calling the
/// upstream directly and through the proxy.
fn row(scenario: &str, proxy: &str, c: Counts, check: Option<(Counts, Counts)>, n: u64) {
    let per = |x: u64| x as f64 / n as f64;
    let (direct, minus) = match check {
        Some((direct, proxied)) => (
            format!("{:.1}", per(direct.allocs)),
            format!("{:.1}", per((proxied - direct).allocs)),
        ),
        None => ("—".to_string(), "—".to_string()),
    };
    println!(
        "| {scenario} | {proxy} | {:.1} | {:.1} | {:.0} | {direct} | {minus} |",
        per(c.allocs),
        per(c.reallocs),
        per(c.bytes),
    );
}

fn method(args: &Args) -> String {
    format!(
        "Heap allocations per request, counted by a global allocator by the thread that allocates.\n\
         Each proxy runs on its own thread (current-thread runtime, as `--concurrency 1`); the client and\n\
         the upstream (HTTP/1.1, 200 with 1 KiB) run on the main thread. Per scenario: a fresh proxy,\n\
         {} warm-up requests, then {} sequential requests on one keep-alive HTTP/1.1 connection, counted.\n\
         `bytes` = bytes requested by allocations plus growth by reallocation. The last two columns count every\n\
         thread: calling the upstream directly, and through the proxy minus that (a cross-check).\n",
        args.warmup, args.requests
    )
}

/// A client sidecar's config: an explicit outbound listener, service
/// `bench.local:80` with one HTTP route, and cluster `backend` at
/// `upstream` unless `cluster` (indent 4) says otherwise; `extra` goes at
/// the top level (a `control_plane` section).
fn outbound(route: &str, upstream: SocketAddr, cluster: &str, extra: &str) -> String {
    let cluster = if cluster.is_empty() {
        format!(
            "    endpoints:\n      - {{ address: \"{upstream}\", workload: {{ workload: bench-server, namespace: bench, app: bench-server }} }}\n"
        )
    } else {
        cluster.to_string()
    };
    format!(
        "node: {{ workload: bench-client, namespace: bench, app: bench-client, service_account: bench-client }}
admin_address: 127.0.0.1:0
metrics_address: 127.0.0.1:0
health_address: null
{extra}listeners:
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
services:
  - name: bench-server.bench.svc.cluster.local
    hosts: [{HOST}]
    ports:
      - port: 80
        protocol: http
        routes:
          - {route}
clusters:
  - name: backend
    service: bench-server.bench.svc.cluster.local
{cluster}"
    )
}

/// The server sidecar's config: an inbound listener in front of the
/// upstream, mTLS required (so a 200 proves the hop was mesh mTLS).
/// `control_plane` is [`Mesh::control_plane_yaml`].
/// The long `detect_timeout` (once per connection, so no per-request
/// cost) keeps the first handshake from timing out under valgrind.
fn inbound(upstream: SocketAddr, control_plane: &str) -> String {
    let port = upstream.port();
    format!(
        "node: {{ workload: bench-server, namespace: bench, app: bench-server, service_account: bench-server }}
admin_address: 127.0.0.1:0
metrics_address: 127.0.0.1:0
health_address: null
{control_plane}peer_authentication: {{ mode: strict }}
listeners:
  - {{ name: inbound, address: 127.0.0.1:0, direction: inbound, target_port: {port}, detect_timeout: 10s }}
inbound:
  - {{ port: {port}, protocol: http, service: bench-server.bench.svc.cluster.local }}
"
    )
}
