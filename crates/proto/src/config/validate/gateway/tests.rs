use crate::config::{LoadError, ProxyConfig};

const GOOD: &str = "
listeners:
  - { name: http, address: 0.0.0.0:8080, direction: gateway, target_port: 80 }
  - name: https
    address: 0.0.0.0:8443
    direction: gateway
    target_port: 443
    tls: { certificate: /etc/weft/gw.pem, private_key: /etc/weft/gw-key.pem }
gateway_servers:
  - port: 80
    virtual_hosts:
      - name: bookinfo
        hosts: ['*', '*.example.com', shop.example.com]
        routes:
          - match: [{ path: { exact: /productpage } }]
            backends: [{ cluster: productpage }]
  - port: 443
    tls: { certificate: /etc/weft/gw.pem, private_key: /etc/weft/gw-key.pem }
clusters:
  - { name: productpage, endpoints: [{ address: 10.0.0.1:9080 }] }
";

/// Every error of `yaml` as `path: message`.
fn errors(yaml: &str) -> Vec<String> {
    match ProxyConfig::from_yaml("gw.yaml", yaml) {
        Ok(_) => Vec::new(),
        Err(LoadError::Invalid { errors, .. }) => errors
            .iter()
            .map(|e| format!("{}: {}", e.path, e.message))
            .collect(),
        Err(e) => panic!("{e}"),
    }
}

fn has(errs: &[String], path: &str, words: &str) -> bool {
    errs.iter()
        .any(|e| e.starts_with(&format!("{path}: ")) && e.contains(words))
}

#[test]
fn a_gateway_config_validates() {
    assert_eq!(errors(GOOD), Vec::<String>::new());
}

#[test]
fn gateway_listeners_need_a_port_and_take_no_sidecar_settings() {
    let errs = errors(
        "
listeners:
  - { name: a, address: 127.0.0.1:0, direction: gateway }
  - { name: b, address: 127.0.0.1:0, direction: gateway, target_port: 80, interception: transparent, destination: 'x:80', protocol: tcp }
  - { name: c, address: 127.0.0.1:0, direction: outbound, tls: { certificate: c.pem, private_key: '' } }
",
    );
    assert!(
        has(&errs, "listeners[0].target_port", "set target_port"),
        "{errs:#?}"
    );
    assert!(
        has(&errs, "listeners[1].interception", "explicit"),
        "{errs:#?}"
    );
    assert!(
        has(&errs, "listeners[1].destination", "remove destination"),
        "{errs:#?}"
    );
    assert!(
        has(&errs, "listeners[1].protocol", "serve HTTP"),
        "{errs:#?}"
    );
    assert!(
        has(&errs, "listeners[2].tls", "direction: gateway"),
        "{errs:#?}"
    );
    assert!(
        has(&errs, "listeners[2].tls.private_key", "PEM file"),
        "{errs:#?}"
    );
}

#[test]
fn gateway_servers_are_unique_by_port_and_host() {
    let errs = errors(
        "
listeners: []
gateway_servers:
  - port: 80
    virtual_hosts:
      - { name: a, hosts: [shop.example.com, 'shop.example.com:80', 'a.*.com'], routes: [{ backends: [{ cluster: nope }] }] }
      - { name: b, hosts: [SHOP.example.com] }
      - { name: c, hosts: [] }
  - { port: 80 }
",
    );
    assert!(
        has(
            &errs,
            "gateway_servers[0].virtual_hosts[0].hosts[1]",
            "no port"
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "gateway_servers[0].virtual_hosts[0].hosts[2]",
            "not a host name"
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "gateway_servers[0].virtual_hosts[0].routes[0].backends[0].cluster",
            "no cluster named \"nope\""
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "gateway_servers[0].virtual_hosts[1].hosts[0]",
            "already belongs to virtual_hosts[0]"
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "gateway_servers[0].virtual_hosts[2].hosts",
            "at least one host"
        ),
        "{errs:#?}"
    );
    assert!(
        has(
            &errs,
            "gateway_servers[1].port",
            "already served by gateway_servers[0]"
        ),
        "{errs:#?}"
    );
}
