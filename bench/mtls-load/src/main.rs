//! `weft-mtls-load`: the mTLS benchmarks' load tool, driven by
//! `bench/mtls_bench.py` and `bench/proxy_bench.py --mtls`.
//!
//! - `certs`: SPIFFE certificates and keys as PEM files, signed by weft's
//!   CA (the control plane's `<state>/ca`), for Envoy.
//! - `sign-local`: `Ca::sign` of one P-256 CSR in a loop, on one thread.
//! - `sign-grpc`: `weft.mesh.v1.Certificates/Sign` against a running
//!   control plane, renewing over mTLS with a workload certificate as a
//!   proxy does.
//! - `handshake`: fresh TCP + TLS 1.3 mTLS connections (ALPN `weft/tcp`,
//!   no resumption) to an inbound listener, one echo each.
//!
//! Each prints one JSON object: operations per wall second, and per CPU
//! second of the process under test (`--pid`) and of this one.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use rustls::pki_types::ServerName;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use weft_identity::{Ca, Credentials, Expect, SpiffeId, TrustBundle, WorkloadKey};
use weft_proto::ca::SignRequest;
use weft_proto::ca::certificates_client::CertificatesClient;

type Error = Box<dyn std::error::Error + Send + Sync>;

const TRUST_DOMAIN: &str = weft_identity::DEFAULT_TRUST_DOMAIN;
const TTL: Duration = Duration::from_secs(24 * 3600);
/// What each connection echoes. Sent in plain TCP, its first byte tells
/// weft's protocol detection at once that this is neither TLS nor HTTP; a
/// word such as `ping` could begin an HTTP/1 request line, and detection
/// would wait for more bytes until its timeout (100 ms).
const PAYLOAD: &[u8; 4] = b"\x00bnc";

#[derive(Parser, Debug)]
#[command(about = "Load tool for weft's mTLS benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Write `<sa>.pem` (the chain) and `<sa>-key.pem` (PKCS#8) for each
    /// ID, signed by the CA kept in `--ca-dir` (created there if absent).
    Certs {
        #[arg(long)]
        ca_dir: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[arg(long = "id", required = true)]
        ids: Vec<SpiffeId>,
    },
    /// `Ca::sign` of a P-256 CSR in a loop on this thread, and, for
    /// contrast, what the workload side spends on a key pair and its CSR.
    SignLocal {
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// CSRs to a running control plane over gRPC.
    SignGrpc(SignGrpc),
    /// New mTLS connections to an inbound listener.
    Handshake(Handshake),
}

#[derive(clap::Args, Debug)]
struct Load {
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Measured for this long, after `--warmup`.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// The process under test, whose CPU time is read from /proc.
    #[arg(long)]
    pid: Option<u32>,
}

#[derive(clap::Args, Debug)]
struct SignGrpc {
    /// The control plane's gRPC address (15012).
    #[arg(long)]
    address: String,
    /// Its `root-cert.pem`.
    #[arg(long)]
    bundle: PathBuf,
    /// A bootstrap token (`weft token`) for the first certificate.
    #[arg(long)]
    token_file: PathBuf,
    #[arg(
        long,
        default_value = "spiffe://cluster.local/ns/bench/sa/bench-signer"
    )]
    id: SpiffeId,
    /// A new connection (TCP, mTLS handshake, HTTP/2) for every CSR, as a
    /// proxy renews; otherwise all CSRs share one HTTP/2 connection.
    #[arg(long)]
    fresh_connection: bool,
    #[command(flatten)]
    load: Load,
}

#[derive(clap::Args, Debug)]
struct Handshake {
    /// The inbound listener, `ip:port`.
    #[arg(long)]
    address: String,
    /// The CA that issues the client's certificate (and whose root it
    /// trusts): the control plane's `<state>/ca`.
    #[arg(long)]
    ca_dir: PathBuf,
    #[arg(
        long,
        default_value = "spiffe://cluster.local/ns/bench/sa/bench-client"
    )]
    id: SpiffeId,
    /// The identity the server must prove.
    #[arg(
        long,
        default_value = "spiffe://cluster.local/ns/bench/sa/bench-server"
    )]
    expect: SpiffeId,
    /// Plain TCP instead: what a connection costs the server without TLS.
    #[arg(long)]
    plaintext: bool,
    #[command(flatten)]
    load: Load,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    weft_identity::install_crypto_provider();
    let result = match Cli::parse().command {
        Command::Certs { ca_dir, out, ids } => certs(&ca_dir, &out, &ids),
        Command::SignLocal { seconds } => sign_local(seconds),
        Command::SignGrpc(args) => sign_grpc(args).await,
        Command::Handshake(args) => handshake(args).await,
    };
    match result {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("weft-mtls-load: {e}");
            ExitCode::FAILURE
        }
    }
}

