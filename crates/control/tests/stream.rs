//! The config stream end to end: a real control-plane server on a socket,
//! a real proxy subscribed to it, and traffic through the proxy while the
//! config changes, is refused, and the control plane restarts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http::{StatusCode, Version};
use parking_lot::RwLock;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use weft_control::ca::{Authority, CaService, ServingCert};
use weft_control::server::{ConfigServer, Registry, SyncState};
use weft_control::views::{View, Views};
use weft_identity::SpiffeId;
use weft_proto::config::ProxyConfig;
use weft_proto::discovery::Node;
use weft_proto::resources::Typed;
use weft_testkit::proxy::TestProxy;
use weft_testkit::{PATIENCE, client, eventually, servers};

/// Views that serve the same resources to every proxy, set by the test.
struct TestViews {
    generation: watch::Sender<u64>,
    view: RwLock<Arc<View>>,
    connected: RwLock<Vec<String>>,
    /// (node id, whether it left) for every ended session.
    ended: RwLock<Vec<(String, bool)>>,
}

impl TestViews {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            generation: watch::channel(0).0,
            view: RwLock::default(),
            connected: RwLock::default(),
            ended: RwLock::default(),
        })
    }

    /// Publishes `yaml`'s services and clusters as the next generation.
    fn set(&self, yaml: &str) {
        let cfg = ProxyConfig::from_yaml("push.yaml", &format!("listeners: []\n{yaml}")).unwrap();
        let typed = cfg
            .services
            .into_iter()
            .map(Typed::Service)
            .chain(cfg.clusters.into_iter().map(Typed::Cluster));
        self.set_typed(typed.collect());
    }

    fn set_typed(&self, typed: Vec<Typed>) {
        let next = *self.generation.borrow() + 1;
        let resources = typed
            .iter()
            .map(|t| ((t.type_url().to_string(), t.name()), t.encode()))
            .collect();
        *self.view.write() = Arc::new(View {
            version: next.to_string(),
            resources,
            delta: None,
        });
        self.generation.send_replace(next);
    }
}

impl Views for TestViews {
    fn generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }
    fn view(&self, _: &Node) -> Arc<View> {
        self.view.read().clone()
    }
    fn proxy_connected(&self, node: &Node) {
        self.connected.write().push(node.id.clone());
    }
    fn proxy_disconnected(&self, node: &Node, left: bool) {
        self.connected.write().retain(|id| *id != node.id);
        self.ended.write().push((node.id.clone(), left));
    }
}

/// One CA for a test: control planes started on it share its root (kept
/// on disk), so a restarted one is trusted by the proxies of the first.
struct Pki {
    dir: tempfile::TempDir,
    authority: Arc<Authority>,
}

impl Pki {
    fn new() -> Arc<Self> {
        weft_identity::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let (authority, _) = Authority::open(
            None,
            &dir.path().join("ca"),
            "cluster.local",
            std::time::Duration::from_secs(3600),
        )
        .unwrap();
        Arc::new(Self { dir, authority })
    }

    /// The proxy file's `ca_bundle` and `token_file` for `ns`/`sa`.
    fn bootstrap(&self, ns: &str, sa: &str) -> String {
        let id = SpiffeId::new("cluster.local", ns, sa).unwrap();
        let token = self
            .authority
            .tokens
            .issue(id, std::time::Duration::from_secs(60));
        let path = self
            .dir
            .path()
            .join(format!("token-{}", self.authority.tokens.len()));
        std::fs::write(&path, token).unwrap();
        format!(
            "ca_bundle: \"{}\", token_file: \"{}\"",
            self.authority.ca.bundle_file().display(),
            path.display()
        )
    }
}

/// A control plane serving `views` on `addr` (port 0 for any), over TLS
/// with the CA beside it, until the returned sender fires.
async fn control(
    views: Arc<TestViews>,
    registry: Arc<Registry>,
    addr: SocketAddr,
    pki: &Pki,
) -> (SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let dir = tempfile::tempdir().unwrap();
    let tap = weft_control::tap::TapService(Arc::new(
        weft_control::tap::TapBroker::new(registry.clone(), &dir.path().join("tap-token")).unwrap(),
    ));
    let server = ConfigServer::new(views, registry);
    let serving = ServingCert::issue(&pki.authority.ca).unwrap();
    let tls = serving.creds.server_config(false, &[b"h2"]);
    tokio::spawn(server.serve_tls(
        listener,
        tls,
        CaService(pki.authority.clone()),
        tap,
        async move {
            let _ = stopped.await;
        },
    ));
    (addr, stop)
}

