//! Load balancer and locality checks, after Istio's `validateLoadBalancer`
//! and `agent.ValidateLocalityLbSetting`.

use std::collections::{BTreeMap, BTreeSet};

use super::super::super::workload_entry::net;
use super::super::*;
use crate::check::Check;

/// Maglev tables must be prime and below this (Envoy).
const MAGLEV_MAX: u64 = 5_000_011;

/// Topology labels that `failover` already covers.
const TOPOLOGY_LABELS: [&str; 3] = [
    "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone",
    "topology.istio.io/subzone",
];

// === impl LoadBalancerSettings ===

impl LoadBalancerSettings {
    pub(super) fn check(&self, cx: &mut Check<'_>, path: &str, has_outlier: bool) {
        if self.simple.is_some() && self.consistent_hash.is_some() {
            cx.error(
                "load-balancer",
                path,
                "set `simple` or `consistentHash`, not both",
            );
        }
        if let Some(ch) = &self.consistent_hash {
            ch.check(cx, &format!("{path}.consistentHash"));
        }
        if let Some(l) = &self.locality_lb_setting {
            l.check(cx, &format!("{path}.localityLbSetting"), has_outlier);
        }
        if let Some(d) = &self.warmup_duration_secs {
            net::duration(cx, &format!("{path}.warmupDurationSecs"), d);
        }
        if let Some(w) = &self.warmup {
            let at = format!("{path}.warmup");
            match &w.duration {
                Some(d) => net::duration(cx, &format!("{at}.duration"), d),
                None => cx.error(
                    "warmup",
                    &at,
                    "warmup needs `duration`, such as `duration: 60s`",
                ),
            }
            if let Some(p) = w.minimum_percent {
                cx.percentage(format!("{at}.minimumPercent"), p);
            }
            if let Some(a) = w.aggression
                && a < 0.0
            {
                cx.error(
                    "warmup",
                    format!("{at}.aggression"),
                    format!("{a} is negative; use 0 or more (1 ramps linearly)"),
                );
            }
        }
    }
}

// === impl ConsistentHashLb ===

