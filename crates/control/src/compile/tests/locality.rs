//! DestinationRule `localityLbSetting` and Istio's default locality
//! failover: endpoint priorities and locality weights from the calling
//! proxy's locality.

use super::*;

const REGION: &str = "topology.kubernetes.io/region";
const ZONE: &str = "topology.kubernetes.io/zone";
const SUBZONE: &str = "topology.istio.io/subzone";

fn mesh(traffic_policy: &str) -> String {
    format!(
        "
apiVersion: v1
kind: Service
metadata: {{ name: reviews }}
spec: {{ selector: {{ app: reviews }}, ports: [{{ name: http, port: 9080 }}] }}
---
apiVersion: v1
kind: Service
metadata: {{ name: productpage }}
spec: {{ selector: {{ app: productpage }}, ports: [{{ name: http, port: 9080 }}] }}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {{ name: reviews-vm }}
spec: {{ address: 198.18.0.6, labels: {{ app: reviews, version: v1 }}, locality: eu/x }}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{ name: reviews }}
spec:
  host: reviews
  trafficPolicy: {traffic_policy}
"
    )
}

/// Reviews in us/a/s1 (.3, v1), us/a/s2 (.4, v2), us/b (.5, v1), eu/x
/// (.6, the WorkloadEntry, v1) and ap/y (.7, v2, `istio-locality`).
fn connect_reviews(c: &Compiler) {
    let r = |id: &str, addr: &str, version: &str, place: &[(&'static str, &'static str)]| {
        let mut labels = vec![("app", "reviews"), ("version", version)];
        labels.extend_from_slice(place);
        node(id, "default", &labels, addr)
    };
    for n in [
        r(
            "r1",
            "198.18.0.3",
            "v1",
            &[(REGION, "us"), (ZONE, "a"), (SUBZONE, "s1")],
        ),
        r(
            "r2",
            "198.18.0.4",
            "v2",
            &[(REGION, "us"), (ZONE, "a"), (SUBZONE, "s2")],
        ),
        r("r3", "198.18.0.5", "v1", &[(REGION, "us"), (ZONE, "b")]),
        r("r4", "198.18.0.7", "v2", &[("istio-locality", "ap.y")]),
    ] {
        c.proxy_connected(&n);
    }
    c.rebuild();
}

/// The reviews cluster a productpage at `place` gets: last address octet
/// → (priority, locality weight).
fn seen_from(c: &Compiler, id: &str, place: &[(&str, &str)]) -> Vec<(u8, u32, Option<u32>)> {
    let mut labels = vec![("app", "productpage"), ("version", "v1")];
    labels.extend_from_slice(place);
    let page = node(id, "default", &labels, "198.18.0.2");
    c.proxy_connected(&page);
    c.rebuild();
    let view = c.view(&page);
    let cl = cluster(&view, "outbound|9080||reviews.default.svc.cluster.local");
    cl.endpoints
        .iter()
        .map(|e| {
            let octet = match e.address.ip() {
                std::net::IpAddr::V4(ip) => ip.octets()[3],
                std::net::IpAddr::V6(_) => 0,
            };
            (octet, e.priority, e.locality_weight)
        })
        .collect()
}

const IN_US_A_S1: &[(&str, &str)] = &[(REGION, "us"), (ZONE, "a"), (SUBZONE, "s1")];

fn priorities(policy: &str, place: &[(&str, &str)]) -> Vec<(u8, u32)> {
    let c = compiler(&mesh(policy));
    connect_reviews(&c);
    seen_from(&c, "page", place)
        .into_iter()
        .map(|(o, p, w)| {
            assert_eq!(w, None);
            (o, p)
        })
        .collect()
}

#[test]
fn outlier_detection_turns_on_failover_by_region_zone_and_subzone() {
    let policy = "{ outlierDetection: { consecutive5xxErrors: 3 } }";
    assert_eq!(
        priorities(policy, IN_US_A_S1),
        vec![(3, 0), (4, 1), (5, 2), (6, 3), (7, 3)]
    );
    // Another caller, another ranking: the VM's region first; the
    // locality may also come from `istio-locality`.
    assert_eq!(
        priorities(policy, &[("istio-locality", "eu.x")]),
        vec![(3, 1), (4, 1), (5, 1), (6, 0), (7, 1)]
    );
    // A caller without a locality shares no region with any of them.
    assert_eq!(
        priorities(policy, &[]),
        vec![(3, 0), (4, 0), (5, 0), (6, 0), (7, 0)]
    );
}

