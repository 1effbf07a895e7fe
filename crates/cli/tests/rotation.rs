//! Root rotation without downtime, as docs/security.md tells operators to
//! do it, with requests flowing throughout:
//!
//! 1. trust both roots: `root-cert.pem` holds the old and the new, the old
//!    intermediate still signs;
//! 2. sign with the new intermediate; workloads move over as they renew;
//! 3. trust only the new root.
//!
//! The control plane restarts at each step (SIGKILL: the harshest way),
//! proxies keep serving, and not one request fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{Method, StatusCode};
use parking_lot::Mutex;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use weft_identity::Ca;
use weft_testkit::control::ControlProcess;
use weft_testkit::servers;
use weft_testkit::{PATIENCE, eventually};

use support::bookinfo::*;

/// A root and an intermediate it signed, as PEM.
struct Root {
    root_pem: String,
    ca_pem: String,
    ca_key_pem: String,
}

fn root(name: &str) -> Root {
    let ca_params = |cn: &str| {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        p.distinguished_name
            .push(rcgen::DnType::CommonName, cn.to_string());
        p
    };
    let root_key = KeyPair::generate().unwrap();
    let root_params = ca_params(&format!("{name} root"));
    let root_cert = root_params.self_signed(&root_key).unwrap();
    let issuer = Issuer::new(root_params, root_key);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params(&format!("{name} intermediate"))
        .signed_by(&ca_key, &issuer)
        .unwrap();
    Root {
        root_pem: root_cert.pem(),
        ca_pem: ca_cert.pem(),
        ca_key_pem: ca_key.serialize_pem(),
    }
}

/// Istio's `cacerts` layout in `dir`: `signer` signs, `trusted` are the
/// roots in `root-cert.pem`.
fn cacerts(dir: &Path, signer: &Root, trusted: &[&Root]) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ca-cert.pem"), &signer.ca_pem).unwrap();
    std::fs::write(dir.join("ca-key.pem"), &signer.ca_key_pem).unwrap();
    std::fs::write(
        dir.join("cert-chain.pem"),
        format!("{}{}", signer.ca_pem, signer.root_pem),
    )
    .unwrap();
    let roots: String = trusted.iter().map(|r| r.root_pem.as_str()).collect();
    std::fs::write(dir.join("root-cert.pem"), roots).unwrap();
    dir.to_path_buf()
}

fn start(dir: &Path, grpc: SocketAddr, cacerts: &Path) -> ControlProcess {
    ControlProcess::spawn_with(
        weft(),
        &[&dir.join("details.yaml"), &dir.join("policy.yaml")],
        &dir.join("state"),
        grpc,
        Some(cacerts),
    )
}

/// Requests from two tasks until stopped; every failure is kept.
struct Load {
    stop: Arc<AtomicBool>,
    failures: Arc<Mutex<Vec<String>>>,
    tasks: Vec<tokio::task::JoinHandle<usize>>,
}

impl Load {
    fn start(outbound: SocketAddr) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let tasks = (0..2)
            .map(|_| {
                let (stop, failures) = (stop.clone(), failures.clone());
                tokio::spawn(async move {
                    let mut ok = 0;
                    while !stop.load(Ordering::Relaxed) {
                        match call(outbound, Method::GET).await {
                            Ok((StatusCode::OK, _)) => ok += 1,
                            other => failures.lock().push(format!("{other:?}")),
                        }
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    ok
                })
            })
            .collect();
        Self {
            stop,
            failures,
            tasks,
        }
    }

    async fn finish(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let mut ok = 0;
        for t in self.tasks {
            ok += t.await.unwrap();
        }
        let failures = self.failures.lock();
        assert!(failures.is_empty(), "requests failed: {failures:?}");
        ok
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_rotates_while_requests_flow() {
    let dir = tempfile::tempdir().unwrap();
    let app = servers::http_echo("details").await;
    write_files(dir.path(), app.addr.port(), "");
    let grpc = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (old, new) = (root("old"), root("new"));

    let mut control = start(
        dir.path(),
        grpc,
        &cacerts(&dir.path().join("0"), &old, &[&old]),
    );
    // Short lives, so every workload renews within each step.
    let details = details_sidecar(&control, app.addr, "127.0.0.1:0", ", certificate_ttl: 2s");
    let productpage = client_sidecar(&control, "bookinfo-productpage", ", certificate_ttl: 2s");
    let pp = productpage.listener("outbound");
    eventually("productpage reaches details", PATIENCE, || async {
        status(pp, Method::GET).await == StatusCode::OK
    })
    .await;
    let load = Load::start(pp);

    // 1. Trust both; the old intermediate still signs.
    control.kill();
    control = start(
        dir.path(),
        grpc,
        &cacerts(&dir.path().join("1"), &old, &[&old, &new]),
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    // 2. The new intermediate signs; renewals move every workload over.
    control.kill();
    control = start(
        dir.path(),
        grpc,
        &cacerts(&dir.path().join("2"), &new, &[&old, &new]),
    );
    tokio::time::sleep(Duration::from_secs(4)).await;

    // 3. Only the new root is trusted.
    control.kill();
    let step3 = cacerts(&dir.path().join("3"), &new, &[&new]);
    control = start(dir.path(), grpc, &step3);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let served = load.finish().await;
    assert!(served > 100, "only {served} requests");

    // The old root is no longer trusted: a workload certificate it
    // signed is refused, one from the new root accepted.
    let inbound = details.listener("inbound");
    let old_ca = Ca::load(Some(&dir.path().join("1")), Path::new("unused"), TD).unwrap();
    let refused = handshake(inbound, &workload(&old_ca, "bookinfo-productpage")).await;
    assert!(refused.is_err(), "the retired root is still trusted");
    let new_ca = Ca::load(Some(&step3), Path::new("unused"), TD).unwrap();
    handshake(inbound, &workload(&new_ca, "bookinfo-productpage"))
        .await
        .expect("the new root is trusted");
    drop(control);
}
