//! CA, issuance and mTLS handshakes with real certificates.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::*;

const TD: &str = "cluster.local";

fn id(ns: &str, sa: &str) -> SpiffeId {
    SpiffeId::new(TD, ns, sa).unwrap()
}

/// Credentials for `id`, issued by `ca`.
fn creds(ca: &Ca, id: &SpiffeId) -> Arc<Credentials> {
    let creds = Credentials::new(TD, ca.bundle().clone());
    let key = WorkloadKey::generate(id.clone()).unwrap();
    let issued = ca
        .sign(&key.csr().unwrap(), id, Duration::from_secs(3600))
        .unwrap();
    creds
        .set_cert(
            id.clone(),
            key.certified(issued.chain).unwrap(),
            issued.not_before,
            issued.not_after,
        )
        .unwrap();
    creds
}

/// One TLS handshake over an in-memory pipe; returns what each side saw
/// of the other, or the first error.
async fn handshake(
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
) -> Result<(Option<SpiffeId>, Option<SpiffeId>), String> {
    install_crypto_provider();
    let (a, b) = tokio::io::duplex(64 * 1024);
    let accept = tokio::spawn(async move {
        let mut tls = TlsAcceptor::from(server)
            .accept(a)
            .await
            .map_err(|e| e.to_string())?;
        let peer = peer_id(tls.get_ref().1.peer_certificates());
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        tls.write_all(b"pong").await.map_err(|e| e.to_string())?;
        tls.flush().await.map_err(|e| e.to_string())?;
        Ok::<_, String>(peer)
    });
    let name = rustls_pki_types::ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into());
    let connector = TlsConnector::from(client);
    let client_side = async {
        let mut tls = connector
            .with_alpn(vec![ALPN_H2.to_vec()])
            .connect(name, b)
            .await
            .map_err(|e| e.to_string())?;
        let peer = peer_id(tls.get_ref().1.peer_certificates());
        tls.write_all(b"ping").await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(peer)
    };
    let client_peer = client_side.await;
    let server_peer = accept.await.map_err(|e| e.to_string())?;
    match (server_peer, client_peer) {
        (Ok(s), Ok(c)) => Ok((s, c)),
        (s, c) => Err(format!("server: {:?}; client: {:?}", s.err(), c.err())),
    }
}

#[test]
fn self_signed_root_is_kept_private_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load(None, &dir.path().join("ca"), TD).unwrap();
    let key = dir.path().join("ca/root-key.pem");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("ca"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    let again = Ca::load(None, &dir.path().join("ca"), TD).unwrap();
    assert_eq!(ca.bundle(), again.bundle(), "a restart must keep the root");

    // A key others can read is tightened, not used as is.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    Ca::load(None, &dir.path().join("ca"), TD).unwrap();
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Half a root is never silently replaced.
    std::fs::remove_file(&key).unwrap();
    let err = Ca::load(None, &dir.path().join("ca"), TD)
        .unwrap_err()
        .to_string();
    assert!(err.contains("root-key.pem"), "{err}");
}

#[test]
fn signs_a_spiffe_certificate_for_the_proven_identity() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load(None, &dir.path().join("ca"), TD).unwrap();
    let me = id("default", "bookinfo-productpage");
    let key = WorkloadKey::generate(me.clone()).unwrap();
    let issued = ca
        .sign(&key.csr().unwrap(), &me, Duration::from_secs(24 * 3600))
        .unwrap();
    assert_eq!(SpiffeId::from_cert(&issued.chain[0]).unwrap(), me);
    let life = issued.not_after.duration_since(issued.not_before).unwrap();
    assert!(life >= Duration::from_secs(24 * 3600) && life <= Duration::from_secs(24 * 3600 + 120));

    let (_, x509) = x509_parser::parse_x509_certificate(&issued.chain[0]).unwrap();
    assert!(!x509.is_ca());
    let eku = x509.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.server_auth && eku.client_auth);
    assert_eq!(
        x509.public_key().algorithm.algorithm.to_id_string(),
        "1.2.840.10045.2.1",
        "ECDSA"
    );

    // Asking for someone else is refused, naming both.
    let other = WorkloadKey::generate(id("default", "reviews")).unwrap();
    let err = ca
        .sign(&other.csr().unwrap(), &me, Duration::from_secs(60))
        .unwrap_err();
    assert!(matches!(err, SignError::WrongIdentity { .. }), "{err}");
    assert!(err.to_string().contains("sa/reviews"), "{err}");

    // Garbage and a foreign trust domain are refused.
    assert!(matches!(
        ca.sign(b"not a csr", &me, Duration::from_secs(60)),
        Err(SignError::BadCsr(_))
    ));
    let foreign = SpiffeId::new("evil.example", "default", "x").unwrap();
    let fk = WorkloadKey::generate(foreign.clone()).unwrap();
    assert!(matches!(
        ca.sign(&fk.csr().unwrap(), &foreign, Duration::from_secs(60)),
        Err(SignError::TrustDomain { .. })
    ));
}

