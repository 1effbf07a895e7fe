//! TLS between a proxy and its peers: what a cluster's endpoints are
//! spoken to with (DestinationRule `trafficPolicy.tls`, or the mesh's
//! automatic mTLS), and what the inbound side accepts (PeerAuthentication).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// TLS from this proxy to a cluster's endpoints, as a DestinationRule sets
/// it. Unset on a cluster: automatic, meaning mesh mTLS to every endpoint
/// that names an `identity`, and plaintext to the rest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTls {
    pub mode: UpstreamTlsMode,
    /// The name sent as SNI and checked in the server's certificate
    /// (`simple` and `mutual`); the cluster's service host when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// PEM roots the server must chain to (`simple`, `mutual`); the
    /// system's roots when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificates: Option<PathBuf>,
    /// Names the server's certificate may carry instead of `sni`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_alt_names: Vec<String>,
    /// The client certificate chain and key presented in `mutual` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<PathBuf>,
}

/// Istio's `ClientTLSSettings.TLSmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamTlsMode {
    /// Plaintext, even to meshed endpoints.
    Disable,
    /// TLS origination: the server is verified, no client certificate.
    Simple,
    /// TLS origination with a client certificate from files.
    Mutual,
    /// Mesh mTLS with this workload's own certificate; each endpoint is
    /// verified against its `identity` (any workload of the trust domain
    /// when it has none).
    IstioMutual,
}

/// What this workload's inbound side accepts from peers (Istio's
/// PeerAuthentication, resolved for this workload).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerAuthentication {
    #[serde(default)]
    pub mode: MtlsMode,
    /// Overrides by workload port.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<u16, MtlsMode>,
}

/// Istio's `PeerAuthentication.MutualTLS.Mode`, resolved (never UNSET).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MtlsMode {
    /// Mesh mTLS only; plaintext (and TLS not from a mesh peer) is refused.
    Strict,
    /// Both mesh mTLS and plaintext; Istio's default.
    #[default]
    Permissive,
    /// No mTLS is terminated: what arrives goes to the app as it is.
    Disable,
}

/// The roots workload certificates chain to, as the control plane pushes
/// them: during a root rotation, the old and the new.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustRoots {
    /// PEM certificates.
    pub pem: String,
}

// === impl PeerAuthentication ===

impl PeerAuthentication {
    /// The mode in force for traffic to workload port `port`.
    pub fn mode_for(&self, port: Option<u16>) -> MtlsMode {
        port.and_then(|p| self.ports.get(&p).copied())
            .unwrap_or(self.mode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_overrides_win_over_the_workload_mode() {
        let pa = PeerAuthentication {
            mode: MtlsMode::Strict,
            ports: [(8080, MtlsMode::Disable)].into(),
        };
        assert_eq!(pa.mode_for(Some(8080)), MtlsMode::Disable);
        assert_eq!(pa.mode_for(Some(9080)), MtlsMode::Strict);
        assert_eq!(pa.mode_for(None), MtlsMode::Strict);
        assert_eq!(
            PeerAuthentication::default().mode_for(None),
            MtlsMode::Permissive
        );
    }
}
