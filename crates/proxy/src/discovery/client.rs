//! The config stream client: connect, introduce the node, apply each
//! response whole and answer it with an ACK or a NACK; on any failure,
//! keep serving and reconnect with jittered exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use weft_proto::discovery::config_discovery_client::ConfigDiscoveryClient;
use weft_proto::discovery::{ConfigRequest, ConfigResponse, Node};
use weft_proto::resources::Typed;

use super::sources::{Pushed, Sources};
use crate::identity::WorkloadIdentity;
use crate::state::ProxyState;

/// First reconnect delay; doubles per failure up to `BACKOFF_MAX`.
const BACKOFF_BASE: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(15);
/// The largest message accepted from the control plane.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// How long a draining proxy waits for the control plane to see it leave.
const GOODBYE_WAIT: Duration = Duration::from_millis(500);

/// What `/config_dump` says about the control plane connection.
#[derive(Debug, Default)]
pub struct Status(Mutex<StatusReport>);

#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusReport {
    pub address: String,
    pub node_id: String,
    pub connected: bool,
    /// The control plane's config generation last applied.
    pub system_version: Option<String>,
    /// Pushed resources in force.
    pub resources: usize,
    /// Why the last rejected push was rejected (cleared by the next ACK).
    pub last_nack: Option<String>,
    /// Why the last connection failed or ended.
    pub last_error: Option<String>,
    /// Streams opened so far.
    pub connects: u64,
}

#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("cannot connect: {0}")]
    Connect(#[from] tonic::transport::Error),
    #[error("stream failed: {0}")]
    Rpc(#[from] tonic::Status),
    #[error("the control plane closed the stream")]
    Closed,
}

/// Gets the workload certificate, then keeps the proxy subscribed (over
/// mTLS) and the certificate fresh until `shutdown` fires.
pub async fn run(
    identity: Arc<WorkloadIdentity>,
    node: Node,
    sources: Arc<Sources>,
    state: Arc<ProxyState>,
    status: Arc<Status>,
    shutdown: drain::Watch,
) {
    let address = identity.address().to_string();
    {
        let mut s = status.0.lock();
        s.address = address.clone();
        s.node_id = node.id.clone();
    }
    let mut failures = 0u32;
    // Draining: the session closes its stream so the control plane knows
    // this proxy is leaving (rather than lost), then the task ends.
    let (leave, mut leaving) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let release = shutdown.signaled().await;
        leave.send_replace(true);
        // Hold the drain until the goodbye has had its moment.
        tokio::time::sleep(GOODBYE_WAIT).await;
        drop(release);
    });
    // No config stream without a certificate: it is how the control
    // plane knows who this proxy speaks for.
    if !identity.bootstrap(leaving.clone()).await {
        return;
    }
    tokio::spawn(identity.clone().keep_fresh(leaving.clone()));
    let tls = identity.creds.client_config(identity.control_plane.clone());
    loop {
        let mut applied_any = false;
        let result = session(
            &address,
            &tls,
            &node,
            &sources,
            &state,
            &status,
            &mut applied_any,
            leaving.clone(),
        )
        .await;
        if *leaving.borrow() {
            return;
        }
        let err = result.err().unwrap_or(SessionError::Closed);
        {
            let mut s = status.0.lock();
            s.connected = false;
            s.last_error = Some(err.to_string());
        }
        failures = if applied_any {
            1
        } else {
            failures.saturating_add(1)
        };
        let delay = backoff(failures);
        tracing::warn!(control_plane = %address, retry_in = ?delay, "{err}; serving the last good config");
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            () = until_leaving(&mut leaving) => return,
        }
    }
}

