//! One simulated proxy: a config stream that introduces itself, ACKs every
//! response at once, and reports what arrived. It decodes responses (the
//! protobuf envelope, not the JSON bodies): the cost a real proxy pays to
//! apply them is not what this benchmark measures.

use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tonic::transport::Endpoint;
use weft_proto::discovery::{ConfigRequest, ConfigResponse, Node};

use crate::mesh::NAMESPACE;
use crate::wire;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Names of the resources in a response are kept when there are at most
/// this many: enough to show what a change carried.
const NAMES_KEPT: usize = 4;

/// What a stream tells the run.
#[derive(Debug)]
pub enum Event {
    /// The stream began connecting.
    Started {
        stream: usize,
        at: Instant,
    },
    Response(Received),
    /// The stream failed or the control plane closed it.
    Ended {
        stream: usize,
        why: String,
    },
}

#[derive(Debug, Clone)]
pub struct Received {
    pub stream: usize,
    /// When the response was decoded; the ACK is queued right after.
    pub at: Instant,
    pub version: u64,
    pub full_state: bool,
    pub resources: usize,
    pub removed: usize,
    /// The encoded length of the change's messages, summed over its
    /// pieces (the gRPC prefix adds 5 per message).
    pub bytes: usize,
    /// How many responses carried the change (large ones come in pieces).
    pub pieces: usize,
    /// `type_url/name` of each resource, for small responses.
    pub names: Vec<String>,
}

pub fn node(stream: usize) -> Node {
    Node {
        id: format!("sim-{stream:04}"),
        workload: format!("sim-{stream:04}"),
        namespace: NAMESPACE.into(),
        labels: [("app".to_string(), "client".to_string())].into(),
        addresses: vec!["127.0.0.1".into()],
        proxy_version: concat!("weft-control-load/", env!("CARGO_PKG_VERSION")).into(),
        ..Node::default()
    }
}

/// Runs stream `stream` until it ends. `permit` is held until the first
/// response is ACKed, which bounds how many full states are in flight.
pub async fn run(
    stream: usize,
    address: String,
    events: mpsc::UnboundedSender<Event>,
    permit: OwnedSemaphorePermit,
) {
    let _ = events.send(Event::Started {
        stream,
        at: Instant::now(),
    });
    let why = match serve(stream, &address, &events, permit).await {
        Ok(()) => "the control plane closed the stream".to_string(),
        Err(e) => e,
    };
    let _ = events.send(Event::Ended { stream, why });
}

async fn serve(
    stream: usize,
    address: &str,
    events: &mpsc::UnboundedSender<Event>,
    permit: OwnedSemaphorePermit,
) -> Result<(), String> {
    // One connection per proxy, as real proxies have.
    let channel = Endpoint::from_shared(format!("http://{address}"))
        .map_err(|e| format!("bad address {address}: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .connect()
        .await
        .map_err(|e| format!("cannot connect to {address}: {e}"))?;
    let hello = ConfigRequest {
        node: Some(node(stream)),
        ..ConfigRequest::default()
    };
    let mut config = wire::open(channel, &hello).await?;
    let mut permit = Some(permit);
    // No message size limit: a full state at 10,000 services is far over
    // tonic's default 4 MiB, and measuring its size is the point.
    // The change being gathered: pieces marked `more` until the last.
    let mut gathering: Option<Received> = None;
    while let Some((resp, bytes)) = config.next().await? {
        let piece = received(stream, &resp, bytes)?;
        let received = match gathering.take() {
            Some(mut whole) => {
                whole.resources += piece.resources;
                whole.removed += piece.removed;
                whole.bytes += piece.bytes;
                whole.pieces += 1;
                whole.at = piece.at;
                whole.names.extend(piece.names);
                whole.names.truncate(NAMES_KEPT);
                whole
            }
            None => piece,
        };
        if resp.more {
            gathering = Some(received);
            continue;
        }
        // As a proxy does: answer a change once, when it is whole.
        let ack = ConfigRequest {
            response_nonce: resp.nonce,
            ..ConfigRequest::default()
        };
        config.send(&ack).await?;
        permit.take();
        // The run stops listening only when it is done with every stream.
        if events.send(Event::Response(received)).is_err() {
            return Ok(());
        }
    }
    Ok(())
}

fn received(stream: usize, resp: &ConfigResponse, bytes: usize) -> Result<Received, String> {
    let at = Instant::now();
    let version = resp.system_version.parse().map_err(|_| {
        format!(
            "system_version {:?} is not a generation number",
            resp.system_version
        )
    })?;
    let names = if resp.resources.len() <= NAMES_KEPT {
        resp.resources
            .iter()
            .map(|r| format!("{}/{}", r.type_url, r.name))
            .collect()
    } else {
        Vec::new()
    };
    Ok(Received {
        stream,
        at,
        version,
        full_state: resp.full_state,
        resources: resp.resources.len(),
        removed: resp.removed.len(),
        bytes,
        pieces: 1,
        names,
    })
}
