//! From the mesh model to each proxy's view: services with their routes
//! (`service`, `routes`), clusters with endpoints and policy (`clusters`),
//! the inbound side (`inbound`), Sidecar scoping (`scope`), computed once
//! per generation and shared (`generation`).
//!
//! The `Compiler` holds the inputs (accepted resources, connected
//! proxies), rebuilds a generation when they settle (debounced), and
//! serves views to the config stream.

mod circuit;
mod clusters;
pub(super) mod delegation;
mod dirty;
mod gamma;
mod gateway;
mod generation;
mod hashing;
mod inbound;
mod l4_routes;
mod locality;
mod persist;
mod policies;
mod profile;
mod rate_limit;
mod route_actions;
pub mod routes;
mod scope;
mod service;
mod split;
mod telemetry;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, watch};
use weft_api::Resource;
use weft_proto::discovery::Node;

pub use gateway::{GATEWAY_CLASSES, GATEWAY_NAME_LABEL};
pub use generation::Generation;
pub use routes::Caller;

use crate::model::Mesh;
use crate::views::{View, Views};

/// How long the compiler waits after a change for more before rebuilding:
/// a burst of edits or of proxies connecting becomes one generation.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// How long a proxy whose stream was lost (not closed by the proxy) stays
/// an endpoint: a stream that breaks says nothing about whether the
/// workload still serves, and a restarted control plane must not push
/// empty clusters while backends reconnect. Istio keeps auto-registered
/// workloads as long by default.
pub const LOST_GRACE: Duration = Duration::from_secs(10);

/// How often lost proxies past their grace are swept away.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// A proxy the compiler counts as a workload instance.
#[derive(Debug, Clone)]
struct Registered {
    node: Node,
    /// Open sessions: a reconnect may open the new one before the old one
    /// is noticed gone.
    sessions: u32,
    /// When its last session was lost; `None` while connected.
    lost_at: Option<Instant>,
}

/// Compiles the mesh and serves each proxy its view.
#[derive(Debug)]
pub struct Compiler {
    inputs: Mutex<Inputs>,
    current: RwLock<Arc<Generation>>,
    generation: watch::Sender<u64>,
    dirty: Notify,
    /// Where registrations are kept across restarts.
    registrations: Option<PathBuf>,
    /// Addresses for services that have none (`weft up`), kept across
    /// builds so a service keeps its address.
    vips: Mutex<Option<crate::model::VipPool>>,
}

#[derive(Debug, Default)]
struct Inputs {
    resources: Arc<Vec<Arc<Resource>>>,
    proxies: BTreeMap<String, Registered>,
    /// Bumped by every change; the generation records the one it built.
    changes: u64,
    /// Proxies that registered, changed or left since the last build, in
    /// their old and new forms: the services selecting them recompile.
    touched: Vec<Node>,
    built: u64,
    /// The CA's trust domain; empty for the default.
    trust_domain: String,
    /// The CA's trust bundle (PEM), pushed to every proxy.
    trust_roots: Option<Arc<str>>,
    /// Mesh-wide tracing, pushed to every proxy.
    tracing: Option<weft_proto::config::Tracing>,
}

// === impl Compiler ===

impl Compiler {
    /// A compiler over `resources`, with its first generation built.
    pub fn new(resources: Vec<Arc<Resource>>) -> Arc<Self> {
        Self::build(resources, None)
    }

    /// A compiler that keeps proxy registrations in `file`, and starts with
    /// the ones an earlier run left there, each in its grace period: a
    /// restarted control plane knows the endpoints that are still serving
    /// before their proxies reconnect.
    pub fn with_registrations(resources: Vec<Arc<Resource>>, file: PathBuf) -> Arc<Self> {
        Self::build(resources, Some(file))
    }

