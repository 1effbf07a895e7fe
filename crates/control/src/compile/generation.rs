//! One generation of the compiled mesh: the model, plus caches that every
//! proxy's view draws from.
//!
//! Sharing: a cluster is compiled once per generation whoever uses it; a
//! service once per (service, caller namespace, and caller labels when its
//! VirtualService matches on them); a view once per caller. Reuse across
//! generations: a resource whose content did not change keeps the
//! previous generation's encoding and version, so nothing is re-sent.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use weft_api::host;
use weft_api::kinds::Spec;
use weft_api::kinds::istio::VirtualService;
use weft_proto::discovery::{Node, Resource};
use weft_proto::resources::Typed;

use super::clusters::{self, RuleIndex};
use super::dirty::Dirty;
use super::locality::Origin;
use super::routes::{Caller, ClusterRef, Scoped};
use super::scope::Scope;
use super::service::{self, Routing};
use super::{delegation, gamma, profile, split};
use super::{gateway, inbound, policies, rate_limit};
use crate::model::{Mesh, ServiceModel};
use crate::views::{Delta, View};

/// A resource and the typed value it encodes, to tell whether the next
/// generation's value changed.
#[derive(Debug)]
struct Encoded {
    typed: Typed,
    resource: Resource,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ServiceKey {
    fqdn: String,
    caller_namespace: String,
    /// Only when the service's VirtualService matches on source labels.
    caller_labels: Option<BTreeMap<String, String>>,
}

type CompiledService = (Arc<Encoded>, Arc<Vec<ClusterRef>>);

/// A cluster's name, and the caller's origin for one compiled per caller
/// locality (`compile/locality.rs`).
type ClusterKey = (String, Option<Origin>);

/// The compiled mesh at one generation.
#[derive(Debug)]
pub struct Generation {
    pub number: u64,
    pub mesh: Mesh,
    /// Mesh-bound VirtualServices: exact host → index into resources.
    vs_exact: HashMap<String, usize>,
    /// Wildcard hosts, in load order.
    vs_wildcard: Vec<(String, usize)>,
    /// Root VirtualServices merged with their delegates, by index.
    delegated: HashMap<usize, VirtualService>,
    /// Gateway API routes with a Service parent: FQDN → indexes.
    gamma: HashMap<String, Vec<usize>>,
    /// TrafficSplits: root service FQDN → index.
    splits: HashMap<String, usize>,
    /// ServiceProfiles: (namespace, name) → index.
    profiles: HashMap<(String, String), usize>,
    clusters: Mutex<HashMap<ClusterKey, Arc<Encoded>>>,
    services: Mutex<HashMap<ServiceKey, CompiledService>>,
    views: Mutex<HashMap<Caller, Arc<View>>>,
    /// The previous generation's caches, for reuse and deltas.
    prev: Option<Previous>,
    /// The services this generation recompiles; the rest reuse `prev`.
    dirty: Dirty,
    /// Services and clusters this generation compiled (not reused).
    compiled: std::sync::atomic::AtomicUsize,
}

#[derive(Debug, Default)]
struct Previous {
    clusters: HashMap<ClusterKey, Arc<Encoded>>,
    services: HashMap<ServiceKey, CompiledService>,
    views: HashMap<Caller, Arc<View>>,
}

// === impl Generation ===

impl Generation {
    /// The next generation after `prev`; `touched` are the proxies that
    /// registered, changed or left since (old and new forms).
    pub fn new(number: u64, mesh: Mesh, prev: Option<&Generation>, touched: &[Node]) -> Self {
        let dirty = match prev {
            Some(p) => Dirty::between(&p.mesh, &mesh, touched),
            None => Dirty::All,
        };
        let mut vs_exact = HashMap::new();
        let mut vs_wildcard = Vec::new();
        for (i, r) in mesh.resources.iter().enumerate() {
            let Spec::VirtualService(vs) = &r.spec else {
                continue;
            };
            if !vs.gateways.is_empty() && !vs.gateways.iter().any(|g| g == "mesh") {
                continue;
            }
            for h in &vs.hosts {
                let fq = host::fqdn(h, r.namespace());
                if fq.starts_with('*') {
                    vs_wildcard.push((fq, i));
                } else {
                    // Two VirtualServices for one host: the first loaded
                    // wins (analysis reports the conflict).
                    vs_exact.entry(fq).or_insert(i);
                }
            }
        }
        Self {
            number,
            delegated: delegation::expand(&mesh.resources),
            gamma: gamma::index(&mesh.resources),
            splits: split::index(&mesh.resources),
            profiles: profile::index(&mesh.resources),
            mesh,
            vs_exact,
            vs_wildcard,
            clusters: Mutex::default(),
            services: Mutex::default(),
            views: Mutex::default(),
            prev: prev.map(|p| Previous {
                clusters: p.clusters.lock().clone(),
                services: p.services.lock().clone(),
                views: p.views.lock().clone(),
            }),
            dirty,
            compiled: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// How many services and clusters this generation compiled rather than
    /// reused from the one before.
    pub fn compiled(&self) -> usize {
        self.compiled.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn version(&self) -> String {
        self.number.to_string()
    }

    /// The view of one caller, computed once per generation.
    pub fn view(&self, caller: &Caller) -> Arc<View> {
        if let Some(v) = self.views.lock().get(caller) {
            return v.clone();
        }
        let view = self.assemble(caller);
        self.views.lock().insert(caller.clone(), view.clone());
        view
    }

    fn assemble(&self, caller: &Caller) -> Arc<View> {
        let scope = Scope::for_caller(&self.mesh.resources, caller);
        let rules = RuleIndex::build(&self.mesh.resources);
        let mut resources = BTreeMap::new();
        let mut put = |r: &Resource| {
            resources.insert((r.type_url.clone(), r.name.clone()), r.clone());
        };
        for svc in self.mesh.services.values().filter(|s| scope.sees(s)) {
            let (encoded, crefs) = self.service(svc, caller);
            put(&encoded.resource);
            for cref in crefs.iter() {
                put(&self.cluster(cref, &rules, caller).resource);
            }
        }
        let mut gateway_clusters = Vec::new();
        // EnvoyFilter local rate limits; nothing to do for most workloads.
        let limits = rate_limit::for_caller(&self.mesh, caller);
        let mut servers = gateway::servers(&self.mesh, caller, &mut gateway_clusters);
        if !limits.is_empty() {
            limits.apply_gateway(&mut servers);
        }
        for server in servers {
            put(&Typed::GatewayServer(server).encode());
        }
        for cref in &gateway_clusters {
            put(&self.cluster(cref, &rules, caller).resource);
        }
        let mut ports = inbound::ports(&self.mesh, caller);
        if !limits.is_empty() {
            limits.apply_inbound(&mut ports);
        }
        for port in ports {
            put(&Typed::Inbound(port).encode());
        }
        for policy in policies::for_caller(&self.mesh, caller) {
            put(&Typed::Authorization(policy).encode());
        }
        let peer_auth = self
            .mesh
            .peer_auth
            .for_workload(&caller.namespace, &caller.labels);
        put(&Typed::PeerAuthentication(peer_auth).encode());
        if let Some(pem) = &self.mesh.trust_roots {
            put(&Typed::TrustRoots(weft_proto::config::TrustRoots {
                pem: pem.to_string(),
            })
            .encode());
        }
        if let Some(t) = super::telemetry::tracing(&self.mesh, caller) {
            put(&Typed::Tracing(t).encode());
        }
        if super::telemetry::access_logs(&self.mesh, caller) {
            put(&Typed::AccessLog(weft_proto::config::AccessLog::default()).encode());
        }
        let before = self.prev.as_ref().and_then(|p| p.views.get(caller));
        let delta = before.map(|b| delta(b, &resources));
        // An unchanged view is the previous one: proxies holding it hold
        // the same object, however many generations pass (a thousand
        // proxies connecting make hundreds of generations).
        if let (Some(b), Some(d)) = (before, &delta)
            && d.changed.is_empty()
            && d.removed.is_empty()
        {
            return b.clone();
        }
        Arc::new(View {
            version: self.version(),
            resources,
            delta,
        })
    }

    fn virtual_service(&self, fqdn: &str) -> Option<Scoped<'_>> {
        let idx = self.vs_exact.get(fqdn).copied().or_else(|| {
            self.vs_wildcard
                .iter()
                .find(|(pattern, _)| host::matches(pattern, fqdn))
                .map(|(_, i)| *i)
        })?;
        let r = &self.mesh.resources[idx];
        match &r.spec {
            Spec::VirtualService(vs) => Some(Scoped {
                vs: self.delegated.get(&idx).unwrap_or(vs),
                namespace: r.namespace(),
            }),
            _ => None,
        }
    }

    /// What routes `svc` for `caller`: its VirtualService, else its
    /// ServiceProfile, else its TrafficSplit, else the mesh routes
    /// attached to it.
    fn routing(&self, svc: &ServiceModel, caller: &Caller) -> Option<Routing<'_>> {
        if let Some(vs) = self.virtual_service(&svc.fqdn) {
            return Some(Routing::Virtual(vs));
        }
        let split = self
            .splits
            .get(&svc.fqdn)
            .and_then(|i| split::at(&self.mesh.resources, *i));
        // Linkerd: a ServiceProfile wins over HTTPRoutes on its Service
        // (linkerd.io HTTPRoute reference, 2.13+).
        if let Some(p) = profile::for_caller(&self.mesh.resources, &self.profiles, svc, caller) {
            return Some(Routing::Profile(p, split));
        }
        if let Some(s) = split {
            return Some(Routing::Split(s));
        }
        let found = self.gamma.get(&svc.fqdn)?;
        gamma::for_caller(&self.mesh.resources, found, svc, caller).map(Routing::Gamma)
    }

    fn service(&self, svc: &ServiceModel, caller: &Caller) -> CompiledService {
        let routing = self.routing(svc, caller);
        let key = ServiceKey {
            fqdn: svc.fqdn.clone(),
            caller_namespace: caller.namespace.clone(),
            caller_labels: match &routing {
                Some(Routing::Virtual(v)) if matches_on_source(v.vs) => Some(caller.labels.clone()),
                _ => None,
            },
        };
        if let Some(hit) = self.services.lock().get(&key) {
            return hit.clone();
        }
        if !self.dirty.contains(&svc.fqdn)
            && let Some(prev) = self.prev.as_ref().and_then(|p| p.services.get(&key))
        {
            self.services.lock().insert(key, prev.clone());
            return prev.clone();
        }
        self.compiled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (built, crefs) = service::build(svc, routing.as_ref(), caller, &self.mesh);
        let typed = Typed::Service(built);
        let encoded = self.reuse(
            self.prev
                .as_ref()
                .and_then(|p| p.services.get(&key))
                .map(|(e, _)| e),
            typed,
        );
        let compiled = (encoded, Arc::new(crefs));
        self.services.lock().insert(key, compiled.clone());
        compiled
    }

    fn cluster(&self, cref: &ClusterRef, rules: &RuleIndex<'_>, caller: &Caller) -> Arc<Encoded> {
        let key = (
            cref.name(),
            clusters::origin(cref, &self.mesh, rules, caller),
        );
        if let Some(hit) = self.clusters.lock().get(&key) {
            return hit.clone();
        }
        if !self.dirty.contains(&cref.fqdn)
            && let Some(prev) = self.prev.as_ref().and_then(|p| p.clusters.get(&key))
        {
            self.clusters.lock().insert(key, prev.clone());
            return prev.clone();
        }
        self.compiled
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let typed = Typed::Cluster(clusters::build(cref, &self.mesh, rules, key.1.as_ref()));
        let encoded = self.reuse(self.prev.as_ref().and_then(|p| p.clusters.get(&key)), typed);
        self.clusters.lock().insert(key, encoded.clone());
        encoded
    }

    /// The previous encoding when the value is unchanged, else a new one.
    fn reuse(&self, prev: Option<&Arc<Encoded>>, typed: Typed) -> Arc<Encoded> {
        match prev {
            Some(p) if p.typed == typed => p.clone(),
            _ => {
                let resource = typed.encode();
                Arc::new(Encoded { typed, resource })
            }
        }
    }
}

fn matches_on_source(vs: &VirtualService) -> bool {
    vs.http
        .iter()
        .flat_map(|r| &r.matches)
        .any(|m| !m.source_labels.is_empty() || m.source_namespace.is_some())
        || vs
            .tcp
            .iter()
            .flat_map(|r| &r.matches)
            .any(|m| !m.source_labels.is_empty() || m.source_namespace.is_some())
}

fn delta(before: &View, now: &BTreeMap<(String, String), Resource>) -> Delta {
    let changed = now
        .iter()
        .filter(|(k, r)| {
            before
                .resources
                .get(*k)
                .is_none_or(|b| b.version != r.version)
        })
        .map(|(k, _)| k.clone())
        .collect();
    let removed = before
        .resources
        .keys()
        .filter(|k| !now.contains_key(*k))
        .cloned()
        .collect();
    Delta {
        from: before.version.clone(),
        changed,
        removed,
    }
}