fn certs(
    ca_dir: &std::path::Path,
    out: &std::path::Path,
    ids: &[SpiffeId],
) -> Result<serde_json::Value, Error> {
    let ca = Ca::load(None, ca_dir, TRUST_DOMAIN)?;
    std::fs::create_dir_all(out)?;
    let mut written = Vec::new();
    for id in ids {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let issued = ca.issue(&key, id, TTL)?;
        let cert = out.join(format!("{}.pem", id.service_account()));
        let key_file = out.join(format!("{}-key.pem", id.service_account()));
        std::fs::write(&cert, issued.chain_pem())?;
        std::fs::write(&key_file, key.serialize_pem())?;
        written.push(json!({ "id": id.to_string(), "cert": cert, "key": key_file }));
    }
    Ok(json!({ "root": ca.bundle_file(), "written": written }))
}

fn sign_local(seconds: f64) -> Result<serde_json::Value, Error> {
    let dir = std::env::temp_dir().join(format!("weft-mtls-load-{}", std::process::id()));
    let ca = Ca::load(None, &dir, TRUST_DOMAIN);
    let _ = std::fs::remove_dir_all(&dir);
    let ca = ca?;
    let id = SpiffeId::new(TRUST_DOMAIN, "bench", "bench-signer")?;
    let period = Duration::from_secs_f64(seconds);

    let window = Window::open(None);
    let mut n = 0;
    while window.start.elapsed() < period {
        WorkloadKey::generate(id.clone())?.csr()?;
        n += 1;
    }
    let keygen = window.close(n, 0);

    // The CA's work is the same for any CSR: parse it, check its
    // signature, sign a certificate.
    let csr = WorkloadKey::generate(id.clone())?.csr()?;
    let window = Window::open(None);
    let mut n = 0;
    while window.start.elapsed() < period {
        ca.sign(&csr, &id, TTL)?;
        n += 1;
    }
    Ok(json!({ "sign": window.close(n, 0), "keygen_csr": keygen }))
}

async fn sign_grpc(args: SignGrpc) -> Result<serde_json::Value, Error> {
    let bundle = TrustBundle::from_pem(&std::fs::read_to_string(&args.bundle)?)?;
    let creds = Credentials::new(TRUST_DOMAIN, bundle);
    let control_plane = Expect::Id(SpiffeId::new(
        TRUST_DOMAIN,
        weft_identity::CONTROL_PLANE_NAMESPACE,
        weft_identity::CONTROL_PLANE_SERVICE_ACCOUNT,
    )?);

    // The first certificate, with the token, as a starting proxy gets it.
    let token = std::fs::read_to_string(&args.token_file)?;
    let key = WorkloadKey::generate(args.id.clone())?;
    let tls = creds.client_config_with(control_plane.clone(), false);
    let channel = weft_proxy::identity::channel(&args.address, tls).await?;
    let mut request = tonic::Request::new(SignRequest {
        csr_pem: key.csr_pem()?,
        validity_seconds: 0,
    });
    let bearer = tonic::metadata::MetadataValue::try_from(format!("Bearer {}", token.trim()))?;
    request.metadata_mut().insert("authorization", bearer);
    let resp = CertificatesClient::new(channel)
        .sign(request)
        .await?
        .into_inner();
    let chain = weft_identity::certs_from_pem(&resp.cert_chain_pem)?;
    let (not_before, not_after) = weft_identity::validity(&chain[0])?;
    creds.set_cert(
        args.id.clone(),
        key.certified(chain)?,
        not_before,
        not_after,
    )?;

    // Renewals, proven by that certificate. One CSR serves them all: the
    // CA's work does not depend on which key it names.
    let csr_pem = WorkloadKey::generate(args.id.clone())?.csr_pem()?;
    let tls = no_resumption(creds.client_config(control_plane));
    let shared = if args.fresh_connection {
        None
    } else {
        Some(weft_proxy::identity::channel(&args.address, tls.clone()).await?)
    };
    let address = args.address.clone();
    let report = drive(&args.load, move || {
        let (tls, shared, address, csr_pem) = (
            tls.clone(),
            shared.clone(),
            address.clone(),
            csr_pem.clone(),
        );
        async move {
            let channel = match shared {
                Some(c) => c,
                None => weft_proxy::identity::channel(&address, tls).await?,
            };
            let resp = CertificatesClient::new(channel)
                .sign(SignRequest {
                    csr_pem,
                    validity_seconds: 3600,
                })
                .await?
                .into_inner();
            if !resp
                .cert_chain_pem
                .starts_with("-----BEGIN CERTIFICATE-----")
            {
                return Err("the CA answered without a certificate".into());
            }
            Ok(())
        }
    })
    .await;
    Ok(report)
}

