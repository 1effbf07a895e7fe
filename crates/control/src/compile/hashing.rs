//! DestinationRule `loadBalancer.consistentHash` → the proxy's
//! consistent-hash policy, as Istio's `ApplyConsistentHash` and
//! `consistentHashToHashPolicy` turn it into Envoy's RING_HASH / MAGLEV
//! cluster and route hash policy.

use weft_api::kinds::istio::ConsistentHashLb;
use weft_proto::config::{ConsistentHash, CookieAttribute, HashCookie, HashKey, HashTable};

/// Envoy's default and upper bound for a ring's minimum size.
const RING_DEFAULT: u64 = 1024;
const RING_MAX: u64 = 8 * 1024 * 1024;
/// Envoy's default Maglev table size.
const MAGLEV_DEFAULT: u64 = 65537;

/// The proxy policy for `ch`. Validation has refused more than one hash
/// key or both algorithms; should they still come, the first wins.
pub(super) fn consistent_hash(ch: &ConsistentHashLb) -> ConsistentHash {
    ConsistentHash {
        key: key(ch),
        table: table(ch),
    }
}

fn key(ch: &ConsistentHashLb) -> Option<HashKey> {
    if let Some(h) = ch.http_header_name.as_deref().filter(|h| !h.is_empty()) {
        // Header names are case-insensitive; Envoy keeps them lowercase.
        return Some(HashKey::Header(h.to_ascii_lowercase()));
    }
    if let Some(c) = &ch.http_cookie {
        return Some(HashKey::Cookie(Box::new(HashCookie {
            name: c.name.clone(),
            path: c.path.clone().filter(|p| !p.is_empty()),
            // Istio passes ttl on as it is: present (even 0s, a session
            // cookie) means the proxy generates a missing cookie.
            ttl: c.ttl.as_ref().map(|t| t.0),
            attributes: c
                .attributes
                .iter()
                .map(|a| CookieAttribute {
                    name: a.name.clone(),
                    value: a.value.clone(),
                })
                .collect(),
        })));
    }
    // `useSourceIp: false` sets Envoy's `source_ip: false`, which hashes
    // nothing: requests are spread at random.
    if ch.use_source_ip == Some(true) {
        return Some(HashKey::SourceIp);
    }
    ch.http_query_parameter_name
        .as_deref()
        .filter(|q| !q.is_empty())
        .map(|q| HashKey::QueryParameter(q.to_string()))
}

/// `maglev` (its `tableSize`, else Envoy's default); else a ring of
/// `ringHash.minimumRingSize`, the deprecated top-level `minimumRingSize`,
/// or Envoy's default. Zero means unset, as in Istio.
fn table(ch: &ConsistentHashLb) -> HashTable {
    if let Some(m) = &ch.maglev {
        return HashTable::Maglev {
            table_size: m.table_size.filter(|n| *n != 0).unwrap_or(MAGLEV_DEFAULT),
        };
    }
    let min_size = ch
        .ring_hash
        .as_ref()
        .and_then(|r| r.minimum_ring_size)
        .or(ch.minimum_ring_size)
        .filter(|n| *n != 0)
        .unwrap_or(RING_DEFAULT)
        // Envoy refuses larger rings; the ring is as large as it can be.
        .min(RING_MAX);
    HashTable::Ring { min_size }
}