impl ConsistentHashLb {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let keys = [
            self.http_header_name.is_some(),
            self.http_cookie.is_some(),
            self.use_source_ip.is_some(),
            self.http_query_parameter_name.is_some(),
        ];
        match keys.iter().filter(|k| **k).count() {
            1 => {}
            0 => cx.warn(
                "hash-key",
                path,
                "consistentHash has no hash key, so requests are spread as if at random; set one of `httpHeaderName`, `httpCookie`, `useSourceIp` or `httpQueryParameterName`",
            ),
            n => cx.error(
                "hash-key",
                path,
                format!("set exactly one of `httpHeaderName`, `httpCookie`, `useSourceIp` or `httpQueryParameterName` (found {n})"),
            ),
        }
        // Envoy refuses header and cookie names that are not HTTP tokens
        // (`HashPolicy.Header.header_name`), so Istio's push would fail.
        if let Some(h) = &self.http_header_name
            && (h.is_empty() || !h.chars().all(is_token_char))
        {
            cx.error(
                "hash-key",
                format!("{path}.httpHeaderName"),
                format!("{h:?} is not a valid header name; use letters, digits and `-`, such as `x-user`"),
            );
        }
        if self.http_query_parameter_name.as_deref() == Some("") {
            cx.error(
                "hash-key",
                format!("{path}.httpQueryParameterName"),
                "name the query parameter to hash on, such as `user`",
            );
        }
        if let Some(c) = &self.http_cookie {
            if c.name.is_empty() {
                cx.error(
                    "hash-key",
                    format!("{path}.httpCookie.name"),
                    "httpCookie needs `name`, the cookie to hash on",
                );
            } else if !c.name.chars().all(is_token_char) {
                cx.error(
                    "hash-key",
                    format!("{path}.httpCookie.name"),
                    format!(
                        "{:?} is not a valid cookie name; use letters, digits and `-_.`",
                        c.name
                    ),
                );
            }
            if let Some(p) = &c.path
                && !p.chars().all(|ch| ch.is_ascii_graphic() && ch != ';')
            {
                cx.error(
                    "hash-key",
                    format!("{path}.httpCookie.path"),
                    format!("{p:?} cannot be a cookie path: no spaces, `;` or control characters; write it like `/cart`"),
                );
            }
            for (i, a) in c.attributes.iter().enumerate() {
                if a.name.is_empty() {
                    cx.error(
                        "hash-key",
                        format!("{path}.httpCookie.attributes[{i}].name"),
                        "a cookie attribute needs `name`, such as `SameSite`",
                    );
                } else if !a.name.chars().all(is_token_char) {
                    cx.error(
                        "hash-key",
                        format!("{path}.httpCookie.attributes[{i}].name"),
                        format!(
                            "{:?} is not a valid cookie attribute name, such as `SameSite`",
                            a.name
                        ),
                    );
                }
                if let Some(v) = &a.value
                    && !v.chars().all(|ch| (' '..='~').contains(&ch) && ch != ';')
                {
                    cx.error(
                        "hash-key",
                        format!("{path}.httpCookie.attributes[{i}].value"),
                        format!(
                            "{v:?} cannot be a cookie attribute value: no `;` or control characters"
                        ),
                    );
                }
            }
        }
        if self.ring_hash.is_some() && self.maglev.is_some() {
            cx.error(
                "hash-algorithm",
                path,
                "set `ringHash` or `maglev`, not both",
            );
        }
        if self.minimum_ring_size.is_some_and(|n| n != 0) {
            if self.ring_hash.is_some() || self.maglev.is_some() {
                cx.error(
                    "hash-algorithm",
                    format!("{path}.minimumRingSize"),
                    "the deprecated minimumRingSize cannot be combined with `ringHash` or `maglev`; use `ringHash.minimumRingSize`",
                );
            } else {
                cx.warn(
                    "deprecated",
                    format!("{path}.minimumRingSize"),
                    "minimumRingSize is deprecated; use `ringHash: {minimumRingSize: ...}`",
                );
            }
        }
        if let Some(m) = &self.maglev {
            let at = format!("{path}.maglev.tableSize");
            match m.table_size.unwrap_or(0) {
                0 => cx.error(
                    "maglev",
                    at,
                    "maglev needs `tableSize`, a prime below 5000011 such as 65537",
                ),
                n if n >= MAGLEV_MAX => cx.error(
                    "maglev",
                    at,
                    format!("{n} is too large; use a prime below 5000011, such as 65537"),
                ),
                n if !is_prime(n) => cx.error(
                    "maglev",
                    at,
                    format!(
                        "{n} is not a prime number; Maglev needs a prime table size, such as 65537"
                    ),
                ),
                _ => {}
            }
        }
    }
}

/// RFC 9110 `tchar`: what header and cookie names are made of.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// Envoy's primality test (what Istio copies).
fn is_prime(x: u64) -> bool {
    if x != 0 && x < 4 {
        return true;
    }
    if x & 1 == 0 {
        return false;
    }
    let mut f = 3u64;
    while f.saturating_mul(f) <= x {
        if x.is_multiple_of(f) {
            return false;
        }
        f += 2;
    }
    true
}

// === impl LocalityLoadBalancerSetting ===

