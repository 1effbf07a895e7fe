use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use weft_api::ResourceSet;

use super::{GatewayProxy, host_port, plan};
use crate::plan::Plan;

const BOOKINFO: &str = include_str!("../../../../samples/bookinfo/bookinfo.yaml");
const IMAGES: &str = include_str!("../../../../samples/bookinfo/local-images.yaml");
const ISTIO_GATEWAY: &str = include_str!("../../../../samples/bookinfo/bookinfo-gateway.yaml");
const KUBE_GATEWAY: &str = include_str!("../../../../samples/gateway-api/bookinfo-gateway.yaml");

fn resources(files: &[(&str, &str)]) -> ResourceSet {
    let mut set = ResourceSet::builder();
    for (name, text) in files {
        set.add_text(name, text);
    }
    set.finish();
    assert!(
        !set.has_errors(),
        "{:?}",
        set.errors().map(|f| f.message.clone()).collect::<Vec<_>>()
    );
    set
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_bookinfo_gateway_gets_istios_ingress_gateway() {
    let set = resources(&[("gw.yaml", ISTIO_GATEWAY)]);
    let plans = plan(&set.resources, &[]);
    assert!(plans.notes.is_empty(), "{:?}", plans.notes);
    assert_eq!(plans.gateways.len(), 1);
    let g = &plans.gateways[0];
    assert_eq!(
        (g.name.as_str(), g.namespace.as_str()),
        ("istio-ingressgateway", "istio-system")
    );
    assert_eq!(g.service_account, "istio-ingressgateway-service-account");
    assert_eq!(
        g.labels,
        labels(&[("istio", "ingressgateway"), ("app", "istio-ingressgateway")])
    );
    assert_eq!(g.ports, [8080]);
    assert_eq!(g.serves, ["default/bookinfo-gateway"]);
}

#[test]
fn gateways_with_one_selector_share_a_proxy_and_a_workload_with_its_labels_is_the_gateway() {
    let second = "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: admin, namespace: ops }
spec:
  selector: { istio: ingressgateway }
  servers:
  - { port: { number: 8080, name: http, protocol: HTTP }, hosts: ['*'] }
  - port: { number: 443, name: https, protocol: HTTPS }
    hosts: ['*']
    tls: { mode: SIMPLE, credentialName: admin-cert }
";
    let set = resources(&[("gw.yaml", ISTIO_GATEWAY), ("admin.yaml", second)]);
    let plans = plan(&set.resources, &[]);
    assert_eq!(plans.gateways.len(), 1);
    assert_eq!(plans.gateways[0].ports, [8080, 443]);
    assert_eq!(
        plans.gateways[0].serves,
        ["default/bookinfo-gateway", "ops/admin"]
    );
    assert_eq!(plans.notes.len(), 1, "{:?}", plans.notes);
    assert!(
        plans.notes[0].contains("admin.yaml")
            && plans.notes[0].contains("credentialName")
            && plans.notes[0].contains("serverCertificate"),
        "{}",
        plans.notes[0]
    );

    // A workload of the files carrying the selector's labels is the
    // gateway: none is added.
    let bin = tempfile::tempdir().unwrap();
    let own = "apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: my-gateway, labels: { istio: ingressgateway } }
spec:
  command: [/bin/true]
";
    let set = resources(&[("gw.yaml", ISTIO_GATEWAY), ("own.yaml", own)]);
    let planned = Plan::from_resources(&set.resources, bin.path()).unwrap();
    assert!(plan(&set.resources, &planned.workloads).gateways.is_empty());
}

#[test]
fn a_gateway_api_gateway_gets_a_proxy_of_its_own_and_other_classes_none() {
    let set = resources(&[("gw.yaml", KUBE_GATEWAY)]);
    let plans = plan(&set.resources, &[]);
    assert_eq!(plans.gateways.len(), 1);
    let g = &plans.gateways[0];
    assert_eq!(
        (g.name.as_str(), g.namespace.as_str()),
        ("bookinfo-gateway-istio", "default")
    );
    assert_eq!(
        g.labels["gateway.networking.k8s.io/gateway-name"],
        "bookinfo-gateway"
    );
    assert_eq!(g.ports, [80]);

    let other = KUBE_GATEWAY.replace("gatewayClassName: istio", "gatewayClassName: envoy");
    let set = resources(&[("gw.yaml", &other)]);
    assert!(plan(&set.resources, &[]).gateways.is_empty());
}

#[test]
fn bookinfo_alone_needs_no_gateway() {
    let set = resources(&[("b.yaml", BOOKINFO), ("i.yaml", IMAGES)]);
    let plans = plan(&set.resources, &[]);
    assert!(plans.gateways.is_empty() && plans.notes.is_empty());
}

#[test]
fn privileged_ports_move_up_without_root() {
    assert_eq!(host_port(80, false), 8080);
    assert_eq!(host_port(443, false), 8443);
    assert_eq!(host_port(80, true), 80);
    assert_eq!(host_port(8080, false), 8080);
}

#[test]
fn the_proxy_config_has_one_gateway_listener_per_port() {
    let set = resources(&[("gw.yaml", ISTIO_GATEWAY)]);
    let plans = plan(&set.resources, &[]);
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let proxy = GatewayProxy {
        plan: &plans.gateways[0],
        listen: vec![(8080, SocketAddr::new(ip, 8080))],
        ip,
        control: "127.0.0.1:15012".parse().unwrap(),
        ca_bundle: "/ca.pem".into(),
        token_file: "/token".into(),
    };
    let config = proxy.config();
    assert_eq!(config.listeners.len(), 1);
    let l = &config.listeners[0];
    assert_eq!(l.direction, weft_proto::config::Direction::Gateway);
    assert_eq!(
        (l.address, l.target_port),
        (SocketAddr::new(ip, 8080), Some(8080))
    );
    let cp = config.control_plane.unwrap();
    assert_eq!(cp.labels["istio"], "ingressgateway");
    assert_eq!(
        cp.node_id.as_deref(),
        Some("istio-ingressgateway.istio-system")
    );
    // The proxy accepts what weft up writes.
    let text = serde_json::to_string(&proxy.config()).unwrap();
    weft_proto::config::ProxyConfig::from_yaml("gateway.yaml", &text).unwrap();
}
