//! The tap stream (`proto/weft/mesh/v1/tap.proto`): opened beside the
//! config stream on the same mTLS channel, for as long as it lives. The
//! control plane sends taps to start and stop; the proxy sends back what
//! they saw, in batches (every 100 ms, or 64 events), with the counts of
//! events dropped by rate limits or a full queue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::Channel;
use weft_proto::discovery::TapReport;
use weft_proto::discovery::tap_client::TapClient;

use crate::state::ProxyState;

const FLUSH: Duration = Duration::from_millis(100);
const BATCH: usize = 64;

/// The tap stream's task; dropping it ends the stream and every tap.
pub struct TapTask {
    task: tokio::task::JoinHandle<()>,
    state: Arc<ProxyState>,
}

impl Drop for TapTask {
    fn drop(&mut self) {
        self.task.abort();
        self.state.taps.detach();
    }
}

/// Starts the tap stream on `channel`.
pub fn spawn(channel: Channel, node_id: String, state: Arc<ProxyState>) -> TapTask {
    TapTask {
        task: tokio::spawn(run(channel, node_id, state.clone())),
        state,
    }
}

/// Keeps the tap stream open while the config session lives: the
/// control plane accepts it only once the config stream has introduced
/// this proxy, so the first tries may be refused.
async fn run(channel: Channel, node_id: String, state: Arc<ProxyState>) {
    loop {
        match stream(channel.clone(), node_id.clone(), &state).await {
            // An older control plane without tap: nothing to do.
            Err(s) if s.code() == tonic::Code::Unimplemented => return,
            Err(s) => tracing::debug!("tap stream: {}", s.message()),
            Ok(()) => {}
        }
        tokio::time::sleep(RETRY).await;
    }
}

const RETRY: Duration = Duration::from_millis(500);

/// One tap stream, until it ends; every tap ends with it.
async fn stream(
    channel: Channel,
    node_id: String,
    state: &Arc<ProxyState>,
) -> Result<(), tonic::Status> {
    let (tx, rx) = mpsc::channel::<TapReport>(8);
    let hello = TapReport {
        node_id,
        ..Default::default()
    };
    if tx.send(hello).await.is_err() {
        return Ok(());
    }
    let mut commands = TapClient::new(channel)
        .stream(ReceiverStream::new(rx))
        .await?
        .into_inner();
    let mut events = state.taps.attach();
    let mut flush = tokio::time::interval(FLUSH);
    let mut batch = Vec::new();
    loop {
        tokio::select! {
            cmd = commands.message() => match cmd {
                Ok(Some(c)) => {
                    tracing::debug!(tap = %c.id, stop = c.stop, "tap command");
                    state.taps.command(&c);
                }
                _ => break,
            },
            Some(e) = events.recv() => {
                batch.push(e);
                if batch.len() >= BATCH && send(&tx, &mut batch, state).await.is_err() {
                    break;
                }
            }
            _ = flush.tick() => {
                if send(&tx, &mut batch, state).await.is_err() {
                    break;
                }
            }
        }
    }
    state.taps.detach();
    Ok(())
}

/// Sends what is batched, if anything.
async fn send(
    tx: &mpsc::Sender<TapReport>,
    batch: &mut Vec<weft_proto::discovery::TapEvent>,
    state: &ProxyState,
) -> Result<(), ()> {
    let dropped = state.taps.take_dropped();
    if batch.is_empty() && dropped.is_empty() {
        return Ok(());
    }
    let report = TapReport {
        node_id: String::new(),
        events: std::mem::take(batch),
        dropped,
    };
    tx.send(report).await.map_err(|_| ())
}
