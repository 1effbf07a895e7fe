//! A gateway configured wholly from its file: HTTPS terminated with the
//! listener's certificate (HTTP/2 and HTTP/1.1 as ALPN agrees), Host-based
//! virtual hosts, and what happens to TLS on a plaintext gateway port and
//! to plaintext on a TLS one.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use weft_testkit::proxy::TestProxy;
use weft_testkit::{client, metrics, servers};

const HOST: &str = "shop.example.com";

struct Cert {
    _dir: tempfile::TempDir,
    yaml: String,
    der: rustls_pki_types::CertificateDer<'static>,
}

fn cert() -> Cert {
    weft_identity::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let c = rcgen::generate_simple_self_signed(vec![HOST.into()]).unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, c.cert.pem()).unwrap();
    std::fs::write(&key, c.signing_key.serialize_pem()).unwrap();
    Cert {
        yaml: format!(
            "{{ certificate: \"{}\", private_key: \"{}\" }}",
            cert.display(),
            key.display()
        ),
        der: c.cert.der().clone(),
        _dir: dir,
    }
}

async fn gateway(shop: SocketAddr, other: SocketAddr, cert: &Cert) -> TestProxy {
    TestProxy::start(&format!(
        "node: {{ workload: ingress, namespace: edge }}
listeners:
  - {{ name: https, address: 127.0.0.1:0, direction: gateway, target_port: 443, tls: {} }}
  - {{ name: http, address: 127.0.0.1:0, direction: gateway, target_port: 443 }}
gateway_servers:
  - port: 443
    virtual_hosts:
      - {{ name: shop, hosts: [{HOST}], routes: [{{ backends: [{{ cluster: shop }}] }}] }}
      - {{ name: rest, hosts: ['*'], routes: [{{ match: [{{ path: {{ prefix: /other }} }}], backends: [{{ cluster: other }}] }}] }}
clusters:
  - {{ name: shop, service: shop.edge.svc.cluster.local, endpoints: [{{ address: \"{shop}\" }}] }}
  - {{ name: other, endpoints: [{{ address: \"{other}\" }}] }}
",
        cert.yaml
    ))
    .await
}

/// GET `path` with Host `host` over verified TLS, offering `alpn`: the
/// status, the ALPN agreed and the body.
async fn https_get(
    addr: SocketAddr,
    cert: &Cert,
    alpn: &[u8],
    host: &str,
    path: &str,
) -> (StatusCode, Vec<u8>, String) {
    let (got, agreed) = https_request(addr, cert, alpn, host, path).await;
    (got.status, agreed, got.text())
}

/// As [`https_get`], with the whole response.
async fn https_request(
    addr: SocketAddr,
    cert: &Cert,
    alpn: &[u8],
    host: &str,
    path: &str,
) -> (client::Collected, Vec<u8>) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from(HOST).unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    let agreed = tls.get_ref().1.alpn_protocol().unwrap_or_default().to_vec();
    let rsp = if agreed == b"h2" {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
                .await
                .unwrap();
        tokio::spawn(conn);
        let req = Request::get(format!("https://{host}{path}"))
            .body(client::empty())
            .unwrap();
        send.send_request(req).await.unwrap()
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = Request::get(path)
            .header("host", host)
            .body(client::empty())
            .unwrap();
        send.send_request(req).await.unwrap()
    };
    (client::collect(rsp).await, agreed)
}

#[tokio::test]
async fn https_terminates_and_routes_by_host() {
    let (shop, other) = (
        servers::http_echo("shop").await,
        servers::http_echo("other").await,
    );
    let cert = cert();
    let gw = gateway(shop.addr, other.addr, &cert).await;
    let https = gw.listener("https");
    for alpn in [&b"h2"[..], b"http/1.1"] {
        let (status, agreed, body) = https_get(https, &cert, alpn, HOST, "/cart").await;
        assert_eq!(
            (status, agreed.as_slice()),
            (StatusCode::OK, alpn),
            "{body}"
        );
        assert!(body.contains("shop"), "{body}");
    }
    // Another host falls to `*`, whose only route wants /other.
    let (status, _, body) = https_get(https, &cert, b"http/1.1", "x.example.org", "/other/1").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("other"), "{body}");
    let (status, _, _) = https_get(https, &cert, b"http/1.1", "x.example.org", "/cart").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let m = gw.metrics().await;
    let shop_ok = metrics::sum(
        &m,
        "istio_requests_total",
        &[
            ("reporter", "source"),
            ("source_workload", "ingress"),
            ("destination_service", "shop.edge.svc.cluster.local"),
            ("response_code", "200"),
        ],
    );
    assert_eq!(shop_ok, Some(2.0), "{m}");
}

#[tokio::test]
async fn tls_needs_a_certificate_and_the_tls_port_needs_tls() {
    let (shop, other) = (
        servers::http_echo("shop").await,
        servers::http_echo("other").await,
    );
    let cert = cert();
    let gw = gateway(shop.addr, other.addr, &cert).await;
    // Plain HTTP on the port without a certificate is served.
    let got = client::get(gw.listener("http"), http::Version::HTTP_11, HOST, "/").await;
    assert_eq!(got.status, StatusCode::OK);
    // TLS there is closed; plaintext on the TLS port fails its handshake.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(gw.listener("http")).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from(HOST).unwrap();
    assert!(
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .is_err()
    );
    let answer = crate::support::raw_exchange(
        gw.listener("https"),
        b"GET / HTTP/1.1\r\nhost: shop.example.com\r\n\r\n",
        "HTTP/1.1",
    )
    .await;
    assert!(!answer.contains("200"), "{answer}");
    let m = gw.metrics().await;
    for (listener, reason) in [("http", "no_certificate"), ("https", "handshake")] {
        let n = metrics::sum(
            &m,
            "weft_inbound_tls_refused_total",
            &[("listener", listener), ("reason", reason)],
        );
        assert_eq!(n, Some(1.0), "{listener} {reason}: {m}");
    }
}

#[tokio::test]
async fn a_redirect_keeps_the_scheme_the_client_used() {
    let cert = cert();
    let upstream = servers::http_echo("shop").await;
    let gw = TestProxy::start(&format!(
        "listeners:
  - {{ name: https, address: 127.0.0.1:0, direction: gateway, target_port: 443, tls: {} }}
  - {{ name: http, address: 127.0.0.1:0, direction: gateway, target_port: 443 }}
gateway_servers:
  - port: 443
    virtual_hosts:
      - {{ name: shop, hosts: [{HOST}], routes: [{{ redirect: {{ path: /moved }} }}] }}
clusters:
  - {{ name: shop, endpoints: [{{ address: \"{}\" }}] }}
",
        cert.yaml, upstream.addr
    ))
    .await;
    for alpn in [&b"h2"[..], b"http/1.1"] {
        let (got, _) = https_request(gw.listener("https"), &cert, alpn, HOST, "/a?b").await;
        assert_eq!(got.status, StatusCode::MOVED_PERMANENTLY);
        assert_eq!(
            got.headers["location"],
            format!("https://{HOST}/moved?b"),
            "{alpn:?}"
        );
    }
    let got = client::get(gw.listener("http"), http::Version::HTTP_11, HOST, "/a").await;
    assert_eq!(got.headers["location"], format!("http://{HOST}/moved"));
}
