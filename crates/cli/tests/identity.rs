//! Identity with real processes: proxies get SPIFFE certificates from the
//! control plane's CA with bootstrap tokens, renew them, and are refused
//! when they cannot prove who they are.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use http::{StatusCode, Version};
use weft_testkit::control::ControlProcess;
use weft_testkit::process::{ProxyProcess, workspace_bin};
use weft_testkit::{PATIENCE, client, eventually};

fn weft() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_weft"))
}

/// A sidecar with only an outbound listener, speaking for `sa`, with
/// `trust` spliced into its `control_plane` block.
fn sidecar(cp: SocketAddr, sa: &str, trust: &str) -> ProxyProcess {
    ProxyProcess::spawn(
        &workspace_bin("weft-proxy"),
        &format!(
            "node: {{ workload: {sa}, namespace: default, service_account: {sa} }}
admin_address: 127.0.0.1:0
metrics_address: null
health_address: null
listeners:
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
control_plane: {{ address: \"{cp}\", node_id: {sa}, {trust} }}
"
        ),
    )
}

fn control(dir: &Path, name: &str) -> ControlProcess {
    ControlProcess::spawn(weft(), &[], &dir.join(name), "127.0.0.1:0".parse().unwrap())
}

async fn ready(p: &ProxyProcess) -> StatusCode {
    client::get(p.admin(), Version::HTTP_11, "admin", "/ready")
        .await
        .status
}

async fn control_metrics(control: &ControlProcess) -> String {
    let rsp = client::get(control.http, Version::HTTP_11, "control", "/metrics").await;
    String::from_utf8_lossy(&rsp.body).to_string()
}

fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_with_a_token_gets_its_certificate_and_renews_it() {
    let dir = tempfile::tempdir().unwrap();
    let control = control(dir.path(), "state");
    let key = dir.path().join("state/ca/root-key.pem");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600,
        "the self-signed root's key is private"
    );
    let trust = format!(
        "{}, certificate_ttl: 2s",
        control.bootstrap("default", "productpage")
    );
    let proxy = sidecar(control.grpc, "productpage", &trust);
    eventually("configured over the TLS stream", PATIENCE, || async {
        ready(&proxy).await == StatusCode::OK
    })
    .await;
    // Two-second certificates are renewed every 1.6 s, over mTLS (the
    // token is spent).
    eventually("renewed twice", PATIENCE, || async {
        counter(
            &control_metrics(&control).await,
            "weft_ca_certificates_issued_total",
        ) >= 3
    })
    .await;
    // ...and not more often than that (notBefore is backdated; renewal must
    // count from issue, or short lifetimes renew in a loop).
    let issued = counter(
        &control_metrics(&control).await,
        "weft_ca_certificates_issued_total",
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = counter(
        &control_metrics(&control).await,
        "weft_ca_certificates_issued_total",
    );
    assert!(
        later - issued <= 2,
        "{} renewals in one second",
        later - issued
    );
    assert_eq!(ready(&proxy).await, StatusCode::OK);
    let status = std::process::Command::new(weft())
        .args(["proxy-status"])
        .env("WEFT_CONTROL", control.http.to_string())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(
        out.lines()
            .any(|l| l.starts_with("productpage") && l.contains("SYNCED")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxies_that_cannot_prove_their_identity_get_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let control = control(dir.path(), "state");
    let bundle = control.trust_bundle();

    // A token that was never issued.
    let forged = dir.path().join("forged-token");
    std::fs::write(&forged, "weft-bootstrap.0123456789abcdef").unwrap();
    let trust = format!(
        "ca_bundle: \"{}\", token_file: \"{}\"",
        bundle.display(),
        forged.display()
    );
    let unknown = sidecar(control.grpc, "ratings", &trust);

    // A real token for another identity: the CSR names `reviews`.
    let other = control.bootstrap("default", "details");
    let impostor = sidecar(control.grpc, "reviews", &other);

    // No token at all.
    let none = sidecar(
        control.grpc,
        "details",
        &format!("ca_bundle: \"{}\"", bundle.display()),
    );

    eventually("each refusal is counted", PATIENCE, || async {
        let m = control_metrics(&control).await;
        counter(&m, "weft_ca_csr_refused_total{reason=\"unknown_token\"}") >= 1
            && counter(&m, "weft_ca_csr_refused_total{reason=\"wrong_identity\"}") >= 1
            && counter(&m, "weft_ca_csr_refused_total{reason=\"missing_token\"}") >= 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for p in [&unknown, &impostor, &none] {
        assert_eq!(
            ready(p).await,
            StatusCode::SERVICE_UNAVAILABLE,
            "no certificate, no config"
        );
    }
    let m = control_metrics(&control).await;
    assert_eq!(counter(&m, "weft_ca_certificates_issued_total"), 0, "{m}");
    let log = control.log();
    assert!(
        log.contains("but the caller proved only `spiffe://cluster.local/ns/default/sa/details`"),
        "{log}"
    );
    assert!(!log.contains("weft-bootstrap."), "tokens are never logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_control_plane_with_another_root_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let real = control(dir.path(), "real");
    let rogue = control(dir.path(), "rogue");
    // Trusts the real root, but is pointed at the rogue control plane.
    let token = rogue.bootstrap("default", "productpage");
    let token = token.split("token_file: ").nth(1).unwrap();
    let trust = format!(
        "ca_bundle: \"{}\", token_file: {token}",
        real.trust_bundle().display()
    );
    let proxy = sidecar(rogue.grpc, "productpage", &trust);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(ready(&proxy).await, StatusCode::SERVICE_UNAVAILABLE);
    let m = control_metrics(&rogue).await;
    assert_eq!(
        counter(&m, "weft_ca_certificates_issued_total"),
        0,
        "the proxy sent the rogue nothing: {m}"
    );
}
