//! Recognizing the local rate limit patches Istio's "Enabling Rate Limits
//! using Envoy" task writes, and reading Envoy's `LocalRateLimit`
//! (`envoy.extensions.filters.http.local_ratelimit.v3`) out of them:
//!
//! - `applyTo: HTTP_FILTER`, `INSERT_BEFORE` / `INSERT_AFTER` /
//!   `INSERT_FIRST` into the HTTP connection manager, value
//!   `{ name: envoy.filters.http.local_ratelimit, typed_config }`: the
//!   listener's filter (for `SIDECAR_INBOUND` or `GATEWAY`);
//! - `applyTo: HTTP_ROUTE`, `MERGE`, value `{ typed_per_filter_config:
//!   { envoy.filters.http.local_ratelimit: ... } }`: the matched routes'
//!   own settings.
//!
//! `typed_config` is a `udpa.type.v1.TypedStruct` (`type_url` + `value`)
//! or the `LocalRateLimit` itself (`@type` + its fields); Envoy's JSON
//! accepts snake_case and camelCase names alike, and so does this.

use std::time::Duration;

use weft_yaml::{NodeKind, Scalar};

use super::{
    ApplyTo, EnvoyConfigObjectPatch, HTTP_CONNECTION_MANAGER, PatchContext, PatchOperation,
};

/// The filter's name in Envoy.
pub const FILTER_NAME: &str = "envoy.filters.http.local_ratelimit";
const TYPED_STRUCT: &str = "type.googleapis.com/udpa.type.v1.TypedStruct";
const XDS_TYPED_STRUCT: &str = "type.googleapis.com/xds.type.v3.TypedStruct";
const LOCAL_RATE_LIMIT: &str =
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

/// A local rate limit patch weft carries out.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitPatch {
    pub context: PatchContext,
    pub scope: RateLimitScope,
    /// `None`: no `token_bucket`; the filter checks nothing by itself
    /// (Envoy's "globally disabled, enabled per route" shape).
    pub limit: Option<LocalRateLimit>,
}

/// Which requests a patch's limit applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum RateLimitScope {
    /// The listener's filter: every request on the matched listeners
    /// (`listener.portNumber`, if set).
    Filter { port: Option<u16> },
    /// Routes' own settings: `routeConfiguration.portNumber`, the vhost
    /// name (`inbound|http|9080`) and the route name, each if set.
    Route {
        port: Option<u16>,
        vhost: Option<String>,
        route: Option<String>,
    },
}

/// Envoy's `LocalRateLimit`, as far as weft carries it out.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalRateLimit {
    pub max_tokens: u32,
    pub tokens_per_fill: u32,
    pub fill_interval: Duration,
    /// `filter_enabled`; Envoy's default when unset is 0%.
    pub enabled_percent: f64,
    /// `filter_enforced`; Envoy's default when unset is 0%.
    pub enforced_percent: f64,
    /// `response_headers_to_add` with `append: false`.
    pub set_headers: Vec<(String, String)>,
    /// `response_headers_to_add` appending (Envoy's default).
    pub add_headers: Vec<(String, String)>,
}

/// A field of a rate limit patch that is wrong: (path below the patch,
/// message).
pub type Problem = (String, String);

