//! istio/api `security/v1beta1/authorization_policy.proto`: access control
//! on workloads. A request matches a policy when it matches any of its
//! rules; a rule matches when one of its sources (`from`), one of its
//! operations (`to`) and all of its conditions (`when`) match.

mod conditions;
mod target;
mod validate;
mod values;

#[cfg(test)]
mod tests;

use serde::Deserialize;

use super::WorkloadSelector;

pub use target::PolicyTargetReference;
pub(super) use target::check_scope;
pub(super) use target::check_selector;

/// istio/api `AuthorizationPolicy`. Applies to the workloads `selector`
/// picks (all of the namespace when unset), or to the resources
/// `targetRef`/`targetRefs` name; at most one of the three is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthorizationPolicy {
    pub selector: Option<WorkloadSelector>,
    /// Deprecated single form of `targetRefs`.
    #[serde(alias = "target_ref")]
    pub target_ref: Option<PolicyTargetReference>,
    #[serde(default, alias = "target_refs")]
    pub target_refs: Vec<PolicyTargetReference>,
    /// No rules never match: an ALLOW policy without rules denies all.
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub action: Action,
    /// The extension a CUSTOM policy delegates to (a MeshConfig
    /// `extensionProviders` name). Only with `action: CUSTOM`.
    pub provider: Option<ExtensionProvider>,
}

/// istio/api `AuthorizationPolicy.Action`. CUSTOM policies are evaluated
/// first, then DENY, then ALLOW; AUDIT only marks requests for logging.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    #[default]
    Allow,
    Deny,
    Audit,
    Custom,
}

/// istio/api `AuthorizationPolicy.ExtensionProvider`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtensionProvider {
    #[serde(default)]
    pub name: String,
}

/// istio/api `Rule`. An empty rule (`- {}`) matches every request.
///
/// Every string in a rule is matched exactly, by prefix (`abc*`), by
/// suffix (`*abc`) or for presence (`*`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub from: Vec<RuleFrom>,
    #[serde(default)]
    pub to: Vec<RuleTo>,
    #[serde(default)]
    pub when: Vec<Condition>,
}

/// istio/api `Rule.From`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFrom {
    /// Istio requires it; a missing one reads as empty and is reported so.
    #[serde(default)]
    pub source: Source,
}

/// istio/api `Rule.To`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTo {
    /// Istio requires it; a missing one reads as empty and is reported so.
    #[serde(default)]
    pub operation: Operation,
}

/// istio/api `Source`: who sends the request. Fields are ANDed; the
/// values of one field are ORed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Source {
    /// Peer identities from the mTLS certificate, as
    /// `<trust-domain>/ns/<namespace>/sa/<service-account>`.
    #[serde(default)]
    pub principals: Vec<String>,
    #[serde(default, alias = "not_principals")]
    pub not_principals: Vec<String>,
    /// Request identities from a JWT, as `<iss>/<sub>`.
    #[serde(default, alias = "request_principals")]
    pub request_principals: Vec<String>,
    #[serde(default, alias = "not_request_principals")]
    pub not_request_principals: Vec<String>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default, alias = "not_namespaces")]
    pub not_namespaces: Vec<String>,
    /// `<service-account>` or `<namespace>/<service-account>`, no
    /// wildcards; cannot be combined with `principals` or `namespaces`.
    #[serde(default, alias = "service_accounts")]
    pub service_accounts: Vec<String>,
    #[serde(default, alias = "not_service_accounts")]
    pub not_service_accounts: Vec<String>,
    /// Source IPs or CIDRs of the connection (`source.ip`).
    #[serde(default, alias = "ip_blocks")]
    pub ip_blocks: Vec<String>,
    #[serde(default, alias = "not_ip_blocks")]
    pub not_ip_blocks: Vec<String>,
    /// Client IPs or CIDRs from X-Forwarded-For or the proxy protocol
    /// (`remote.ip`).
    #[serde(default, alias = "remote_ip_blocks")]
    pub remote_ip_blocks: Vec<String>,
    #[serde(default, alias = "not_remote_ip_blocks")]
    pub not_remote_ip_blocks: Vec<String>,
}

/// istio/api `Operation`: what the request does. Fields are ANDed; the
/// values of one field are ORed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operation {
    /// HTTP `Host`, matched case-insensitively. HTTP only.
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default, alias = "not_hosts")]
    pub not_hosts: Vec<String>,
    /// Destination ports, written as strings (`"8080"`).
    #[serde(default)]
    pub ports: Vec<String>,
    #[serde(default, alias = "not_ports")]
    pub not_ports: Vec<String>,
    /// HTTP methods (`POST` for gRPC). HTTP only.
    #[serde(default)]
    pub methods: Vec<String>,
    #[serde(default, alias = "not_methods")]
    pub not_methods: Vec<String>,
    /// Normalized request paths (`/package.Service/Method` for gRPC); may
    /// be Envoy URI templates with `{*}` and `{**}`. HTTP only.
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default, alias = "not_paths")]
    pub not_paths: Vec<String>,
}

/// istio/api `Condition`: an Istio attribute (`key`, from the list in the
/// Authorization Policy Conditions reference) and the values it must (or
/// must not) have.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Condition {
    pub key: String,
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default, alias = "not_values")]
    pub not_values: Vec<String>,
}

// === impl Source ===

impl Source {
    /// Every list, with the field name users write.
    pub fn fields(&self) -> [(&'static str, &[String]); 12] {
        [
            ("principals", &self.principals),
            ("notPrincipals", &self.not_principals),
            ("requestPrincipals", &self.request_principals),
            ("notRequestPrincipals", &self.not_request_principals),
            ("namespaces", &self.namespaces),
            ("notNamespaces", &self.not_namespaces),
            ("serviceAccounts", &self.service_accounts),
            ("notServiceAccounts", &self.not_service_accounts),
            ("ipBlocks", &self.ip_blocks),
            ("notIpBlocks", &self.not_ip_blocks),
            ("remoteIpBlocks", &self.remote_ip_blocks),
            ("notRemoteIpBlocks", &self.not_remote_ip_blocks),
        ]
    }
}

// === impl Operation ===

impl Operation {
    /// Every list, with the field name users write.
    pub fn fields(&self) -> [(&'static str, &[String]); 8] {
        [
            ("hosts", &self.hosts),
            ("notHosts", &self.not_hosts),
            ("ports", &self.ports),
            ("notPorts", &self.not_ports),
            ("methods", &self.methods),
            ("notMethods", &self.not_methods),
            ("paths", &self.paths),
            ("notPaths", &self.not_paths),
        ]
    }
}