async fn handshake(args: Handshake) -> Result<serde_json::Value, Error> {
    let ca = Ca::load(None, &args.ca_dir, TRUST_DOMAIN)?;
    let key = WorkloadKey::generate(args.id.clone())?;
    let issued = ca.sign(&key.csr()?, &args.id, TTL)?;
    let creds = Credentials::new(TRUST_DOMAIN, ca.bundle().clone());
    creds.set_cert(
        args.id.clone(),
        key.certified(issued.chain)?,
        issued.not_before,
        issued.not_after,
    )?;
    let tls = creds.mesh_client_config(Expect::Id(args.expect.clone()), weft_identity::ALPN_TCP);
    let connector = TlsConnector::from(no_resumption(tls));
    let address = args.address.clone();
    if args.plaintext {
        let report = drive(&args.load, move || {
            let address = address.clone();
            echo_once(async move {
                let tcp = TcpStream::connect(address).await?;
                tcp.set_nodelay(true)?;
                Ok::<_, Error>(tcp)
            })
        });
        return Ok(report.await);
    }

    // What the two sides agree on, from one connection.
    let probe = connect(&connector, &args.address).await?;
    let (_, conn) = probe.get_ref();
    let negotiated = json!({
        "version": conn.protocol_version().map(|v| format!("{v:?}")),
        "suite": conn.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())),
        "group": conn.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name())),
        "alpn": conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
    });
    drop(probe);

    let mut report = drive(&args.load, move || {
        let (connector, address) = (connector.clone(), address.clone());
        echo_once(async move { connect(&connector, &address).await })
    })
    .await;
    report["negotiated"] = negotiated;
    Ok(report)
}

/// Sends 4 bytes on the connection `conn` makes, reads them back, closes,
/// and waits for the server's close: the connection is over on both sides
/// before the next one starts.
async fn echo_once<S, E>(conn: impl Future<Output = Result<S, E>>) -> Result<(), Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    E: Into<Error>,
{
    let mut stream = conn.await.map_err(Into::into)?;
    stream.write_all(PAYLOAD).await?;
    let mut echo = [0u8; 4];
    stream.read_exact(&mut echo).await?;
    if &echo != PAYLOAD {
        return Err("wrong echo".into());
    }
    stream.shutdown().await?;
    let mut rest = Vec::new();
    match stream.read_to_end(&mut rest).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn connect(
    connector: &TlsConnector,
    address: &str,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    let tcp = TcpStream::connect(address).await?;
    tcp.set_nodelay(true)?;
    // No SNI is sent; the server is checked by its SPIFFE ID.
    Ok(connector
        .connect(ServerName::try_from("bench.local")?, tcp)
        .await?)
}

/// Every connection a full handshake: no session tickets are used.
fn no_resumption(config: Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
    let mut config = Arc::unwrap_or_clone(config);
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// Runs `op` in `concurrency` loops; counts what completes within the
/// measured window, after the warmup.
async fn drive<F, Fut>(load: &Load, op: F) -> serde_json::Value
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Error>> + Send + 'static,
{
    let op = Arc::new(op);
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..load.concurrency {
        let (op, done, failed, stop) = (op.clone(), done.clone(), failed.clone(), stop.clone());
        tasks.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match op().await {
                    Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        if failed.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("weft-mtls-load: first failure: {e}");
                        }
                        // Do not spin on a refusing server.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        0
                    }
                };
            }
        });
    }
    tokio::time::sleep(Duration::from_secs_f64(load.warmup)).await;
    let (done0, failed0) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let window = Window::open(load.pid);
    tokio::time::sleep(Duration::from_secs_f64(load.seconds)).await;
    let (done1, failed1) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let mut report = window.close(done1 - done0, failed1 - failed0);
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}
    report["concurrency"] = json!(load.concurrency);
    report
}

/// A measured span: wall time, and CPU time of the process under test and
/// of this one.
struct Window {
    start: Instant,
    pid: Option<u32>,
    target_cpu: f64,
    own_cpu: f64,
}

impl Window {
    fn open(pid: Option<u32>) -> Self {
        Self {
            start: Instant::now(),
            pid,
            target_cpu: pid.map_or(0.0, |p| cpu_seconds(&p.to_string())),
            own_cpu: cpu_seconds("self"),
        }
    }

    #[allow(clippy::cast_precision_loss)] // counts stay far below 2^52
    fn close(self, ops: u64, failures: u64) -> serde_json::Value {
        let seconds = self.start.elapsed().as_secs_f64();
        let own = cpu_seconds("self") - self.own_cpu;
        let mut report = json!({
            "ops": ops,
            "failures": failures,
            "seconds": seconds,
            "per_second": ops as f64 / seconds,
            "client_cores": own / seconds,
            "per_client_cpu_second": ops as f64 / own,
        });
        if let Some(pid) = self.pid {
            let target = cpu_seconds(&pid.to_string()) - self.target_cpu;
            report["target_cores"] = json!(target / seconds);
            report["per_target_cpu_second"] = json!(ops as f64 / target);
        }
        report
    }
}

/// utime + stime of `/proc/<pid>/stat` in seconds (100 ticks a second on
/// every Linux this runs on); 0 when unreadable.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields are counted from the last `)`: the name may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    #[allow(clippy::cast_precision_loss)]
    let seconds = (ticks(11) + ticks(12)) as f64 / 100.0;
    seconds
}
