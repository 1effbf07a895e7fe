//! Prometheus' view of the mesh: every connected proxy as a scrape target,
//! in Prometheus' HTTP service discovery format, so a real Prometheus
//! follows proxies as they come and go (`weft prometheus-config` writes
//! the config that points at it).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::Api;
use crate::telemetry::metrics_addr;

/// One target group of `http_sd_configs`
/// (prometheus.io/docs/prometheus/latest/http_sd/).
#[derive(Debug, Serialize, Deserialize)]
pub struct TargetGroup {
    pub targets: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// `GET /api/v1/prometheus/targets`.
pub(super) async fn targets(State(api): State<Api>) -> Json<Vec<TargetGroup>> {
    let groups = api
        .registry
        .list()
        .into_iter()
        .filter_map(|p| {
            let addr = metrics_addr(&p.node.metrics_address, &p.addresses)?;
            Some(TargetGroup {
                targets: vec![addr.to_string()],
                labels: BTreeMap::from([
                    ("namespace".to_string(), p.namespace.clone()),
                    ("workload".to_string(), p.workload.clone()),
                    ("proxy".to_string(), p.id.clone()),
                ]),
            })
        })
        .collect();
    Json(groups)
}

/// A Prometheus config that scrapes every proxy of the mesh whose
/// control plane API is `api` (`host:port`), every `interval`.
pub fn config(api: &str, interval: &str) -> String {
    format!(
        "# Scrapes every weft proxy: the control plane lists them
# (http://{api}/api/v1/prometheus/targets) as they connect and leave.
global:
  scrape_interval: {interval}
scrape_configs:
  - job_name: weft-proxies
    metrics_path: /metrics
    http_sd_configs:
      - url: http://{api}/api/v1/prometheus/targets
        refresh_interval: {interval}
  - job_name: weft-control
    metrics_path: /metrics
    static_configs:
      - targets: ['{api}']
"
    )
}