#[test]
fn endpoints_carry_their_locality() {
    let c = compiler(&mesh("{ outlierDetection: {} }"));
    connect_reviews(&c);
    let page = node("page", "default", &[("app", "productpage")], "198.18.0.2");
    c.proxy_connected(&page);
    c.rebuild();
    let cl = cluster(
        &c.view(&page),
        "outbound|9080||reviews.default.svc.cluster.local",
    );
    let localities: Vec<_> = cl.endpoints.iter().map(|e| e.locality.as_deref()).collect();
    assert_eq!(
        localities,
        [
            Some("us/a/s1"),
            Some("us/a/s2"),
            Some("us/b"),
            Some("eu/x"),
            Some("ap/y")
        ]
    );
}

#[test]
fn without_outlier_detection_or_when_disabled_everything_is_priority_0() {
    for policy in [
        "{ loadBalancer: { simple: ROUND_ROBIN } }",
        "{ loadBalancer: { localityLbSetting: { failover: [{ from: us, to: eu }] } } }",
        "{ outlierDetection: {}, loadBalancer: { localityLbSetting: { enabled: false } } }",
    ] {
        assert!(
            priorities(policy, IN_US_A_S1).iter().all(|(_, p)| *p == 0),
            "{policy}"
        );
    }
}

#[test]
fn failover_sends_other_regions_behind_the_named_one() {
    let policy = "{ outlierDetection: {}, loadBalancer: { localityLbSetting: { failover: [{ from: us, to: ap }] } } }";
    assert_eq!(
        priorities(policy, IN_US_A_S1),
        vec![(3, 0), (4, 1), (5, 2), (6, 4), (7, 3)]
    );
    // Failover only applies to callers in its `from` region.
    assert_eq!(
        priorities(policy, &[(REGION, "eu"), (ZONE, "x")]),
        vec![(3, 1), (4, 1), (5, 1), (6, 0), (7, 1)]
    );
}

#[test]
fn failover_priority_ranks_by_matching_labels_in_order() {
    let policy = "{ outlierDetection: {}, loadBalancer: { localityLbSetting: { failoverPriority: [version, topology.kubernetes.io/zone] } } }";
    // .3 matches both; .5 and .6 the version only; .4 and .7 neither.
    assert_eq!(
        priorities(policy, IN_US_A_S1),
        vec![(3, 0), (4, 2), (5, 1), (6, 1), (7, 2)]
    );
    // `name=value` asks for that value whatever the caller has.
    let policy = "{ outlierDetection: {}, loadBalancer: { localityLbSetting: { failoverPriority: [version=v2] } } }";
    assert_eq!(
        priorities(policy, IN_US_A_S1),
        vec![(3, 1), (4, 0), (5, 1), (6, 1), (7, 0)]
    );
    // With `failover` too: labels first, locality within.
    let policy = "{ outlierDetection: {}, loadBalancer: { localityLbSetting: { failoverPriority: [version], failover: [{ from: us, to: ap }] } } }";
    // (Istio: label rank × 5 + locality rank, renumbered.)
    assert_eq!(
        priorities(policy, IN_US_A_S1),
        vec![(3, 0), (4, 3), (5, 1), (6, 2), (7, 4)]
    );
}

#[test]
fn distribute_weighs_localities_and_drops_the_rest() {
    let policy = "{ loadBalancer: { localityLbSetting: { distribute: [{ from: eu/*, to: { eu/*: 100 } }, { from: us/a/*, to: { us/a/*: 80, eu/*: 20 } }] } } }";
    let c = compiler(&mesh(policy));
    connect_reviews(&c);
    // us/a/s1 and us/a/s2 share 80 (one endpoint each); eu/x has 20; us/b
    // and ap/y get nothing. No outlier detection needed.
    assert_eq!(
        seen_from(&c, "page", IN_US_A_S1),
        vec![(3, 0, Some(40)), (4, 0, Some(40)), (6, 0, Some(20))]
    );
    // A caller no rule matches keeps every endpoint, unweighted.
    assert_eq!(
        seen_from(&c, "page-b", &[(REGION, "us"), (ZONE, "b")])
            .iter()
            .map(|e| e.2)
            .collect::<Vec<_>>(),
        vec![None; 5]
    );
}

#[test]
fn callers_in_different_localities_get_their_own_ranking_in_one_generation() {
    let c = compiler(&mesh("{ outlierDetection: {} }"));
    connect_reviews(&c);
    let us = seen_from(&c, "page-1", IN_US_A_S1);
    let ap = seen_from(&c, "page-2", &[(REGION, "ap"), (ZONE, "y")]);
    assert_eq!((us[0], us[4]), ((3, 0, None), (7, 3, None)));
    assert_eq!((ap[0], ap[4]), ((3, 1, None), (7, 0, None)));
    // The first caller's view still holds its own ranking.
    assert_eq!(seen_from(&c, "page-1", IN_US_A_S1), us);
}
