//! istio/api `networking/v1alpha3/gateway.proto`: a load balancer at the
//! mesh's edge: which ports it listens on, for which hosts, with what TLS.

#[cfg(test)]
mod tests;
mod validate;

use std::collections::BTreeMap;

use serde::Deserialize;

/// istio/api `Gateway`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Labels of the gateway pods this configures (in the Gateway's
    /// namespace).
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    #[serde(default)]
    pub servers: Vec<Server>,
}

/// istio/api `Server`: one listener.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    /// Required.
    #[serde(default)]
    pub port: Port,
    /// IP or `unix://` socket to bind to.
    pub bind: Option<String>,
    /// `[namespace/]dnsName` of the VirtualServices that may bind.
    #[serde(default)]
    pub hosts: Vec<String>,
    pub tls: Option<ServerTlsSettings>,
    /// Unique among the servers when set.
    pub name: Option<String>,
    #[serde(alias = "default_endpoint")]
    pub default_endpoint: Option<String>,
}

/// istio/api `Port`: a listener port.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Port {
    #[serde(default)]
    pub number: u32,
    /// `HTTP`, `HTTPS`, `GRPC`, `GRPC-WEB`, `HTTP2`, `MONGO`, `TCP`, `TLS`,
    /// `MYSQL` or `REDIS`, in any case.
    #[serde(default)]
    pub protocol: String,
    #[serde(default)]
    pub name: String,
    /// Deprecated; has no effect on gateways.
    #[serde(alias = "target_port")]
    pub target_port: Option<u32>,
}

/// istio/api `ServerTLSSettings`: TLS a gateway (or a Sidecar's ingress
/// listener) terminates or passes through.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerTlsSettings {
    /// Answer plain HTTP with a 301 to HTTPS.
    #[serde(default, alias = "https_redirect")]
    pub https_redirect: bool,
    /// Defaults to `PASSTHROUGH`.
    pub mode: Option<ServerTlsMode>,
    #[serde(alias = "server_certificate")]
    pub server_certificate: Option<String>,
    #[serde(alias = "private_key")]
    pub private_key: Option<String>,
    #[serde(alias = "ca_certificates")]
    pub ca_certificates: Option<String>,
    #[serde(alias = "ca_crl")]
    pub ca_crl: Option<String>,
    /// A secret holding the key, the certificate and (for mutual TLS) the
    /// CA certificates.
    #[serde(alias = "credential_name")]
    pub credential_name: Option<String>,
    /// Up to two secrets (e.g. an RSA and an ECDSA certificate).
    #[serde(default, alias = "credential_names")]
    pub credential_names: Vec<String>,
    /// For mutual TLS, a secret or ConfigMap holding only CA certificates.
    #[serde(alias = "ca_cert_credential_name")]
    pub ca_cert_credential_name: Option<String>,
    /// Up to two inline certificate file sets.
    #[serde(default, alias = "tls_certificates")]
    pub tls_certificates: Vec<TlsCertificate>,
    #[serde(default, alias = "subject_alt_names")]
    pub subject_alt_names: Vec<String>,
    #[serde(default, alias = "verify_certificate_spki")]
    pub verify_certificate_spki: Vec<String>,
    #[serde(default, alias = "verify_certificate_hash")]
    pub verify_certificate_hash: Vec<String>,
    #[serde(alias = "min_protocol_version")]
    pub min_protocol_version: Option<TlsProtocolVersion>,
    #[serde(alias = "max_protocol_version")]
    pub max_protocol_version: Option<TlsProtocolVersion>,
    #[serde(default, alias = "cipher_suites")]
    pub cipher_suites: Vec<String>,
}

/// istio/api `ServerTLSSettings.TLSCertificate`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsCertificate {
    #[serde(alias = "server_certificate")]
    pub server_certificate: Option<String>,
    #[serde(alias = "private_key")]
    pub private_key: Option<String>,
    #[serde(alias = "ca_certificates")]
    pub ca_certificates: Option<String>,
}

/// istio/api `ServerTLSSettings.TLSmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerTlsMode {
    /// Route on the client's SNI without terminating TLS.
    Passthrough,
    Simple,
    Mutual,
    /// Like `PASSTHROUGH`, the destination encoded in the SNI (east-west
    /// gateways).
    AutoPassthrough,
    /// Mutual TLS with Istio's workload certificates.
    IstioMutual,
    /// Mutual TLS when the client presents a certificate.
    OptionalMutual,
}

/// istio/api `ServerTLSSettings.TLSProtocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub enum TlsProtocolVersion {
    #[serde(rename = "TLS_AUTO")]
    TlsAuto,
    #[serde(rename = "TLSV1_0")]
    Tlsv10,
    #[serde(rename = "TLSV1_1")]
    Tlsv11,
    #[serde(rename = "TLSV1_2")]
    Tlsv12,
    #[serde(rename = "TLSV1_3")]
    Tlsv13,
}

// === impl ServerTlsSettings ===

impl ServerTlsSettings {
    /// Defaults to `PASSTHROUGH`, as the proto's zero value.
    pub fn mode(&self) -> ServerTlsMode {
        self.mode.unwrap_or(ServerTlsMode::Passthrough)
    }
}
