//! Mesh mTLS with real processes: `weft control` issues identities,
//! sidecars speak mTLS to each other, AuthorizationPolicy decides on the
//! identity proven, PeerAuthentication STRICT refuses plaintext, and forged
//! certificates get nowhere. The CA's own files (in the control plane's
//! state directory) mint the "valid certificate with the wrong identity".
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use weft_identity::{Ca, Credentials, Expect};
use weft_testkit::servers;
use weft_testkit::{PATIENCE, client, eventually, metrics};

use support::bookinfo::*;

/// The seed scenario: `details-viewer` lets only productpage's identity
/// GET details; the identity is the one proven over mTLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn details_viewer_lets_only_productpage_get() {
    let dir = tempfile::tempdir().unwrap();
    let app = servers::http_echo("details").await;
    let seed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/conformance/seeds/valid/details-viewer-authz.yaml"),
    )
    .unwrap();
    write_files(dir.path(), app.addr.port(), &seed);
    let control = control(dir.path());
    let details = details(&control, app).await;
    let productpage = client_sidecar(&control, "bookinfo-productpage", "");
    let reviews = client_sidecar(&control, "bookinfo-reviews", "");
    let (pp, rv) = (
        productpage.listener("outbound"),
        reviews.listener("outbound"),
    );

    eventually("productpage can GET details", PATIENCE, || async {
        status(pp, Method::GET).await == StatusCode::OK
    })
    .await;
    let (code, why) = call(pp, Method::POST).await.unwrap();
    assert_eq!(code, StatusCode::FORBIDDEN, "POST from productpage: {why}");
    assert!(why.contains("RBAC"), "{why}");
    eventually("reviews' sidecar is configured", PATIENCE, || async {
        status(rv, Method::GET).await != StatusCode::NOT_FOUND
    })
    .await;
    let (code, why) = call(rv, Method::GET).await.unwrap();
    assert_eq!(code, StatusCode::FORBIDDEN, "GET from reviews: {why}");

    // The destination side saw who called, over mTLS.
    let m = details.metrics().await;
    let from = |sa: &str, code: &str| {
        sum(
            &m,
            "istio_requests_total",
            &[
                ("reporter", "destination"),
                ("connection_security_policy", "mutual_tls"),
                (
                    "source_principal",
                    &format!("spiffe://{TD}/ns/default/sa/{sa}"),
                ),
                ("response_code", code),
            ],
        )
    };
    assert!(from("bookinfo-productpage", "200") >= 1.0, "{m}");
    // Its proxy named the workload behind the identity (peer metadata
    // exchange), which the certificate alone cannot.
    assert!(
        sum(
            &m,
            "istio_requests_total",
            &[
                ("reporter", "destination"),
                ("source_workload", "bookinfo-productpage"),
                ("source_canonical_service", "bookinfo-productpage"),
                ("response_code", "200"),
            ],
        ) >= 1.0,
        "{m}"
    );
    assert!(from("bookinfo-productpage", "403") >= 1.0, "{m}");
    assert!(from("bookinfo-reviews", "403") >= 1.0, "{m}");
    assert_eq!(
        sum(
            &m,
            "istio_requests_total",
            &[("connection_security_policy", "none")]
        ),
        0.0,
        "nothing arrived in plaintext: {m}"
    );
    // A plaintext client has no identity, so the policy denies it too.
    assert_eq!(
        plaintext_get(details.inbound()).await,
        Ok(StatusCode::FORBIDDEN)
    );
}

/// STRICT refuses plaintext and foreign TLS while mesh mTLS goes on;
/// switching to PERMISSIVE accepts plaintext again, labelled `none`; and
/// DISABLE turns callers' mTLS off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_permissive_and_disable_apply_live() {
    let strict = "apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: default }