fn routes_to(echo: &str) -> String {
    format!(
        "services:
  - name: echo.test.svc.cluster.local
    hosts: [echo.test]
    ports: [{{ port: 80, cluster: echo }}]
clusters:
  - {{ name: echo, endpoints: [{{ address: \"{echo}\" }}] }}
"
    )
}

async fn proxy(cp: SocketAddr, pki: &Pki) -> TestProxy {
    let trust = pki.bootstrap("test", "default");
    TestProxy::start(&format!(
        "node: {{ workload: client, namespace: test }}
outbound_policy: registry_only
listeners:
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
control_plane: {{ address: \"{cp}\", node_id: client-1, labels: {{ app: client }}, {trust} }}
"
    ))
    .await
}

async fn who_answers(proxy: &TestProxy) -> (StatusCode, String) {
    let rsp = client::get(
        proxy.listener("outbound"),
        Version::HTTP_11,
        "echo.test",
        "/",
    )
    .await;
    let who = if rsp.status == StatusCode::OK {
        rsp.json()["service"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    } else {
        rsp.text()
    };
    (rsp.status, who)
}

async fn ready(proxy: &TestProxy) -> StatusCode {
    client::get(proxy.addrs.admin, Version::HTTP_11, "admin", "/ready")
        .await
        .status
}

/// A control plane serving `yaml` as every proxy's view, and one proxy
/// it has configured.
struct Setup {
    pki: Arc<Pki>,
    views: Arc<TestViews>,
    registry: Arc<Registry>,
    cp: SocketAddr,
    stop: oneshot::Sender<()>,
    proxy: TestProxy,
}

async fn configured(yaml: &str) -> Setup {
    let views = TestViews::new();
    views.set(yaml);
    let registry = Arc::new(Registry::default());
    let pki = Pki::new();
    let (cp, stop) = control(
        views.clone(),
        registry.clone(),
        "127.0.0.1:0".parse().unwrap(),
        &pki,
    )
    .await;
    let proxy = proxy(cp, &pki).await;
    eventually("the proxy is ready once configured", PATIENCE, || async {
        ready(&proxy).await == StatusCode::OK
    })
    .await;
    Setup {
        pki,
        views,
        registry,
        cp,
        stop,
        proxy,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_gets_its_config_then_only_changes_under_load_without_a_failure() {
    let (a, b) = (servers::http_echo("a").await, servers::http_echo("b").await);
    let Setup {
        views,
        registry,
        stop: _stop,
        proxy,
        ..
    } = configured(&routes_to(&a.addr.to_string())).await;
    assert_eq!(who_answers(&proxy).await, (StatusCode::OK, "a".into()));
    // The proxy is ready as soon as it applied its config; its ACK reaches
    // the control plane a moment later.
    eventually("the control plane sees the ACK", PATIENCE, || async {
        registry
            .get("client-1")
            .is_some_and(|s| s.state == SyncState::Synced)
    })
    .await;
    let status = registry.get("client-1").unwrap();
    assert_eq!((status.workload.as_str(), status.resources), ("client", 2));
    assert_eq!(views.connected.read().as_slice(), ["client-1"]);

    // Load while the route moves from a to b: no request may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let outbound = proxy.listener("outbound");
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let rsp = client::get(outbound, Version::HTTP_11, "echo.test", "/").await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    if rsp.status != StatusCode::OK {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    views.set(&routes_to(&b.addr.to_string()));
    eventually("requests reach b", PATIENCE, || async {
        who_answers(&proxy).await.1 == "b"
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for t in load {
        t.await.unwrap();
    }
    assert!(
        sent.load(Ordering::Relaxed) > 20,
        "too little load to mean anything"
    );
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "of {} requests",
        sent.load(Ordering::Relaxed)
    );
    eventually("synced at generation 2", PATIENCE, || async {
        registry.get("client-1").is_some_and(|s| {
            s.state == SyncState::Synced && s.acked_version.as_deref() == Some("2")
        })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_the_proxy_cannot_use_is_nacked_and_the_old_one_serves() {
    let a = servers::http_echo("a").await;
    let Setup {
        views,
        registry,
        stop: _stop,
        proxy,
        ..
    } = configured(&routes_to(&a.addr.to_string())).await;

    // A route to a cluster that was never pushed: the proxy cannot
    // compile it (the control plane's own model would refuse to make one;
    // this is how a proxy protects itself if it ever does).
    let mut broken = ProxyConfig::from_yaml(
        "ok.yaml",
        &format!("listeners: []\n{}", routes_to("127.0.0.1:1")),
    )
    .unwrap()
    .services
    .remove(0);
    broken.ports[0].cluster = Some("nowhere".into());
    views.set_typed(vec![Typed::Service(broken)]);
    eventually("the push is nacked", PATIENCE, || async {
        registry
            .get("client-1")
            .is_some_and(|s| s.state == SyncState::Nacked)
    })
    .await;
    let status = registry.get("client-1").unwrap();
    assert!(
        status.nack.as_deref().unwrap().contains("nowhere"),
        "{status:?}"
    );
    assert_eq!(
        status.acked_version.as_deref(),
        Some("1"),
        "the last good generation"
    );
    assert_eq!(
        who_answers(&proxy).await.0,
        StatusCode::OK,
        "the last good config still serves"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_control_plane_resyncs_and_the_proxy_serves_throughout() {
    let (a, b) = (servers::http_echo("a").await, servers::http_echo("b").await);
    let Setup {
        pki,
        views,
        cp,
        stop,
        proxy,
        ..
    } = configured(&routes_to(&a.addr.to_string())).await;

    stop.send(()).unwrap();
    eventually("the proxy notices", PATIENCE, || async {
        views.connected.read().is_empty()
    })
    .await;
    for _ in 0..20 {
        assert_eq!(
            who_answers(&proxy).await,
            (StatusCode::OK, "a".into()),
            "served while the control plane is down"
        );
    }
    assert_eq!(
        ready(&proxy).await,
        StatusCode::OK,
        "still ready on its last good config"
    );

    // A new control plane (fresh state) on the same address, with a change.
    let views2 = TestViews::new();
    views2.set(&routes_to(&b.addr.to_string()));
    let registry2 = Arc::new(Registry::default());
    let (_cp, _stop) = control(views2.clone(), registry2.clone(), cp, &pki).await;
    eventually(
        "the proxy reconnects and takes the new state",
        PATIENCE,
        || async { who_answers(&proxy).await.1 == "b" },
    )
    .await;
    eventually("synced with the new control plane", PATIENCE, || async {
        registry2
            .get("client-1")
            .is_some_and(|s| s.state == SyncState::Synced)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_proxy_says_it_is_leaving() {
    let a = servers::http_echo("a").await;
    let Setup {
        pki,
        views,
        cp,
        stop,
        mut proxy,
        ..
    } = configured(&routes_to(&a.addr.to_string())).await;

    assert!(proxy.drain(std::time::Duration::from_secs(2)).await);
    eventually("the session ended", PATIENCE, || async {
        !views.ended.read().is_empty()
    })
    .await;
    assert_eq!(
        views.ended.read().as_slice(),
        [("client-1".to_string(), true)],
        "left, not lost"
    );

    // A control plane that goes away loses its proxies; it does not see
    // them leave.
    let mut other = self::proxy(cp, &pki).await;
    eventually("configured", PATIENCE, || async {
        ready(&other).await == StatusCode::OK
    })
    .await;
    stop.send(()).unwrap();
    eventually("the second session ended", PATIENCE, || async {
        views.ended.read().len() == 2
    })
    .await;
    assert_eq!(views.ended.read()[1], ("client-1".to_string(), false));
    other.drain(std::time::Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_config_arrives_in_pieces_and_applies_whole() {
    let a = servers::http_echo("a").await;
    // 3,000 clusters of ~200 bytes: about ten 64 KiB pieces.
    let mut yaml = routes_to(&a.addr.to_string());
    for i in 0..3000 {
        yaml.push_str(&format!(
            "  - {{ name: spare-{i:04}, endpoints: [{{ address: \"127.0.0.1:{}\" }}] }}\n",
            1000 + i
        ));
    }
    // Holding `stop` keeps the control plane up.
    let Setup {
        registry,
        proxy,
        stop: _stop,
        ..
    } = configured(&yaml).await;
    eventually("synced", PATIENCE, || async {
        registry
            .get("client-1")
            .is_some_and(|s| s.state == SyncState::Synced)
    })
    .await;
    assert_eq!(registry.get("client-1").unwrap().resources, 3002);
    assert_eq!(proxy.state().snapshot().config.clusters.len(), 3001);
    assert_eq!(who_answers(&proxy).await, (StatusCode::OK, "a".into()));
}
