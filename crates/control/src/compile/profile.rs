//! Linkerd ServiceProfiles (`linkerd.io/v1alpha2`), as client sidecars
//! carry them out for outbound HTTP (linkerd.io "Service Profiles",
//! "Per-Route Metrics", "Configuring Retries", "Configuring Timeouts").
//!
//! A profile is named by its service's FQDN and lives in the service's
//! namespace, or in a client's namespace: there it takes precedence for
//! that client (linkerd.io "Setting Up Service Profiles"). Each route
//! becomes a proxy route, in order: its condition the match blocks, its
//! name the per-route metrics label, its `timeout` the route timeout
//! (Linkerd's default 10 s, retries included; 504 when it runs out), and
//! `isRetryable` retries of the failures its response classes name (5xx
//! by default), bounded by the profile's `retryBudget`. Requests no route
//! matches go to the service as without a profile. `dstOverrides` send
//! the traffic to the weighted services they name, as Linkerd carries out
//! a TrafficSplit.

mod conditions;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use weft_api::kinds::Spec;
use weft_api::kinds::linkerd::{RouteSpec, ServiceProfile};
use weft_api::{Resource, host};
use weft_proto::config::{Backend, HttpRoute, RetryBudget, RetryOn, RetryPolicy, RouteMetrics};

use super::gateway::use_cluster;
use super::route_actions::default_retries;
use super::routes::{Caller, ClusterRef};
use super::split::Split;
use crate::model::{Mesh, PortModel, ServiceModel};

/// Linkerd's route timeout when a route sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Retries after the first try on a retryable route. Linkerd sets no
/// count: its retry budget alone bounds retries. weft's retry policy
/// needs one; 10 is high enough that the budget (20% more load plus 10 a
/// second by default) and the route timeout are what stop a failing
/// service's retries, as in Linkerd.
pub const RETRY_ATTEMPTS: u32 = 10;

/// Envoy's default back-off base between tries.
const BACKOFF: Duration = Duration::from_millis(25);

/// A ServiceProfile and where it lives.
#[derive(Debug, Clone, Copy)]
pub struct Profile<'a> {
    pub profile: &'a ServiceProfile,
    pub namespace: &'a str,
}

/// ServiceProfiles by (namespace, name): the name is the service's FQDN.
pub fn index(resources: &[Arc<Resource>]) -> HashMap<(String, String), usize> {
    let mut out = HashMap::new();
    for (i, r) in resources.iter().enumerate() {
        if let Spec::ServiceProfile(_) = &r.spec {
            out.entry((r.namespace().to_string(), r.name().to_string()))
                .or_insert(i);
        }
    }
    out
}

/// The profile for `svc` as `caller` sees it: the one in the caller's
/// namespace, else the one in the service's.
pub fn for_caller<'a>(
    resources: &'a [Arc<Resource>],
    index: &HashMap<(String, String), usize>,
    svc: &ServiceModel,
    caller: &Caller,
) -> Option<Profile<'a>> {
    [&caller.namespace, &svc.namespace]
        .into_iter()
        .find_map(|ns| index.get(&(ns.clone(), svc.fqdn.clone())))
        .and_then(|i| resources.get(*i))
        .and_then(|r| match &r.spec {
            Spec::ServiceProfile(profile) => Some(Profile {
                profile,
                namespace: r.namespace(),
            }),
            _ => None,
        })
}

// === impl Profile ===

