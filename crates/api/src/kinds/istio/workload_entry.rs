//! istio/api `networking/v1alpha3/workload_entry.proto`: one workload
//! outside Kubernetes (a VM, a bare-metal host), selected into services by
//! ServiceEntries. The same message is a ServiceEntry's inline endpoint.

pub(super) mod net;
#[cfg(test)]
mod tests;
pub(super) mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;

/// istio/api `WorkloadEntry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadEntry {
    /// IP address, DNS name (only with DNS resolution) or
    /// `unix:///path`; may be left out when `network` is set.
    pub address: Option<String>,
    /// Service port name to this endpoint's port number.
    #[serde(default)]
    pub ports: BTreeMap<String, u32>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The L3 network the endpoint is in; endpoints in other networks are
    /// reached through that network's gateway.
    pub network: Option<String>,
    /// `region/zone/subzone`.
    pub locality: Option<String>,
    /// Load-balancing weight.
    pub weight: Option<u32>,
    #[serde(alias = "service_account")]
    pub service_account: Option<String>,
}
