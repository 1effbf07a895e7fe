//! Checks on a cluster's load balancing policy: what Envoy's
//! `RingHashLbConfig`, `MaglevLbConfig` and `RouteAction.HashPolicy`
//! refuse.

use super::route::http_header_name_invalid;
use crate::config::{Cluster, ConfigError, HashKey, HashTable, LbPolicy};

/// Envoy's upper bound for `minimum_ring_size` (and its default
/// `maximum_ring_size`): 8M points.
const RING_MAX: u64 = 8 * 1024 * 1024;

/// Envoy: Maglev table sizes are primes below this.
const MAGLEV_MAX: u64 = 5_000_011;

pub(in crate::config) fn check_lb(path: &str, lb: &LbPolicy, errs: &mut Vec<ConfigError>) {
    let LbPolicy::ConsistentHash(ch) = lb else {
        return;
    };
    let path = format!("{path}.consistent_hash");
    match &ch.key {
        Some(HashKey::Header(name)) if http_header_name_invalid(name) => {
            errs.push(ConfigError::new(
                format!("{path}.key.header"),
                format!("{name:?} is not a valid HTTP header name"),
            ));
        }
        Some(HashKey::Cookie(c)) if http_header_name_invalid(&c.name) => {
            errs.push(ConfigError::new(
                format!("{path}.key.cookie.name"),
                format!(
                    "{:?} is not a valid cookie name; use letters, digits and -_.",
                    c.name
                ),
            ));
        }
        Some(HashKey::Cookie(c))
            if c.path
                .as_deref()
                .is_some_and(|p| !p.bytes().all(|b| b.is_ascii_graphic() && b != b';')) =>
        {
            errs.push(ConfigError::new(
                format!("{path}.key.cookie.path"),
                "a cookie path cannot hold spaces, `;` or control characters; write it like /cart",
            ));
        }
        Some(HashKey::Cookie(c)) => {
            for (i, a) in c.attributes.iter().enumerate() {
                let value_ok = a
                    .value
                    .as_deref()
                    .is_none_or(|v| v.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b';'));
                if http_header_name_invalid(&a.name) || !value_ok {
                    errs.push(ConfigError::new(
                        format!("{path}.key.cookie.attributes[{i}]"),
                        "a cookie attribute is a token name and a value without `;` or control characters, such as SameSite=Strict",
                    ));
                }
            }
        }
        Some(HashKey::QueryParameter(name)) if name.is_empty() => {
            errs.push(ConfigError::new(
                format!("{path}.key.query_parameter"),
                "must not be empty; name the query parameter to hash",
            ));
        }
        _ => {}
    }
    match ch.table {
        HashTable::Ring { min_size } if !(1..=RING_MAX).contains(&min_size) => {
            errs.push(ConfigError::new(
                format!("{path}.table.ring.min_size"),
                format!("{min_size} is out of range; use 1 to {RING_MAX} (default 1024)"),
            ));
        }
        HashTable::Maglev { table_size } if table_size >= MAGLEV_MAX || !is_prime(table_size) => {
            errs.push(ConfigError::new(
                format!("{path}.table.maglev.table_size"),
                format!("{table_size} is not a prime below {MAGLEV_MAX}; use one such as 65537"),
            ));
        }
        _ => {}
    }
}

/// Endpoint localities and locality weights: `region/zone/subzone`
/// without empty parts, and locality weights on every endpoint or none
/// (Envoy weighs whole localities, so a cluster cannot mix the two).
pub(in crate::config) fn check_locality(path: &str, c: &Cluster, errs: &mut Vec<ConfigError>) {
    let weighted = c
        .endpoints
        .iter()
        .filter(|e| e.locality_weight.is_some())
        .count();
    for (j, ep) in c.endpoints.iter().enumerate() {
        let at = format!("{path}.endpoints[{j}]");
        if let Some(loc) = &ep.locality
            && (loc.split('/').count() > 3 || loc.split('/').any(str::is_empty))
        {
            errs.push(ConfigError::new(
                format!("{at}.locality"),
                format!("{loc:?} is not a locality; write it like us-east/us-east-1a or us-east/us-east-1a/rack4"),
            ));
        }
        match ep.locality_weight {
            Some(0) => errs.push(ConfigError::new(
                format!("{at}.locality_weight"),
                "must be at least 1; remove the endpoint to stop sending its locality traffic",
            )),
            None if weighted > 0 => errs.push(ConfigError::new(
                format!("{at}.locality_weight"),
                "is missing while other endpoints of the cluster have one; set it on every endpoint or on none",
            )),
            _ => {}
        }
    }
}