spec: { mtls: { mode: STRICT } }
";
    let dir = tempfile::tempdir().unwrap();
    let app = servers::http_echo("details").await;
    write_files(dir.path(), app.addr.port(), strict);
    let control = control(dir.path());
    let details = details(&control, app).await;
    let productpage = client_sidecar(&control, "bookinfo-productpage", "");
    let pp = productpage.listener("outbound");
    eventually(
        "productpage reaches details over mTLS",
        PATIENCE,
        || async { status(pp, Method::GET).await == StatusCode::OK },
    )
    .await;

    let refused = plaintext_get(details.inbound()).await;
    assert!(refused.is_err(), "plaintext under STRICT got {refused:?}");
    let m = details.metrics().await;
    assert_eq!(
        sum(
            &m,
            "weft_inbound_tls_refused_total",
            &[("reason", "plaintext")]
        ),
        1.0,
        "{m}"
    );
    // TLS that is not mesh mTLS (no mesh ALPN) is refused as well.
    let foreign_alpn = {
        let ca_dir = dir.path().join("state/ca");
        let ca = Ca::load(None, &ca_dir, TD).unwrap();
        let creds = workload(&ca, "bookinfo-productpage");
        let mut config = (*creds.client_config(Expect::TrustDomain(TD.into()))).clone();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = tokio::net::TcpStream::connect(details.inbound())
            .await
            .unwrap();
        let name = rustls_pki_types::ServerName::IpAddress(details.inbound().ip().into());
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    };
    assert!(foreign_alpn.is_err(), "app TLS under STRICT was accepted");
    eventually("the refusal is counted", PATIENCE, || async {
        let m = details.metrics().await;
        sum(
            &m,
            "weft_inbound_tls_refused_total",
            &[("reason", "not_mesh_tls")],
        ) == 1.0
    })
    .await;
    assert_eq!(status(pp, Method::GET).await, StatusCode::OK);

    write_policy(dir.path(), &strict.replace("STRICT", "PERMISSIVE"));
    eventually("PERMISSIVE accepts plaintext", PATIENCE, || async {
        plaintext_get(details.inbound()).await == Ok(StatusCode::OK)
    })
    .await;
    assert_eq!(status(pp, Method::GET).await, StatusCode::OK);
    let m = details.metrics().await;
    let by = |csp: &str| {
        sum(
            &m,
            "istio_requests_total",
            &[
                ("reporter", "destination"),
                ("connection_security_policy", csp),
            ],
        )
    };
    assert!(by("none") >= 1.0 && by("mutual_tls") >= 2.0, "{m}");

    // DISABLE: callers stop sending mTLS to details (its endpoint loses
    // its identity), and what arrives is plaintext.
    write_policy(dir.path(), &strict.replace("STRICT", "DISABLE"));
    let plaintext_from_productpage = || async {
        let m = details.metrics().await;
        sum(
            &m,
            "istio_requests_total",
            &[
                ("reporter", "destination"),
                ("connection_security_policy", "none"),
                ("source_principal", "unknown"),
                ("response_code", "200"),
            ],
        )
    };
    let before = plaintext_from_productpage().await;
    eventually(
        "productpage sends plaintext under DISABLE",
        PATIENCE,
        || async {
            status(pp, Method::GET).await == StatusCode::OK
                && plaintext_from_productpage().await >= before + 2.0
        },
    )
    .await;
}

/// A certificate from another CA is refused by the server side, and a
/// server holding a valid mesh certificate for the wrong workload is
/// refused by the client side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_certificates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = servers::http_echo("details").await;
    write_files(dir.path(), app.addr.port(), "");
    let control = control(dir.path());
    // A fixed inbound port, so an impostor can take it over below.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let inbound = format!("127.0.0.1:{port}");
    let mut sidecar = details_sidecar(&control, app.addr, &inbound, "");
    let productpage = client_sidecar(&control, "bookinfo-productpage", "");
    let pp = productpage.listener("outbound");
    eventually("productpage reaches details", PATIENCE, || async {
        status(pp, Method::GET).await == StatusCode::OK
    })
    .await;

    let mesh_ca = Ca::load(None, &dir.path().join("state/ca"), TD).unwrap();
    let genuine = workload(&mesh_ca, "bookinfo-productpage");
    handshake(inbound.parse().unwrap(), &genuine)
        .await
        .expect("a certificate from the mesh's CA is accepted");

    let foreign_ca = Ca::load(None, &dir.path().join("foreign-ca"), TD).unwrap();
    let forged = workload(&foreign_ca, "bookinfo-productpage");
    // The forger trusts the mesh root, so only the server can refuse.
    forged.set_bundle(mesh_ca.bundle().clone());
    let refused = handshake(inbound.parse().unwrap(), &forged).await;
    assert!(refused.is_err(), "a foreign CA's certificate was accepted");
    let m = metrics::scrape(sidecar.metrics()).await;
    assert_eq!(
        sum(
            &m,
            "weft_inbound_tls_refused_total",
            &[("reason", "handshake")]
        ),
        1.0,
        "{m}"
    );

    // An impostor with a genuine certificate for reviews takes details'
    // port while its registration lingers: the caller expects details.
    sidecar.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = sidecar.wait_timeout(Duration::from_secs(5));
    let impostor = impostor(&inbound, workload(&mesh_ca, "bookinfo-reviews")).await;
    let (code, why) = call(pp, Method::GET).await.unwrap();
    assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE, "{why}");
    assert!(
        why.contains("bookinfo-details") && why.contains("bookinfo-reviews"),
        "the refusal names both identities: {why}"
    );
    assert_eq!(impostor.served(), 0, "the impostor served nothing");
}

