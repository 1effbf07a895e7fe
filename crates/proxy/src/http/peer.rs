//! Peer metadata exchange, as Istio's sidecars do it with
//! `x-envoy-peer-metadata`: a client's proxy tells the server's proxy
//! which workload it speaks for, so `source_workload`, `source_app` and
//! `source_version` are known at the destination (mTLS proves only the
//! identity: namespace and service account, which several workloads may
//! share).
//!
//! The header rides only requests sent over mesh mTLS, and is believed
//! only from a peer that proved a mesh identity; the namespace always
//! comes from that identity, never from the header. Apps never see it:
//! outbound it is replaced or removed, inbound removed.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::listen::ConnCtx;
use crate::telemetry::PeerLabels;

/// The header.
pub static PEER_HEADER: HeaderName = HeaderName::from_static("weft-peer");

/// This proxy's workload as the header says it:
/// `workload=reviews-v1;app=reviews;version=v1`. Built once per snapshot.
pub fn header_for(node: &PeerLabels) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "workload={};app={};version={}",
        node.workload, node.app, node.version
    ))
    .ok()
}

/// Outbound: the header goes to meshed peers only; an app's own copy is
/// dropped either way.
pub fn set_outbound(headers: &mut HeaderMap, meshed: bool, ours: Option<&HeaderValue>) {
    match (meshed, ours) {
        (true, Some(v)) => {
            headers.insert(PEER_HEADER.clone(), v.clone());
        }
        _ => {
            headers.remove(&PEER_HEADER);
        }
    }
}

/// Inbound: removes the header and, from an mTLS peer, gives the source
/// labels it names (cached per connection: one proxy speaks for one
/// workload). `None`: keep the identity's labels.
pub fn take_inbound(ctx: &ConnCtx, headers: &mut HeaderMap) -> Option<Arc<PeerLabels>> {
    let value = headers.remove(&PEER_HEADER)?;
    let identity = ctx.peer_labels.as_ref()?;
    if let Some((seen, labels)) = ctx.peer_meta.get()
        && *seen == value
    {
        return Some(labels.clone());
    }
    let labels = Arc::new(identity.with_metadata(value.to_str().ok()?));
    // The first value wins the cache; another (never from a well-behaved
    // proxy) is parsed per request.
    let _ = ctx.peer_meta.set((value, labels.clone()));
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_the_workload_and_only_meshed_peers_get_it() {
        let node = PeerLabels::from_meta(&weft_proto::config::WorkloadMeta {
            workload: Some("reviews-v2".into()),
            namespace: Some("default".into()),
            app: Some("reviews".into()),
            version: Some("v2".into()),
            ..Default::default()
        });
        let v = header_for(&node).unwrap();
        assert_eq!(v, "workload=reviews-v2;app=reviews;version=v2");
        let mut h = HeaderMap::new();
        h.insert(
            PEER_HEADER.clone(),
            HeaderValue::from_static("workload=spoofed"),
        );
        set_outbound(&mut h, false, Some(&v));
        assert!(h.get(&PEER_HEADER).is_none());
        h.insert(
            PEER_HEADER.clone(),
            HeaderValue::from_static("workload=spoofed"),
        );
        set_outbound(&mut h, true, Some(&v));
        assert_eq!(h.get(&PEER_HEADER), Some(&v));
    }
}
