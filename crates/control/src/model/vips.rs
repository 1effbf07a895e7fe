//! Virtual IPs for services that have none, so that apps in `weft up`'s
//! transparent pods can call them by name: the runtime writes each pod's
//! `/etc/hosts` from these, and the sidecar's outbound capture recognises
//! the original destination. Kubernetes gives every Service a ClusterIP;
//! Istio's DNS proxy auto-allocates addresses for ServiceEntries the same
//! way.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::ServiceModel;

/// Addresses of one IPv4 block, handed out to services by name and kept
/// for as long as the service exists.
#[derive(Debug, Clone)]
pub struct VipPool {
    base: u32,
    size: u32,
    assigned: BTreeMap<String, Ipv4Addr>,
}

impl VipPool {
    /// A pool over `net/prefix` (e.g. 198.19.0.0/16). The block's first
    /// and last addresses are never handed out.
    pub fn new(net: Ipv4Addr, prefix: u8) -> Self {
        let size = 1u32 << (32 - u32::from(prefix.clamp(8, 30)));
        Self {
            base: u32::from(net) & !(size - 1),
            size,
            assigned: BTreeMap::new(),
        }
    }

    /// Whether `ip` lies in this pool's block.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & !(self.size - 1) == self.base
    }

    /// Gives each service without a VIP (and with a name, not a wildcard)
    /// its address: the one it had, else one picked by a hash of its name
    /// (so a restart with the same files gives the same addresses), probing
    /// on past taken ones. Forgets services that are gone.
    pub fn assign(&mut self, services: &mut BTreeMap<String, Arc<ServiceModel>>) {
        self.assigned
            .retain(|name, _| services.get(name).is_some_and(|s| s.vips.is_empty()));
        let mut taken: BTreeSet<u32> = self.assigned.values().map(|ip| u32::from(*ip)).collect();
        // Addresses services were given in their own resources.
        for s in services.values() {
            for ip in &s.vips {
                if let IpAddr::V4(v4) = ip
                    && self.contains(*v4)
                {
                    taken.insert(u32::from(*v4));
                }
            }
        }
        for (name, svc) in services.iter_mut() {
            if !svc.vips.is_empty() || name.starts_with('*') {
                continue;
            }
            let ip = match self.assigned.get(name) {
                Some(ip) => *ip,
                None => {
                    let Some(ip) = self.pick(name, &taken) else {
                        tracing::warn!(service = %name, "no virtual IP left in the pool; the service is reachable by explicit proxy only");
                        continue;
                    };
                    taken.insert(u32::from(ip));
                    self.assigned.insert(name.clone(), ip);
                    ip
                }
            };
            Arc::make_mut(svc).vips.push(IpAddr::V4(ip));
        }
    }

    fn pick(&self, name: &str, taken: &BTreeSet<u32>) -> Option<Ipv4Addr> {
        // Usable offsets are 1..size-1 (not the block's first or last).
        let usable = self.size - 2;
        let start = fnv1a(name) % usable;
        (0..usable)
            .map(|i| self.base + 1 + (start + i) % usable)
            .find(|a| !taken.contains(a))
            .map(Ipv4Addr::from)
    }
}

/// FNV-1a: a small, stable hash (std's hashers are randomly seeded).
fn fnv1a(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, vips: &[&str]) -> (String, Arc<ServiceModel>) {
        (
            name.to_string(),
            Arc::new(ServiceModel {
                fqdn: name.to_string(),
                short_name: None,
                namespace: "default".into(),
                vips: vips.iter().map(|v| v.parse().unwrap()).collect(),
                ports: vec![],
                selector: None,
                endpoints: vec![],
            }),
        )
    }

    fn vip(services: &BTreeMap<String, Arc<ServiceModel>>, name: &str) -> Option<IpAddr> {
        services[name].vips.first().copied()
    }

    #[test]
    fn services_keep_their_address_and_never_share_one() {
        let mut pool = VipPool::new(Ipv4Addr::new(198, 19, 0, 0), 16);
        let mut services: BTreeMap<_, _> = [
            svc("a.default.svc.cluster.local", &[]),
            svc("b.default.svc.cluster.local", &[]),
            svc("fixed.default.svc.cluster.local", &["10.0.0.7"]),
            svc("*.example.com", &[]),
        ]
        .into();
        pool.assign(&mut services);
        let a = vip(&services, "a.default.svc.cluster.local").unwrap();
        let b = vip(&services, "b.default.svc.cluster.local").unwrap();
        assert_ne!(a, b);
        for ip in [a, b] {
            let IpAddr::V4(v4) = ip else { panic!() };
            assert!(pool.contains(v4), "{ip}");
        }
        assert_eq!(services["fixed.default.svc.cluster.local"].vips.len(), 1);
        assert!(services["*.example.com"].vips.is_empty());

        // A rebuild (fresh models) gives the same addresses, and a new
        // service a different one.
        let mut again: BTreeMap<_, _> = [
            svc("a.default.svc.cluster.local", &[]),
            svc("b.default.svc.cluster.local", &[]),
            svc("c.default.svc.cluster.local", &[]),
        ]
        .into();
        pool.assign(&mut again);
        assert_eq!(vip(&again, "a.default.svc.cluster.local"), Some(a));
        assert_eq!(vip(&again, "b.default.svc.cluster.local"), Some(b));
        let c = vip(&again, "c.default.svc.cluster.local").unwrap();
        assert!(c != a && c != b);

        // Another pool (a restart) picks the same address for a name.
        let mut fresh = VipPool::new(Ipv4Addr::new(198, 19, 0, 0), 16);
        let mut one: BTreeMap<_, _> = [svc("a.default.svc.cluster.local", &[])].into();
        fresh.assign(&mut one);
        assert_eq!(vip(&one, "a.default.svc.cluster.local"), Some(a));
    }

    #[test]
    fn a_full_pool_leaves_services_without_an_address() {
        // A /30 has two usable addresses.
        let mut pool = VipPool::new(Ipv4Addr::new(198, 19, 0, 0), 30);
        let mut services: BTreeMap<_, _> = (0..3).map(|i| svc(&format!("s{i}"), &[])).collect();
        pool.assign(&mut services);
        let given: BTreeSet<IpAddr> = services.values().flat_map(|s| s.vips.clone()).collect();
        assert_eq!(
            given,
            ["198.19.0.1", "198.19.0.2"]
                .map(|s| s.parse().unwrap())
                .into()
        );
    }
}