/// A mesh TLS server on `addr` presenting `creds`; counts requests it
/// could read.
struct Impostor {
    served: Arc<std::sync::atomic::AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

impl Impostor {
    fn served(&self) -> usize {
        self.served.load(std::sync::atomic::Ordering::Relaxed)
    }
}

async fn impostor(addr: &str, creds: Arc<Credentials>) -> Impostor {
    let listener = loop {
        match tokio::net::TcpListener::bind(addr).await {
            Ok(l) => break l,
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    let config = creds.server_config(false, &weft_identity::MESH_ALPNS);
    let served = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = served.clone();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
            let count = count.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let mut buf = [0u8; 16];
                    if tokio::io::AsyncReadExt::read(&mut tls, &mut buf)
                        .await
                        .is_ok_and(|n| n > 0)
                    {
                        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    Impostor {
        served,
        _task: task,
    }
}

/// Certificates that live 3 s, renewed at 80%, while requests flow: not
/// one fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let app = servers::http_echo("details").await;
    write_files(dir.path(), app.addr.port(), "");
    let control = control(dir.path());
    let _details = details_sidecar(&control, app.addr, "127.0.0.1:0", ", certificate_ttl: 3s");
    let productpage = client_sidecar(&control, "bookinfo-productpage", ", certificate_ttl: 3s");
    let pp = productpage.listener("outbound");
    eventually("productpage reaches details", PATIENCE, || async {
        status(pp, Method::GET).await == StatusCode::OK
    })
    .await;
    let issued = || async {
        let rsp = client::get(control.http, http::Version::HTTP_11, "control", "/metrics").await;
        metrics::sum(&rsp.text(), "weft_ca_certificates_issued_total", &[]).unwrap_or(0.0)
    };
    let before = issued().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut n = 0;
            while tokio::time::Instant::now() < deadline {
                // A fresh downstream connection each time; upstream, the
                // pooled mTLS connection outlives the certificates it was
                // made with, as in Envoy.
                match call(pp, Method::GET).await {
                    Ok((StatusCode::OK, _)) => n += 1,
                    other => failures.push(format!("{other:?}")),
                }
            }
            (n, failures)
        }));
    }
    let mut total = 0;
    for t in tasks {
        let (n, failures) = t.await.unwrap();
        assert!(failures.is_empty(), "failed during rotation: {failures:?}");
        total += n;
    }
    let renewed = issued().await - before;
    assert!(renewed >= 4.0, "only {renewed} certificates issued in 8 s");
    assert!(total > 100, "only {total} requests");
}

/// Opaque TCP rides mesh mTLS too (ALPN `weft/tcp`): a CONNECT tunnel to
/// a TCP service under STRICT echoes, and the destination counts the
/// connection as `mutual_tls`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_rides_mtls_under_strict() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let details_app = servers::http_echo("details").await;
    let db_app = servers::tcp_echo().await;
    write_files(
        dir.path(),
        details_app.addr.port(),
        &format!(
            "apiVersion: v1
kind: Service
metadata: {{ name: db, namespace: default }}
spec:
  selector: {{ app: db }}
  ports: [{{ name: tcp, port: 3306, targetPort: {} }}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {{ name: default, namespace: istio-system }}
spec: {{ mtls: {{ mode: STRICT }} }}
",
            db_app.addr.port()
        ),
    );
    let control = control(dir.path());
    let db = inbound_sidecar(&control, "db", db_app.addr, "127.0.0.1:0", "");
    let client = client_sidecar(&control, "bookinfo-productpage", "");
    let outbound = client.listener("outbound");

    let tunnel = || async {
        let mut sock = tokio::net::TcpStream::connect(outbound).await.ok()?;
        sock.write_all(b"CONNECT db:3306 HTTP/1.1\r\nHost: db:3306\r\n\r\n")
            .await
            .ok()?;
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut b = [0u8; 1];
            if sock.read(&mut b).await.ok()? == 0 {
                return None;
            }
            head.push(b[0]);
        }
        String::from_utf8_lossy(&head)
            .starts_with("HTTP/1.1 200")
            .then_some(sock)
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut sock = loop {
        if let Some(s) = tunnel().await {
            break s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the tunnel never opened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    sock.write_all(b"ping over mTLS").await.unwrap();
    sock.shutdown().await.unwrap();
    let mut echoed = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), sock.read_to_end(&mut echoed))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(echoed, b"ping over mTLS");

    eventually("the destination counts it as mTLS", PATIENCE, || async {
        let m = metrics::scrape(db.metrics()).await;
        sum(
            &m,
            "istio_tcp_connections_opened_total",
            &[
                ("reporter", "destination"),
                ("connection_security_policy", "mutual_tls"),
                (
                    "source_principal",
                    "spiffe://cluster.local/ns/default/sa/bookinfo-productpage",
                ),
            ],
        ) >= 1.0
    })
    .await;
}
