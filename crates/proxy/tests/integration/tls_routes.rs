//! Routes for opaque connections: TLS chosen by the ClientHello's server
//! name and passed through unread (the client's handshake completes with
//! the upstream's own certificate), TCP split by weight, and a gateway
//! port that passes some server names through and terminates the rest.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use weft_testkit::proxy::TestProxy;
use weft_testkit::{metrics, servers};

/// A TLS server with its own certificate for `names`, answering every
/// connection with `I am <label>`.
struct TlsUpstream {
    addr: SocketAddr,
    cert: CertificateDer<'static>,
    task: JoinHandle<()>,
}

impl Drop for TlsUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tls_upstream(label: &'static str, names: &[&str]) -> TlsUpstream {
    weft_identity::install_crypto_provider();
    let c =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::Pkcs8(c.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![c.cert.der().clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = l.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(sock).await {
                    let _ = tls.write_all(format!("I am {label}").as_bytes()).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    TlsUpstream {
        addr,
        cert: c.cert.der().clone(),
        task,
    }
}

/// Connects to `addr` as a TLS client asking for `sni`, trusting only
/// `trust`; what the server said, or the handshake's error.
async fn tls_hello(
    addr: SocketAddr,
    sni: &str,
    trust: &[&CertificateDer<'static>],
) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in trust {
        roots.add((*c).clone()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(sni.to_string()).unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    tls.read_to_string(&mut out)
        .await
        .map_err(|e| e.to_string())?;
    Ok(out)
}

#[tokio::test]
async fn tls_is_routed_by_server_name_and_passed_through() {
    let api = tls_upstream("api", &["api.example.com"]).await;
    let wild = tls_upstream("wild", &["www.example.com", "shop.example.com"]).await;
    let proxy = TestProxy::start(&format!(
        "node: {{ workload: client, namespace: test }}
listeners:
  - {{ name: out, address: 127.0.0.1:0, direction: outbound, destination: secure.test:443 }}
services:
  - name: secure.test.svc.cluster.local
    hosts: [secure.test]
    ports:
      - port: 443
        protocol: tcp
        tcp_routes:
          - {{ sni: ['*.example.com'], backends: [{{ cluster: wild }}] }}
          - {{ sni: [API.example.com], backends: [{{ cluster: api }}] }}
clusters:
  - {{ name: api, service: api.test.svc.cluster.local, endpoints: [{{ address: \"{}\" }}] }}
  - {{ name: wild, endpoints: [{{ address: \"{}\" }}] }}
",
        api.addr, wild.addr
    ))
    .await;
    let out = proxy.listener("out");
    let trust = [&api.cert, &wild.cert];
    // The exact name wins over the wildcard listed before it, and the
    // handshake is the upstream's own: the proxy never terminated it.
    assert_eq!(
        tls_hello(out, "api.example.com", &trust).await.unwrap(),
        "I am api"
    );
    assert_eq!(
        tls_hello(out, "www.example.com", &trust).await.unwrap(),
        "I am wild"
    );
    assert_eq!(
        tls_hello(out, "shop.example.com", &trust).await.unwrap(),
        "I am wild"
    );
    // No route for the name: the connection is closed, never sent on.
    let refused = tls_hello(out, "example.org", &trust).await;
    assert!(refused.is_err(), "{refused:?}");

    let text = proxy.metrics().await;
    let opened = |svc: &str| {
        metrics::sum(
            &text,
            "istio_tcp_connections_opened_total",
            &[("destination_service", svc)],
        )
        .unwrap_or(0.0)
    };
    assert_eq!(opened("secure.test.svc.cluster.local"), 3.0, "{text}");
}

#[tokio::test]
async fn tcp_connections_are_split_by_weight() {
    let a = servers::banner(b"a").await;
    let b = servers::banner(b"b").await;
    let proxy = TestProxy::start(&format!(
        "node: {{ workload: client, namespace: test }}
listeners:
  - {{ name: out, address: 127.0.0.1:0, direction: outbound, destination: db.test:5432 }}
services:
  - name: db.test.svc.cluster.local
    hosts: [db.test]
    ports:
      - port: 5432
        protocol: tcp
        tcp_routes:
          - backends: [{{ cluster: a, weight: 75 }}, {{ cluster: b, weight: 25 }}]
clusters:
  - {{ name: a, endpoints: [{{ address: \"{}\" }}] }}
  - {{ name: b, endpoints: [{{ address: \"{}\" }}] }}
",
        a.addr, b.addr
    ))
    .await;
    let out = proxy.listener("out");
    let mut seen: HashMap<u8, u32> = HashMap::new();
    for _ in 0..400 {
        let mut sock = TcpStream::connect(out).await.unwrap();
        let mut first = [0u8; 1];
        sock.read_exact(&mut first).await.unwrap();
        *seen.entry(first[0]).or_default() += 1;
    }
    let (a, b) = (seen[&b'a'], seen[&b'b']);
    // 300 / 100 expected; binomial(400, 0.25) is within ±50 of 100 with
    // probability 1 - 1e-7.
    assert!((50..=150).contains(&b), "a {a}, b {b}");
    assert_eq!(a + b, 400);
}

#[tokio::test]
async fn a_gateway_port_passes_some_names_through_and_terminates_the_rest() {
    weft_identity::install_crypto_provider();
    let db = tls_upstream("db", &["db.example.com"]).await;
    let shop = servers::http_echo("shop").await;
    let dir = tempfile::tempdir().unwrap();
    let own = rcgen::generate_simple_self_signed(vec!["shop.example.com".into()]).unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    std::fs::write(&cert, own.cert.pem()).unwrap();
    std::fs::write(&key, own.signing_key.serialize_pem()).unwrap();
    let proxy = TestProxy::start(&format!(
        "node: {{ workload: ingress, namespace: edge }}
listeners:
  - {{ name: gw, address: 127.0.0.1:0, direction: gateway, target_port: 443 }}
  - {{ name: tcp, address: 127.0.0.1:0, direction: gateway, target_port: 15012 }}
gateway_servers:
  - port: 443
    tls: {{ certificate: \"{}\", private_key: \"{}\" }}
    virtual_hosts:
      - {{ name: shop, hosts: [shop.example.com], routes: [{{ backends: [{{ cluster: shop }}] }}] }}
    tcp_routes:
      - {{ sni: [db.example.com], backends: [{{ cluster: db }}] }}
  - port: 15012
    tcp_routes:
      - {{ sni: ['*'], backends: [{{ cluster: db }}] }}
clusters:
  - {{ name: shop, endpoints: [{{ address: \"{}\" }}] }}
  - {{ name: db, service: db.edge.svc.cluster.local, endpoints: [{{ address: \"{}\" }}] }}
",
        cert.display(),
        key.display(),
        shop.addr,
        db.addr
    ))
    .await;
    let gw = proxy.listener("gw");
    let own_der = own.cert.der().clone();
    // Passed through: the handshake is with db's own certificate.
    assert_eq!(
        tls_hello(gw, "db.example.com", &[&db.cert]).await.unwrap(),
        "I am db"
    );
    // Terminated by the gateway (its certificate, not db's) and served as
    // HTTP by Host.
    let got = https_get(gw, &own_der, "shop.example.com").await;
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(got.contains("shop"), "{got}");
    // `*` takes every connection, SNI or not.
    let tcp = proxy.listener("tcp");
    // (db's certificate does not name it: the handshake reached db.)
    let err = tls_hello(tcp, "anything.test", &[&db.cert])
        .await
        .unwrap_err();
    assert!(err.contains("certificate"), "{err}");
    assert_eq!(
        tls_hello(tcp, "db.example.com", &[&db.cert]).await.unwrap(),
        "I am db"
    );
    drop(dir);
}

/// GET / over TLS to `addr` asking for `host`, trusting `ca`; the raw
/// HTTP/1.1 response.
async fn https_get(addr: SocketAddr, ca: &CertificateDer<'static>, host: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(host.to_string()).unwrap();
    let mut tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    tls.write_all(
        format!("GET / HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}
