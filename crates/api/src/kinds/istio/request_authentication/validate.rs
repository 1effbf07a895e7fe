//! What makes a RequestAuthentication impossible on its own, following
//! Istio's `ValidateRequestAuthentication` and `validateJwtRule`
//! (`pkg/config/validation`), plus the `jwt.proto` notes (one of `jwks`
//! and `jwksUri`; unique claim headers).

use std::collections::HashSet;

use super::*;
use crate::check::{Check, Validate};
use crate::kinds::istio::authorization_policy::check_scope;

impl Validate for RequestAuthentication {
    fn validate(&self, cx: &mut Check<'_>) {
        check_scope(
            cx,
            self.selector.as_ref(),
            self.target_ref.as_ref(),
            &self.target_refs,
        );
        for (i, rule) in self.jwt_rules.iter().enumerate() {
            rule.check(cx, &format!("spec.jwtRules[{i}]"));
        }
    }
}

// === impl JwtRule ===

impl JwtRule {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let uri = self.jwks_uri.as_deref().filter(|u| !u.is_empty());
        let jwks = self.jwks.as_deref().filter(|j| !j.is_empty());
        match (self.issuer.is_empty(), uri) {
            (true, None) => cx.error(
                "issuer",
                path,
                "a JWT rule needs `issuer`, the `iss` claim its tokens carry (such as `https://accounts.google.com`)",
            ),
            // Istio accepts a rule with only `jwksUri`, but then any issuer whose
            // tokens these keys verify gets in.
            (true, Some(_)) => cx.warn(
                "issuer",
                path,
                "no `issuer`: tokens from any issuer signed by these keys are accepted; set `issuer` to the `iss` claim you expect",
            ),
            _ => {}
        }
        empty_values(
            cx,
            &format!("{path}.audiences"),
            &self.audiences,
            "an audience",
        );
        if uri.is_some() && jwks.is_some() {
            cx.error(
                "jwks-source",
                format!("{path}.jwks"),
                "set `jwksUri` or `jwks`, not both (Istio ignores `jwksUri` when `jwks` is set)",
            );
        }
        if let Some(u) = uri
            && let Err(why) = check_uri(u)
        {
            cx.error("jwks-uri", format!("{path}.jwksUri"), format!("`{u}` is not a JWKS URL: {why}; write it as `https://example.com/.well-known/jwks.json`"));
        }
        if let Some(j) = jwks
            && let Err(why) = check_jwks(j)
        {
            cx.error("jwks", format!("{path}.jwks"), format!("not a JSON Web Key Set: {why}; paste the JSON of the issuer's key set, `{{\"keys\": [...]}}`"));
        }
        for (j, h) in self.from_headers.iter().enumerate() {
            if h.name.is_empty() {
                cx.error(
                    "from-header",
                    format!("{path}.fromHeaders[{j}].name"),
                    "a token header needs a `name`, such as `x-jwt-assertion`",
                );
            }
        }
        empty_values(
            cx,
            &format!("{path}.fromParams"),
            &self.from_params,
            "a query parameter",
        );
        empty_values(
            cx,
            &format!("{path}.fromCookies"),
            &self.from_cookies,
            "a cookie name",
        );
        let mut headers = HashSet::new();
        for (j, c) in self.output_claim_to_headers.iter().enumerate() {
            let at = format!("{path}.outputClaimToHeaders[{j}]");
            if c.header.is_empty() || c.claim.is_empty() {
                cx.error("claim-to-header", at, "set both `header` and `claim`, such as `header: x-jwt-group` and `claim: group`");
            } else if !c.header.chars().all(is_token_char) {
                cx.error(
                    "claim-to-header",
                    format!("{at}.header"),
                    format!(
                        "`{}` is not a valid header name; use letters, digits and `-`",
                        c.header
                    ),
                );
            } else if !headers.insert(c.header.to_ascii_lowercase()) {
                cx.error(
                    "claim-to-header",
                    format!("{at}.header"),
                    format!(
                        "header `{}` is written twice; each claim needs its own header",
                        c.header
                    ),
                );
            }
        }
        if let Some(t) = &self.timeout {
            if t.0 < std::time::Duration::from_millis(1) {
                cx.error(
                    "duration",
                    format!("{path}.timeout"),
                    "must be at least `1ms`",
                );
            } else if t.0.subsec_nanos() % 1_000_000 != 0 {
                cx.error("duration", format!("{path}.timeout"), format!("{t} is finer than milliseconds, which Istio does not support; round it to whole `ms`"));
            }
        }
    }
}

fn empty_values(cx: &mut Check<'_>, path: &str, values: &[String], what: &str) {
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() {
            cx.error(
                "empty-value",
                format!("{path}[{i}]"),
                format!("empty value; write {what} or remove the entry"),
            );
        }
    }
}

/// Istio's `ParseJwksURI`: an `http` or `https` URL with a host and, if
/// any, a numeric port.
fn check_uri(uri: &str) -> Result<(), String> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err("it has no `https://` scheme".into());
    };
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(format!(
            "the scheme `{scheme}` is not supported, only `https` and `http`"
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let port = match host_port.strip_prefix('[') {
        // An IPv6 literal: `[::1]:8443`.
        Some(v6) => v6
            .split_once(']')
            .map(|(_, p)| p.strip_prefix(':'))
            .ok_or("an IPv6 host is missing its `]`")?,
        None => host_port.split_once(':').map(|(_, p)| p),
    };
    if host_port.is_empty() || host_port.starts_with(':') {
        return Err("it has no host".into());
    }
    if let Some(p) = port
        && !p.is_empty()
        && p.parse::<u16>().is_err()
    {
        return Err(format!("the port `{p}` is not a number from 0 to 65535"));
    }
    Ok(())
}

/// A JWK Set (`{"keys": [...]}`) or a single JWK (`{"kty": ...}`), as the
/// JWK library Istio parses `jwks` with accepts.
fn check_jwks(jwks: &str) -> Result<(), String> {
    let value: serde_json::Value =
        serde_json::from_str(jwks).map_err(|e| format!("the JSON does not parse ({e})"))?;
    let keys = match (value.get("keys"), value.get("kty")) {
        (Some(serde_json::Value::Array(keys)), _) => keys.iter().collect(),
        (Some(_), _) => return Err("`keys` is not a list".into()),
        (None, Some(_)) => vec![&value],
        (None, None) => return Err("it has neither `keys` nor `kty`".into()),
    };
    for (i, key) in keys.iter().enumerate() {
        if !key.get("kty").is_some_and(serde_json::Value::is_string) {
            return Err(format!("key {i} has no `kty`"));
        }
    }
    Ok(())
}

/// RFC 7230 `tchar`, what a header name is made of.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}
