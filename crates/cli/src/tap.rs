//! `weft tap`: a live stream of one workload's requests (Linkerd's tap),
//! through the control plane, which starts the tap on every proxy of the
//! workload and stops it when this command ends. Taps need the control
//! plane's tap token.

use std::path::PathBuf;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use weft_proto::discovery::TapEvent;

use crate::client::{DEFAULT_CONTROL, encode};
use crate::up::DEFAULT_MESH;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Which requests, of which workload, from which control plane: shared by
/// `weft tap` and `weft top`.
#[derive(clap::Args, Debug)]
pub struct Filter {
    /// The workload (`reviews-v1`).
    workload: String,
    #[arg(short, long, default_value = "default")]
    namespace: String,
    /// Only requests to this service (outbound) or from this workload
    /// (inbound).
    #[arg(long)]
    to: Option<String>,
    /// Only paths starting with this.
    #[arg(long)]
    path: Option<String>,
    /// Only this method.
    #[arg(long)]
    method: Option<String>,
    /// Only `inbound` or `outbound` requests.
    #[arg(long)]
    direction: Option<String>,
    /// At most this many requests a second, per proxy.
    #[arg(long, default_value_t = 100)]
    max_rps: u32,
    /// The control plane's HTTP API.
    #[arg(long, env = "WEFT_CONTROL", default_value = DEFAULT_CONTROL)]
    control: String,
    /// The control plane's tap token (`tap-token` beside its state; for
    /// `weft up`, in the mesh's state directory).
    #[arg(long, env = "WEFT_TAP_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// The `weft up` mesh whose token to use when --token-file is unset.
    #[arg(long, default_value = DEFAULT_MESH)]
    mesh: String,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    filter: Filter,
    /// Print each request as a JSON line.
    #[arg(short, long)]
    json: bool,
    /// Stop after this many requests.
    #[arg(long)]
    count: Option<u64>,
}

pub async fn run(args: Args) -> Result<(), Error> {
    let mut seen = 0u64;
    stream(&args.filter, |line, tap| {
        if args.json {
            print!("{}", String::from_utf8_lossy(line));
        } else if let Some(t) = tap {
            println!("{}", render(t));
        }
        seen += 1;
        args.count.is_none_or(|n| seen < n)
    })
    .await
}

/// Opens a tap and hands each request to `each` (its JSON line, and the
/// line read) until `each` returns false or the control plane ends it.
pub async fn stream(
    f: &Filter,
    mut each: impl FnMut(&[u8], Option<&TapEvent>) -> bool,
) -> Result<(), Error> {
    let token_file = f
        .token_file
        .clone()
        .unwrap_or_else(|| weft_local::state::dir_for(&f.mesh).join("tap-token"));
    let token = std::fs::read_to_string(&token_file).map_err(|e| {
        format!(
            "cannot read the tap token at {}: {e}; pass --token-file (the control plane writes `tap-token` beside its state)",
            token_file.display()
        )
    })?;
    let mut query = format!(
        "/api/v1/tap?workload={}&namespace={}&max_rps={}",
        encode(&f.workload),
        encode(&f.namespace),
        f.max_rps
    );
    for (k, v) in [
        ("to", &f.to),
        ("path", &f.path),
        ("method", &f.method),
        ("direction", &f.direction),
    ] {
        if let Some(v) = v {
            query += &format!("&{k}={}", encode(v));
        }
    }
    let tcp = TcpStream::connect(&f.control)
        .await
        .map_err(|e| format!("cannot reach the control plane at {}: {e}", f.control))?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
    tokio::spawn(conn);
    let req = Request::get(query)
        .header("host", &f.control)
        .header("authorization", format!("Bearer {}", token.trim()))
        .body(Empty::<Bytes>::new())?;
    let rsp = send.send_request(req).await?;
    if rsp.status() != StatusCode::OK {
        let status = rsp.status();
        let body = rsp.into_body().collect().await?.to_bytes();
        return Err(format!("{status}: {}", String::from_utf8_lossy(&body).trim()).into());
    }
    let mut body = rsp.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let tap = serde_json::from_slice::<TapEvent>(&line).ok();
            if !each(&line, tap.as_ref()) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// `outbound default/productpage-v1 -> default/reviews-v2 GET reviews:9080/reviews/0 200 3ms mTLS`
fn render(t: &TapEvent) -> String {
    let side = |s: &str| {
        if s.is_empty() {
            "-".to_string()
        } else {
            s.to_string()
        }
    };
    format!(
        "{:<8} {} -> {}  {} {}{}  {}{}  {:.1}ms  {}{}",
        t.direction,
        side(&t.source),
        side(&t.destination),
        t.method,
        t.authority,
        t.path,
        t.status,
        if t.grpc_status.is_empty() {
            String::new()
        } else {
            format!(" grpc-status={}", t.grpc_status)
        },
        t.latency_ms,
        if t.mtls { "mTLS" } else { "plaintext" },
        if t.response_flags.is_empty() || t.response_flags == "-" {
            String::new()
        } else {
            format!("  {}", t.response_flags)
        }
    )
}
