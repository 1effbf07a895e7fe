//! An in-process proxy for integration tests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use weft_proto::config::ProxyConfig;
use weft_proxy::state::ProxyState;
use weft_proxy::{BoundAddrs, Proxy, Running};

/// Admin and metrics on ephemeral loopback ports, no health port: put this
/// at the top of every test config.
pub const TEST_PORTS: &str =
    "admin_address: 127.0.0.1:0\nmetrics_address: 127.0.0.1:0\nhealth_address: null\n";

pub struct TestProxy {
    running: Option<Running>,
    pub addrs: BoundAddrs,
}

impl TestProxy {
    /// Starts a proxy from YAML (without the [`TEST_PORTS`] prefix).
    pub async fn start(yaml: &str) -> Self {
        let yaml = format!("{TEST_PORTS}{yaml}");
        let config = ProxyConfig::from_yaml("test.yaml", &yaml)
            .unwrap_or_else(|e| panic!("test config invalid: {e}\n{yaml}"));
        let running = Proxy::start(config, None).await.unwrap();
        let addrs = running.addrs().clone();
        Self {
            running: Some(running),
            addrs,
        }
    }

    pub fn listener(&self, name: &str) -> SocketAddr {
        *self
            .addrs
            .listeners
            .get(name)
            .unwrap_or_else(|| panic!("no listener {name}"))
    }

    pub fn state(&self) -> &Arc<ProxyState> {
        self.running.as_ref().unwrap().state()
    }

    pub async fn metrics(&self) -> String {
        crate::metrics::scrape(self.addrs.metrics.unwrap()).await
    }

    pub async fn drain(&mut self, deadline: Duration) -> bool {
        self.running.take().unwrap().drain(deadline).await
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            // Stop accepting and release the ports; in-flight tasks end with
            // the test's runtime.
            tokio::spawn(r.drain(Duration::ZERO));
        }
    }
}
