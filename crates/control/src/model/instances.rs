//! Instances: the running workloads services send traffic to, from
//! connected proxies (the local runtime's pods), WorkloadEntries (VMs) and
//! ServiceEntry endpoints.

use std::sync::Arc;

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use weft_api::Resource;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::WorkloadEntry;
use weft_proto::discovery::Node;

/// One workload instance.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub address: IpAddr,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub workload: Option<String>,
    pub service_account: Option<String>,
    pub reach: Reach,
    /// Port name → port, as a WorkloadEntry writes them: a service port
    /// whose name is here is sent to this port instead of its target.
    pub named_ports: BTreeMap<String, u16>,
    /// Where it runs, `region/zone/subzone` ([`locality_of`]).
    pub locality: Option<String>,
}

/// How peers reach an instance's app ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// No sidecar: dial the app's port.
    Direct,
    /// A sidecar captures inbound transparently: dial the app's port on
    /// the instance's address; the traffic is meshed.
    Transparent,
    /// A sidecar fronts app ports on its own ports (explicit mode):
    /// app port → proxy port.
    Explicit(BTreeMap<u16, u16>),
}

pub(super) fn collect(resources: &[Arc<Resource>], proxies: &[Node]) -> Vec<Instance> {
    let mut out: Vec<Instance> = proxies.iter().filter_map(Instance::from_node).collect();
    for r in resources {
        if let Spec::WorkloadEntry(we) = &r.spec
            && let Some(mut inst) = Instance::from_workload_entry(r.namespace(), we)
        {
            inst.workload.get_or_insert_with(|| r.name().to_string());
            out.push(inst);
        }
    }
    out
}

/// Istio's label for a workload's whole locality; `.` stands for `/`,
/// which label values cannot hold.
pub const LOCALITY_LABEL: &str = "istio-locality";

/// The Kubernetes topology labels Istio reads a locality from.
pub const TOPOLOGY_LABELS: [&str; 3] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];

/// A workload's locality from its labels, as Istio derives a pod's:
/// `istio-locality` (`us-east.zone1` is `us-east/zone1`), else the region
/// and zone topology labels plus `topology.istio.io/subzone`. `None`
/// without any.
pub fn locality_of<'a>(label: impl Fn(&str) -> Option<&'a String>) -> Option<String> {
    let get = |k: &str| label(k).map(String::as_str).filter(|v| !v.is_empty());
    if let Some(l) = get(LOCALITY_LABEL) {
        return Some(if l.contains('/') {
            l.to_string()
        } else {
            l.replace('.', "/")
        });
    }
    let [region, zone, subzone] = TOPOLOGY_LABELS.map(get);
    region?;
    let parts = [region, zone, subzone].map(Option::unwrap_or_default);
    let n = if subzone.is_some() {
        3
    } else if zone.is_some() {
        2
    } else {
        1
    };
    Some(parts[..n].join("/"))
}

// === impl Instance ===

impl Instance {
    /// A connected proxy's workload. A node with no parseable address
    /// cannot be reached and is not an instance.
    pub fn from_node(node: &Node) -> Option<Self> {
        let address = node.addresses.iter().find_map(|a| a.parse().ok())?;
        let explicit: BTreeMap<u16, u16> = node
            .inbound_ports
            .iter()
            .filter_map(|(app, proxy)| {
                Some((u16::try_from(*app).ok()?, u16::try_from(*proxy).ok()?))
            })
            .collect();
        let reach = if node.transparent_inbound {
            Reach::Transparent
        } else if !explicit.is_empty() {
            Reach::Explicit(explicit)
        } else {
            Reach::Direct
        };
        Some(Self {
            address,
            namespace: node.namespace.clone(),
            labels: node
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            workload: (!node.workload.is_empty()).then(|| node.workload.clone()),
            service_account: (!node.service_account.is_empty())
                .then(|| node.service_account.clone()),
            reach,
            named_ports: BTreeMap::new(),
            locality: locality_of(|k| node.labels.get(k)),
        })
    }

    /// A WorkloadEntry (or a ServiceEntry endpoint). Only IP addresses are
    /// instances today: a DNS name would need resolving per connection.
    pub fn from_workload_entry(namespace: &str, we: &WorkloadEntry) -> Option<Self> {
        let address = we.address.as_deref()?.parse().ok()?;
        Some(Self {
            address,
            namespace: namespace.to_string(),
            labels: we.labels.clone(),
            workload: None,
            service_account: we.service_account.clone(),
            reach: Reach::Direct,
            named_ports: we
                .ports
                .iter()
                .filter_map(|(name, p)| Some((name.clone(), u16::try_from(*p).ok()?)))
                .collect(),
            // Istio: a WorkloadEntry's `locality` field, else its labels.
            locality: we
                .locality
                .clone()
                .filter(|l| !l.is_empty())
                .or_else(|| locality_of(|k| we.labels.get(k))),
        })
    }

    /// Whether traffic to it arrives at a sidecar (and may be HTTP/2
    /// between the proxies).
    pub fn is_meshed(&self, app_port: u16) -> bool {
        match &self.reach {
            Reach::Direct => false,
            Reach::Transparent => true,
            Reach::Explicit(ports) => ports.contains_key(&app_port),
        }
    }

    /// Where to send traffic for `app_port`.
    pub fn dial(&self, app_port: u16) -> SocketAddr {
        let port = match &self.reach {
            Reach::Explicit(ports) => ports.get(&app_port).copied().unwrap_or(app_port),
            Reach::Direct | Reach::Transparent => app_port,
        };
        SocketAddr::new(self.address, port)
    }
}
