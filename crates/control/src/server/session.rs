//! One proxy's session on the config stream.
//!
//! The session holds what the proxy has ACKed. Whenever the generation
//! moves it recomputes the proxy's view, sends only the difference (the
//! whole view first), and waits for the answer before sending more:
//! changes that arrive meanwhile coalesce into the next response. After a
//! NACK it sends nothing more until the generation moves again, so a bad
//! config is not retried in a loop.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tonic::{Status, Streaming};
use weft_proto::discovery::{ConfigRequest, ConfigResponse, Node, Resource, ResourceName};

use super::Registry;
use crate::views::{View, Views};

/// How long to wait for an ACK before treating the proxy as gone.
const ACK_TIMEOUT: Duration = Duration::from_secs(30);

type Tx = mpsc::Sender<Result<ConfigResponse, Status>>;

/// What the proxy holds: (type URL, name) → version.
type Held = HashMap<(String, String), String>;

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
    mut closing: watch::Receiver<bool>,
) {
    registry.connected(&node);
    views.proxy_connected(&node);
    tracing::info!(node = %node.id, workload = %node.workload, namespace = %node.namespace, "proxy connected");
    let end = tokio::select! {
        end = serve(&node, &mut requests, &tx, &*views, &registry) => end,
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
) -> End {
    let mut generation = views.generation();
    let mut held: Held = HashMap::new();
    // The version of the view the proxy ACKed last.
    let mut held_version: Option<String> = None;
    let mut first = true;
    let mut nacked_at: Option<u64> = None;
    let mut nonce = 0u64;
    loop {
        let current = *generation.borrow_and_update();
        if nacked_at != Some(current) {
            let view = views.view(node);
            if let Some(resp) = response(&view, &held, held_version.as_deref(), first, &mut nonce) {
                registry.sent(&node.id, &view.version);
                if tx.send(Ok(resp)).await.is_err() {
                    return End::Lost;
                }
                match answer(requests, nonce).await {
                    Answer::Ack => {
                        held = view
                            .resources
                            .iter()
                            .map(|(k, r)| (k.clone(), r.version.clone()))
                            .collect();
                        held_version = Some(view.version.clone());
                        first = false;
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
/// response; `None` when there is none (and this is not the first).
///
/// Cost: when the proxy holds exactly the view the compiler's delta starts
/// from, O(changes); otherwise a comparison of every resource.
fn response(
    view: &View,
    held: &Held,
    held_version: Option<&str>,
    first: bool,
    nonce: &mut u64,
) -> Option<ConfigResponse> {
    let (resources, removed): (Vec<Resource>, Vec<ResourceName>) = match &view.delta {
        Some(d) if !first && held_version == Some(d.from.as_str()) => (
            d.changed
                .iter()
                .filter_map(|k| view.resources.get(k).cloned())
                .collect(),
            d.removed.iter().map(name).collect(),
        ),
        _ => (
            view.resources
                .iter()
                .filter(|(k, r)| first || held.get(*k) != Some(&r.version))
                .map(|(_, r)| r.clone())
                .collect(),
            if first {
                Vec::new()
            } else {
                held.keys()
                    .filter(|k| !view.resources.contains_key(*k))
                    .map(name)
                    .collect()
            },
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
    })
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

    fn res(name: &str, version: &str) -> ((String, String), Resource) {
        let r = Resource {
            type_url: "weft.dev/Cluster".into(),
            name: name.into(),
            version: version.into(),
            body: Default::default(),
        };
        ((r.type_url.clone(), name.into()), r)
    }

    #[test]
    fn first_response_is_everything_later_ones_only_changes() {
        let view = View {
            version: "1".into(),
            resources: [res("a", "1"), res("b", "1")].into_iter().collect(),
            delta: None,
        };
        let mut nonce = 0;
        let first = response(&view, &Held::new(), None, true, &mut nonce).unwrap();
        assert!(first.full_state);
        assert_eq!(first.resources.len(), 2);
        let held: Held = view
            .resources
            .iter()
            .map(|(k, r)| (k.clone(), r.version.clone()))
            .collect();
        assert!(
            response(&view, &held, Some("1"), false, &mut nonce).is_none(),
            "no change, nothing sent"
        );

        let next = View {
            version: "2".into(),
            resources: [res("a", "2"), res("c", "1")].into_iter().collect(),
            delta: None,
        };
        let delta = response(&next, &held, Some("1"), false, &mut nonce).unwrap();
        assert!(!delta.full_state);
        let names: Vec<&str> = delta.resources.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(delta.removed.len(), 1);
        assert_eq!(delta.removed[0].name, "b");
        assert_eq!(delta.nonce, "2");
    }

    #[test]
    fn a_known_delta_is_used_when_the_proxy_holds_its_start() {
        let next = View {
            version: "2".into(),
            resources: [res("a", "2"), res("b", "1")].into_iter().collect(),
            delta: Some(crate::views::Delta {
                from: "1".into(),
                changed: vec![("weft.dev/Cluster".into(), "a".into())],
                removed: vec![("weft.dev/Cluster".into(), "z".into())],
            }),
        };
        let mut nonce = 0;
        // Held says nothing changed for b; only the delta's keys travel.
        let held: Held = [res("a", "1"), res("b", "1")]
            .into_iter()
            .map(|(k, r)| (k, r.version))
            .collect();
        let r = response(&next, &held, Some("1"), false, &mut nonce).unwrap();
        assert_eq!(
            r.resources
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["a"]
        );
        assert_eq!(r.removed[0].name, "z");
        // A proxy holding another version gets the full comparison.
        let r = response(&next, &held, Some("0"), false, &mut nonce).unwrap();
        assert_eq!(r.resources.len(), 1);
        assert!(r.removed.is_empty());
    }
}