impl Profile<'_> {
    /// The routes of an HTTP port (or a detecting one: its HTTP), in the
    /// profile's order, then the default route; `split` is the service's
    /// TrafficSplit, whose backends the routes use when the profile has no
    /// `dstOverrides` (Linkerd writes a split into the profile's).
    pub fn http_routes(
        &self,
        svc: &ServiceModel,
        port: &PortModel,
        split: Option<&Split<'_>>,
        mesh: &Mesh,
        clusters: &mut Vec<ClusterRef>,
    ) -> Vec<HttpRoute> {
        let backends = self.backends(svc, port, split, mesh, clusters);
        let mut out: Vec<HttpRoute> = self
            .profile
            .routes
            .iter()
            .filter_map(|r| route(r, &backends, svc))
            .collect();
        out.push(HttpRoute {
            backends,
            retries: Some(default_retries()),
            ..HttpRoute::default()
        });
        out
    }

    /// The service's retry budget (Linkerd's defaults without one).
    pub fn retry_budget(&self) -> RetryBudget {
        match &self.profile.retry_budget {
            Some(b) => RetryBudget {
                ratio: b.retry_ratio,
                min_per_second: b.min_retries_per_second,
                ttl: b.ttl.map_or(RetryBudget::default().ttl, |t| t.0),
            },
            None => RetryBudget::default(),
        }
    }

    fn backends(
        &self,
        svc: &ServiceModel,
        port: &PortModel,
        split: Option<&Split<'_>>,
        mesh: &Mesh,
        clusters: &mut Vec<ClusterRef>,
    ) -> Vec<Backend> {
        let mut out = Vec::new();
        for d in self
            .profile
            .dst_overrides
            .iter()
            .filter(|d| d.weight.milli > 0)
        {
            let (host, p) = match d.authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<u16>().ok()),
                None => (d.authority.as_str(), None),
            };
            let fqdn = host::fqdn(host, self.namespace);
            let Some(target) = mesh.services.get(&fqdn) else {
                tracing::warn!(service = %svc.fqdn, authority = %d.authority, "ServiceProfile dstOverrides names no mesh service: left out");
                continue;
            };
            // Without a port, the one the client called (or the only one).
            let port = p.unwrap_or(match target.ports.as_slice() {
                [only] => only.port,
                _ => port.port,
            });
            let cref = ClusterRef {
                fqdn,
                port,
                subset: None,
            };
            out.push(Backend {
                cluster: use_cluster(cref, clusters),
                weight: u32::try_from(d.weight.milli).unwrap_or(u32::MAX),
                ..Backend::default()
            });
        }
        if !out.is_empty() {
            return out;
        }
        if let Some(s) = split {
            return s.route(port, mesh, clusters).backends;
        }
        let cref = ClusterRef::default_for(svc, port.port);
        vec![Backend {
            cluster: use_cluster(cref, clusters),
            weight: 1,
            ..Backend::default()
        }]
    }
}

/// One profile route; `None` when its condition cannot be carried out
/// (loading warns) or matches nothing.
fn route(r: &RouteSpec, backends: &[Backend], svc: &ServiceModel) -> Option<HttpRoute> {
    let matches = match conditions::route_matches(r.condition.as_ref()?) {
        Ok(m) if !m.is_empty() => m,
        Ok(_) => return None,
        Err(why) => {
            tracing::warn!(service = %svc.fqdn, route = %r.name, "ServiceProfile route left out: {why}");
            return None;
        }
    };
    let failures = conditions::failures(&r.response_classes);
    Some(HttpRoute {
        name: Some(r.name.clone()),
        matches,
        backends: backends.to_vec(),
        timeout: Some(r.timeout.map_or(DEFAULT_TIMEOUT, |t| t.0)),
        retries: r
            .is_retryable
            .then(|| retry_policy(failures.as_deref()))
            .flatten(),
        metrics: Some(RouteMetrics {
            name: r.name.clone(),
            failures,
        }),
        ..HttpRoute::default()
    })
}

/// Retries of what the response classes call failures: 5xx (Envoy's
/// `5xx`, which also retries resets and refused connections), else those
/// statuses (and refused connections, which never reached the service).
fn retry_policy(failures: Option<&[weft_proto::config::StatusRange]>) -> Option<RetryPolicy> {
    let (retry_on, status_codes) = match failures {
        None => (vec![RetryOn::FiveXx], Vec::new()),
        Some(f) if conditions::is_5xx(f) => (vec![RetryOn::FiveXx], Vec::new()),
        Some([]) => return None,
        Some(f) => (
            vec![RetryOn::RetriableStatusCodes, RetryOn::ConnectFailure],
            f.iter().flat_map(|r| r.min..=r.max).collect(),
        ),
    };
    Some(RetryPolicy {
        attempts: RETRY_ATTEMPTS,
        per_try_timeout: None,
        retry_on,
        status_codes,
        backoff: BACKOFF,
    })
}
