//! From the mesh model to each proxy's view: services with their routes
//! (`service`, `routes`), clusters with endpoints and policy (`clusters`),
//! the inbound side (`inbound`), Sidecar scoping (`scope`), computed once
//! per generation and shared (`generation`).
//!
//! The `Compiler` holds the inputs (accepted resources, connected
//! proxies), rebuilds a generation when they settle (debounced), and
//! serves views to the config stream.

mod clusters;
mod generation;
mod inbound;
pub mod routes;
mod scope;
mod service;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, watch};
use weft_api::Resource;
use weft_proto::discovery::Node;

pub use generation::Generation;
pub use routes::Caller;

use crate::model::Mesh;
use crate::views::{View, Views};

/// How long the compiler waits after a change for more before rebuilding:
/// a burst of edits or of proxies connecting becomes one generation.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// Compiles the mesh and serves each proxy its view.
#[derive(Debug)]
pub struct Compiler {
    inputs: Mutex<Inputs>,
    current: RwLock<Arc<Generation>>,
    generation: watch::Sender<u64>,
    dirty: Notify,
}

#[derive(Debug, Default)]
struct Inputs {
    resources: Arc<Vec<Resource>>,
    proxies: BTreeMap<String, Node>,
    /// Bumped by every change; the generation records the one it built.
    changes: u64,
    built: u64,
}

// === impl Compiler ===

impl Compiler {
    /// A compiler over `resources`, with its first generation built.
    pub fn new(resources: Vec<Resource>) -> Arc<Self> {
        let resources = Arc::new(resources);
        let first = Generation::new(1, Mesh::build(resources.clone(), &[]), None);
        Arc::new(Self {
            inputs: Mutex::new(Inputs {
                resources,
                ..Inputs::default()
            }),
            current: RwLock::new(Arc::new(first)),
            generation: watch::channel(1).0,
            dirty: Notify::new(),
        })
    }

    /// New accepted resources (a whole, validated set).
    pub fn set_resources(&self, resources: Vec<Resource>) {
        let mut inputs = self.inputs.lock();
        inputs.resources = Arc::new(resources);
        inputs.changes += 1;
        self.dirty.notify_one();
    }

    pub fn current(&self) -> Arc<Generation> {
        self.current.read().clone()
    }

    /// Connected proxies, by node id.
    pub fn proxies(&self) -> Vec<Node> {
        self.inputs.lock().proxies.values().cloned().collect()
    }

    /// Rebuilds whenever the inputs change, `debounce` after the first
    /// change of a burst. Runs until the compiler is dropped elsewhere.
    pub async fn run(self: Arc<Self>, debounce: Duration) {
        loop {
            self.dirty.notified().await;
            tokio::time::sleep(debounce).await;
            self.rebuild();
        }
    }

    /// Builds the next generation from the current inputs, now. Nothing
    /// happens when nothing changed since the last build.
    pub fn rebuild(&self) {
        let (resources, proxies, changes) = {
            let inputs = self.inputs.lock();
            if inputs.changes == inputs.built {
                return;
            }
            let proxies: Vec<Node> = inputs.proxies.values().cloned().collect();
            (inputs.resources.clone(), proxies, inputs.changes)
        };
        let prev = self.current();
        let started = std::time::Instant::now();
        let next = Generation::new(
            prev.number + 1,
            Mesh::build(resources, &proxies),
            Some(&prev),
        );
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
        self.changed(|i| {
            i.proxies.insert(node.id.clone(), node.clone());
        });
    }

    fn proxy_disconnected(&self, node: &Node) {
        self.changed(|i| {
            i.proxies.remove(&node.id);
        });
    }
}

#[cfg(test)]
mod tests;
