//! istio/api `networking/v1alpha3/service_entry.proto`: adds a service to
//! the mesh's registry (an external API, VMs, another cluster's service),
//! with its hosts, ports and how its endpoints are found.

#[cfg(test)]
mod tests;
mod validate;

use serde::Deserialize;

use super::{NetworkingWorkloadSelector, WorkloadEntry};

/// istio/api `ServiceEntry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceEntry {
    /// DNS names, a leading wildcard allowed (`*.example.com`); matched
    /// against HTTP Host and TLS SNI.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Virtual IPs or CIDR blocks of the service.
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    pub location: Option<ServiceEntryLocation>,
    /// Defaults to `NONE`.
    pub resolution: Option<ServiceEntryResolution>,
    /// Inline endpoints; exclusive with `workloadSelector`.
    #[serde(default)]
    pub endpoints: Vec<WorkloadEntry>,
    /// Selects pods and WorkloadEntries as endpoints (`MESH_INTERNAL`
    /// only).
    #[serde(alias = "workload_selector")]
    pub workload_selector: Option<NetworkingWorkloadSelector>,
    #[serde(default, alias = "export_to")]
    pub export_to: Vec<String>,
    /// SANs the server certificate must carry.
    #[serde(default, alias = "subject_alt_names")]
    pub subject_alt_names: Vec<String>,
}

/// istio/api `ServicePort`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    #[serde(default)]
    pub number: u32,
    /// `HTTP`, `HTTPS`, `GRPC`, `HTTP2`, `MONGO`, `TCP`, `TLS`, ... in any
    /// case; empty means the proxy sniffs it.
    pub protocol: Option<String>,
    /// Required; endpoints' `ports` are keyed by it.
    #[serde(default)]
    pub name: String,
    /// The port on the endpoints, when it differs from `number`.
    #[serde(alias = "target_port")]
    pub target_port: Option<u32>,
}

/// istio/api `ServiceEntry.Location`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceEntryLocation {
    MeshExternal,
    MeshInternal,
}

/// istio/api `ServiceEntry.Resolution`: how the proxy finds endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServiceEntryResolution {
    /// Forward to the address the caller connected to.
    #[default]
    None,
    /// The endpoints' IP addresses (or the selected workloads).
    Static,
    /// Resolve the endpoints' (or the hosts') DNS names, all answers used.
    Dns,
    /// Resolve DNS names, using the first answer per connection.
    DnsRoundRobin,
    /// Resolve the requested (wildcard-matched) host per request.
    DynamicDns,
}
