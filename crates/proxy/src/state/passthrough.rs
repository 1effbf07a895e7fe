//! Endpoints for destinations no config names (Istio's PassthroughCluster),
//! kept so repeated calls reuse pooled connections.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::telemetry::PeerLabels;
use crate::upstream::Endpoint;

/// Distinct passthrough destinations remembered before starting over; bounds
/// memory when an app calls many addresses.
const MAX_ENDPOINTS: usize = 1024;

/// Connect timeout for passthrough destinations (often outside the mesh).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
pub struct Passthrough {
    endpoints: Mutex<HashMap<SocketAddr, Arc<Endpoint>>>,
}

// === impl Passthrough ===

impl Passthrough {
    pub fn endpoint(&self, addr: SocketAddr, unknown: &Arc<PeerLabels>) -> Arc<Endpoint> {
        let mut eps = self.endpoints.lock();
        if let Some(e) = eps.get(&addr) {
            return e.clone();
        }
        if eps.len() >= MAX_ENDPOINTS {
            eps.clear();
        }
        let e = Arc::new(Endpoint::new(addr, 1, unknown.clone()));
        eps.insert(addr, e.clone());
        e
    }
}
