//! `weft control`: the control plane as one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::Api;
use crate::ca::{Authority, CaService};
use crate::compile::{Compiler, DEBOUNCE};
use crate::server::{ConfigServer, Registry};
use crate::store::Store;
use crate::telemetry::Telemetry;

/// How often watched files are checked for edits: well inside the second
/// an edit may take to reach the proxies.
pub const WATCH_INTERVAL: Duration = Duration::from_millis(100);

/// How long a stop waits for the servers to finish their in-flight work.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// Bootstrap settings of `weft control`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Files and directories to load and watch.
    pub files: Vec<PathBuf>,
    /// Where applied resources are kept; `None` keeps them in memory.
    pub state_dir: Option<PathBuf>,
    /// The config stream (15012).
    pub grpc: SocketAddr,
    /// The HTTP API (15014).
    pub http: SocketAddr,
    /// The SPIFFE trust domain (`cluster.local`).
    pub trust_domain: String,
    /// A plug-in root in Istio's `cacerts` layout; without one, a
    /// self-signed root is created in `ca_dir` and kept there.
    pub cacerts: Option<PathBuf>,
    /// Where the self-signed root lives (`<state_dir>/ca`).
    pub ca_dir: PathBuf,
    /// The longest workload certificate the CA signs (24 h).
    pub workload_cert_ttl: Duration,
    /// How often every connected proxy's metrics are scraped for the
    /// golden metrics (`SCRAPE_INTERVAL`).
    pub scrape_interval: Duration,
    /// Mesh-wide tracing, pushed to every proxy (`weft.dev/Tracing`).
    pub tracing: Option<weft_proto::config::Tracing>,
}

/// How often proxies' metrics are scraped by default: two slots fill the
/// shortest window (10 s).
pub const SCRAPE_INTERVAL: Duration = Duration::from_secs(5);

/// Where a started control plane listens (ports may have been 0).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Bound {
    pub grpc: SocketAddr,
    pub http: SocketAddr,
}

/// Why the control plane could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the state directory: {0}")]
    State(#[source] std::io::Error),
    #[error("the CA cannot start: {0}")]
    Ca(#[from] crate::ca::OpenError),
}

/// A running control plane.
pub struct Running {
    pub bound: Bound,
    pub store: Arc<Store>,
    pub compiler: Arc<Compiler>,
    pub registry: Arc<Registry>,
    pub authority: Arc<Authority>,
    /// The mesh's rolling golden metrics.
    pub telemetry: Arc<Telemetry>,
    /// Holds the token `GET /api/v1/tap` requires (owner-only).
    pub tap_token_file: PathBuf,
    /// The PEM file proxies need to trust the control plane
    /// (`control_plane.ca_bundle`).
    pub trust_bundle: PathBuf,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds both ports, loads the config, and starts serving.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    let bind = |what, addr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { what, addr, source })
    };
    let grpc = bind("config stream", settings.grpc).await?;
    let http = bind("HTTP API", settings.http).await?;
    let bound = Bound {
        grpc: grpc.local_addr().unwrap_or(settings.grpc),
        http: http.local_addr().unwrap_or(settings.http),
    };

    let compiler = match &settings.state_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(StartError::State)?;
            Compiler::with_registrations(Vec::new(), dir.join("registrations.bin"))
        }
        None => Compiler::new(Vec::new()),
    };
    // Before the store's first analysis, which warns about Telemetry
    // tracing when there is no collector.
    compiler.set_tracing(settings.tracing.clone());
    let store = Store::open(
        compiler.clone(),
        settings.files,
        settings.state_dir.as_deref(),
    )
    .map_err(StartError::State)?;
    compiler.set_trust_domain(&settings.trust_domain);
    let registry = Arc::new(Registry::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);

    let (authority, serving) = Authority::open(
        settings.cacerts.as_deref(),
        &settings.ca_dir,
        &settings.trust_domain,
        settings.workload_cert_ttl,
    )?;
    let trust_bundle = authority.ca.bundle_file();
    compiler.set_trust_roots(authority.ca.bundle().to_pem());
    // The first generation holds the files before any proxy is served.
    compiler.rebuild();
    let tls = serving.creds.server_config(false, &[b"h2"]);

    let mut tasks = vec![
        tokio::spawn(compiler.clone().run(DEBOUNCE)),
        tokio::spawn(store.clone().watch(WATCH_INTERVAL)),
        tokio::spawn(serving.clone().keep_fresh(authority.clone())),
    ];
    let server = ConfigServer::new(compiler.clone(), registry.clone());
    let mut s = stopped.clone();
    let ca_service = CaService(authority.clone());
    // Beside the CA's files: whoever may read those may tap.
    let tap_token_file = settings
        .ca_dir
        .parent()
        .unwrap_or(&settings.ca_dir)
        .join("tap-token");
    let tap = Arc::new(
        crate::tap::TapBroker::new(registry.clone(), &tap_token_file).map_err(StartError::State)?,
    );
    let tap_service = crate::tap::TapService(tap.clone());
    tasks.push(tokio::spawn(async move {
        let shutdown = async move {
            let _ = s.wait_for(|v| *v).await;
        };
        if let Err(e) = server
            .serve_tls(grpc, tls, ca_service, tap_service, shutdown)
            .await
        {
            tracing::error!("config stream failed: {e}");
        }
    }));
    let telemetry = Arc::new(Telemetry::new(settings.scrape_interval));
    let api = Api {
        store: store.clone(),
        registry: registry.clone(),
        authority: authority.clone(),
        compiler: compiler.clone(),
        telemetry: telemetry.clone(),
        tap,
    };
    tasks.push(tokio::spawn(crate::telemetry::run(
        telemetry.clone(),
        registry.clone(),
        stopped.clone(),
    )));
    let mut s = stopped;
    tasks.push(tokio::spawn(async move {
        let shutdown = async move {
            let _ = s.wait_for(|v| *v).await;
        };
        if let Err(e) = axum::serve(
            http,
            api.router()
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        {
            tracing::error!("HTTP API failed: {e}");
        }
    }));
    tracing::info!(grpc = %bound.grpc, http = %bound.http, trust_bundle = %trust_bundle.display(), "weft control ready");
    Ok(Running {
        bound,
        store,
        compiler,
        registry,
        authority,
        telemetry,
        tap_token_file,
        trust_bundle,
        stop,
        tasks,
    })
}

// === impl Running ===

impl Running {
    /// Ends every stream (proxies keep serving and look for a control
    /// plane again) and stops serving.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let mut tasks = self.tasks;
        // The two servers end on the signal; the compiler, the file
        // watcher and the certificate renewal loop until aborted.
        let servers = tasks.split_off(3);
        for t in servers {
            if tokio::time::timeout(STOP_GRACE, t).await.is_err() {
                tracing::warn!("a server did not stop within {STOP_GRACE:?}");
            }
        }
        for t in tasks {
            t.abort();
        }
    }
}