/// The local rate limit in `p`, if it is one of the shapes weft carries
/// out; `Ok(None)` for any other patch. `Err`: it is a local rate limit
/// patch, but Envoy would refuse it.
pub fn recognize(p: &EnvoyConfigObjectPatch) -> Result<Option<RateLimitPatch>, Vec<Problem>> {
    let (Some(apply_to), Some(patch), Some(m)) = (p.apply_to, &p.patch, &p.matches) else {
        return Ok(None);
    };
    let context = m.context;
    if !matches!(
        context,
        PatchContext::SidecarInbound | PatchContext::Gateway
    ) {
        return Ok(None);
    }
    let Some(super::FreeForm(value)) = &patch.value else {
        return Ok(None);
    };
    let port = |n: u32| u16::try_from(n).ok().filter(|p| *p != 0);
    match (apply_to, patch.operation) {
        (
            ApplyTo::HttpFilter,
            Some(
                PatchOperation::InsertBefore
                | PatchOperation::InsertAfter
                | PatchOperation::InsertFirst,
            ),
        ) => {
            let listener = m.listener.as_ref();
            let filter = listener
                .and_then(|l| l.filter_chain.as_ref())
                .and_then(|fc| fc.filter.as_ref());
            // HTTP filters live in the HTTP connection manager; a match on
            // another network filter never reaches them.
            if filter.is_some_and(|f| f.name != HTTP_CONNECTION_MANAGER)
                || m.route_configuration.is_some()
                || m.cluster.is_some()
                || text(field(value, "name")) != Some(FILTER_NAME)
            {
                return Ok(None);
            }
            let Some(typed) = field(value, "typed_config") else {
                return Ok(None);
            };
            let limit = typed_limit(typed, "patch.value.typed_config")?;
            Ok(Some(RateLimitPatch {
                context,
                scope: RateLimitScope::Filter {
                    port: listener.and_then(|l| port(l.port_number)),
                },
                limit,
            }))
        }
        (ApplyTo::HttpRoute, Some(PatchOperation::Merge)) => {
            if m.listener.is_some() || m.cluster.is_some() {
                return Ok(None);
            }
            let Some(per_filter) = field(value, "typed_per_filter_config") else {
                return Ok(None);
            };
            let NodeKind::Map(entries) = value else {
                return Ok(None);
            };
            // A MERGE that sets anything else of the route asks for more
            // than weft does; it is ignored whole rather than half done.
            if entries.len() != 1 {
                return Ok(None);
            }
            let Some(typed) = field(per_filter, FILTER_NAME) else {
                return Ok(None);
            };
            let rc = m.route_configuration.as_ref();
            let vhost = rc.and_then(|r| r.vhost.as_ref());
            let limit = typed_limit(typed, "patch.value.typed_per_filter_config")?;
            Ok(Some(RateLimitPatch {
                context,
                scope: RateLimitScope::Route {
                    port: rc.and_then(|r| port(r.port_number)),
                    vhost: vhost.and_then(|v| v.name.clone()),
                    route: vhost
                        .and_then(|v| v.route.as_ref())
                        .and_then(|r| r.name.clone()),
                },
                limit,
            }))
        }
        _ => Ok(None),
    }
}

/// Reads a `LocalRateLimit` from a typed config (a TypedStruct or the
/// message itself). `Ok(None)`: it has no token bucket.
fn typed_limit(typed: &NodeKind, path: &str) -> Result<Option<LocalRateLimit>, Vec<Problem>> {
    let ty = text(field(typed, "@type"));
    let (body, path) = match ty {
        Some(TYPED_STRUCT | XDS_TYPED_STRUCT) => {
            if text(field(typed, "type_url")) != Some(LOCAL_RATE_LIMIT) {
                return Err(vec![(
                    path.to_string(),
                    format!("the {FILTER_NAME} filter takes a `type_url` of {LOCAL_RATE_LIMIT}"),
                )]);
            }
            (field(typed, "value"), format!("{path}.value"))
        }
        Some(LOCAL_RATE_LIMIT) => (Some(typed), path.to_string()),
        _ => {
            return Err(vec![(
                path.to_string(),
                format!(
                    "the {FILTER_NAME} filter takes an `@type` of {LOCAL_RATE_LIMIT}, or of {TYPED_STRUCT} with that `type_url`"
                ),
            )]);
        }
    };
    let Some(body) = body else {
        return Ok(None);
    };
    limit(body, &path)
}

