use std::net::SocketAddr;
use std::sync::Arc;

use http::Request;
use weft_proto::config::{Direction, Interception, Listener, ListenerProtocol, ProxyConfig};

use super::*;
use crate::listen::{ConnCtx, ListenerRt};
use crate::state::ProxyState;

const CONFIG: &str = "
listeners: []
services:
  - name: reviews.default.svc.cluster.local
    hosts: [reviews]
    addresses: [198.18.0.10]
    ports:
      - port: 9080
        routes:
          - name: jason
            match:
              - headers:
                  - { name: end-user, value: { exact: jason } }
            backends: [{ cluster: v2 }]
            timeout: 500ms
          - name: api
            match:
              - path: { prefix: /api/ }
                method: POST
              - path: { regex: \"/v[0-9]+/.*\" }
            backends: [{ cluster: v3 }]
          - name: default
            backends: [{ cluster: v1 }]
  - name: db.default.svc.cluster.local
    addresses: [198.18.0.11]
    ports:
      - port: 3306
        protocol: tcp
        cluster: v1
inbound:
  - port: 9080
clusters:
  - { name: v1, endpoints: [{ address: 127.0.0.1:1001 }] }
  - { name: v2, endpoints: [{ address: 127.0.0.1:1002 }] }
  - { name: v3, endpoints: [{ address: 127.0.0.1:1003 }] }
";

fn setup(
    yaml_extra: &str,
    direction: Direction,
    orig_dst: Option<&str>,
) -> (Arc<ConnCtx>, Arc<Snapshot>) {
    let cfg = ProxyConfig::from_yaml("t.yaml", &format!("{CONFIG}{yaml_extra}")).unwrap();
    let state = Arc::new(ProxyState::new(cfg).unwrap());
    let listener = Listener {
        name: "l".into(),
        address: "127.0.0.1:0".parse().unwrap(),
        direction,
        interception: if orig_dst.is_some() {
            Interception::Transparent
        } else {
            Interception::Explicit
        },
        protocol: ListenerProtocol::Detect,
        detect_timeout: std::time::Duration::from_millis(100),
        opaque_ports: vec![],
        destination: None,
        target_port: None,
        app_address: None,
        tls: None,
    };
    let (_signal, watch) = drain::channel();
    let snap = state.snapshot();
    let ctx = Arc::new(ConnCtx {
        state,
        listener: Arc::new(ListenerRt::new(&listener)),
        peer: "127.0.0.1:5555".parse().unwrap(),
        orig_dst: orig_dst.map(|a| a.parse().unwrap()),
        identity: None,
        peer_labels: None,
        client_tls: false,
        drain: watch,
        peer_meta: Default::default(),
    });
    (ctx, snap)
}

fn target_port(d: &Decision) -> u16 {
    match &d.target {
        Target::Cluster(c) => c.balancer.endpoints()[0].addr.port(),
        Target::Addr(a) => a.port(),
        Target::Resolve(_, p) => *p,
        Target::Local => 0,
    }
}

#[test]
fn first_matching_route_wins() {
    let (ctx, snap) = setup("", Direction::Outbound, None);
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], u16);
    let cases: &[Case<'_>] = &[
        ("GET", "/", &[], 1001),
        ("GET", "/", &[("end-user", "jason")], 1002),
        ("GET", "/", &[("end-user", "jasonx")], 1001),
        ("POST", "/api/x", &[], 1003),
        ("GET", "/api/x", &[], 1001),
        ("GET", "/v2/x", &[], 1003),
        ("GET", "/vx/x", &[], 1001),
        // Rule order beats specificity: jason's rule comes first.
        ("POST", "/api/x", &[("end-user", "jason")], 1002),
    ];
    for (method, path, headers, want) in cases {
        let mut req = Request::builder()
            .method(*method)
            .uri(*path)
            .header("host", "reviews:9080");
        for (k, v) in *headers {
            req = req.header(*k, *v);
        }
        let req = req.body(()).unwrap();
        let d = decide(&snap, &ctx, &req).unwrap();
        assert_eq!(target_port(&d), *want, "{method} {path} {headers:?}");
        assert_eq!(&*d.service.service, "reviews.default.svc.cluster.local");
    }
}