/// Trial division; table sizes are below five million, so at most ~1,100
/// divisions.
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n < 4 {
        return true;
    }
    if n.is_multiple_of(2) {
        return false;
    }
    let mut f = 3u64;
    while f.saturating_mul(f) <= n {
        if n.is_multiple_of(f) {
            return false;
        }
        f += 2;
    }
    true
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::{
        ConsistentHash, CookieAttribute, HashCookie, HashKey, HashTable, LbPolicy, LoadError,
        ProxyConfig,
    };

    fn with_lb(lb: &str) -> Result<ProxyConfig, LoadError> {
        let yaml = format!(
            "listeners: []\nclusters:\n  - name: c\n    lb: {lb}\n    endpoints:\n      - address: 127.0.0.1:9080\n"
        );
        ProxyConfig::from_yaml("proxy.yaml", &yaml)
    }

    fn lb(lb: &str) -> LbPolicy {
        match with_lb(lb) {
            Ok(cfg) => cfg.clusters[0].lb.clone(),
            Err(e) => panic!("{lb}: {e}"),
        }
    }

    fn error(lb: &str) -> String {
        match with_lb(lb) {
            Ok(cfg) => panic!("{lb}: expected an error, got {:?}", cfg.clusters[0].lb),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn simple_policies_stay_plain_strings() {
        assert_eq!(lb("round_robin"), LbPolicy::RoundRobin);
        assert_eq!(lb("least_request"), LbPolicy::LeastRequest);
        let json = serde_json::to_string(&LbPolicy::Random).unwrap();
        assert_eq!(json, "\"random\"");
    }

    #[test]
    fn consistent_hash_reads_keys_and_tables_with_envoy_defaults() {
        assert_eq!(
            lb("{consistent_hash: {key: {header: x-user}}}"),
            LbPolicy::ConsistentHash(ConsistentHash {
                key: Some(HashKey::Header("x-user".into())),
                table: HashTable::Ring { min_size: 1024 },
            })
        );
        assert_eq!(
            lb("{consistent_hash: {key: source_ip, table: {maglev: {}}}}"),
            LbPolicy::ConsistentHash(ConsistentHash {
                key: Some(HashKey::SourceIp),
                table: HashTable::Maglev { table_size: 65537 },
            })
        );
        let cookie = LbPolicy::ConsistentHash(ConsistentHash {
            key: Some(HashKey::Cookie(Box::new(HashCookie {
                name: "session".into(),
                path: Some("/".into()),
                ttl: Some(Duration::from_secs(60)),
                attributes: vec![CookieAttribute {
                    name: "SameSite".into(),
                    value: Some("Lax".into()),
                }],
            }))),
            table: HashTable::Ring { min_size: 2048 },
        });
        assert_eq!(
            lb(
                "{consistent_hash: {key: {cookie: {name: session, path: /, ttl: 1m, attributes: [{name: SameSite, value: Lax}]}}, table: {ring: {min_size: 2048}}}}"
            ),
            cookie
        );
        let json = serde_json::to_string(&cookie).unwrap();
        assert_eq!(serde_json::from_str::<LbPolicy>(&json).unwrap(), cookie);
        assert_eq!(
            lb("{consistent_hash: {}}"),
            LbPolicy::ConsistentHash(ConsistentHash::default())
        );
    }

    #[test]
    fn bad_hash_settings_name_the_field() {
        for (lb, field, why) in [
            (
                "{consistent_hash: {key: {header: 'x user'}}}",
                "clusters[0].consistent_hash.key.header",
                "not a valid HTTP header name",
            ),
            (
                "{consistent_hash: {key: {cookie: {name: ''}}}}",
                "clusters[0].consistent_hash.key.cookie.name",
                "not a valid cookie name",
            ),
            (
                "{consistent_hash: {key: {cookie: {name: c, attributes: [{name: 'a;b'}]}}}}",
                "clusters[0].consistent_hash.key.cookie.attributes[0]",
                "a cookie attribute is a token name",
            ),
            (
                "{consistent_hash: {key: {query_parameter: ''}}}",
                "clusters[0].consistent_hash.key.query_parameter",
                "must not be empty",
            ),
            (
                "{consistent_hash: {table: {ring: {min_size: 0}}}}",
                "clusters[0].consistent_hash.table.ring.min_size",
                "out of range",
            ),
            (
                "{consistent_hash: {table: {maglev: {table_size: 65536}}}}",
                "clusters[0].consistent_hash.table.maglev.table_size",
                "not a prime",
            ),
        ] {
            let e = error(lb);
            assert!(e.contains(field) && e.contains(why), "{lb}: {e}");
        }
        assert!(error("{consistent_hash: {kye: source_ip}}").contains("kye"));
    }

    #[test]
    fn locality_fields_read_and_bad_ones_name_the_field() {
        let yaml =
            |eps: &str| format!("listeners: []\nclusters:\n  - name: c\n    endpoints:\n{eps}");
        let cfg = ProxyConfig::from_yaml(
            "proxy.yaml",
            &yaml("      - {address: 127.0.0.1:1, locality: us/a/r1, priority: 1, locality_weight: 30}\n      - {address: 127.0.0.1:2, locality_weight: 70}\n"),
        )
        .unwrap();
        let ep = &cfg.clusters[0].endpoints[0];
        assert_eq!(
            (ep.locality.as_deref(), ep.priority, ep.locality_weight),
            (Some("us/a/r1"), 1, Some(30))
        );
        // Unset fields stay out of the serialized config.
        let json = serde_json::to_string(&cfg.clusters[0].endpoints[1]).unwrap();
        assert!(
            !json.contains("priority") && !json.contains("locality\""),
            "{json}"
        );
        for (eps, field, why) in [
            (
                "      - {address: 127.0.0.1:1, locality: us//a}\n",
                "clusters[0].endpoints[0].locality",
                "is not a locality",
            ),
            (
                "      - {address: 127.0.0.1:1, locality_weight: 0}\n",
                "clusters[0].endpoints[0].locality_weight",
                "at least 1",
            ),
            (
                "      - {address: 127.0.0.1:1, locality_weight: 5}\n      - {address: 127.0.0.1:2}\n",
                "clusters[0].endpoints[1].locality_weight",
                "on every endpoint or on none",
            ),
        ] {
            let e = ProxyConfig::from_yaml("proxy.yaml", &yaml(eps))
                .map(|_| String::new())
                .unwrap_or_else(|e| e.to_string());
            assert!(e.contains(field) && e.contains(why), "{eps}: {e}");
        }
    }

    #[test]
    fn primes() {
        assert!(super::is_prime(65537) && super::is_prime(2) && super::is_prime(4_999_963));
        assert!(!super::is_prime(65536) && !super::is_prime(1) && !super::is_prime(9));
    }
}
