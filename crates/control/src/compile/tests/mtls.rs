//! Automatic mTLS, PeerAuthentication and DestinationRule `tls`, as the
//! compiler resolves them.

use weft_proto::config::{MtlsMode, PeerAuthentication, UpstreamTlsMode};
use weft_proto::resources::{PEER_AUTHENTICATION, PEER_AUTHENTICATION_NAME};

use super::*;

fn peer_auth(c: &Compiler, labels: &[(&str, &str)], ns: &str) -> PeerAuthentication {
    let view = c.view(&node("x", ns, labels, "198.18.9.9"));
    match decoded(&view, PEER_AUTHENTICATION, PEER_AUTHENTICATION_NAME) {
        Typed::PeerAuthentication(p) => p,
        other => panic!("{other:?}"),
    }
}

const POLICIES: &str = "
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: mesh, namespace: istio-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: db, namespace: db }
spec: { mtls: { mode: PERMISSIVE } }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: reviews }
spec:
  selector: { matchLabels: { app: reviews } }
  portLevelMtls: { '9080': { mode: DISABLE }, '9443': {} }
";

#[test]
fn peer_authentication_resolves_workload_then_namespace_then_mesh() {
    let c = compiler(&format!("{MESH}---{POLICIES}"));
    connect_bookinfo(&c);
    // Mesh-wide STRICT reaches a namespace without its own policy.
    assert_eq!(
        peer_auth(&c, &[("app", "productpage")], "default"),
        PeerAuthentication {
            mode: MtlsMode::Strict,
            ports: Default::default()
        }
    );
    // The namespace's own policy wins over the mesh's.
    assert_eq!(
        peer_auth(&c, &[("app", "mysql")], "db").mode,
        MtlsMode::Permissive
    );
    // The workload policy's UNSET mode inherits STRICT; an UNSET port
    // inherits the workload's mode.
    let reviews = peer_auth(&c, &[("app", "reviews")], "default");
    assert_eq!(reviews.mode, MtlsMode::Strict);
    assert_eq!(
        reviews.ports,
        [(9080, MtlsMode::Disable), (9443, MtlsMode::Strict)].into()
    );
    // Nothing anywhere: Istio's default.
    let bare = compiler(MESH);
    assert_eq!(
        peer_auth(&bare, &[("app", "reviews")], "default"),
        PeerAuthentication::default()
    );
}

#[test]
fn meshed_endpoints_get_identities_unless_their_port_is_disabled() {
    let c = compiler(MESH);
    let page = connect_bookinfo(&c);
    let v1 = cluster(
        &c.view(&page),
        "outbound|9080|v1|reviews.default.svc.cluster.local",
    );
    assert_eq!(
        v1.endpoints[0].identity.as_deref(),
        Some("spiffe://cluster.local/ns/default/sa/default"),
        "a proxy without a service account is `default`"
    );
    assert_eq!(v1.tls, None, "automatic: the proxy decides per endpoint");

    // DISABLE on the port reviews serves: clients send plaintext.
    let c = compiler(&format!("{MESH}---{POLICIES}"));
    let page = connect_bookinfo(&c);
    let v1 = cluster(
        &c.view(&page),
        "outbound|9080|v1|reviews.default.svc.cluster.local",
    );
    assert_eq!(v1.endpoints[0].identity, None);
    let page_cluster = cluster(
        &c.view(&page),
        "outbound|9080||productpage.default.svc.cluster.local",
    );
    assert!(page_cluster.endpoints[0].identity.is_some());

    // The CA's trust domain is the one endpoints must prove.
    c.set_trust_domain("corp.example");
    c.rebuild();
    let v2 = cluster(
        &c.view(&page),
        "outbound|9080|v2|reviews.default.svc.cluster.local",
    );
    assert!(v2.endpoints.iter().all(|e| e.identity.is_none()));
    let page_cluster = cluster(
        &c.view(&page),
        "outbound|9080||productpage.default.svc.cluster.local",
    );
    assert_eq!(
        page_cluster.endpoints[0].identity.as_deref(),
        Some("spiffe://corp.example/ns/default/sa/default")
    );
}

#[test]
fn destination_rule_tls_replaces_automatic_mtls() {
    let c = compiler(&format!(
        "{MESH}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{ name: productpage }}
spec:
  host: productpage
  trafficPolicy:
    tls: {{ mode: DISABLE }}
    portLevelSettings:
    - port: {{ number: 9080 }}
      tls: {{ mode: SIMPLE, sni: page.example.com, caCertificates: /etc/ca.pem }}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{ name: mysql, namespace: db }}
spec:
  host: mysql.db.svc.cluster.local
  trafficPolicy: {{ tls: {{ mode: ISTIO_MUTUAL, sni: ignored }} }}
"
    ));
    let page = connect_bookinfo(&c);
    let view = c.view(&page);
    let tls = cluster(
        &view,
        "outbound|9080||productpage.default.svc.cluster.local",
    )
    .tls
    .unwrap();
    assert_eq!(tls.mode, UpstreamTlsMode::Simple, "the port's setting wins");
    assert_eq!(tls.sni.as_deref(), Some("page.example.com"));
    assert_eq!(
        tls.ca_certificates.as_deref(),
        Some(std::path::Path::new("/etc/ca.pem"))
    );
    let mysql = cluster(&view, "outbound|3306||mysql.db.svc.cluster.local")
        .tls
        .unwrap();
    assert_eq!(mysql.mode, UpstreamTlsMode::IstioMutual);
    assert_eq!(mysql.sni, None, "the mesh's own certificates need no SNI");
}

#[test]
fn a_peer_authentication_change_recompiles_every_cluster() {
    let c = compiler(MESH);
    let page = connect_bookinfo(&c);
    let before = cluster(
        &c.view(&page),
        "outbound|9080|v1|reviews.default.svc.cluster.local",
    );
    assert!(before.endpoints[0].identity.is_some());
    let set = ResourceSet::from_text("m.yaml", &format!("{MESH}---{POLICIES}"));
    c.set_resources(set.resources);
    c.rebuild();
    let after = cluster(
        &c.view(&page),
        "outbound|9080|v1|reviews.default.svc.cluster.local",
    );
    assert_eq!(after.endpoints[0].identity, None);
}

/// `weft control --tracing-otlp-endpoint`: every proxy gets the same
/// `weft.dev/Tracing`, and none once it is turned off.
#[test]
fn mesh_wide_tracing_reaches_every_proxy() {
    use weft_proto::config::{OtlpExporter, OtlpProtocol, Tracing};
    use weft_proto::resources::TRACING;
    let c = compiler(MESH);
    connect_bookinfo(&c);
    let tracing = Tracing {
        otlp: OtlpExporter {
            endpoint: "127.0.0.1:4317".into(),
            protocol: OtlpProtocol::Grpc,
        },
        sampling: 10.0,
        max_path_tag_length: 256,
    };
    c.set_tracing(Some(tracing.clone()));
    c.rebuild();
    for ns in ["default", "db"] {
        let view = c.view(&node("x", ns, &[("app", "x")], "198.18.9.9"));
        match decoded(&view, TRACING, PEER_AUTHENTICATION_NAME) {
            Typed::Tracing(t) => assert_eq!(t, tracing),
            other => panic!("{other:?}"),
        }
    }
    c.set_tracing(None);
    c.rebuild();
    let view = c.view(&node("y", "default", &[], "198.18.9.8"));
    assert!(!view.resources.keys().any(|(t, _)| t == TRACING));
}
