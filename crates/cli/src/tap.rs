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
use crate::table::{Format, dash};
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
    /// Output: one line per request, a wider line with both identities,
    /// the service and when it started, or the event as a JSON line.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    output: Format,
    /// Stop after this many requests.
    #[arg(long)]
    count: Option<u64>,
}

pub async fn run(args: Args) -> Result<(), Error> {
    let mut seen = 0u64;
    stream(&args.filter, |line, tap| {
        match (args.output, tap) {
            (Format::Json, _) => print!("{}", String::from_utf8_lossy(line)),
            (Format::Table, Some(t)) => println!("{}", render(t)),
            (Format::Wide, Some(t)) => println!("{}", render_wide(t)),
            (_, None) => {}
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
    render_line(t, &dash(&t.source), &dash(&t.destination))
}

/// [`render`] with when it started (UTC), each side's identity and the service:
/// `12:00:01.250Z outbound default/productpage-v1 (spiffe://…/sa/bookinfo-productpage) -> default/reviews-v2 (spiffe://…) svc=reviews.default.svc.cluster.local GET …`
fn render_wide(t: &TapEvent) -> String {
    let ms = t.started_ms % 86_400_000;
    let when = format!(
        "{:02}:{:02}:{:02}.{:03}Z",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    );
    let who = |name: &str, id: &str| format!("{} ({})", dash(name), dash(id));
    let destination = format!(
        "{} svc={}",
        who(&t.destination, &t.destination_identity),
        dash(&t.service)
    );
    format!(
        "{when} {}",
        render_line(t, &who(&t.source, &t.source_identity), &destination)
    )
}

fn render_line(t: &TapEvent, source: &str, destination: &str) -> String {
    format!(
        "{:<8} {} -> {}  {} {}{}  {}{}  {:.1}ms  {}{}",
        t.direction,
        source,
        destination,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> TapEvent {
        TapEvent {
            direction: "outbound".into(),
            source: "default/productpage-v1".into(),
            source_identity: "spiffe://cluster.local/ns/default/sa/bookinfo-productpage".into(),
            destination: "default/reviews-v2".into(),
            service: "reviews.default.svc.cluster.local".into(),
            method: "GET".into(),
            authority: "reviews:9080".into(),
            path: "/reviews/0".into(),
            status: 503,
            latency_ms: 3.25,
            mtls: true,
            response_flags: "UF".into(),
            // 2026-11-24T13:04:05.678Z
            started_ms: 1_795_525_445_678,
            ..TapEvent::default()
        }
    }

    #[test]
    fn a_line_per_request() {
        assert_eq!(
            render(&event()),
            "outbound default/productpage-v1 -> default/reviews-v2  GET reviews:9080/reviews/0  503  3.2ms  mTLS  UF"
        );
    }

    #[test]
    fn wide_lines_add_the_time_identities_and_service() {
        assert_eq!(
            render_wide(&event()),
            "13:04:05.678Z outbound default/productpage-v1 (spiffe://cluster.local/ns/default/sa/bookinfo-productpage) -> default/reviews-v2 (-) svc=reviews.default.svc.cluster.local  GET reviews:9080/reviews/0  503  3.2ms  mTLS  UF"
        );
    }
}
