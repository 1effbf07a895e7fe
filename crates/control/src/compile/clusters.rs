//! Clusters: one port of one service, optionally one subset, with its
//! endpoints and the DestinationRule's traffic policy.

use std::sync::Arc;

use std::collections::BTreeMap;

use weft_api::analyze::ROOT_NAMESPACE;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::{
    ClientTlsMode, ClientTlsSettings, DestinationRule, H2UpgradePolicy, LoadBalancerSettings,
    SimpleLb, TrafficPolicy,
};
use weft_api::protocol::Protocol;
use weft_api::{Resource, host};
use weft_proto::config::{
    Cluster, Endpoint, LbPolicy, UpstreamProtocol, UpstreamTls, UpstreamTlsMode, WorkloadMeta,
};

use super::locality::{self, Origin};
use super::routes::{Caller, ClusterRef};
use crate::model::{Instance, Mesh, PortModel, Target};

/// DestinationRules by the host they apply to.
#[derive(Debug, Default)]
pub struct RuleIndex<'a> {
    /// (resolved host, the rule's namespace, the rule), in load order.
    rules: Vec<(String, &'a str, &'a DestinationRule)>,
}

// === impl RuleIndex ===

impl<'a> RuleIndex<'a> {
    pub fn build(resources: &'a [Arc<Resource>]) -> Self {
        let rules = resources
            .iter()
            .filter_map(|r| match &r.spec {
                Spec::DestinationRule(dr) if dr.workload_selector.is_none() => {
                    Some((host::fqdn(&dr.host, r.namespace()), r.namespace(), dr))
                }
                _ => None,
            })
            .collect();
        Self { rules }
    }

    /// The rule for `fqdn` of a service in `namespace`. Istio looks in the
    /// client's namespace, then the service's, then the root namespace;
    /// clusters here are shared by every client, so the client's namespace
    /// is not consulted (ARCHITECTURE.md). An exact host beats a wildcard.
    pub fn for_host(&self, fqdn: &str, namespace: &str) -> Option<&'a DestinationRule> {
        let rank = |(h, ns, _): &&(String, &str, &DestinationRule)| {
            let exact = if h == fqdn { 0 } else { 1 };
            let place = if *ns == namespace {
                0
            } else if *ns == ROOT_NAMESPACE {
                1
            } else {
                2
            };
            (exact, place)
        };
        self.rules
            .iter()
            .filter(|(h, _, _)| host::matches(h, fqdn))
            .min_by_key(rank)
            .map(|(_, _, dr)| *dr)
    }
}

/// What of `caller` the cluster `cref` depends on: `Some` when its
/// DestinationRule gives it locality load balancing (`compile/locality.rs`),
/// and the cluster is compiled per origin; `None`: one cluster for all.
pub fn origin(
    cref: &ClusterRef,
    mesh: &Mesh,
    rules: &RuleIndex<'_>,
    caller: &Caller,
) -> Option<Origin> {
    let svc = mesh.services.get(&cref.fqdn)?;
    let dr = rules.for_host(&svc.fqdn, &svc.namespace)?;
    locality_mode(dr, cref).map(|m| m.origin(caller))
}

/// The locality load balancing of `cref`'s cluster under `dr`, from the
/// merged policy as Istio's EDS builder reads it.
fn locality_mode<'a>(dr: &'a DestinationRule, cref: &ClusterRef) -> Option<locality::Mode<'a>> {
    let subset = cref
        .subset
        .as_ref()
        .and_then(|name| dr.subsets.iter().find(|s| &s.name == name))
        .and_then(|s| s.traffic_policy.as_ref());
    let (lb, outlier) =
        super::circuit::load_balancer(dr.traffic_policy.as_ref(), subset, cref.port);
    locality::Mode::of(lb, outlier)
}

