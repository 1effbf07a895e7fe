//! Proxies under test, each on a thread of its own with a current-thread
//! tokio runtime (what `weft-proxy --concurrency 1` runs), its threads
//! tagged so that [`counting`](crate::counting) tells its allocations
//! apart from the client's and the upstream's.

use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use weft_identity::{Ca, Credentials, SpiffeId, WorkloadKey};
use weft_proto::config::ProxyConfig;
use weft_proxy::Proxy;
use weft_proxy::listen::{self, ListenerRt};
use weft_proxy::state::ProxyState;

use crate::Error;
use crate::counting::{Role, set_thread_role};

/// A started proxy; stopped (its runtime dropped) when dropped.
pub struct ProxyThread {
    pub listeners: BTreeMap<String, SocketAddr>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Started = (BTreeMap<String, SocketAddr>, Box<dyn Any>);

// === impl ProxyThread ===

impl ProxyThread {
    /// `weft_proxy::Proxy` from `yaml`, as `weft-proxy -c` starts it.
    pub fn start(role: Role, yaml: String) -> Result<Self, Error> {
        Self::spawn(role, move || async move {
            let config = ProxyConfig::from_yaml("bench.yaml", &yaml)?;
            let running = Proxy::start(config, None).await?;
            let listeners = running.addrs().listeners.clone();
            Ok((listeners, Box::new(running) as Box<dyn Any>))
        })
    }

    /// A proxy from `yaml` holding the workload certificate in `creds`, as
    /// if its control plane had issued it: mesh mTLS to endpoints that
    /// name an identity, and terminated on its inbound listeners. This is
    /// what `Proxy::start` builds once a certificate has arrived, minus the
    /// control-plane stream and the admin ports.
    pub fn start_with_identity(
        role: Role,
        yaml: String,
        creds: Arc<Credentials>,
    ) -> Result<Self, Error> {
        Self::spawn(role, move || async move {
            let config = ProxyConfig::from_yaml("bench.yaml", &yaml)?;
            let listeners_cfg = config.listeners.clone();
            let state = Arc::new(ProxyState::with_credentials(config, Some(creds))?);
            let (drain, watch) = drain::channel();
            let mut listeners = BTreeMap::new();
            for l in &listeners_cfg {
                let sock = TcpListener::bind(l.address).await?;
                listeners.insert(l.name.clone(), sock.local_addr()?);
                let rt = Arc::new(ListenerRt::new(l));
                tokio::spawn(listen::serve(sock, rt, state.clone(), watch.clone()));
            }
            state.set_own_addresses(listeners.values().copied().collect());
            Ok((listeners, Box::new(drain) as Box<dyn Any>))
        })
    }

    pub fn listener(&self, name: &str) -> Result<SocketAddr, Error> {
        self.listeners
            .get(name)
            .copied()
            .ok_or_else(|| format!("the proxy has no listener {name}").into())
    }

    /// Runs `start` on a new thread's runtime and waits until it has bound
    /// its listeners.
    fn spawn<F, Fut>(role: Role, start: F) -> Result<Self, Error>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = Result<Started, Error>>,
    {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<_, Error>>();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("{role:?}").to_lowercase())
            .spawn(move || {
                set_thread_role(role);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    // Blocking-pool threads work for the proxy too.
                    .on_thread_start(move || set_thread_role(role))
                    .build();
                let runtime = match runtime {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match start().await {
                        Ok((listeners, keep)) => {
                            let _ = ready_tx.send(Ok(listeners));
                            let _ = stop_rx.await;
                            drop(keep);
                        }
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                        }
                    }
                });
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        let listeners = ready_rx
            .recv()
            .map_err(|_| "the proxy thread ended before it started")??;
        Ok(Self {
            listeners,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

impl Drop for ProxyThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A throwaway mesh CA and workload certificates it signs.
pub struct Mesh {
    ca: Ca,
    _dir: tempfile::TempDir,
}

// === impl Mesh ===

impl Mesh {
    pub const TRUST_DOMAIN: &str = weft_identity::DEFAULT_TRUST_DOMAIN;

    pub fn new() -> Result<Self, Error> {
        let dir = tempfile::tempdir()?;
        let ca = Ca::self_signed(dir.path(), Self::TRUST_DOMAIN)?;
        Ok(Self { ca, _dir: dir })
    }

    /// A `control_plane` section for a config started with
    /// [`ProxyThread::start_with_identity`]: config validation wants one
    /// wherever mesh mTLS is used, but nothing dials it (the certificate is
    /// already there).
    pub fn control_plane_yaml(&self) -> String {
        format!(
            "control_plane: {{ address: \"127.0.0.1:1\", ca_bundle: \"{}\" }}\n",
            self.ca.bundle_file().display()
        )
    }

    /// Credentials for service account `sa` in `ns`, valid for an hour.
    pub fn workload(&self, ns: &str, sa: &str) -> Result<(SpiffeId, Arc<Credentials>), Error> {
        let id = SpiffeId::new(Self::TRUST_DOMAIN, ns, sa)?;
        let key = WorkloadKey::generate(id.clone())?;
        let issued = self.ca.sign(&key.csr()?, &id, Duration::from_secs(3600))?;
        let creds = Credentials::new(Self::TRUST_DOMAIN, self.ca.bundle().clone());
        creds.set_cert(
            id.clone(),
            key.certified(issued.chain)?,
            issued.not_before,
            issued.not_after,
        )?;
        Ok((id, creds))
    }
}
