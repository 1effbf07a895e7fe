//! Golden tests: every conformance file (`../shared/conformance`), compiled
//! with the platform of its sample (its Services and Deployments), gives a
//! stable per-proxy config. One proxy per Deployment is connected (in
//! transparent mode, at addresses from 198.18.0.0/15); the snapshot is the
//! view of the sample's natural caller (productpage for bookinfo, else the
//! first Deployment), as YAML.
//!
//! A change in what weft compiles shows up as a snapshot diff to review:
//! `INSTA_UPDATE=always cargo test -p weft-control --test golden`, then
//! read the diff before committing it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use weft_api::kinds::Spec;
use weft_api::{Resource, ResourceSet};
use weft_control::compile::Compiler;
use weft_control::views::Views;
use weft_proto::config::{Cluster, InboundPort, Service};
use weft_proto::discovery::Node;
use weft_proto::resources::Typed;

fn conformance() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    assert!(
        dir.is_dir(),
        "{} is missing: the conformance inputs live in ../shared",
        dir.display()
    );
    dir
}

/// The files that describe what a config file runs on: its sample's
/// Services and Deployments, and for bookinfo the DestinationRules Istio's
/// tasks apply first (`destination-rule-all.yaml`).
fn platform(root: &Path, file: &Path) -> Vec<PathBuf> {
    let rel = file
        .strip_prefix(root)
        .unwrap()
        .to_string_lossy()
        .to_string();
    let ps: &[&str] = if rel.starts_with("istio/bookinfo/") || rel.starts_with("seeds/") {
        &[
            "istio/bookinfo/platform/bookinfo.yaml",
            "istio/bookinfo/networking/destination-rule-all.yaml",
        ]
    } else if rel.starts_with("istio/helloworld/") {
        &["istio/helloworld/helloworld.yaml"]
    } else if rel.starts_with("istio/httpbin/") {
        &["istio/httpbin/httpbin.yaml"]
    } else if rel.starts_with("istio/tcp-echo/") {
        &["istio/tcp-echo/tcp-echo-services.yaml"]
    } else if rel.starts_with("linkerd/booksapp/") {
        &["linkerd/booksapp/booksapp.yml"]
    } else {
        &[]
    };
    ps.iter().map(|p| root.join(p)).collect()
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The resources of `file` over those of its platform (a resource in both
/// is the file's).
fn resources(root: &Path, file: &Path) -> Vec<Arc<Resource>> {
    let load = |p: &Path| {
        let set = ResourceSet::load_paths(&[p]);
        assert!(
            !set.has_errors(),
            "{}: {:?}",
            p.display(),
            set.errors().collect::<Vec<_>>()
        );
        set.resources
    };
    let mine = load(file);
    let mut out: Vec<Arc<Resource>> = Vec::new();
    for p in platform(root, file).into_iter().filter(|p| p != file) {
        out.extend(
            load(&p)
                .into_iter()
                .filter(|r| !mine.iter().any(|m| m.key() == r.key())),
        );
    }
    out.extend(mine);
    out
}

/// One connected proxy per Deployment, as a pod of it would introduce
/// itself.
fn proxies(resources: &[Arc<Resource>]) -> Vec<Node> {
    resources
        .iter()
        .filter_map(|r| match &r.spec {
            Spec::Deployment(d) => Some((r, d)),
            _ => None,
        })
        .enumerate()
        .map(|(i, (r, d))| Node {
            id: format!("{}-0", r.name()),
            workload: r.name().to_string(),
            namespace: r.namespace().to_string(),
            labels: d
                .template
                .metadata
                .labels
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<HashMap<_, _>>(),
            service_account: d.template.spec.service_account().to_string(),
            addresses: vec![format!("198.18.0.{}", i + 10)],
            transparent_inbound: true,
            ..Node::default()
        })
        .collect()
}

/// The caller whose view is the snapshot.
fn caller(nodes: &[Node]) -> Node {
    nodes
        .iter()
        .find(|n| n.labels.get("app").map(String::as_str) == Some("productpage"))
        .or(nodes.first())
        .cloned()
        .unwrap_or_else(|| Node {
            id: "client-0".into(),
            workload: "client".into(),
            namespace: "default".into(),
            ..Node::default()
        })
}

#[derive(Serialize)]
struct Snapshot {
    caller: String,
    services: Vec<Service>,
    clusters: Vec<Cluster>,
    inbound: Vec<InboundPort>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<weft_proto::config::AuthorizationPolicy>,
    /// Only when not Istio's default (PERMISSIVE everywhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    peer_authentication: Option<weft_proto::config::PeerAuthentication>,
    /// What the proxy running the file's Gateway serves, if it has one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gateway_servers: Vec<weft_proto::config::GatewayServer>,
}

/// The proxy that runs the file's first Gateway (Istio's, by its
/// selector; Gateway API's, by Istio's gateway-name label), if any.
fn gateway(resources: &[Arc<Resource>]) -> Option<Node> {
    let (ns, labels) = resources.iter().find_map(|r| match &r.spec {
        Spec::Gateway(g) => Some((r.namespace(), g.selector.clone())),
        Spec::KubeGateway(_) => Some((
            r.namespace(),
            [(
                "gateway.networking.k8s.io/gateway-name".to_string(),
                r.name().to_string(),
            )]
            .into(),
        )),
        _ => None,
    })?;
    Some(Node {
        id: "gateway-0".into(),
        workload: "gateway".into(),
        namespace: ns.to_string(),
        labels: labels.into_iter().collect(),
        service_account: "gateway".into(),
        addresses: vec!["198.18.1.1".into()],
        listeners: vec![weft_proto::discovery::ListenerInfo {
            name: "http".into(),
            address: "127.0.0.1:8080".into(),
            direction: "gateway".into(),
            interception: "explicit".into(),
            protocol: "detect".into(),
        }],
        ..Node::default()
    })
}

fn compile(root: &Path, file: &Path) -> String {
    let resources = resources(root, file);
    let nodes = proxies(&resources);
    let gateway = gateway(&resources);
    let compiler = Compiler::new(resources);
    for n in nodes.iter().chain(&gateway) {
        compiler.proxy_connected(n);
    }
    compiler.rebuild();
    let me = caller(&nodes);
    let view = compiler.view(&me);
    let mut snap = Snapshot {
        caller: format!("{}.{}", me.workload, me.namespace),
        services: Vec::new(),
        clusters: Vec::new(),
        inbound: Vec::new(),
        policies: Vec::new(),
        peer_authentication: None,
        gateway_servers: Vec::new(),
    };
    for r in view.resources.values() {
        match Typed::decode(r).unwrap() {
            Typed::Service(s) => snap.services.push(s),
            Typed::Cluster(c) => snap.clusters.push(c),
            Typed::Inbound(i) => snap.inbound.push(i),
            Typed::Authorization(a) => snap.policies.push(a),
            // Only a gateway gets them (below).
            Typed::GatewayServer(_) => {}
            Typed::TrustRoots(_) | Typed::Tracing(_) | Typed::AccessLog(_) => {}
            Typed::PeerAuthentication(p) => {
                snap.peer_authentication = (p != Default::default()).then_some(p)
            }
        }
    }
    // The config the proxy would run must be one it accepts.
    let typed: Vec<Typed> = view
        .resources
        .values()
        .map(|r| Typed::decode(r).unwrap())
        .collect();
    // With a control plane: meshed endpoints are reached over mTLS.
    let base = weft_proto::config::ProxyConfig::from_yaml(
        "base.yaml",
        "listeners: []\ncontrol_plane: { address: \"127.0.0.1:15012\", ca_bundle: root-cert.pem }",
    )
    .unwrap();
    let composed = weft_proto::resources::compose(&base, &typed).unwrap();
    let errors = composed.validate();
    assert!(
        errors.is_empty(),
        "{}: the compiled config does not validate: {errors:?}",
        file.display()
    );
    // The gateway's servers, and that its config is one it accepts too.
    if let Some(gw) = &gateway {
        let view = compiler.view(gw);
        let typed: Vec<Typed> = view
            .resources
            .values()
            .map(|r| Typed::decode(r).unwrap())
            .collect();
        let composed = weft_proto::resources::compose(&base, &typed).unwrap();
        let errors = composed.validate();
        assert!(
            errors.is_empty(),
            "{}: the gateway's config does not validate: {errors:?}",
            file.display()
        );
        snap.gateway_servers = composed.gateway_servers;
        snap.gateway_servers.sort_by_key(|g| g.port);
    }
    serde_saphyr::to_string(&snap).unwrap()
}

#[test]
fn every_conformance_file_compiles_to_a_stable_config() {
    let root = conformance();
    let mut names = BTreeMap::new();
    for dir in ["istio", "linkerd", "seeds/valid"] {
        for file in files(&root.join(dir)) {
            let first = compile(&root, &file);
            assert_eq!(
                first,
                compile(&root, &file),
                "{}: compiling twice differs",
                file.display()
            );
            let name = file
                .strip_prefix(&root)
                .unwrap()
                .with_extension("")
                .to_string_lossy()
                .replace('/', "__");
            names.insert(name, first);
        }
    }
    assert!(names.len() >= 40, "only {} files", names.len());
    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for (name, text) in &names {
            insta::assert_snapshot!(name.as_str(), text);
        }
    });
}
