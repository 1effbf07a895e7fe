//! istio/api `security/v1beta1/request_authentication.proto` and
//! `jwt.proto`: which JWTs a workload accepts. A request with an invalid
//! token is rejected; one without a token is accepted with no identity
//! (an AuthorizationPolicy requires one).

mod validate;

#[cfg(test)]
mod tests;

use serde::Deserialize;

use super::{PolicyTargetReference, WorkloadSelector};
use crate::types::Duration;

/// istio/api `RequestAuthentication`. Applies to the workloads `selector`
/// picks (all of the namespace when unset), or to the resources
/// `targetRef`/`targetRefs` name; at most one of the three is set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestAuthentication {
    pub selector: Option<WorkloadSelector>,
    /// Deprecated single form of `targetRefs`.
    #[serde(alias = "target_ref")]
    pub target_ref: Option<PolicyTargetReference>,
    #[serde(default, alias = "target_refs")]
    pub target_refs: Vec<PolicyTargetReference>,
    #[serde(default, alias = "jwt_rules")]
    pub jwt_rules: Vec<JwtRule>,
}

/// istio/api `JWTRule`: how to find, verify and forward one issuer's
/// tokens.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtRule {
    /// The `iss` claim tokens must carry, such as `https://accounts.google.com`.
    #[serde(default)]
    pub issuer: String,
    /// Accepted `aud` claims; empty accepts the service's own name.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// Where to fetch the public keys (found by OpenID discovery of the
    /// issuer when unset). Only one of `jwksUri` and `jwks`.
    #[serde(alias = "jwks_uri")]
    pub jwks_uri: Option<String>,
    /// The public keys inline, as a JSON Web Key Set.
    pub jwks: Option<String>,
    /// Headers to read the token from; default `Authorization: Bearer`.
    #[serde(default, alias = "from_headers")]
    pub from_headers: Vec<JwtHeader>,
    /// Query parameters to read the token from; default `access_token`.
    #[serde(default, alias = "from_params")]
    pub from_params: Vec<String>,
    /// Cookies to read the token from.
    #[serde(default, alias = "from_cookies")]
    pub from_cookies: Vec<String>,
    /// Header to pass the verified payload (base64 JSON) upstream in.
    #[serde(alias = "output_payload_to_header")]
    pub output_payload_to_header: Option<String>,
    /// Keep the token in the request sent upstream (default: removed).
    #[serde(default, alias = "forward_original_token")]
    pub forward_original_token: bool,
    /// Claims to copy into headers of the request sent upstream.
    #[serde(default, alias = "output_claim_to_headers")]
    pub output_claim_to_headers: Vec<ClaimToHeader>,
    /// How long to wait for `jwksUri` (Envoy's default: 5s).
    pub timeout: Option<Duration>,
}

/// istio/api `JWTHeader`: a header carrying the token, and the prefix to
/// strip before it (`"Bearer "`, with the space).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtHeader {
    #[serde(default)]
    pub name: String,
    pub prefix: Option<String>,
}

/// istio/api `ClaimToHeader`: copy a string, integer or boolean claim
/// (`nested.key` for nested claims) into a request header.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimToHeader {
    #[serde(default)]
    pub header: String,
    #[serde(default)]
    pub claim: String,
}
