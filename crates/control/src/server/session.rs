//! One proxy's session on the config stream.
//!
//! The session holds what the proxy has ACKed. Whenever the generation
//! moves it recomputes the proxy's view, sends only the difference (the
//! whole view first), and waits for the answer before sending more:
//! changes that arrive meanwhile coalesce into the next response. After a
//! NACK it sends nothing more until the generation moves again, so a bad
//! config is not retried in a loop.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};
use tonic::{Status, Streaming};
use weft_proto::discovery::{ConfigRequest, ConfigResponse, Node, Resource, ResourceName};

use super::Registry;
use crate::views::{View, Views};

/// How long to wait for an ACK before treating the proxy as gone.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

/// The most resource bytes one response carries. tonic keeps, per stream,
/// an encode buffer as large as the largest message it sent; a full state
/// sent whole would pin megabytes in every stream.
const PIECE_BYTES: usize = 64 * 1024;

type Tx = mpsc::Sender<Result<ConfigResponse, Status>>;

enum Answer {
    Ack,
    Nack(String),
    Gone(End),
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The proxy closed its stream: it is leaving.
    Left,
    /// An error, a reset, a timeout, or our own shutdown.
    Lost,
}

pub(super) async fn run(
    node: Node,
    mut requests: Streaming<ConfigRequest>,
    tx: Tx,
    views: Arc<dyn Views>,
    registry: Arc<Registry>,
    full_states: Arc<Semaphore>,
    mut closing: watch::Receiver<bool>,
) {
    registry.connected(&node);
    views.proxy_connected(&node);
    tracing::info!(node = %node.id, workload = %node.workload, namespace = %node.namespace, "proxy connected");
    let end = tokio::select! {
        end = serve(&node, &mut requests, &tx, &*views, &registry, &full_states) => end,
        _ = closing.wait_for(|c| *c) => End::Lost,
    };
    views.proxy_disconnected(&node, end == End::Left);
    registry.disconnected(&node.id);
    tracing::info!(node = %node.id, ?end, "proxy disconnected");
}

async fn serve(
    node: &Node,
    requests: &mut Streaming<ConfigRequest>,
    tx: &Tx,
    views: &dyn Views,
    registry: &Registry,
    full_states: &Semaphore,
) -> End {
    let mut generation = views.generation();
    // What the proxy holds: the view it ACKed last, shared with every other
    // session that holds it (a session costs no copy of its proxy's state).
    let mut held: Option<Arc<View>> = None;
    let mut nacked_at: Option<u64> = None;
    let mut nonce = 0u64;
    loop {
        let current = *generation.borrow_and_update();
        if nacked_at != Some(current) {
            // A full state waits its turn, held until it is answered.
            let _permit = match held {
                None => match full_states.acquire().await {
                    Ok(p) => Some(p),
                    Err(_) => return End::Lost,
                },
                Some(_) => None,
            };
            let view = views.view(node);
            if let Some(resp) = response(&view, held.as_deref(), &mut nonce) {
                registry.sent(&node.id, &view.version);
                for piece in pieces(resp, PIECE_BYTES) {
                    if tx.send(Ok(piece)).await.is_err() {
                        return End::Lost;
                    }
                }
                match answer(requests, nonce).await {
                    Answer::Ack => {
                        held = Some(view.clone());
                        nacked_at = None;
                        registry.acked(&node.id, &view);
                    }
                    Answer::Nack(reason) => {
                        tracing::warn!(node = %node.id, version = %view.version, "proxy rejected its config: {reason}");
                        nacked_at = Some(current);
                        registry.nacked(&node.id, &reason);
                    }
                    Answer::Gone(end) => return end,
                }
                // Something may have changed while we waited.
                continue;
            }
        }
        tokio::select! {
            changed = generation.changed() => if changed.is_err() { return End::Lost },
            msg = requests.message() => match msg {
                // Unsolicited requests (a late ACK) change nothing.
                Ok(Some(_)) => {}
                Ok(None) => return End::Left,
                Err(_) => return End::Lost,
            },
        }
    }
}

/// The difference between `view` and what the proxy holds, as one
/// response: everything when it holds nothing yet; `None` when there is no
/// difference.
///
/// Cost: when the proxy holds exactly the view the compiler's delta starts
/// from, O(changes); otherwise a comparison of every resource.
fn response(view: &View, held: Option<&View>, nonce: &mut u64) -> Option<ConfigResponse> {
    // The same version is the same content (unchanged views are reused).
    if held.is_some_and(|h| h.version == view.version) {
        return None;
    }
    let first = held.is_none();
    let (resources, removed): (Vec<Resource>, Vec<ResourceName>) = match (held, &view.delta) {
        (None, _) => (view.resources.values().cloned().collect(), Vec::new()),
        (Some(h), Some(d)) if h.version == d.from => (
            d.changed
                .iter()
                .filter_map(|k| view.resources.get(k).cloned())
                .collect(),
            d.removed.iter().map(name).collect(),
        ),
        (Some(h), _) => (
            view.resources
                .iter()
                .filter(|(k, r)| h.resources.get(*k).is_none_or(|o| o.version != r.version))
                .map(|(_, r)| r.clone())
                .collect(),
            h.resources
                .keys()
                .filter(|k| !view.resources.contains_key(*k))
                .map(name)
                .collect(),
        ),
    };
    if !first && resources.is_empty() && removed.is_empty() {
        return None;
    }
    *nonce += 1;
    Some(ConfigResponse {
        nonce: nonce.to_string(),
        system_version: view.version.clone(),
        resources,
        removed,
        full_state: first,
        more: false,
    })
}