    fn build(resources: Vec<Arc<Resource>>, registrations: Option<PathBuf>) -> Arc<Self> {
        let resources = Arc::new(resources);
        let now = Instant::now();
        let proxies: BTreeMap<String, Registered> = registrations
            .as_deref()
            .map(persist::load)
            .unwrap_or_default()
            .into_iter()
            .map(|node| {
                let r = Registered {
                    node,
                    sessions: 0,
                    lost_at: Some(now),
                };
                (r.node.id.clone(), r)
            })
            .collect();
        let nodes: Vec<Node> = proxies.values().map(|r| r.node.clone()).collect();
        let first = Generation::new(1, Mesh::build(resources.clone(), &nodes), None, &[]);
        Arc::new(Self {
            inputs: Mutex::new(Inputs {
                resources,
                proxies,
                ..Inputs::default()
            }),
            current: RwLock::new(Arc::new(first)),
            generation: watch::channel(1).0,
            dirty: Notify::new(),
            registrations,
            vips: Mutex::new(None),
        })
    }

    /// The trust domain workload identities are in (the CA's), for the
    /// identities endpoints must prove and the principals policies name.
    pub fn set_trust_domain(&self, td: &str) {
        self.changed(|inputs| inputs.trust_domain = td.to_string());
    }

    /// The roots every proxy should trust, pushed on the config stream so
    /// that a root rotation reaches them without waiting for renewals.
    pub fn set_trust_roots(&self, pem: &str) {
        self.changed(|inputs| inputs.trust_roots = Some(Arc::from(pem)));
    }

    /// Where every proxy sends its spans (`None`: no tracing).
    pub fn set_tracing(&self, tracing: Option<weft_proto::config::Tracing>) {
        self.changed(|inputs| inputs.tracing = tracing);
    }

    /// Whether proxies are given a collector to send spans to.
    pub fn has_tracing(&self) -> bool {
        self.inputs.lock().tracing.is_some()
    }

    /// Gives every service without an address one from `pool` from the
    /// next build on (`weft up`'s transparent mode calls services by name).
    pub fn set_vip_pool(&self, pool: crate::model::VipPool) {
        *self.vips.lock() = Some(pool);
        self.changed(|_| {});
    }

    /// New accepted resources (a whole, validated set).
    pub fn set_resources(&self, resources: Vec<Arc<Resource>>) {
        let mut inputs = self.inputs.lock();
        inputs.resources = Arc::new(resources);
        inputs.changes += 1;
        self.dirty.notify_one();
    }

    pub fn current(&self) -> Arc<Generation> {
        self.current.read().clone()
    }

    /// Registered proxies (connected, or lost and in their grace period).
    pub fn proxies(&self) -> Vec<Node> {
        self.inputs
            .lock()
            .proxies
            .values()
            .map(|r| r.node.clone())
            .collect()
    }