/// The cluster `cref` names. A service, port or subset that does not exist
/// gives a cluster with no endpoints, so its requests fail with 503 UH and
/// say why, instead of the route vanishing. `origin`: the caller's, for a
/// cluster with locality load balancing.
pub fn build(
    cref: &ClusterRef,
    mesh: &Mesh,
    rules: &RuleIndex<'_>,
    origin: Option<&Origin>,
) -> Cluster {
    let mut cluster = Cluster {
        name: cref.name(),
        service: Some(cref.fqdn.clone()),
        protocol: UpstreamProtocol::Auto,
        lb: LbPolicy::default(),
        connect_timeout: Cluster::default_connect_timeout(),
        endpoints: Vec::new(),
        tls: None,
        connection_pool: None,
        outlier_detection: None,
    };
    let Some(svc) = mesh.services.get(&cref.fqdn) else {
        return cluster;
    };
    let Some(port) = svc.ports.iter().find(|p| p.port == cref.port) else {
        return cluster;
    };
    let dr = rules.for_host(&svc.fqdn, &svc.namespace);
    let subset = match (&cref.subset, dr) {
        (None, _) => None,
        (Some(name), Some(dr)) => match dr.subsets.iter().find(|s| &s.name == name) {
            Some(s) => Some(s),
            None => return cluster,
        },
        (Some(_), None) => return cluster,
    };
    let empty = BTreeMap::new();
    let labels = subset.map_or(&empty, |s| &s.labels);
    let mut meshed = true;
    let mut endpoints: Vec<(Endpoint, &Instance)> = Vec::new();
    for inst in mesh.instances_of(svc) {
        if !labels.iter().all(|(k, v)| inst.labels.get(k) == Some(v)) {
            continue;
        }
        let Some(app_port) = app_port(inst, port) else {
            continue;
        };
        let address = inst.dial(app_port);
        // One address is one endpoint, even while a restarted proxy's old
        // registration is still in its grace period beside its new one.
        if endpoints.iter().any(|(e, _)| e.address == address) {
            continue;
        }
        meshed &= inst.is_meshed(app_port);
        let ep = Endpoint {
            address,
            weight: 1,
            workload: Some(meta(inst)),
            identity: mesh.identity(inst, app_port),
            locality: inst.locality.clone(),
            priority: 0,
            locality_weight: None,
        };
        endpoints.push((ep, inst));
    }
    endpoints.sort_by_key(|(e, _)| e.address);
    if let (Some(origin), Some(mode)) = (origin, dr.and_then(|d| locality_mode(d, cref))) {
        mode.apply(origin, &mut endpoints);
    }
    cluster.endpoints = endpoints.into_iter().map(|(e, _)| e).collect();
    // A subset's policy replaces the rule's (Istio), and a port's settings
    // within it replace the policy's for that port.
    let policy = subset
        .and_then(|s| s.traffic_policy.as_ref())
        .or(dr.and_then(|d| d.traffic_policy.as_ref()));
    apply_policy(&mut cluster, policy, port.port);
    super::circuit::apply(
        &mut cluster,
        dr.and_then(|d| d.traffic_policy.as_ref()),
        subset.and_then(|s| s.traffic_policy.as_ref()),
        port.port,
    );
    let upgrade_allowed = !policy
        .and_then(|p| p.connection_pool.as_ref())
        .and_then(|c| c.http.as_ref())
        .is_some_and(|h| {
            h.h2_upgrade_policy == Some(H2UpgradePolicy::DoNotUpgrade)
                || h.use_client_protocol == Some(true)
        });
    cluster.protocol = match port.protocol {
        Protocol::Http2 | Protocol::Grpc => UpstreamProtocol::Http2,
        // Between two sidecars HTTP/1.1 rides multiplexed HTTP/2 and is
        // restored on the far side.
        Protocol::Http | Protocol::Unknown
            if meshed && !cluster.endpoints.is_empty() && upgrade_allowed =>
        {
            UpstreamProtocol::Http2
        }
        _ => UpstreamProtocol::Auto,
    };
    cluster
}

