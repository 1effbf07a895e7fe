//! TLS origination (DestinationRule SIMPLE / MUTUAL): the app speaks
//! plaintext HTTP to its sidecar, the sidecar speaks TLS to a server
//! outside the mesh and verifies it by its CA and name.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::{Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use weft_testkit::proxy::TestProxy;

use crate::support::{get, outbound_to};

/// A CA and a server certificate it signed for `name`, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    server: (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>),
}

impl Pki {
    fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let server = (
            vec![leaf.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        );
        Self { dir, server }
    }

    fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }
}

/// An HTTPS server answering `tls <alpn>` to every request.
async fn https_server(pki: &Pki) -> SocketAddr {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(pki.server.0.clone(), pki.server.1.clone_key())
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let alpn = String::from_utf8_lossy(tls.get_ref().1.alpn_protocol().unwrap_or(b"-"))
                    .to_string();
                let svc = hyper::service::service_fn(move |_req| {
                    let body = format!("tls {alpn}");
                    async move {
                        Ok::<_, Infallible>(Response::new(Full::new(bytes::Bytes::from(body))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    addr
}

fn tls(mode: &str, sni: &str, ca: &Path, extra: &str) -> String {
    format!(
        "    tls: {{ mode: {mode}, sni: {sni}, ca_certificates: \"{}\"{extra} }}\n",
        ca.display()
    )
}

#[tokio::test]
async fn simple_originates_tls_and_verifies_the_server() {
    weft_identity::install_crypto_provider();
    let pki = Pki::new("api.example.com");
    let server = https_server(&pki).await;
    let proxy = TestProxy::start(&outbound_to(
        &[server],
        &tls("simple", "api.example.com", &pki.ca(), ""),
    ))
    .await;
    let rsp = get(&proxy, "echo.test", "/").await;
    assert_eq!(rsp.status, StatusCode::OK, "{rsp:?}");
    assert_eq!(rsp.text(), "tls http/1.1");
}

#[tokio::test]
async fn a_server_that_cannot_prove_its_name_is_refused() {
    weft_identity::install_crypto_provider();
    let pki = Pki::new("api.example.com");
    let server = https_server(&pki).await;

    // Another name than the certificate's.
    let why = refusal(server, &tls("simple", "evil.example.com", &pki.ca(), "")).await;
    assert!(why.starts_with("upstream TLS handshake failed"), "{why}");
    assert!(
        why.contains("not valid for name \"evil.example.com\""),
        "{why}"
    );

    // ...unless it is one of the subjectAltNames allowed.
    let extra = ", subject_alt_names: [api.example.com]";
    let proxy = TestProxy::start(&outbound_to(
        &[server],
        &tls("simple", "evil.example.com", &pki.ca(), extra),
    ))
    .await;
    assert_eq!(get(&proxy, "echo.test", "/").await.status, StatusCode::OK);

    // Another CA than the one that signed it.
    let other = Pki::new("api.example.com");
    let why = refusal(server, &tls("simple", "api.example.com", &other.ca(), "")).await;
    assert!(why.contains("invalid peer certificate"), "{why}");
}

/// A request through a proxy sending to `server` with `tls`: must be a
/// 503; returns the reason the proxy gives.
async fn refusal(server: SocketAddr, tls: &str) -> String {
    let proxy = TestProxy::start(&outbound_to(&[server], tls)).await;
    let rsp = get(&proxy, "echo.test", "/").await;
    assert_eq!(rsp.status, StatusCode::SERVICE_UNAVAILABLE);
    rsp.headers["weft-proxy-error"]
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn mesh_mtls_without_a_control_plane_is_a_config_error() {
    let yaml = format!(
        "{}{}",
        weft_testkit::proxy::TEST_PORTS,
        outbound_to(
            &["127.0.0.1:1".parse().unwrap()],
            "    tls: { mode: istio_mutual }\n"
        )
    );
    let err = weft_proto::config::ProxyConfig::from_yaml("p.yaml", &yaml)
        .unwrap_err()
        .to_string();
    assert!(err.contains("clusters[0].tls"), "{err}");
    assert!(err.contains("control_plane"), "{err}");
}