    /// Rebuilds whenever the inputs change, `debounce` after the first
    /// change of a burst, and sweeps lost proxies past their grace. Runs
    /// until aborted.
    pub async fn run(self: Arc<Self>, debounce: Duration) {
        let mut sweep = tokio::time::interval(SWEEP_EVERY);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = self.dirty.notified() => {
                    tokio::time::sleep(debounce).await;
                    self.rebuild();
                }
                _ = sweep.tick() => self.sweep(Instant::now()),
            }
        }
    }

    /// Forgets proxies lost longer than [`LOST_GRACE`] before `now`.
    pub fn sweep(&self, now: Instant) {
        let mut inputs = self.inputs.lock();
        let expired: Vec<Node> = inputs
            .proxies
            .values()
            .filter(|r| {
                r.lost_at
                    .is_some_and(|t| now.duration_since(t) >= LOST_GRACE)
            })
            .map(|r| r.node.clone())
            .collect();
        if !expired.is_empty() {
            inputs
                .proxies
                .retain(|_, r| r.lost_at.is_none_or(|t| now.duration_since(t) < LOST_GRACE));
            inputs.touched.extend(expired);
            inputs.changes += 1;
            self.dirty.notify_one();
        }
    }

    /// Builds the next generation from the current inputs, now. Nothing
    /// happens when nothing changed since the last build.
    pub fn rebuild(&self) {
        let (resources, proxies, changes, touched, trust_domain, trust_roots, tracing) = {
            let mut inputs = self.inputs.lock();
            if inputs.changes == inputs.built {
                return;
            }
            let proxies: Vec<Node> = inputs.proxies.values().map(|r| r.node.clone()).collect();
            let touched = std::mem::take(&mut inputs.touched);
            (
                inputs.resources.clone(),
                proxies,
                inputs.changes,
                touched,
                inputs.trust_domain.clone(),
                inputs.trust_roots.clone(),
                inputs.tracing.clone(),
            )
        };
        if let Some(file) = &self.registrations
            && let Err(e) = persist::save(file, &proxies)
        {
            tracing::warn!(file = %file.display(), "cannot keep proxy registrations: {e}; a restart relearns them as proxies reconnect");
        }
        let prev = self.current();
        let started = std::time::Instant::now();
        let mut mesh = Mesh::build_with_vips(resources, &proxies, self.vips.lock().as_mut());
        if !trust_domain.is_empty() {
            mesh.trust_domain = trust_domain;
        }
        mesh.trust_roots = trust_roots;
        mesh.tracing = tracing;
        // Another trust domain changes every identity.
        let prev_ref = (mesh.trust_domain == prev.mesh.trust_domain).then_some(&*prev);
        let next = Generation::new(prev.number + 1, mesh, prev_ref, &touched);
        let number = next.number;
        *self.current.write() = Arc::new(next);
        self.inputs.lock().built = changes;
        tracing::debug!(generation = number, took = ?started.elapsed(), "mesh compiled");
        self.generation.send_replace(number);
    }

    fn changed(&self, f: impl FnOnce(&mut Inputs)) {
        let mut inputs = self.inputs.lock();
        f(&mut inputs);
        inputs.changes += 1;
        self.dirty.notify_one();
    }

    /// Whether some service selects `node`'s workload, so that it joining
    /// or leaving changes endpoints. A client that no service selects
    /// changes no view: it registers without a recompile (a thousand
    /// clients connecting would otherwise recompile the mesh hundreds of
    /// times).
    fn selected(&self, node: &Node) -> bool {
        let caller = caller_of(node);
        self.current().mesh.services.values().any(|s| {
            s.namespace == caller.namespace
                && s.selector
                    .as_ref()
                    .is_some_and(|sel| sel.iter().all(|(k, v)| caller.labels.get(k) == Some(v)))
        })
    }
}

/// What a node is, for compiling: its namespace and labels.
pub fn caller_of(node: &Node) -> Caller {
    Caller {
        namespace: if node.namespace.is_empty() {
            "default".to_string()
        } else {
            node.namespace.clone()
        },
        labels: node
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        gateway: node.listeners.iter().any(|l| l.direction == "gateway"),
    }
}

impl Views for Compiler {
    fn generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn view(&self, node: &Node) -> Arc<View> {
        self.current().view(&caller_of(node))
    }

    fn proxy_connected(&self, node: &Node) {
        let update = |i: &mut Inputs| {
            let r = i
                .proxies
                .entry(node.id.clone())
                .or_insert_with(|| Registered {
                    node: node.clone(),
                    sessions: 0,
                    lost_at: None,
                });
            if r.node != *node {
                let old = std::mem::replace(&mut r.node, node.clone());
                i.touched.push(old);
            }
            r.sessions += 1;
            r.lost_at = None;
            i.touched.push(node.clone());
        };
        if self.selected(node) {
            self.changed(update);
        } else {
            update(&mut self.inputs.lock());
        }
    }

    fn proxy_disconnected(&self, node: &Node, left: bool) {
        // Judge by the node as registered (its labels), not as reported now.
        let registered = self
            .inputs
            .lock()
            .proxies
            .get(&node.id)
            .map(|r| r.node.clone());
        let Some(registered) = registered else { return };
        let update = |i: &mut Inputs| {
            let Some(r) = i.proxies.get_mut(&node.id) else {
                return;
            };
            r.sessions = r.sessions.saturating_sub(1);
            if r.sessions > 0 {
                return;
            }
            if left {
                let gone = r.node.clone();
                i.proxies.remove(&node.id);
                i.touched.push(gone);
            } else {
                r.lost_at = Some(Instant::now());
            }
        };
        if self.selected(&registered) {
            self.changed(update);
        } else {
            update(&mut self.inputs.lock());
        }
    }
}

#[cfg(test)]
mod tests;