fn limit(body: &NodeKind, path: &str) -> Result<Option<LocalRateLimit>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut bad = |at: &str, message: String| problems.push((format!("{path}.{at}"), message));
    // Envoy: `stat_prefix` is required (its counters are named by it).
    if text(field(body, "stat_prefix")).is_none_or(str::is_empty) {
        bad(
            "stat_prefix",
            "set a `stat_prefix`; Envoy requires one".into(),
        );
    }
    let Some(bucket) = field(body, "token_bucket") else {
        return if problems.is_empty() {
            Ok(None)
        } else {
            Err(problems)
        };
    };
    let max_tokens = match uint(field(bucket, "max_tokens")) {
        Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => n as u32,
        _ => {
            bad(
                "token_bucket.max_tokens",
                "set `max_tokens` to at least 1: the bucket's size".into(),
            );
            0
        }
    };
    let tokens_per_fill = match field(bucket, "tokens_per_fill") {
        None => 1,
        Some(v) => match uint(Some(v)) {
            Some(n) if (1..=u64::from(u32::MAX)).contains(&n) => n as u32,
            _ => {
                bad("token_bucket.tokens_per_fill", "must be at least 1".into());
                1
            }
        },
    };
    let fill_interval = match text(field(bucket, "fill_interval")).map(weft_proto::duration::parse)
    {
        Some(Ok(d)) if d >= Duration::from_millis(1) => d,
        Some(Ok(_)) => {
            bad("token_bucket.fill_interval", "must be at least 1ms".into());
            Duration::ZERO
        }
        Some(Err(e)) => {
            bad("token_bucket.fill_interval", e.to_string());
            Duration::ZERO
        }
        None => {
            bad(
                "token_bucket.fill_interval",
                "set `fill_interval`, such as `1s`: how often the bucket gains `tokens_per_fill`"
                    .into(),
            );
            Duration::ZERO
        }
    };
    let enabled_percent = fraction(field(body, "filter_enabled"), "filter_enabled", &mut bad);
    let enforced_percent = fraction(field(body, "filter_enforced"), "filter_enforced", &mut bad);
    let (mut set_headers, mut add_headers) = (Vec::new(), Vec::new());
    if let Some(NodeKind::Seq(items)) = field(body, "response_headers_to_add") {
        for (i, item) in items.iter().enumerate() {
            let header = field(&item.kind, "header");
            let (Some(key), Some(value)) = (
                text(header.and_then(|h| field(h, "key"))),
                text(header.and_then(|h| field(h, "value"))),
            ) else {
                bad(
                    &format!("response_headers_to_add[{i}].header"),
                    "set `key` and `value`".into(),
                );
                continue;
            };
            // Envoy's HeaderValueOption: `append` defaults to true;
            // `append_action` OVERWRITE_IF_EXISTS_OR_ADD replaces.
            let replace = matches!(
                field(&item.kind, "append"),
                Some(NodeKind::Scalar(Scalar::Bool(false)))
            ) || text(field(&item.kind, "append_action"))
                == Some("OVERWRITE_IF_EXISTS_OR_ADD");
            let pair = (key.to_string(), value.to_string());
            if replace {
                set_headers.push(pair)
            } else {
                add_headers.push(pair)
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Some(LocalRateLimit {
        max_tokens,
        tokens_per_fill,
        fill_interval,
        enabled_percent,
        enforced_percent,
        set_headers,
        add_headers,
    }))
}

/// A `RuntimeFractionalPercent`'s `default_value` as a percentage; unset
/// is 0%, as Envoy reads it for this filter.
fn fraction(v: Option<&NodeKind>, at: &str, bad: &mut impl FnMut(&str, String)) -> f64 {
    let Some(default) = v.and_then(|v| field(v, "default_value")) else {
        return 0.0;
    };
    let numerator = uint(field(default, "numerator")).unwrap_or(0) as f64;
    let denominator = match text(field(default, "denominator")) {
        None | Some("HUNDRED") => 100.0,
        Some("TEN_THOUSAND") => 10_000.0,
        Some("MILLION") => 1_000_000.0,
        Some(other) => {
            bad(
                &format!("{at}.default_value.denominator"),
                format!("{other:?} is not HUNDRED, TEN_THOUSAND or MILLION"),
            );
            100.0
        }
    };
    // Envoy caps a fraction above 1 at 100%.
    (numerator / denominator * 100.0).min(100.0)
}

/// A map's value by its snake_case name, or the camelCase one.
fn field<'a>(node: &'a NodeKind, snake: &str) -> Option<&'a NodeKind> {
    let NodeKind::Map(entries) = node else {
        return None;
    };
    entries
        .iter()
        .find(|e| e.key == snake || (snake.contains('_') && is_camel_of(&e.key, snake)))
        .map(|e| &e.value.kind)
}

fn is_camel_of(key: &str, snake: &str) -> bool {
    let mut want = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            want.extend(c.to_uppercase());
            upper = false;
        } else {
            want.push(c);
        }
    }
    key == want
}

fn text(v: Option<&NodeKind>) -> Option<&str> {
    match v {
        Some(NodeKind::Scalar(Scalar::Str(s))) => Some(s),
        _ => None,
    }
}

/// Protobuf JSON writes 32-bit integers as numbers or strings.
fn uint(v: Option<&NodeKind>) -> Option<u64> {
    match v? {
        NodeKind::Scalar(Scalar::UInt(n)) => Some(*n),
        NodeKind::Scalar(Scalar::Int(n)) => u64::try_from(*n).ok(),
        NodeKind::Scalar(Scalar::Str(s)) => s.parse().ok(),
        _ => None,
    }
}