/// Splits a response into pieces of at most about `max` resource bytes,
/// each marked `more` but the last, which keeps the nonce and carries the
/// removals. A resource larger than `max` travels alone.
fn pieces(resp: ConfigResponse, max: usize) -> Vec<ConfigResponse> {
    let size = |r: &Resource| r.body.len() + r.name.len() + r.type_url.len() + r.version.len() + 16;
    if resp.resources.iter().map(size).sum::<usize>() <= max {
        return vec![resp];
    }
    let ConfigResponse {
        nonce,
        system_version,
        resources,
        removed,
        full_state,
        ..
    } = resp;
    let mut out: Vec<ConfigResponse> = Vec::new();
    let mut current: Vec<Resource> = Vec::new();
    let mut bytes = 0;
    for r in resources {
        let s = size(&r);
        if !current.is_empty() && bytes + s > max {
            out.push(ConfigResponse {
                nonce: format!("{nonce}.{}", out.len()),
                system_version: system_version.clone(),
                resources: std::mem::take(&mut current),
                removed: Vec::new(),
                full_state,
                more: true,
            });
            bytes = 0;
        }
        bytes += s;
        current.push(r);
    }
    out.push(ConfigResponse {
        nonce,
        system_version,
        resources: current,
        removed,
        full_state,
        more: false,
    });
    out
}

fn name((type_url, name): &(String, String)) -> ResourceName {
    ResourceName {
        type_url: type_url.clone(),
        name: name.clone(),
    }
}

/// Waits for the proxy's answer to response `nonce`.
async fn answer(requests: &mut Streaming<ConfigRequest>, nonce: u64) -> Answer {
    let nonce = nonce.to_string();
    let wait = async {
        loop {
            match requests.message().await {
                Ok(Some(req)) if req.response_nonce == nonce => {
                    return if req.error_detail.is_empty() {
                        Answer::Ack
                    } else {
                        Answer::Nack(req.error_detail)
                    };
                }
                // An answer to an older response: keep waiting.
                Ok(Some(_)) => {}
                Ok(None) => return Answer::Gone(End::Left),
                Err(_) => return Answer::Gone(End::Lost),
            }
        }
    };
    tokio::time::timeout(ACK_TIMEOUT, wait)
        .await
        .unwrap_or(Answer::Gone(End::Lost))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::Delta;

    fn res(name: &str, version: &str) -> ((String, String), Resource) {
        let r = Resource {
            type_url: "weft.dev/Cluster".into(),
            name: name.into(),
            version: version.into(),
            body: Default::default(),
        };
        ((r.type_url.clone(), name.into()), r)
    }

    fn view(version: &str, resources: &[(&str, &str)], delta: Option<Delta>) -> View {
        View {
            version: version.into(),
            resources: resources.iter().map(|(n, v)| res(n, v)).collect(),
            delta,
        }
    }

    #[test]
    fn first_response_is_everything_later_ones_only_changes() {
        let one = view("1", &[("a", "1"), ("b", "1")], None);
        let mut nonce = 0;
        let first = response(&one, None, &mut nonce).unwrap();
        assert!(first.full_state);
        assert_eq!(first.resources.len(), 2);
        assert!(
            response(&one, Some(&one), &mut nonce).is_none(),
            "no change, nothing sent"
        );

        let two = view("2", &[("a", "2"), ("c", "1")], None);
        let delta = response(&two, Some(&one), &mut nonce).unwrap();
        assert!(!delta.full_state);
        let names: Vec<&str> = delta.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(delta.removed.len(), 1);
        assert_eq!(delta.removed[0].name, "b");
        assert_eq!(delta.nonce, "2");
    }

    #[test]
    fn a_large_change_travels_in_pieces_answered_once() {
        let big: Vec<(String, String)> = (0..100)
            .map(|i| (format!("r{i:03}"), "1".to_string()))
            .collect();
        let refs: Vec<(&str, &str)> = big.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let mut nonce = 0;
        let resp = response(&view("1", &refs, None), None, &mut nonce).unwrap();
        // ~40 bytes of overhead per resource: 10 per piece at 400 bytes.
        let ps = pieces(resp, 400);
        assert_eq!(ps.len(), 10);
        assert!(
            ps[..9]
                .iter()
                .all(|p| p.more && p.full_state && p.nonce.starts_with("1."))
        );
        assert_eq!(
            (ps[9].more, ps[9].nonce.as_str()),
            (false, "1"),
            "the last keeps the nonce"
        );
        assert_eq!(ps.iter().map(|p| p.resources.len()).sum::<usize>(), 100);
        let small = response(&view("2", &[("a", "2")], None), None, &mut nonce).unwrap();
        assert_eq!(pieces(small, 400).len(), 1);
    }

    #[test]
    fn a_known_delta_is_used_when_the_proxy_holds_its_start() {
        let delta = Delta {
            from: "1".into(),
            changed: vec![("weft.dev/Cluster".into(), "a".into())],
            removed: vec![("weft.dev/Cluster".into(), "z".into())],
        };
        let next = view("2", &[("a", "2"), ("b", "1")], Some(delta));
        let mut nonce = 0;
        // Only the delta's keys travel (b is not compared).
        let held = view("1", &[("a", "1"), ("b", "0")], None);
        let r = response(&next, Some(&held), &mut nonce).unwrap();
        assert_eq!(
            r.resources
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(r.removed[0].name, "z");
        // A proxy holding another version gets the full comparison.
        let other = view("0", &[("a", "1"), ("b", "0")], None);
        let r = response(&next, Some(&other), &mut nonce).unwrap();
        assert_eq!(r.resources.len(), 2);
        assert!(r.removed.is_empty());
    }
}
