use std::collections::HashMap;

use weft_api::ResourceSet;
use weft_api::protocol::Protocol;

use super::*;

fn node(id: &str, ns: &str, labels: &[(&str, &str)], addr: &str, explicit: &[(u32, u32)]) -> Node {
    Node {
        id: id.into(),
        workload: id.into(),
        namespace: ns.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<HashMap<_, _>>(),
        addresses: vec![addr.into()],
        inbound_ports: explicit.iter().copied().collect(),
        ..Node::default()
    }
}

fn mesh(yaml: &str, proxies: &[Node]) -> Mesh {
    let set = ResourceSet::from_text("m.yaml", yaml);
    assert!(!set.has_errors(), "{:?}", set.findings);
    Mesh::build(Arc::new(set.resources), proxies)
}

const YAML: &str = "
apiVersion: v1
kind: Service
metadata: { name: reviews, namespace: bookinfo }
spec:
  clusterIP: 10.96.0.7
  selector: { app: reviews }
  ports:
  - { name: http, port: 9080, targetPort: 9090 }
  - { name: grpc-admin, port: 9443, targetPort: admin }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ext, namespace: bookinfo }
spec:
  hosts: [api.example.com, db.example.com]
  addresses: [240.0.0.1]
  ports: [{ number: 443, name: https, protocol: HTTPS }]
  resolution: STATIC
  endpoints: [{ address: 203.0.113.9 }]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: vm-1, namespace: bookinfo }
spec:
  address: 198.18.5.5
  labels: { app: reviews, version: v3 }
";

#[test]
fn services_come_from_kubernetes_and_each_service_entry_host() {
    let m = mesh(YAML, &[]);
    let names: Vec<&str> = m.services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "api.example.com",
            "db.example.com",
            "reviews.bookinfo.svc.cluster.local"
        ]
    );
    let reviews = &m.services["reviews.bookinfo.svc.cluster.local"];
    assert_eq!(reviews.vips, ["10.96.0.7".parse::<IpAddr>().unwrap()]);
    assert_eq!(reviews.ports[0].protocol, Protocol::Http);
    assert_eq!(reviews.ports[0].target, Target::Port(9090));
    assert_eq!(reviews.ports[1].protocol, Protocol::Grpc);
    assert_eq!(reviews.ports[1].target, Target::Named("admin".into()));
    let api = &m.services["api.example.com"];
    assert_eq!(
        (api.ports[0].protocol, api.endpoints.len()),
        (Protocol::Tls, 1)
    );
}

#[test]
fn selection_uses_namespace_and_every_label() {
    let proxies = [
        node(
            "r1",
            "bookinfo",
            &[("app", "reviews"), ("version", "v1")],
            "198.18.0.10",
            &[],
        ),
        node("r2", "other", &[("app", "reviews")], "198.18.0.11", &[]),
        node(
            "p1",
            "bookinfo",
            &[("app", "productpage")],
            "198.18.0.12",
            &[],
        ),
    ];
    let m = mesh(YAML, &proxies);
    let reviews = m.services["reviews.bookinfo.svc.cluster.local"].clone();
    let mut found: Vec<String> = m
        .instances_of(&reviews)
        .iter()
        .map(|i| i.address.to_string())
        .collect();
    found.sort();
    assert_eq!(
        found,
        ["198.18.0.10", "198.18.5.5"],
        "same namespace only; the VM's WorkloadEntry counts"
    );
    let v1: BTreeMap<String, String> = [
        ("app".into(), "reviews".into()),
        ("version".into(), "v1".into()),
    ]
    .into();
    assert_eq!(m.select("bookinfo", &v1).count(), 1);
}

#[test]
fn explicit_sidecars_are_dialed_on_their_proxy_port() {
    let m = mesh(
        "",
        &[node("r1", "default", &[], "127.0.0.1", &[(9080, 41001)])],
    );
    let inst = &m.instances[0];
    assert_eq!(inst.dial(9080).to_string(), "127.0.0.1:41001");
    assert!(inst.is_meshed(9080));
    assert_eq!(
        inst.dial(7000).to_string(),
        "127.0.0.1:7000",
        "a port no listener fronts"
    );
    assert!(!inst.is_meshed(7000));
}