/// Resolves once the proxy starts draining.
async fn until_leaving(leaving: &mut tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`; drop it here.
    let _ = leaving.wait_for(|l| *l).await.map(|_| ());
}

/// Full jitter over an exponential ceiling: reconnecting proxies spread
/// out instead of arriving together when the control plane comes back.
fn backoff(failures: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(BACKOFF_MAX);
    ceiling.mul_f64(0.5 + fastrand::f64() / 2.0)
}

#[allow(clippy::too_many_arguments)]
async fn session(
    address: &str,
    tls: &Arc<rustls::ClientConfig>,
    node: &Node,
    sources: &Sources,
    state: &Arc<ProxyState>,
    status: &Status,
    applied_any: &mut bool,
    mut leaving: tokio::sync::watch::Receiver<bool>,
) -> Result<(), SessionError> {
    let channel = crate::identity::channel(address, tls.clone()).await?;
    // The tap stream lives as long as this session.
    let _tap = super::tap::spawn(channel.clone(), node.id.clone(), state.clone());
    // Changes arrive in pieces of 64 KiB; one resource may still be large
    // (a cluster of thousands of endpoints), so allow well past tonic's
    // 4 MiB default.
    let mut client = ConfigDiscoveryClient::new(channel).max_decoding_message_size(MAX_MESSAGE);
    let (tx, rx) = mpsc::channel(4);
    let hello = ConfigRequest {
        node: Some(node.clone()),
        ..Default::default()
    };
    tx.send(hello).await.map_err(|_| SessionError::Closed)?;
    let mut responses = client.stream(ReceiverStream::new(rx)).await?.into_inner();
    {
        let mut s = status.0.lock();
        s.connected = true;
        s.connects += 1;
        s.last_error = None;
    }
    tracing::info!(control_plane = %address, node = %node.id, "connected to the control plane");
    // The pieces of a change not yet complete (`more` set).
    let mut pending: Option<ConfigResponse> = None;
    loop {
        let resp = tokio::select! {
            r = responses.message() => match r? {
                Some(resp) => resp,
                None => return Ok(()),
            },
            () = until_leaving(&mut leaving) => {
                // Close our side (END_STREAM), then give the control plane
                // a moment to close its own.
                drop(tx);
                let _ = tokio::time::timeout(GOODBYE_WAIT, async {
                    while let Ok(Some(_)) = responses.message().await {}
                })
                .await;
                return Ok(());
            }
        };
        // Gather the pieces of one change; apply and answer it once whole.
        let resp = match pending.take() {
            Some(mut whole) => {
                whole.resources.extend(resp.resources);
                whole.removed.extend(resp.removed);
                whole.nonce = resp.nonce;
                whole.more = resp.more;
                whole
            }
            None => resp,
        };
        if resp.more {
            pending = Some(resp);
            continue;
        }
        let reply = match apply(sources, &resp) {
            Ok(count) => {
                *applied_any = true;
                state.set_config_received();
                let mut s = status.0.lock();
                s.system_version = Some(resp.system_version.clone());
                s.resources = count;
                s.last_nack = None;
                tracing::debug!(version = %resp.system_version, changed = resp.resources.len(), removed = resp.removed.len(), "applied config from the control plane");
                ConfigRequest {
                    response_nonce: resp.nonce.clone(),
                    ..Default::default()
                }
            }
            Err(reason) => {
                tracing::error!(version = %resp.system_version, "rejected config from the control plane; the last good config stays in force: {reason}");
                status.0.lock().last_nack = Some(reason.clone());
                ConfigRequest {
                    response_nonce: resp.nonce.clone(),
                    error_detail: reason,
                    ..Default::default()
                }
            }
        };
        tx.send(reply).await.map_err(|_| SessionError::Closed)?;
    }
}

/// Applies one response whole; returns the number of pushed resources now
/// in force, or why nothing changed.
///
/// Cost: a copy of the pushed set per response (the proxy only holds what
/// it needs, so this is small), then a recompile of the whole config.
fn apply(sources: &Sources, resp: &ConfigResponse) -> Result<usize, String> {
    let mut pushed = if resp.full_state {
        Pushed::default()
    } else {
        (*sources.pushed()).clone()
    };
    for r in &resp.removed {
        pushed
            .resources
            .remove(&(r.type_url.clone(), r.name.clone()));
    }
    for r in &resp.resources {
        let typed = Typed::decode(r).map_err(|e| e.to_string())?;
        pushed.resources.insert(
            (r.type_url.clone(), r.name.clone()),
            (r.version.clone(), typed),
        );
    }
    pushed.system_version = resp.system_version.clone();
    let count = pushed.resources.len();
    sources.apply_pushed(pushed).map_err(|e| e.to_string())?;
    Ok(count)
}

// === impl Status ===

impl Status {
    pub fn report(&self) -> StatusReport {
        self.0.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_jittered_and_capped() {
        for _ in 0..100 {
            let first = backoff(1);
            assert!(
                first >= BACKOFF_BASE / 2 && first <= BACKOFF_BASE,
                "{first:?}"
            );
            let late = backoff(40);
            assert!(late >= BACKOFF_MAX / 2 && late <= BACKOFF_MAX, "{late:?}");
        }
        assert!(backoff(4) > BACKOFF_BASE);
    }
}
