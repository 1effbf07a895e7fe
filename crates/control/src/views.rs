//! What the config stream serves: one view per proxy, recomputed when the
//! mesh changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;
use weft_proto::discovery::{Node, Resource};

/// Resources by (type URL, name).
pub type ResourceMap = BTreeMap<(String, String), Resource>;

/// Everything one proxy should hold at one generation.
#[derive(Debug, Clone, Default)]
pub struct View {
    /// The generation this view was computed at (`system_version`).
    pub version: String,
    pub resources: ResourceMap,
    /// What changed since the same view at an earlier generation, when
    /// known: a session whose proxy holds exactly that view sends this
    /// instead of comparing every resource.
    pub delta: Option<Delta>,
}

/// The difference between two views of the same proxy.
#[derive(Debug, Clone, Default)]
pub struct Delta {
    /// The version of the view this delta starts from.
    pub from: String,
    /// Keys of resources added or changed.
    pub changed: Vec<(String, String)>,
    pub removed: Vec<(String, String)>,
}

/// The mesh as the config stream sees it.
pub trait Views: Send + Sync + 'static {
    /// Changes whenever any proxy's view may have changed. The value is a
    /// generation number; sessions recompute their view when it moves.
    fn generation(&self) -> watch::Receiver<u64>;

    /// What `node` should hold now.
    fn view(&self, node: &Node) -> Arc<View>;

    /// A proxy connected: its workload is reachable at the node's
    /// addresses (the local runtime's endpoints come from here).
    fn proxy_connected(&self, node: &Node);

    /// Its stream ended: it `left` (closed the stream itself, as a
    /// draining proxy does), or it was lost (an error, a reset, silence),
    /// which says nothing about whether its workload still serves.
    fn proxy_disconnected(&self, node: &Node, left: bool);
}
