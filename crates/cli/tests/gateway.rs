//! The ingress gateway with real processes: `weft control` with Istio's
//! bookinfo gateway and its VirtualService (unchanged from Istio's
//! samples), a gateway `weft-proxy`, and productpage's sidecar in front of
//! an app. HTTP through the gateway reaches the app; HTTPS terminates at
//! the gateway with a certificate from files and is verified by the
//! client; the hop into the mesh is mTLS with the gateway's identity; a
//! host or path the gateway does not serve gets 404 `NR`. A Gateway API
//! Gateway with its HTTPRoute (Istio's bookinfo gateway-api sample) routes
//! too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use http::StatusCode;
use weft_testkit::control::ControlProcess;
use weft_testkit::{PATIENCE, eventually, metrics, servers};

use support::bookinfo::{TD, inbound_sidecar, sum, weft};
use support::gateway::*;

const SEED: &str = "../../../shared/conformance/istio/bookinfo/networking/bookinfo-gateway.yaml";
const HOST: &str = "bookinfo.example.com";
const INGRESS_SA: &str = "istio-ingressgateway-service-account";

/// productpage on 9080, served by the app at `app_port`.
fn productpage(app_port: u16) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata: {{ name: productpage, namespace: default }}
spec:
  selector: {{ app: productpage }}
  ports: [{{ name: http, port: 9080, targetPort: {app_port} }}]
"
    )
}

/// HTTPS for `bookinfo.example.com` on 443 with the certificate's files
/// (Istio's SIMPLE mode), bound to the same ingress gateway.
fn https(cert: &Certificate) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {{ name: bookinfo-https, namespace: default }}
spec:
  selector: {{ istio: ingressgateway }}
  servers:
  - port: {{ number: 443, name: https, protocol: HTTPS }}
    hosts: [{HOST}]
    tls: {{ mode: SIMPLE, serverCertificate: \"{}\", privateKey: \"{}\" }}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: bookinfo-https, namespace: default }}
spec:
  hosts: [{HOST}]
  gateways: [bookinfo-https]
  http:
  - match: [{{ uri: {{ exact: /productpage }} }}]
    route: [{{ destination: {{ host: productpage, port: {{ number: 9080 }} }} }}]
",
        cert.cert.display(),
        cert.key.display()
    )
}

/// Istio's `samples/bookinfo/gateway-api/bookinfo-gateway.yaml`, as is.
const GATEWAY_API: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: bookinfo-gateway
spec:
  gatewayClassName: istio
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Same
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bookinfo
spec:
  parentRefs:
  - name: bookinfo-gateway
  rules:
  - matches:
    - path:
        type: Exact
        value: /productpage
    - path:
        type: PathPrefix
        value: /static
    - path:
        type: Exact
        value: /login
    - path:
        type: Exact
        value: /logout
    - path:
        type: PathPrefix
        value: /api/v1/products
    backendRefs:
    - name: productpage
      port: 9080
";