/// Writes Istio's `cacerts` layout: a root, and an intermediate it signed.
fn plug_in_dir(dir: &std::path::Path) {
    let root_key = KeyPair::generate().unwrap();
    let mut root = CertificateParams::default();
    root.distinguished_name.push(DnType::CommonName, "Root CA");
    root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let root_cert = root.self_signed(&root_key).unwrap();
    let root_issuer = rcgen::Issuer::new(root, root_key);

    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, "Intermediate CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.signed_by(&ca_key, &root_issuer).unwrap();

    std::fs::write(dir.join("root-cert.pem"), root_cert.pem()).unwrap();
    std::fs::write(dir.join("ca-cert.pem"), ca_cert.pem()).unwrap();
    std::fs::write(dir.join("ca-key.pem"), ca_key.serialize_pem()).unwrap();
    std::fs::write(
        dir.join("cert-chain.pem"),
        format!("{}{}", ca_cert.pem(), root_cert.pem()),
    )
    .unwrap();
}

#[tokio::test]
async fn plug_in_root_signs_through_its_intermediate() {
    let dir = tempfile::tempdir().unwrap();
    plug_in_dir(dir.path());
    let ca = Ca::load(Some(dir.path()), dir.path(), TD).unwrap();
    assert_eq!(ca.source(), &CaSource::PlugIn(dir.path().to_path_buf()));
    let a = creds(&ca, &id("default", "a"));
    let b = creds(&ca, &id("default", "b"));
    let (server_saw, client_saw) = handshake(
        b.server_config(true, &MESH_ALPNS),
        a.client_config(Expect::Id(id("default", "b"))),
    )
    .await
    .unwrap();
    assert_eq!(server_saw, Some(id("default", "a")));
    assert_eq!(client_saw, Some(id("default", "b")));
}

