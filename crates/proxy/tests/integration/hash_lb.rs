//! Consistent-hash load balancing (Istio DestinationRule
//! `loadBalancer.consistentHash`): three echo servers that say who they
//! are behind one cluster, and requests that carry (or lack) the key.

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr};

use http::{Request, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use weft_testkit::client::{self, Collected};
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers::{self, Server};

use crate::support::{outbound_to, send};

async fn three() -> [Server; 3] {
    [
        servers::http_echo("alpha").await,
        servers::http_echo("bravo").await,
        servers::http_echo("charlie").await,
    ]
}

async fn proxy(upstreams: &[Server], lb: &str) -> TestProxy {
    let addrs: Vec<_> = upstreams.iter().map(|s| s.addr).collect();
    TestProxy::start(&outbound_to(&addrs, &format!("    lb: {lb}\n"))).await
}

async fn request(proxy: &TestProxy, path: &str, headers: &[(&str, &str)]) -> Collected {
    let mut req = Request::get(path).header(header::HOST, "echo.test");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let rsp = send(proxy, req.body(client::empty()).unwrap()).await;
    assert_eq!(rsp.status, StatusCode::OK, "{}", rsp.text());
    rsp
}

fn who(rsp: &Collected) -> String {
    rsp.json()["service"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_header_value_sticks_to_one_server_and_values_spread() {
    for lb in [
        "{consistent_hash: {key: {header: x-user}}}",
        "{consistent_hash: {key: {header: x-user}, table: {maglev: {}}}}",
    ] {
        let up = three().await;
        let proxy = proxy(&up, lb).await;
        let mut owners = HashSet::new();
        for user in 0..20 {
            let user = format!("user-{user}");
            let first = who(&request(&proxy, "/", &[("x-user", &user)]).await);
            if user == "user-0" {
                for _ in 0..50 {
                    let again = request(&proxy, "/", &[("x-user", &user)]).await;
                    assert_eq!(who(&again), first, "{lb}");
                }
            } else {
                let again = request(&proxy, "/", &[("x-user", &user)]).await;
                assert_eq!(who(&again), first, "{lb}: {user}");
            }
            owners.insert(first);
        }
        assert!(owners.len() > 1, "{lb}: every user on {owners:?}");
    }
}

#[tokio::test]
async fn a_request_without_the_key_is_still_answered_at_random() {
    let up = three().await;
    let proxy = proxy(&up, "{consistent_hash: {key: {header: x-user}}}").await;
    let mut seen = HashSet::new();
    for _ in 0..30 {
        seen.insert(who(&request(&proxy, "/", &[]).await));
    }
    // Thirty random picks over three servers all landing on one is a
    // 1-in-10^14 event; landing on several shows the pick is not hashed.
    assert!(seen.len() > 1, "{seen:?}");
}

#[tokio::test]
async fn a_query_parameter_sticks() {
    let up = three().await;
    let proxy = proxy(&up, "{consistent_hash: {key: {query_parameter: cart}}}").await;
    let mut owners = HashSet::new();
    for cart in 0..12 {
        let path = format!("/items?x=1&cart={cart}");
        let first = who(&request(&proxy, &path, &[]).await);
        for _ in 0..5 {
            assert_eq!(who(&request(&proxy, &path, &[]).await), first);
        }
        owners.insert(first);
    }
    assert!(owners.len() > 1, "{owners:?}");
}

#[tokio::test]
async fn a_generated_cookie_comes_back_and_sticks() {
    let up = three().await;
    let proxy = proxy(
        &up,
        "{consistent_hash: {key: {cookie: {name: sticky, path: /, ttl: 1h, attributes: [{name: SameSite, value: Strict}]}}}}",
    )
    .await;
    let mut owners = HashSet::new();
    for _ in 0..6 {
        let first = request(&proxy, "/", &[]).await;
        let set = first.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(set.starts_with("sticky=\""), "{set}");
        assert!(
            set.ends_with("; Max-Age=3600; Path=/; SameSite=Strict; HttpOnly"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_string();
        // The first response came from the server the cookie hashes to.
        let owner = who(&first);
        for _ in 0..10 {
            let again = request(&proxy, "/", &[("cookie", &format!("a=b; {cookie}"))]).await;
            assert_eq!(who(&again), owner, "{cookie}");
            assert!(!again.headers.contains_key(header::SET_COOKIE));
        }
        owners.insert(owner);
    }
    // Without a ttl no cookie is made up.
    let proxy = self::proxy(&up, "{consistent_hash: {key: {cookie: {name: sticky}}}}").await;
    let rsp = request(&proxy, "/", &[]).await;
    assert!(!rsp.headers.contains_key(header::SET_COOKIE));
}

/// GET / over a connection from `source`, raw, and who answered.
async fn get_from(proxy: &TestProxy, source: Ipv4Addr) -> String {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from((source, 0))).unwrap();
    let mut conn = sock.connect(proxy.listener("outbound")).await.unwrap();
    conn.write_all(b"GET / HTTP/1.1\r\nhost: echo.test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let body = raw.split("\r\n\r\n").nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    json["service"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn the_source_ip_sticks_and_sources_spread() {
    let up = three().await;
    let proxy = proxy(
        &up,
        "{consistent_hash: {key: source_ip, table: {maglev: {table_size: 251}}}}",
    )
    .await;
    // Every 127/8 address is this host's on Linux: distinct clients.
    let mut owners: HashMap<String, usize> = HashMap::new();
    for last in 2..14u8 {
        let source = Ipv4Addr::new(127, 0, 0, last);
        let first = get_from(&proxy, source).await;
        for _ in 0..5 {
            assert_eq!(get_from(&proxy, source).await, first, "{source}");
        }
        *owners.entry(first).or_default() += 1;
    }
    assert!(owners.len() > 1, "{owners:?}");
}

/// Opaque TCP to three banner servers, hashed on the source IP (Istio
/// gives the TCP proxy a hash policy for `useSourceIp` alone).
#[tokio::test]
async fn opaque_tcp_hashes_the_source_ip_too() {
    let up = [
        servers::banner(b"alpha\n").await,
        servers::banner(b"bravo\n").await,
        servers::banner(b"charlie\n").await,
    ];
    let eps: String = up
        .iter()
        .map(|s| format!("{{ address: \"{}\" }}, ", s.addr))
        .collect();
    let proxy = TestProxy::start(&format!(
        "node: {{ workload: client-v1, namespace: test }}
listeners:
  - {{ name: to-db, address: 127.0.0.1:0, direction: outbound, destination: \"tcp.test:9000\" }}
services:
  - name: tcp.test
    ports:
      - {{ port: 9000, protocol: tcp, cluster: db }}
clusters:
  - name: db
    lb: {{ consistent_hash: {{ key: source_ip }} }}
    endpoints: [{eps}]
"
    ))
    .await;
    let banner_from = |source: Ipv4Addr| {
        let to = proxy.listener("to-db");
        async move {
            let sock = TcpSocket::new_v4().unwrap();
            sock.bind(SocketAddr::from((source, 0))).unwrap();
            let mut conn = sock.connect(to).await.unwrap();
            let mut line = [0u8; 16];
            let n = conn.read(&mut line).await.unwrap();
            String::from_utf8_lossy(&line[..n]).trim().to_string()
        }
    };
    let mut owners = HashSet::new();
    for last in 2..14u8 {
        let source = Ipv4Addr::new(127, 0, 1, last);
        let first = banner_from(source).await;
        assert!(
            ["alpha", "bravo", "charlie"].contains(&first.as_str()),
            "{first}"
        );
        for _ in 0..4 {
            assert_eq!(banner_from(source).await, first, "{source}");
        }
        owners.insert(first);
    }
    assert!(owners.len() > 1, "{owners:?}");
}
