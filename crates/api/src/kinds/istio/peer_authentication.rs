//! istio/api `security/v1beta1/peer_authentication.proto`: whether
//! workloads accept plaintext, mutual TLS or both from their peers.

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Deserialize;

use super::WorkloadSelector;
use super::authorization_policy::check_selector;
use crate::check::{Check, Validate};

/// istio/api `PeerAuthentication`. Applies to the workloads `selector`
/// picks, or to the whole namespace (the whole mesh in the root
/// namespace) when unset.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerAuthentication {
    pub selector: Option<WorkloadSelector>,
    /// Unset: inherit from the namespace or mesh policy.
    pub mtls: Option<MutualTls>,
    /// Per-port overrides, keyed by the workload's port number. YAML map
    /// keys arrive as text, so they are kept as written and checked to be
    /// ports; [`PeerAuthentication::port_level`] gives them as numbers.
    #[serde(default, alias = "port_level_mtls")]
    pub port_level_mtls: BTreeMap<String, MutualTls>,
}

/// istio/api `PeerAuthentication.MutualTLS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutualTls {
    pub mode: Option<MutualTlsMode>,
}

/// istio/api `PeerAuthentication.MutualTLS.Mode`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MutualTlsMode {
    /// Inherit from the parent policy; PERMISSIVE when there is none.
    #[default]
    Unset,
    /// Plaintext only.
    Disable,
    /// Plaintext or mTLS.
    Permissive,
    /// mTLS only: the client must present a certificate.
    Strict,
}

// === impl PeerAuthentication ===

impl PeerAuthentication {
    /// The port-level settings whose key is a port number.
    pub fn port_level(&self) -> impl Iterator<Item = (u16, &MutualTls)> {
        self.port_level_mtls
            .iter()
            .filter_map(|(port, mtls)| Some((parse_port(port)?, mtls)))
    }
}

/// Istio's `ValidatePeerAuthentication`.
impl Validate for PeerAuthentication {
    fn validate(&self, cx: &mut Check<'_>) {
        if let Some(s) = &self.selector {
            check_selector(cx, s);
        }
        let has_labels = self
            .selector
            .as_ref()
            .is_some_and(|s| !s.match_labels.is_empty());
        if !self.port_level_mtls.is_empty() && !has_labels {
            cx.error(
                "port-level-mtls",
                "spec.portLevelMtls",
                "`portLevelMtls` only applies to selected workloads (a namespace- or mesh-wide policy has no ports of its own); add `selector.matchLabels`, or set `mtls` instead",
            );
        }
        for port in self.port_level_mtls.keys() {
            if parse_port(port).is_none() {
                cx.error(
                    "port",
                    format!("spec.portLevelMtls.{port}"),
                    format!("`{port}` is not a port; key `portLevelMtls` by the workload's port number, from 1 to 65535, such as `8080:`"),
                );
            }
        }
    }
}

fn parse_port(key: &str) -> Option<u16> {
    key.parse::<u16>().ok().filter(|p| *p != 0)
}