#[test]
fn route_timeout_comes_with_the_decision() {
    let (ctx, snap) = setup("", Direction::Outbound, None);
    let req = Request::get("/")
        .header("host", "reviews:9080")
        .header("end-user", "jason")
        .body(())
        .unwrap();
    let d = decide(&snap, &ctx, &req).unwrap();
    assert_eq!(d.timeout, Some(std::time::Duration::from_millis(500)));
}

#[test]
fn hosts_match_case_insensitively_and_need_the_right_port() {
    let (ctx, snap) = setup("", Direction::Outbound, None);
    for host in ["REVIEWS:9080", "reviews.default.svc.cluster.local:9080"] {
        let req = Request::get("/").header("host", host).body(()).unwrap();
        assert_eq!(
            target_port(&decide(&snap, &ctx, &req).unwrap()),
            1001,
            "{host}"
        );
    }
    // reviews:80 is not a port of the service: passthrough (allow_any).
    let req = Request::get("/")
        .header("host", "reviews")
        .body(())
        .unwrap();
    let d = decide(&snap, &ctx, &req).unwrap();
    assert!(
        matches!(d.target, Target::Resolve(ref h, 80) if h == "reviews"),
        "{d:?}"
    );
}

#[test]
fn absolute_form_uris_win_over_host() {
    let (ctx, snap) = setup("", Direction::Outbound, None);
    let req = Request::get("http://reviews:9080/")
        .header("host", "elsewhere")
        .body(())
        .unwrap();
    assert_eq!(target_port(&decide(&snap, &ctx, &req).unwrap()), 1001);
}

#[test]
fn registry_only_refuses_unknown_hosts_with_no_route() {
    let (ctx, snap) = setup(
        "outbound_policy: registry_only\n",
        Direction::Outbound,
        None,
    );
    let req = Request::get("/")
        .header("host", "example.com")
        .body(())
        .unwrap();
    let err = decide(&snap, &ctx, &req).unwrap_err();
    assert_eq!(err.flag(), crate::errors::ResponseFlag::NR);
    assert_eq!(err.status(), http::StatusCode::NOT_FOUND);
}

#[test]
fn transparent_requests_fall_back_to_the_virtual_ip() {
    let (ctx, snap) = setup("", Direction::Outbound, Some("198.18.0.10:9080"));
    let req = Request::get("/")
        .header("host", "some-alias")
        .body(())
        .unwrap();
    assert_eq!(target_port(&decide(&snap, &ctx, &req).unwrap()), 1001);

    let (ctx, snap) = setup("", Direction::Outbound, Some("10.1.2.3:8080"));
    let d = decide(&snap, &ctx, &req).unwrap();
    assert!(
        matches!(d.target, Target::Addr(a) if a == "10.1.2.3:8080".parse::<SocketAddr>().unwrap())
    );
}

#[test]
fn tcp_routes_by_virtual_ip_and_connect_authority() {
    let (ctx, snap) = setup("", Direction::Outbound, Some("198.18.0.11:3306"));
    assert_eq!(
        target_port(&crate::tcp::decide_tcp(&snap, &ctx, None, None).unwrap()),
        1001
    );

    let (ctx, snap) = setup("", Direction::Outbound, None);
    let d = crate::tcp::decide_tcp(&snap, &ctx, Some(("reviews", 9080)), None).unwrap();
    assert_eq!(target_port(&d), 1001, "catch-all route's backend");
    let d = crate::tcp::decide_tcp(&snap, &ctx, Some(("198.18.0.11", 3306)), None).unwrap();
    assert_eq!(target_port(&d), 1001);
    assert!(
        crate::tcp::decide_tcp(&snap, &ctx, None, None).is_err(),
        "explicit listener, no destination"
    );
}

#[test]
fn inbound_goes_to_the_declared_port_or_the_same_local_port() {
    let (ctx, snap) = setup("", Direction::Inbound, Some("198.18.0.20:9080"));
    let req = Request::get("/").body(()).unwrap();
    let d = decide(&snap, &ctx, &req).unwrap();
    assert!(
        matches!(&d.target, Target::Cluster(c) if c.balancer.endpoints()[0].addr == "127.0.0.1:9080".parse().unwrap())
    );

    let (ctx, snap) = setup("", Direction::Inbound, Some("198.18.0.20:7070"));
    let d = decide(&snap, &ctx, &req).unwrap();
    assert!(
        matches!(d.target, Target::Addr(a) if a == "127.0.0.1:7070".parse::<SocketAddr>().unwrap())
    );
}

