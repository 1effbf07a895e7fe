use weft_proto::config::ProxyConfig;

use crate::state::ProxyState;

struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    /// `a.pem`/`a-key.pem` and `b.pem`/`b-key.pem`, self-signed.
    fn new() -> Self {
        weft_identity::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        for name in ["a", "b"] {
            let c =
                rcgen::generate_simple_self_signed(vec![format!("{name}.example.com")]).unwrap();
            std::fs::write(dir.path().join(format!("{name}.pem")), c.cert.pem()).unwrap();
            std::fs::write(
                dir.path().join(format!("{name}-key.pem")),
                c.signing_key.serialize_pem(),
            )
            .unwrap();
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn tls(&self, cert: &str, key: &str) -> String {
        format!(
            "{{ certificate: \"{}\", private_key: \"{}\" }}",
            self.path(cert),
            self.path(key)
        )
    }
}

fn config(yaml: &str) -> ProxyConfig {
    ProxyConfig::from_yaml("t.yaml", yaml).unwrap()
}

fn offers_https_alpn(config: &rustls::ServerConfig) -> bool {
    config.alpn_protocols == [b"h2".to_vec(), b"http/1.1".to_vec()]
}

#[test]
fn the_listeners_own_tls_wins_over_the_ports_pushed_tls() {
    let certs = Certs::new();
    let yaml = format!(
        "
listeners:
  - {{ name: own, address: 127.0.0.1:8443, direction: gateway, target_port: 443, tls: {} }}
  - {{ name: pushed, address: 127.0.0.1:9443, direction: gateway, target_port: 443 }}
  - {{ name: plain, address: 127.0.0.1:8080, direction: gateway, target_port: 80 }}
gateway_servers:
  - {{ port: 443, tls: {} }}
  - {{ port: 80 }}
",
        certs.tls("a.pem", "a-key.pem"),
        certs.tls("b.pem", "b-key.pem"),
    );
    let state = ProxyState::new(config(&yaml)).unwrap();
    let snap = state.snapshot();
    let own = snap.gateways.tls_for("own", Some(443)).unwrap();
    let pushed = snap.gateways.tls_for("pushed", Some(443)).unwrap();
    assert!(offers_https_alpn(&own) && offers_https_alpn(&pushed));
    assert!(!std::sync::Arc::ptr_eq(&own, &pushed));
    assert!(snap.gateways.tls_for("plain", Some(80)).is_none());
    assert!(snap.gateways.tls_for("plain", Some(8080)).is_none());
}

#[test]
fn unreadable_or_mismatched_certificates_reject_the_config_naming_the_field() {
    let certs = Certs::new();
    let cases = [
        (
            format!(
                "listeners:\n  - {{ name: g, address: 127.0.0.1:8443, direction: gateway, tls: {} }}\n",
                certs.tls("missing.pem", "a-key.pem")
            ),
            "listeners[0].tls",
            "missing.pem",
        ),
        (
            format!(
                "listeners: []\ngateway_servers:\n  - {{ port: 443, tls: {} }}\n",
                certs.tls("a.pem", "b-key.pem")
            ),
            "gateway_servers[0].tls",
            "do not go together",
        ),
    ];
    for (yaml, path, why) in cases {
        let err = ProxyState::new(config(&yaml)).unwrap_err();
        let e = &err.0[0];
        assert_eq!(e.path, path, "{err}");
        assert!(e.message.contains(why), "{err}");
    }
}

#[test]
fn a_bad_certificate_in_an_update_leaves_the_running_config() {
    let certs = Certs::new();
    let good = format!(
        "listeners: []\ngateway_servers:\n  - {{ port: 443, tls: {} }}\n",
        certs.tls("a.pem", "a-key.pem")
    );
    let state = ProxyState::new(config(&good)).unwrap();
    let bad = good.replace("a-key.pem", "b-key.pem");
    assert!(state.update(config(&bad)).is_err());
    assert!(state.snapshot().gateways.tls_for("x", Some(443)).is_some());
}
