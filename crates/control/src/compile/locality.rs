//! Istio locality load balancing: a cluster's endpoints ranked (priority)
//! or weighed (locality weight) from the calling proxy's locality, as
//! Istio's `loadbalancer.ApplyLocalityLoadBalancer` does for Envoy.
//!
//! Istio's mesh default turns locality load balancing on
//! (`localityLbSetting.enabled: true`); a DestinationRule's setting
//! replaces it, and `enabled: false` turns it off. Then:
//! - `distribute`: the first entry whose `from` matches the caller splits
//!   traffic over the `to` localities by weight (each locality's share
//!   divided among the localities one pattern matches by their endpoint
//!   weights); endpoints in no `to` locality get none.
//! - otherwise, only when outlier detection is on (without it Envoy would
//!   never see a priority fail): priorities. `failoverPriority` ranks by
//!   how many of the listed labels, in order, match the caller's; with
//!   none (or with `failover` too) by locality: same region, zone and
//!   subzone 0, same zone 1, same region 2, other regions 3, with
//!   `failover` putting regions other than the `from` region's `to` at 4.
//!   Ranks are then renumbered 0..n without gaps.

use std::collections::{BTreeMap, BTreeSet};

use weft_api::kinds::istio::{
    LoadBalancerSettings, LocalityDistribute, LocalityFailover, LocalityLoadBalancerSetting,
};
use weft_proto::config::Endpoint;

use super::routes::Caller;
use crate::model::{Instance, TOPOLOGY_LABELS, locality_of};

/// What of a caller a cluster's locality load balancing depends on: its
/// locality and the labels `failoverPriority` names. Part of the cache
/// key of a cluster compiled per caller.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    locality: Locality,
    labels: BTreeMap<String, String>,
}

/// `region/zone/subzone`; missing parts are empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Locality {
    region: String,
    zone: String,
    subzone: String,
}

/// The locality load balancing a cluster gets.
#[derive(Debug, Clone, Copy)]
pub(super) enum Mode<'a> {
    Distribute(&'a [LocalityDistribute]),
    Failover {
        failover: &'a [LocalityFailover],
        priority: &'a [String],
    },
}

/// Istio's mesh default `localityLbSetting`: enabled, nothing else.
static MESH_DEFAULT: LocalityLoadBalancerSetting = LocalityLoadBalancerSetting {
    distribute: Vec::new(),
    failover: Vec::new(),
    failover_priority: Vec::new(),
    enabled: None,
};

// === impl Mode ===

impl<'a> Mode<'a> {
    /// The mode for a cluster's merged `loadBalancer` and whether it has
    /// outlier detection; `None`: every endpoint stays at priority 0.
    pub(super) fn of(lb: Option<&'a LoadBalancerSettings>, outlier: bool) -> Option<Self> {
        let setting = match lb.and_then(|l| l.locality_lb_setting.as_ref()) {
            Some(s) if s.enabled == Some(false) => return None,
            Some(s) => s,
            None => &MESH_DEFAULT,
        };
        if !setting.distribute.is_empty() {
            return Some(Self::Distribute(&setting.distribute));
        }
        outlier.then_some(Self::Failover {
            failover: &setting.failover,
            priority: &setting.failover_priority,
        })
    }

    /// What of `caller` this mode reads.
    pub(super) fn origin(&self, caller: &Caller) -> Origin {
        let locality = Locality::parse(
            locality_of(|k| caller.labels.get(k))
                .as_deref()
                .unwrap_or(""),
        );
        let labels = match self {
            Self::Failover { priority, .. } => {
                let augmented = augment(&caller.labels, &locality);
                priority
                    .iter()
                    .filter_map(|p| {
                        let name = p.split('=').next().unwrap_or(p);
                        Some((name.to_string(), augmented.get(name)?.clone()))
                    })
                    .collect()
            }
            Self::Distribute(_) => BTreeMap::new(),
        };
        Origin { locality, labels }
    }

    /// Ranks or weighs `endpoints` (each with its instance) for a caller
    /// at `origin`.
    pub(super) fn apply(&self, origin: &Origin, endpoints: &mut Vec<(Endpoint, &Instance)>) {
        match *self {
            Self::Distribute(rules) => distribute(rules, &origin.locality, endpoints),
            Self::Failover { failover, priority } => {
                let ranks: Vec<u32> = endpoints
                    .iter()
                    .map(|(_, inst)| {
                        let at = Locality::parse(inst.locality.as_deref().unwrap_or(""));
                        if priority.is_empty() {
                            return by_locality(&origin.locality, &at, failover);
                        }
                        let labelled = by_labels(origin, priority, &augment(&inst.labels, &at));
                        if failover.is_empty() {
                            labelled
                        } else {
                            labelled * 5 + by_locality(&origin.locality, &at, failover)
                        }
                    })
                    .collect();
                // Envoy priorities run 0..n without gaps.
                let dense: BTreeSet<u32> = ranks.iter().copied().collect();
                for ((ep, _), rank) in endpoints.iter_mut().zip(ranks) {
                    ep.priority = dense.range(..rank).count() as u32;
                }
            }
        }
    }
}