#[test]
fn plug_in_mistakes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    plug_in_dir(dir.path());
    std::fs::remove_file(dir.path().join("cert-chain.pem")).unwrap();
    let err = Ca::plug_in(dir.path(), TD).unwrap_err().to_string();
    assert!(err.contains("missing cert-chain.pem"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    plug_in_dir(dir.path());
    std::fs::write(
        dir.path().join("ca-key.pem"),
        KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let err = Ca::plug_in(dir.path(), TD).unwrap_err().to_string();
    assert!(
        err.contains("ca-cert.pem") && err.contains("does not match"),
        "{err}"
    );

    // An intermediate from another root.
    let dir = tempfile::tempdir().unwrap();
    plug_in_dir(dir.path());
    let other = tempfile::tempdir().unwrap();
    plug_in_dir(other.path());
    std::fs::copy(
        other.path().join("root-cert.pem"),
        dir.path().join("root-cert.pem"),
    )
    .unwrap();
    let err = Ca::plug_in(dir.path(), TD).unwrap_err().to_string();
    assert!(err.contains("does not chain"), "{err}");
}

#[tokio::test]
async fn handshakes_refuse_wrong_identities_and_foreign_cas() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load(None, &dir.path().join("ca"), TD).unwrap();
    let client = creds(&ca, &id("default", "productpage"));
    let server = creds(&ca, &id("default", "details"));
    let server_cfg = server.server_config(true, &MESH_ALPNS);

    // The right identity on both sides.
    let (s, c) = handshake(
        server_cfg.clone(),
        client.client_config(Expect::Id(id("default", "details"))),
    )
    .await
    .unwrap();
    assert_eq!(s, Some(id("default", "productpage")));
    assert_eq!(c, Some(id("default", "details")));

    // A valid certificate carrying another identity than expected.
    let err = handshake(
        server_cfg.clone(),
        client.client_config(Expect::Id(id("default", "ratings"))),
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("sa/details") && err.contains("sa/ratings"),
        "{err}"
    );

    // A client certificate from a foreign CA.
    let foreign_dir = tempfile::tempdir().unwrap();
    let foreign_ca = Ca::load(None, &foreign_dir.path().join("ca"), TD).unwrap();
    let forged = creds(&foreign_ca, &id("default", "productpage"));
    // It trusts our root, so only the server's check can stop it.
    forged.set_bundle(ca.bundle().clone());
    let err = handshake(
        server_cfg.clone(),
        forged.client_config(Expect::Id(id("default", "details"))),
    )
    .await
    .unwrap_err();
    assert!(!err.is_empty());

    // No client certificate at all.
    let anonymous = Credentials::new(TD, ca.bundle().clone());
    assert!(
        handshake(
            server_cfg.clone(),
            anonymous.client_config(Expect::Id(id("default", "details"))),
        )
        .await
        .is_err()
    );
    // ...which the control plane's port allows (optional client auth).
    let (s, _) = handshake(
        server.server_config(false, &MESH_ALPNS),
        anonymous.client_config_with(Expect::Id(id("default", "details")), false),
    )
    .await
    .unwrap();
    assert_eq!(s, None);

    // Another trust domain, even from a CA we trust.
    let other_td = Ca::load(
        None,
        &tempfile::tempdir().unwrap().path().join("ca"),
        "other.domain",
    )
    .unwrap();
    let mixed = Credentials::new(TD, ca.bundle().merged(other_td.bundle()));
    let oid = SpiffeId::new("other.domain", "default", "productpage").unwrap();
    let key = WorkloadKey::generate(oid.clone()).unwrap();
    let issued = other_td
        .sign(&key.csr().unwrap(), &oid, Duration::from_secs(60))
        .unwrap();
    mixed
        .set_cert(
            oid,
            key.certified(issued.chain).unwrap(),
            issued.not_before,
            issued.not_after,
        )
        .unwrap();
    server.set_bundle(ca.bundle().merged(other_td.bundle()));
    let err = handshake(
        server.server_config(true, &MESH_ALPNS),
        mixed.client_config(Expect::Id(id("default", "details"))),
    )
    .await
    .unwrap_err();
    assert!(!err.is_empty());
}

#[tokio::test]
async fn rotation_takes_effect_for_new_handshakes() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load(None, &dir.path().join("ca"), TD).unwrap();
    let client = creds(&ca, &id("default", "a"));
    let server = creds(&ca, &id("default", "b"));
    let server_cfg = server.server_config(true, &MESH_ALPNS);
    let client_cfg = client.client_config(Expect::Id(id("default", "b")));
    let before = server.current().unwrap().key.cert[0].clone();

    // Renew the server's certificate; the same configs go on working and
    // the new certificate is the one presented.
    let me = id("default", "b");
    let key = WorkloadKey::generate(me.clone()).unwrap();
    let issued = ca
        .sign(&key.csr().unwrap(), &me, Duration::from_secs(60))
        .unwrap();
    server
        .set_cert(
            me,
            key.certified(issued.chain).unwrap(),
            issued.not_before,
            issued.not_after,
        )
        .unwrap();
    let after = server.current().unwrap().key.cert[0].clone();
    assert_ne!(before, after);
    handshake(server_cfg, client_cfg).await.unwrap();

    // A certificate naming someone else is never installed.
    let key = WorkloadKey::generate(id("default", "c")).unwrap();
    let issued = ca
        .sign(
            &key.csr().unwrap(),
            &id("default", "c"),
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(
        server
            .set_cert(
                id("default", "b"),
                key.certified(issued.chain).unwrap(),
                SystemTime::now(),
                SystemTime::now()
            )
            .is_err()
    );
}

#[tokio::test]
async fn expired_certificates_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::load(None, &dir.path().join("ca"), TD).unwrap();
    let client = creds(&ca, &id("default", "a"));
    let server = Credentials::new(TD, ca.bundle().clone());
    let me = id("default", "b");
    let key = WorkloadKey::generate(me.clone()).unwrap();
    // Zero lifetime: expired (not_before is backdated a minute).
    let issued = ca.sign(&key.csr().unwrap(), &me, Duration::ZERO).unwrap();
    server
        .set_cert(
            me.clone(),
            key.certified(issued.chain).unwrap(),
            issued.not_before,
            issued.not_after,
        )
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = handshake(
        server.server_config(true, &MESH_ALPNS),
        client.client_config(Expect::Id(me)),
    )
    .await
    .unwrap_err();
    assert!(err.to_lowercase().contains("expired"), "{err}");
}
