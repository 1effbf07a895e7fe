//! Starting a proxy from config, and draining it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use weft_proto::config::ProxyConfig;

use crate::admin::{self, AdminCtx, Role};
use crate::discovery::{self, Sources};
use crate::identity::WorkloadIdentity;
use crate::listen::{self, ListenerRt};
use crate::logging::LogHandle;
use crate::state::{BuildError, ProxyState};

/// The longest a proxy waits at exit for its queued spans and access
/// log lines to go out (one export's timeout).
const FLUSH_ON_EXIT: Duration = Duration::from_secs(5);

/// Entry point of the data plane.
pub struct Proxy;

/// Where a started proxy actually listens (ports may have been 0).
#[derive(Debug, Clone, Serialize)]
pub struct BoundAddrs {
    pub listeners: BTreeMap<String, SocketAddr>,
    pub admin: SocketAddr,
    pub metrics: Option<SocketAddr>,
    pub health: Option<SocketAddr>,
}

/// A running proxy.
pub struct Running {
    addrs: BoundAddrs,
    state: Arc<ProxyState>,
    sources: Arc<Sources>,
    drain: drain::Signal,
    drain_requests: mpsc::Receiver<()>,
    admin_tasks: Vec<JoinHandle<()>>,
}

/// Why a proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] BuildError),
    #[error(transparent)]
    Identity(#[from] crate::identity::IdentityError),
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        what: String,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

// === impl Proxy ===

impl Proxy {
    /// Binds every socket, then starts serving. Either everything is bound
    /// or nothing is left running.
    pub async fn start(
        config: ProxyConfig,
        log: Option<Arc<LogHandle>>,
    ) -> Result<Running, StartError> {
        let listeners_cfg = config.listeners.clone();
        let (admin_addr, metrics_addr, health_addr) = (
            config.admin_address,
            config.metrics_address,
            config.health_address,
        );
        let control_plane = config.control_plane.clone();
        let node_meta = config.node.clone();
        let identity = match &control_plane {
            Some(cp) => Some(WorkloadIdentity::load(cp, &node_meta)?),
            None => None,
        };
        let creds = identity.as_ref().map(|i| i.creds.clone());
        let state = Arc::new(ProxyState::with_credentials(config.clone(), creds)?);
        let sources = Arc::new(Sources::new(state.clone(), config));

        let mut bound = Vec::new();
        for l in &listeners_cfg {
            let sock = bind(&format!("listener {}", l.name), l.address).await?;
            bound.push((Arc::new(ListenerRt::new(l)), sock));
        }
        let admin = bind("admin", admin_addr).await?;
        let metrics = match metrics_addr {
            Some(a) => Some(bind("metrics", a).await?),
            None => None,
        };
        let health = match health_addr {
            Some(a) => Some(bind("health", a).await?),
            None => None,
        };

        let local = |l: &TcpListener| l.local_addr().ok();
        let addrs = BoundAddrs {
            listeners: bound
                .iter()
                .filter_map(|(rt, l)| Some((rt.name.to_string(), local(l)?)))
                .collect(),
            admin: local(&admin).unwrap_or(admin_addr),
            metrics: metrics.as_ref().and_then(local),
            health: health.as_ref().and_then(local),
        };
        let mut own: Vec<SocketAddr> = addrs.listeners.values().copied().collect();
        own.extend(
            [Some(addrs.admin), addrs.metrics, addrs.health]
                .into_iter()
                .flatten(),
        );
        state.set_own_addresses(own);

        let (drain, watch) = drain::channel();
        let discovery = control_plane.zip(identity).map(|(cp, identity)| {
            state.await_config();
            let node = discovery::node(&cp, &node_meta, &listeners_cfg, &addrs);
            let status = Arc::new(discovery::Status::default());
            tokio::spawn(discovery::run(
                identity,
                node,
                sources.clone(),
                state.clone(),
                status.clone(),
                watch.clone(),
            ));
            status
        });
        for (rt, sock) in bound {
            tracing::info!(listener = %rt.name, address = %local(&sock).map_or(String::new(), |a| a.to_string()), direction = ?rt.direction, interception = ?rt.interception, "listening");
            tokio::spawn(listen::serve(sock, rt, state.clone(), watch.clone()));
        }
        drop(watch);

        let (drain_tx, drain_requests) = mpsc::channel(1);
        let ctx = Arc::new(AdminCtx {
            state: state.clone(),
            log,
            drain_requests: drain_tx,
            bound: serde_json::to_value(&addrs).unwrap_or_default(),
            discovery,
        });
        let mut admin_tasks = vec![tokio::spawn(admin::serve(admin, Role::Admin, ctx.clone()))];
        if let Some(m) = metrics {
            admin_tasks.push(tokio::spawn(admin::serve(m, Role::Metrics, ctx.clone())));
        }
        if let Some(h) = health {
            admin_tasks.push(tokio::spawn(admin::serve(h, Role::Health, ctx)));
        }

        Ok(Running {
            addrs,
            state,
            sources,
            drain,
            drain_requests,
            admin_tasks,
        })
    }
}

/// Pending connections the kernel queues per listening socket. Envoy's
/// default (`tcp_backlog_size`); `TcpListener::bind` would use 128, and a
/// burst of connects past that sees SYNs dropped: a 1 s retransmit for the
/// client, or with SYN cookies a connection only the client believes in.
const LISTEN_BACKLOG: u32 = 1024;

async fn bind(what: &str, addr: SocketAddr) -> Result<TcpListener, StartError> {
    let err = |source| StartError::Bind {
        what: what.to_string(),
        addr,
        source,
    };
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(err)?;
    // As `TcpListener::bind` does: rebinding right after a restart works.
    sock.set_reuseaddr(true).map_err(err)?;
    sock.bind(addr).map_err(err)?;
    sock.listen(LISTEN_BACKLOG).map_err(err)
}

// === impl Running ===

impl Running {
    pub fn addrs(&self) -> &BoundAddrs {
        &self.addrs
    }

    pub fn state(&self) -> &Arc<ProxyState> {
        &self.state
    }

    /// Applies a new config without dropping a connection: services,
    /// routes, clusters, endpoints, inbound ports and node labels change at
    /// once for new requests; endpoints that stay keep their pools and
    /// health. Sockets cannot move without a restart, so changes to
    /// listeners and to the admin, metrics and health addresses are kept as
    /// they run and named in the returned list. A config that does not
    /// validate changes nothing.
    pub fn reload(&self, mut config: ProxyConfig) -> Result<Vec<String>, discovery::ApplyError> {
        let running = self.state.snapshot().config.clone();
        let mut kept = Vec::new();
        if config.listeners != running.listeners {
            kept.push("listeners".to_string());
            config.listeners = running.listeners.clone();
        }
        if config.admin_address != running.admin_address {
            kept.push("admin_address".to_string());
            config.admin_address = running.admin_address;
        }
        if config.metrics_address != running.metrics_address {
            kept.push("metrics_address".to_string());
            config.metrics_address = running.metrics_address;
        }
        if config.health_address != running.health_address {
            kept.push("health_address".to_string());
            config.health_address = running.health_address;
        }
        // The stream is opened once, at start.
        if config.control_plane != running.control_plane {
            kept.push("control_plane".to_string());
            config.control_plane = running.control_plane.clone();
        }
        self.sources.apply_file(config)?;
        Ok(kept)
    }

    /// Resolves when an operator asks for a drain on the admin port.
    pub async fn drain_requested(&mut self) {
        if self.drain_requests.recv().await.is_none() {
            std::future::pending::<()>().await;
        }
    }

    /// Stops accepting connections at once (new ones are refused), lets
    /// in-flight requests finish, and returns when they have or when
    /// `deadline` passes. Returns whether everything finished in time.
    pub async fn drain(self, deadline: Duration) -> bool {
        self.state.start_draining();
        let clean = tokio::time::timeout(deadline, self.drain.drain())
            .await
            .is_ok();
        // The spans and log lines of the last requests, which their
        // writers hold to batch. Bounded by the export timeout: a dead
        // collector delays exit, never blocks it.
        if !self.state.flush_telemetry(FLUSH_ON_EXIT).await {
            tracing::warn!("spans or access log lines still queued at exit were lost");
        }
        for t in self.admin_tasks {
            t.abort();
        }
        clean
    }
}