impl LocalityLoadBalancerSetting {
    fn check(&self, cx: &mut Check<'_>, path: &str, has_outlier: bool) {
        if !self.distribute.is_empty() && !self.failover.is_empty() {
            cx.error("locality", path, "set `distribute` or `failover`, not both");
            return;
        }
        if !self.failover.is_empty()
            && let Some(i) = self
                .failover_priority
                .iter()
                .position(|l| TOPOLOGY_LABELS.contains(&l.as_str()))
        {
            cx.error(
                "locality",
                format!("{path}.failoverPriority[{i}]"),
                format!("`failover` already orders by region, zone and subzone; remove {:?} or `failover`", self.failover_priority[i]),
            );
            return;
        }
        let mut from = Vec::new();
        for (i, d) in self.distribute.iter().enumerate() {
            let at = format!("{path}.distribute[{i}]");
            from.push((format!("{at}.from"), d.from.as_str()));
            let mut total = 0u64;
            for (loc, w) in &d.to {
                if !(1..=100).contains(w) {
                    cx.error(
                        "locality",
                        net::key_path(&format!("{at}.to"), loc),
                        format!("weight {w} is out of range; use 1 to 100"),
                    );
                    return;
                }
                total += u64::from(*w);
            }
            if total != 100 {
                cx.error(
                    "locality",
                    format!("{at}.to"),
                    format!("weights sum to {total}, must sum to 100"),
                );
                return;
            }
            let to: Vec<_> =
                d.to.keys()
                    .map(|loc| (net::key_path(&format!("{at}.to"), loc), loc.as_str()))
                    .collect();
            localities(cx, &to);
        }
        localities(cx, &from);
        if (!self.failover.is_empty() || !self.failover_priority.is_empty()) && !has_outlier {
            cx.warn("locality", path, "failover only happens once outlier detection marks endpoints unhealthy; add `outlierDetection` to the policy");
        }
        for (i, f) in self.failover.iter().enumerate() {
            let at = format!("{path}.failover[{i}]");
            if f.from == f.to {
                cx.error("locality", &at, "failover `from` and `to` are the same region; name a different region to fail over to");
            }
            if f.from.contains('/') || f.to.contains('/') {
                cx.error("locality", &at, "failover names regions only (no `/zone`); use e.g. `from: us-east`, `to: eu-west`");
            }
            if f.from.contains('*') || f.to.contains('*') {
                cx.error(
                    "locality",
                    &at,
                    "failover regions cannot contain `*`; name the regions",
                );
            }
        }
    }
}

/// Istio `validateLocalities`: `region[/zone[/subzone]]`, one trailing `*`
/// at most, no two entries covering the same place. Stops at the first
/// problem, as Istio does.
fn localities(cx: &mut Check<'_>, list: &[(String, &str)]) {
    let mut seen: BTreeMap<&str, BTreeMap<&str, BTreeSet<&str>>> = BTreeMap::new();
    for (path, loc) in list {
        let stars = loc.matches('*').count();
        if stars > 1 || (stars == 1 && !loc.ends_with('*')) {
            cx.error(
                "locality",
                path,
                format!("locality {loc:?} may hold one `*`, at its end, such as `us-west/*`"),
            );
            return;
        }
        let parts: Vec<&str> = loc.splitn(3, '/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            cx.error("locality", path, format!("locality {loc:?} has an empty part; write `region`, `region/zone` or `region/zone/subzone`"));
            return;
        }
        let overlap = seen.contains_key("*")
            || match parts[..] {
                [region] => seen
                    .insert(region, BTreeMap::from([("*", BTreeSet::from(["*"]))]))
                    .is_some(),
                [region, zone] => {
                    let zones = seen.entry(region).or_default();
                    zones.contains_key("*") || zones.insert(zone, BTreeSet::from(["*"])).is_some()
                }
                [region, zone, sub] => {
                    let zones = seen.entry(region).or_default();
                    zones.contains_key("*") || {
                        let subs = zones.entry(zone).or_default();
                        subs.contains("*") || !subs.insert(sub)
                    }
                }
                _ => false,
            };
        if overlap {
            cx.error(
                "locality",
                path,
                format!("locality {loc:?} overlaps one listed before it; list each place once"),
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_prime;

    #[test]
    fn primes_like_envoy() {
        assert!(is_prime(65537));
        assert!(is_prime(2));
        assert!(!is_prime(65536));
        assert!(!is_prime(9));
        assert!(is_prime(1_000_003));
    }
}
