//! Which proxies are connected and whether each holds its current config:
//! what `weft proxy-status` shows.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use weft_proto::discovery::Node;

use crate::views::View;

/// Whether a proxy holds the config it should.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyncState {
    /// It ACKed the latest config sent to it.
    Synced,
    /// A config was sent and not yet answered.
    Stale,
    /// It refused the latest config sent; it serves the one before.
    Nacked,
}

/// One connected proxy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxyStatus {
    pub id: String,
    pub workload: String,
    pub namespace: String,
    pub addresses: Vec<String>,
    pub proxy_version: String,
    /// Seconds since the Unix epoch when the stream opened.
    pub connected_at: u64,
    pub state: SyncState,
    /// The generation of the config last sent.
    pub sent_version: Option<String>,
    /// The generation of the config last accepted.
    pub acked_version: Option<String>,
    /// Why the last config sent was refused.
    pub nack: Option<String>,
    /// Resources the proxy holds (as of its last ACK).
    pub resources: usize,
    /// How it introduced itself.
    #[serde(skip)]
    pub node: Node,
    /// What it holds: the view it last ACKed.
    #[serde(skip)]
    pub held: Option<Arc<View>>,
}

/// Every connected proxy, by node id.
#[derive(Debug, Default)]
pub struct Registry {
    proxies: RwLock<BTreeMap<String, ProxyStatus>>,
}

// === impl Registry ===

impl Registry {
    pub fn list(&self) -> Vec<ProxyStatus> {
        self.proxies.read().values().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<ProxyStatus> {
        self.proxies.read().get(id).cloned()
    }

    pub(crate) fn connected(&self, node: &Node) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.proxies.write().insert(
            node.id.clone(),
            ProxyStatus {
                id: node.id.clone(),
                workload: node.workload.clone(),
                namespace: node.namespace.clone(),
                addresses: node.addresses.clone(),
                proxy_version: node.proxy_version.clone(),
                connected_at: now,
                state: SyncState::Stale,
                sent_version: None,
                acked_version: None,
                nack: None,
                resources: 0,
                node: node.clone(),
                held: None,
            },
        );
    }

    pub(crate) fn disconnected(&self, id: &str) {
        self.proxies.write().remove(id);
    }

    pub(crate) fn sent(&self, id: &str, version: &str) {
        self.update(id, |p| {
            p.sent_version = Some(version.to_string());
            p.state = SyncState::Stale;
        });
    }

    pub(crate) fn acked(&self, id: &str, view: &Arc<View>) {
        self.update(id, |p| {
            p.acked_version = Some(view.version.clone());
            p.nack = None;
            p.resources = view.resources.len();
            p.held = Some(view.clone());
            p.state = SyncState::Synced;
        });
    }

    pub(crate) fn nacked(&self, id: &str, reason: &str) {
        self.update(id, |p| {
            p.nack = Some(reason.to_string());
            p.state = SyncState::Nacked;
        });
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut ProxyStatus)) {
        if let Some(p) = self.proxies.write().get_mut(id) {
            f(p);
        }
    }
}
