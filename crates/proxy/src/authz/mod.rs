//! Authorization of inbound traffic: Istio's AuthorizationPolicy, as the
//! control plane selected it for this workload.
//!
//! Order (Istio): AUDIT policies only log; a request that matches any DENY
//! policy is denied; then, if any ALLOW policy applies, the request must
//! match one of them; with none, it is allowed. HTTP requests are checked
//! with every field; TCP connections with the fields TCP has, and an
//! HTTP-only field fails closed (see `rules`).
//!
//! Cost: linear in the rules of the policies that apply, with no
//! allocation per request; a workload with no policy pays one branch.

mod pattern;
mod rules;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http::HeaderMap;
use weft_proto::config::{Action, AuthorizationPolicy};

use rules::Rule;

/// The compiled policies of one workload.
#[derive(Debug, Default)]
pub struct Authorizer {
    deny: Vec<Policy>,
    allow: Vec<Policy>,
    audit: Vec<Policy>,
}

#[derive(Debug)]
struct Policy {
    name: Arc<str>,
    rules: Vec<Rule>,
}

/// The peer's verified identity (from its mTLS certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `cluster.local/ns/default/sa/productpage`: Istio's principal, the
    /// SPIFFE ID without `spiffe://`.
    pub principal: String,
    pub namespace: String,
}

/// What a request or connection is, for authorization.
#[derive(Debug)]
pub struct Attrs<'a> {
    /// The direct peer.
    pub peer: IpAddr,
    /// The original client (`X-Forwarded-For`'s first hop, else the peer).
    pub remote: IpAddr,
    /// Our address the peer connected to.
    pub local: Option<SocketAddr>,
    /// The workload port the traffic is for.
    pub port: u16,
    /// `None` for a plaintext peer.
    pub identity: Option<&'a Identity>,
    /// `None` for opaque TCP.
    pub http: Option<HttpAttrs<'a>>,
}

#[derive(Debug)]
pub struct HttpAttrs<'a> {
    pub method: &'a str,
    /// Without a port, lowercased.
    pub host: &'a str,
    /// Without the query string.
    pub path: &'a str,
    pub headers: &'a HeaderMap,
}

/// Which kind of policy a rule is evaluated for: on TCP an HTTP-only
/// field makes an ALLOW rule fail and is ignored by a DENY rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Allow,
    Deny,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Denied, by the named policy (or by the absence of a matching ALLOW
    /// policy, named as such).
    Deny(Arc<str>),
}

// === impl Authorizer ===

impl Authorizer {
    pub fn new(policies: &[AuthorizationPolicy]) -> Self {
        let mut out = Self::default();
        for p in policies {
            let compiled = Policy {
                name: Arc::from(p.name.as_str()),
                rules: p.rules.iter().map(Rule::new).collect(),
            };
            match p.action {
                Action::Allow => out.allow.push(compiled),
                Action::Deny => out.deny.push(compiled),
                Action::Audit => out.audit.push(compiled),
            }
        }
        out
    }

    /// Whether any policy applies: the proxy skips authorization entirely
    /// when none does.
    pub fn is_empty(&self) -> bool {
        self.deny.is_empty() && self.allow.is_empty() && self.audit.is_empty()
    }

    pub fn check(&self, a: &Attrs<'_>) -> Verdict {
        for p in &self.audit {
            if p.matches(a, Mode::Deny) {
                tracing::info!(policy = %p.name, peer = %a.peer, port = a.port, "AUDIT: request matches audit policy");
            }
        }
        if let Some(p) = self.deny.iter().find(|p| p.matches(a, Mode::Deny)) {
            return Verdict::Deny(p.name.clone());
        }
        if self.allow.is_empty() || self.allow.iter().any(|p| p.matches(a, Mode::Allow)) {
            return Verdict::Allow;
        }
        Verdict::Deny(Arc::from(NO_ALLOW_MATCHED))
    }
}

/// How a denial for want of a matching ALLOW policy is named.
pub const NO_ALLOW_MATCHED: &str = "(no ALLOW policy matched)";

// === impl Policy ===

impl Policy {
    /// Istio: a policy matches when any of its rules does; a policy with no
    /// rules matches nothing.
    fn matches(&self, a: &Attrs<'_>, mode: Mode) -> bool {
        self.rules.iter().any(|r| r.matches(a, mode))
    }
}

#[cfg(test)]
mod tests;