// === impl Locality ===

impl Locality {
    fn parse(s: &str) -> Self {
        let mut parts = s.splitn(3, '/').map(str::to_string);
        Self {
            region: parts.next().unwrap_or_default(),
            zone: parts.next().unwrap_or_default(),
            subzone: parts.next().unwrap_or_default(),
        }
    }

    /// Istio `util.LocalityMatch`: `*` or an omitted part matches any.
    fn matches(&self, pattern: &str) -> bool {
        let p = Self::parse(pattern);
        let part = |rule: &str, have: &str, optional: bool| {
            rule == "*" || (optional && rule.is_empty()) || rule == have
        };
        part(&p.region, &self.region, false)
            && part(&p.zone, &self.zone, true)
            && part(&p.subzone, &self.subzone, true)
    }
}

/// Istio `util.LbPriority` with the `failover` region mapping.
fn by_locality(caller: &Locality, ep: &Locality, failover: &[LocalityFailover]) -> u32 {
    if caller.region == ep.region {
        return match (caller.zone == ep.zone, caller.subzone == ep.subzone) {
            (true, true) => 0,
            (true, false) => 1,
            (false, _) => 2,
        };
    }
    match failover.iter().find(|f| f.from == caller.region) {
        Some(f) if f.to != ep.region => 4,
        _ => 3,
    }
}

/// Istio `applyFailoverPriorityPerLocality`: 0 when every listed label
/// matches, else `n - j` for the first label `j` that does not. A listed
/// `key=value` compares the endpoint's label with `value` instead of the
/// caller's.
fn by_labels(origin: &Origin, priority: &[String], ep: &BTreeMap<String, String>) -> u32 {
    let n = priority.len();
    for (j, p) in priority.iter().enumerate() {
        let (name, want) = match p.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (
                p.as_str(),
                origin.labels.get(p.as_str()).map(String::as_str),
            ),
        };
        if want != ep.get(name).map(String::as_str) {
            return (n - j) as u32;
        }
    }
    0
}

/// Istio `applyLocalityWeights`: the first rule whose `from` matches
/// gives each `to` locality's weight to the localities it matches (split
/// by their endpoint weights, rounded up); endpoints it does not reach
/// are dropped.
fn distribute(
    rules: &[LocalityDistribute],
    caller: &Locality,
    endpoints: &mut Vec<(Endpoint, &Instance)>,
) {
    let Some(rule) = rules.iter().find(|r| caller.matches(&r.from)) else {
        return;
    };
    // Locality → its endpoint weight, then its locality weight.
    let mut groups: BTreeMap<String, (u64, Option<u32>)> = BTreeMap::new();
    for (ep, _) in endpoints.iter() {
        let key = ep.locality.clone().unwrap_or_default();
        groups.entry(key).or_default().0 += u64::from(ep.weight);
    }
    for (pattern, weight) in &rule.to {
        let hits: Vec<String> = groups
            .iter()
            .filter(|(loc, (_, set))| set.is_none() && Locality::parse(loc).matches(pattern))
            .map(|(loc, _)| loc.clone())
            .collect();
        let total: u64 = hits.iter().map(|l| groups[l].0).sum();
        for loc in hits {
            if let Some(g) = groups.get_mut(&loc) {
                let share = (g.0 * u64::from(*weight)).div_ceil(total.max(1));
                g.1 = Some(u32::try_from(share.max(1)).unwrap_or(u32::MAX));
            }
        }
    }
    endpoints.retain_mut(|(ep, _)| {
        let key = ep.locality.clone().unwrap_or_default();
        ep.locality_weight = groups.get(&key).and_then(|g| g.1);
        ep.locality_weight.is_some()
    });
}

/// Labels with the topology labels of `at` added where missing, as Istio
/// augments both endpoint and proxy labels before matching
/// `failoverPriority`.
fn augment(labels: &BTreeMap<String, String>, at: &Locality) -> BTreeMap<String, String> {
    let mut out = labels.clone();
    for (name, value) in TOPOLOGY_LABELS
        .iter()
        .zip([&at.region, &at.zone, &at.subzone])
    {
        if !value.is_empty() {
            out.entry(name.to_string()).or_insert_with(|| value.clone());
        }
    }
    out
}