fn control(dir: &Path, files: &[(&str, String)]) -> ControlProcess {
    let mut paths = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join(SEED)];
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        paths.push(p);
    }
    let paths: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
    ControlProcess::spawn(
        weft(),
        &paths,
        &dir.join("state"),
        "127.0.0.1:0".parse().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_gateway_serves_http_and_https_into_the_mesh_over_mtls() {
    let dir = tempfile::tempdir().unwrap();
    let cert = Certificate::generate(dir.path(), HOST);
    let app = servers::http_echo("productpage").await;
    let control = control(
        dir.path(),
        &[
            ("productpage.yaml", productpage(app.addr.port())),
            ("https.yaml", https(&cert)),
        ],
    );
    let sidecar = inbound_sidecar(&control, "productpage", app.addr, "127.0.0.1:0", "");
    // The seed's server is port 8080; HTTPS is 443. The proxy binds
    // other ports and says which gateway ports they stand for.
    let gateway = gateway_proxy(
        &control,
        "istio-system",
        INGRESS_SA,
        "istio: ingressgateway",
        "  - { name: http, address: 127.0.0.1:0, direction: gateway, target_port: 8080 }
  - { name: https, address: 127.0.0.1:0, direction: gateway, target_port: 443 }",
    );
    let (http, https) = (gateway.listener("http"), gateway.listener("https"));

    eventually(
        "HTTP through the gateway reaches productpage",
        PATIENCE,
        || async {
            http_get(http, "anything.example.org", "/productpage")
                .await
                .is_ok_and(|a| a.status == StatusCode::OK)
        },
    )
    .await;
    let a = http_get(http, "anything.example.org", "/productpage")
        .await
        .unwrap();
    assert!(
        a.body.contains("productpage") && a.body.contains("/productpage"),
        "{a:?}"
    );

    // HTTPS: the client verifies the gateway's certificate for the host,
    // over HTTP/2 and HTTP/1.1 as ALPN agrees.
    for alpn in [
        &[b"h2".as_slice(), b"http/1.1"][..],
        &[b"http/1.1".as_slice()][..],
    ] {
        let a = https_get(https, HOST, &cert.der, alpn, HOST, "/productpage")
            .await
            .unwrap();
        assert_eq!(a.status, StatusCode::OK, "{a:?}");
        assert_eq!(a.alpn.as_deref(), Some(alpn[0]), "{a:?}");
        assert!(a.body.contains("productpage"), "{a:?}");
    }
    // A client that does not trust that certificate gets nowhere.
    let stranger = rcgen::generate_simple_self_signed(vec![HOST.to_string()]).unwrap();
    let refused = https_get(
        https,
        HOST,
        stranger.cert.der(),
        &[b"h2"],
        HOST,
        "/productpage",
    )
    .await;
    assert!(refused.is_err(), "{refused:?}");

    // Not served: a host the HTTPS server does not list, a path the seed's
    // rules do not match. The gateway says why: 404 NR.
    let no_route = |m: &str| {
        sum(
            m,
            "istio_requests_total",
            &[
                ("reporter", "source"),
                ("response_flags", "NR"),
                ("response_code", "404"),
            ],
        )
    };
    let before = no_route(&metrics::scrape(gateway.metrics()).await);
    let a = https_get(
        https,
        HOST,
        &cert.der,
        &[b"http/1.1"],
        "shop.example.com",
        "/productpage",
    )
    .await
    .unwrap();
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{a:?}");
    assert!(
        a.error.contains("no route") && a.error.contains("shop.example.com"),
        "{a:?}"
    );
    let a = http_get(http, HOST, "/admin").await.unwrap();
    assert_eq!(a.status, StatusCode::NOT_FOUND, "{a:?}");

    // The hop into the mesh was mTLS, proven with the gateway's identity.
    let side = metrics::scrape(sidecar.metrics()).await;
    let gw_principal = format!("spiffe://{TD}/ns/istio-system/sa/{INGRESS_SA}");
    let from_gateway = sum(
        &side,
        "istio_requests_total",
        &[
            ("reporter", "destination"),
            ("connection_security_policy", "mutual_tls"),
            ("source_principal", &gw_principal),
            ("response_code", "200"),
        ],
    );
    assert!(from_gateway >= 4.0, "{side}");
    assert_eq!(
        sum(
            &side,
            "istio_requests_total",
            &[("connection_security_policy", "none")]
        ),
        0.0,
        "{side}"
    );
    // The gateway reports as the source, as Istio's gateways do.
    let gw = metrics::scrape(gateway.metrics()).await;
    let served = sum(
        &gw,
        "istio_requests_total",
        &[
            ("reporter", "source"),
            ("source_workload", INGRESS_SA),
            (
                "destination_service",
                "productpage.default.svc.cluster.local",
            ),
            (
                "destination_principal",
                &format!("spiffe://{TD}/ns/default/sa/bookinfo-productpage"),
            ),
            ("response_code", "200"),
        ],
    );
    assert!(served >= 4.0, "{gw}");
    assert_eq!(no_route(&gw) - before, 2.0, "{gw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_api_gateway_and_http_route_serve_too() {
    let dir = tempfile::tempdir().unwrap();
    let app = servers::http_echo("productpage").await;
    let control = control(
        dir.path(),
        &[
            ("productpage.yaml", productpage(app.addr.port())),
            ("gateway-api.yaml", GATEWAY_API.to_string()),
        ],
    );
    let sidecar = inbound_sidecar(&control, "productpage", app.addr, "127.0.0.1:0", "");
    // Istio's convention: the Gateway's own deployment, in its namespace,
    // labelled with its name. Its listener port 80 is bound elsewhere.
    let gateway = gateway_proxy(
        &control,
        "default",
        "bookinfo-gateway-istio",
        "gateway.networking.k8s.io/gateway-name: bookinfo-gateway",
        "  - { name: http, address: 127.0.0.1:0, direction: gateway, target_port: 80 }",
    );
    let http = gateway.listener("http");
    eventually("the HTTPRoute reaches productpage", PATIENCE, || async {
        http_get(http, HOST, "/productpage")
            .await
            .is_ok_and(|a| a.status == StatusCode::OK)
    })
    .await;
    // PathPrefix matches whole segments.
    let a = http_get(http, HOST, "/static/app.css").await.unwrap();
    assert_eq!(a.status, StatusCode::OK, "{a:?}");
    for path in ["/staticx", "/reviews"] {
        let a = http_get(http, HOST, path).await.unwrap();
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}: {a:?}");
    }
    // The Istio Gateway of the same name (the seed) selects other labels:
    // this proxy serves only the Gateway API one, on its port.
    let side = metrics::scrape(sidecar.metrics()).await;
    let principal = format!("spiffe://{TD}/ns/default/sa/bookinfo-gateway-istio");
    assert!(
        sum(
            &side,
            "istio_requests_total",
            &[
                ("connection_security_policy", "mutual_tls"),
                ("source_principal", &principal),
                ("response_code", "200"),
            ],
        ) >= 2.0,
        "{side}"
    );
}