/// The app port of `inst` that `port` lands on: a WorkloadEntry's port of
/// the same name, else the target port.
fn app_port(inst: &Instance, port: &PortModel) -> Option<u16> {
    if let Some(p) = port.name.as_ref().and_then(|n| inst.named_ports.get(n)) {
        return Some(*p);
    }
    match &port.target {
        Target::Port(p) => Some(*p),
        Target::Named(name) => inst.named_ports.get(name).copied(),
    }
}

fn apply_policy(cluster: &mut Cluster, policy: Option<&TrafficPolicy>, port: u16) {
    let Some(policy) = policy else { return };
    let port_level = policy
        .port_level_settings
        .iter()
        .find(|p| p.port.is_some_and(|s| s.number == u32::from(port)));
    // A port's loadBalancer replaces the policy's whole (Istio).
    let lb = port_level
        .and_then(|p| p.load_balancer.as_ref())
        .or(policy.load_balancer.as_ref())
        .and_then(lb_policy);
    if let Some(lb) = lb {
        cluster.lb = lb;
    }
    let tls = port_level
        .and_then(|p| p.tls.as_ref())
        .or(policy.tls.as_ref());
    if let Some(t) = tls {
        cluster.tls = Some(upstream_tls(t));
    }
}

/// A `loadBalancer`'s policy; `None` when it sets neither `simple` nor
/// `consistentHash` (only locality or warmup settings).
fn lb_policy(lb: &LoadBalancerSettings) -> Option<LbPolicy> {
    if let Some(ch) = &lb.consistent_hash {
        return Some(LbPolicy::ConsistentHash(super::hashing::consistent_hash(
            ch,
        )));
    }
    Some(match lb.simple? {
        SimpleLb::RoundRobin => LbPolicy::RoundRobin,
        SimpleLb::LeastRequest | SimpleLb::LeastConn => LbPolicy::LeastRequest,
        SimpleLb::Random => LbPolicy::Random,
        // Istio picks; weft's pick is P2C over peak EWMA.
        SimpleLb::Unspecified => LbPolicy::P2cPeakEwma,
        // Istio sends to the address the caller dialled (an ORIGINAL_DST
        // cluster); weft's clusters hold the service's endpoints, so it
        // balances over them as for UNSPECIFIED (docs/traffic.md).
        SimpleLb::Passthrough => LbPolicy::P2cPeakEwma,
    })
}

/// A DestinationRule's `tls`: set, it replaces automatic mTLS for the
/// cluster (Istio). Without a mode it is DISABLE, Istio's default.
fn upstream_tls(t: &ClientTlsSettings) -> UpstreamTls {
    let mode = match t.mode {
        None | Some(ClientTlsMode::Disable) => UpstreamTlsMode::Disable,
        Some(ClientTlsMode::Simple) => UpstreamTlsMode::Simple,
        Some(ClientTlsMode::Mutual) => UpstreamTlsMode::Mutual,
        Some(ClientTlsMode::IstioMutual) => UpstreamTlsMode::IstioMutual,
    };
    let files = matches!(mode, UpstreamTlsMode::Simple | UpstreamTlsMode::Mutual);
    let path = |p: &Option<String>| {
        p.as_deref()
            .filter(|s| files && !s.is_empty())
            .map(std::path::PathBuf::from)
    };
    UpstreamTls {
        mode,
        sni: t.sni.clone().filter(|_| files),
        ca_certificates: path(&t.ca_certificates),
        subject_alt_names: if files {
            t.subject_alt_names.clone()
        } else {
            Vec::new()
        },
        client_certificate: path(&t.client_certificate).filter(|_| mode == UpstreamTlsMode::Mutual),
        private_key: path(&t.private_key).filter(|_| mode == UpstreamTlsMode::Mutual),
    }
}

/// The `destination_*` labels of an endpoint.
fn meta(inst: &Instance) -> WorkloadMeta {
    WorkloadMeta {
        workload: inst.workload.clone(),
        namespace: Some(inst.namespace.clone()),
        app: inst.labels.get("app").cloned(),
        version: inst.labels.get("version").cloned(),
        service_account: inst.service_account.clone(),
        ..WorkloadMeta::default()
    }
}
