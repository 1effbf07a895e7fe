//! DestinationRule `loadBalancer` → a cluster's `lb`, with the subset's
//! policy replacing the rule's and a port's replacing either's.

use std::time::Duration;

use weft_proto::config::{ConsistentHash, CookieAttribute, HashCookie, HashKey, HashTable};

use super::*;

const HASHED: &str = "
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }, { name: http-admin, port: 9090 }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: reviews }, weight: 34 }
    - { destination: { host: reviews, subset: v1 }, weight: 33 }
    - { destination: { host: reviews, subset: v2 }, weight: 33 }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: X-User, ringHash: { minimumRingSize: 2048 } } }
    portLevelSettings:
    - port: { number: 9090 }
      loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 251 } } }
  subsets:
  - { name: v1, labels: { version: v1 } }
  - name: v2
    labels: { version: v2 }
    trafficPolicy:
      loadBalancer: { consistentHash: { httpCookie: { name: user, path: /, ttl: 0s } } }
      portLevelSettings:
      - port: { number: 9090 }
        loadBalancer: { simple: ROUND_ROBIN }
";

fn lb(view: &View, port: u16, subset: &str) -> LbPolicy {
    cluster(
        view,
        &format!("outbound|{port}|{subset}|reviews.default.svc.cluster.local"),
    )
    .lb
}

fn hashed(key: HashKey, table: HashTable) -> LbPolicy {
    LbPolicy::ConsistentHash(ConsistentHash {
        key: Some(key),
        table,
    })
}

#[test]
fn consistent_hash_follows_rule_subset_and_port_precedence() {
    let c = compiler(HASHED);
    let view = c.view(&connect_bookinfo(&c));
    let header = hashed(
        HashKey::Header("x-user".into()),
        HashTable::Ring { min_size: 2048 },
    );
    let source_ip = hashed(HashKey::SourceIp, HashTable::Maglev { table_size: 251 });
    // The rule's policy, and its port-level one on 9090.
    assert_eq!(lb(&view, 9080, ""), header);
    assert_eq!(lb(&view, 9090, ""), source_ip);
    // A subset without a policy inherits the rule's.
    assert_eq!(lb(&view, 9080, "v1"), header);
    assert_eq!(lb(&view, 9090, "v1"), source_ip);
    // A subset's policy replaces the rule's whole, port-level included.
    assert_eq!(
        lb(&view, 9080, "v2"),
        hashed(
            HashKey::Cookie(Box::new(HashCookie {
                name: "user".into(),
                path: Some("/".into()),
                ttl: Some(Duration::ZERO),
                attributes: Vec::new(),
            })),
            HashTable::Ring { min_size: 1024 },
        )
    );
    assert_eq!(lb(&view, 9090, "v2"), LbPolicy::RoundRobin);
}

#[test]
fn ring_sizes_and_keys_map_as_istio_does() {
    use weft_api::kinds::istio::ConsistentHashLb;
    let read = |yaml: &str| -> ConsistentHash {
        let ch: ConsistentHashLb = serde_saphyr::from_str(yaml).unwrap();
        super::super::hashing::consistent_hash(&ch)
    };
    let deprecated = read("{httpQueryParameterName: cart, minimumRingSize: 4096}");
    assert_eq!(deprecated.key, Some(HashKey::QueryParameter("cart".into())));
    assert_eq!(deprecated.table, HashTable::Ring { min_size: 4096 });
    let maglev = read("{useSourceIp: false, maglev: {}}");
    assert_eq!(maglev.key, None, "useSourceIp: false hashes nothing");
    assert_eq!(maglev.table, HashTable::Maglev { table_size: 65537 });
    let huge = read("{httpHeaderName: x, ringHash: {minimumRingSize: 100000000}}");
    assert_eq!(
        huge.table,
        HashTable::Ring {
            min_size: 8 * 1024 * 1024
        }
    );
    let attrs = read("{httpCookie: {name: c, ttl: 1s, attributes: [{name: Secure}]}}");
    let Some(HashKey::Cookie(cookie)) = attrs.key else {
        panic!("{attrs:?}")
    };
    assert_eq!(
        cookie.attributes,
        [CookieAttribute {
            name: "Secure".into(),
            value: None
        }]
    );
    let no_ttl = read("{httpCookie: {name: c}}");
    assert_eq!(
        no_ttl.key,
        Some(HashKey::Cookie(Box::new(HashCookie {
            name: "c".into(),
            path: None,
            ttl: None,
            attributes: Vec::new(),
        })))
    );
}