#[test]
fn weights_split_traffic() {
    let yaml = "
listeners: []
services:
  - name: s
    ports:
      - port: 80
        routes:
          - backends: [{ cluster: a, weight: 90 }, { cluster: b, weight: 10 }]
clusters:
  - { name: a, endpoints: [{ address: 127.0.0.1:1 }] }
  - { name: b, endpoints: [{ address: 127.0.0.1:2 }] }
";
    let cfg = ProxyConfig::from_yaml("t.yaml", yaml).unwrap();
    let state = ProxyState::new(cfg).unwrap();
    let snap = state.snapshot();
    let sp = snap.services.by_host("s", 80).unwrap();
    let n = 10_000;
    let a = (0..n)
        .filter(|_| &*sp.routes[0].pick_backend().unwrap().name == "a")
        .count();
    let share = a as f64 / n as f64;
    assert!((0.88..=0.92).contains(&share), "{share}");
}

#[test]
fn only_routes_with_actions_carry_them() {
    let yaml = "
listeners: []
services:
  - name: s
    ports:
      - port: 80
        routes:
          - match: [{ path: { prefix: /moved } }]
            redirect: { path: /new }
          - match: [{ path: { prefix: /edited } }]
            backends: [{ cluster: a, headers: { request: { set: [[x-a, '1']] } } }]
          - backends: [{ cluster: a }]
clusters:
  - { name: a, endpoints: [{ address: 127.0.0.1:1 }] }
";
    let cfg = ProxyConfig::from_yaml("t.yaml", yaml).unwrap();
    let state = ProxyState::new(cfg).unwrap();
    let snap = state.snapshot();
    let sp = snap.services.by_host("s", 80).unwrap();
    // (path, answered locally, carries actions)
    for (path, local, carries) in [
        ("/moved/x", true, true),
        ("/edited", false, true),
        ("/plain", false, false),
    ] {
        let req = Request::get(path).body(()).unwrap();
        let (target, actions) = select(&sp.routes, &req, "http")
            .unwrap()
            .dispatch(&req, 80)
            .unwrap();
        assert_eq!(matches!(target, Target::Local), local, "{path}");
        assert_eq!(actions.is_some(), carries, "{path}");
    }
}

/// Property: for any weights, each backend's share of 10,000 picks is
/// its weight's share within 2 points (4 standard deviations at worst).
/// Weight sets and picks come from fixed seeds, so a failure reproduces.
#[test]
fn every_weight_set_is_honoured_within_two_points_over_ten_thousand_requests() {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    // The picks use this thread's generator: seeded too, so the test
    // gives the same answer every run.
    fastrand::seed(0xb1a5);
    for case in 0..25 {
        let n_backends = rng.usize(2..=5);
        let weights: Vec<u32> = (0..n_backends).map(|_| rng.u32(1..=100)).collect();
        let backends: Vec<String> = weights
            .iter()
            .enumerate()
            .map(|(i, w)| format!("{{ cluster: c{i}, weight: {w} }}"))
            .collect();
        let clusters: Vec<String> = (0..n_backends)
            .map(|i| {
                format!(
                    "  - {{ name: c{i}, endpoints: [{{ address: 127.0.0.1:{} }}] }}",
                    i + 1
                )
            })
            .collect();
        let yaml = format!(
            "listeners: []\nservices:\n  - name: s\n    ports:\n      - port: 80\n        routes:\n          - backends: [{}]\nclusters:\n{}\n",
            backends.join(", "),
            clusters.join("\n")
        );
        let cfg = ProxyConfig::from_yaml("t.yaml", &yaml).unwrap();
        let state = ProxyState::new(cfg).unwrap();
        let snap = state.snapshot();
        let sp = snap.services.by_host("s", 80).unwrap();
        let n = 10_000;
        let mut counts = vec![0usize; n_backends];
        for _ in 0..n {
            let name = &sp.routes[0].pick_backend().unwrap().name;
            let i: usize = name.trim_start_matches('c').parse().unwrap();
            counts[i] += 1;
        }
        let total: u32 = weights.iter().sum();
        for (i, (&w, &c)) in weights.iter().zip(&counts).enumerate() {
            let want = w as f64 * 100.0 / total as f64;
            let got = c as f64 * 100.0 / n as f64;
            assert!(
                (got - want).abs() <= 2.0,
                "case {case}: backend {i} of weights {weights:?} got {got:.2}%, want {want:.2}% ± 2"
            );
        }
    }
}
