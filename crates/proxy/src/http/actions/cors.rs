//! CORS for a route, as Envoy's CORS filter carries out Istio's
//! `corsPolicy` (envoy `extensions/filters/http/cors`): a request with an
//! `Origin` the policy allows is a CORS request; an `OPTIONS` one with
//! `Access-Control-Request-Method` is a preflight, which the proxy
//! answers itself; any other gets the `access-control-*` response
//! headers. Requests from other origins pass through untouched, except
//! preflights when the policy says to ignore them.

use std::time::Duration;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, HeaderValue, ORIGIN,
};
use http::{HeaderMap, Method, Request};
use regex::Regex;
use weft_proto::config::{Cors as CorsConfig, StringMatch};

/// A route's CORS policy, with its header values built once.
#[derive(Debug)]
pub struct Cors {
    origins: Vec<Origin>,
    /// Some origin condition matches `*`: every origin is allowed
    /// (Envoy's check).
    any_origin: bool,
    allow_methods: Option<HeaderValue>,
    allow_headers: Option<HeaderValue>,
    expose_headers: Option<HeaderValue>,
    max_age: Option<HeaderValue>,
    allow_credentials: bool,
    forward_unmatched_preflights: bool,
}

#[derive(Debug)]
enum Origin {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

/// What the policy makes of one request.
#[derive(Debug)]
pub enum Verdict {
    /// No `Origin`, or one not allowed: forward as usual.
    NotCors,
    /// A preflight from an allowed origin: the proxy answers it.
    Preflight(HeaderValue),
    /// A request from an allowed origin: its response gets CORS headers.
    Request(HeaderValue),
    /// A preflight from an origin not allowed, which the policy says not
    /// to forward: answered with no CORS headers.
    IgnoredPreflight,
}

// === impl Cors ===

impl Cors {
    pub fn compile(cfg: &CorsConfig) -> Result<Self, String> {
        let origins = cfg
            .allow_origins
            .iter()
            .map(|m| {
                Ok(match m {
                    StringMatch::Exact(v) => Origin::Exact(v.clone()),
                    StringMatch::Prefix(v) => Origin::Prefix(v.clone()),
                    StringMatch::Regex(re) => Origin::Regex(
                        Regex::new(&format!("^(?:{re})$"))
                            .map_err(|e| format!("cors origin regex {re:?}: {e}"))?,
                    ),
                    StringMatch::Present(_) => {
                        return Err("a cors origin matches by exact, prefix or regex".into());
                    }
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let any_origin = origins.iter().any(|o| o.matches("*"));
        Ok(Self {
            origins,
            any_origin,
            allow_methods: joined(&cfg.allow_methods)?,
            allow_headers: joined(&cfg.allow_headers)?,
            expose_headers: joined(&cfg.expose_headers)?,
            max_age: cfg.max_age.map(seconds),
            allow_credentials: cfg.allow_credentials,
            forward_unmatched_preflights: cfg.forward_unmatched_preflights,
        })
    }

    pub fn verdict<B>(&self, req: &Request<B>) -> Verdict {
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .get(ACCESS_CONTROL_REQUEST_METHOD)
                .is_some_and(|m| !m.is_empty());
        let Some(origin) = req.headers().get(ORIGIN).filter(|o| !o.is_empty()) else {
            return Verdict::NotCors;
        };
        let allowed = self.any_origin
            || origin
                .to_str()
                .is_ok_and(|o| self.origins.iter().any(|m| m.matches(o)));
        match (allowed, preflight) {
            (true, true) => Verdict::Preflight(origin.clone()),
            (true, false) => Verdict::Request(origin.clone()),
            (false, true) if !self.forward_unmatched_preflights => Verdict::IgnoredPreflight,
            (false, _) => Verdict::NotCors,
        }
    }

    /// The headers of the proxy's answer to a preflight from `origin`.
    pub fn preflight_headers(&self, origin: HeaderValue, headers: &mut HeaderMap) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if self.allow_credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        let optional = [
            (ACCESS_CONTROL_ALLOW_METHODS, &self.allow_methods),
            (ACCESS_CONTROL_ALLOW_HEADERS, &self.allow_headers),
            (ACCESS_CONTROL_MAX_AGE, &self.max_age),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                headers.insert(name, v.clone());
            }
        }
    }

    /// The headers a response to a CORS request from `origin` gets.
    pub fn response_headers(&self, origin: &HeaderValue, headers: &mut HeaderMap) {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if self.allow_credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        if let Some(v) = &self.expose_headers {
            headers.insert(ACCESS_CONTROL_EXPOSE_HEADERS, v.clone());
        }
    }
}

// === impl Origin ===

impl Origin {
    fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Exact(v) => origin == v,
            Self::Prefix(p) => origin.starts_with(p.as_str()),
            Self::Regex(re) => re.is_match(origin),
        }
    }
}

/// Istio joins a list with `,` into one header value; empty: no header.
fn joined(list: &[String]) -> Result<Option<HeaderValue>, String> {
    if list.is_empty() {
        return Ok(None);
    }
    let v = list.join(",");
    HeaderValue::try_from(v.as_str())
        .map(Some)
        .map_err(|_| format!("{v:?} is not a header value"))
}

/// `access-control-max-age` is whole seconds.
fn seconds(d: Duration) -> HeaderValue {
    HeaderValue::from(d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors(json: &str) -> Cors {
        let cfg: CorsConfig = serde_json::from_str(json).unwrap();
        Cors::compile(&cfg).unwrap()
    }

    fn req(method: Method, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method(method).uri("/");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap()
    }

    #[test]
    fn verdicts_follow_envoys_cors_filter() {
        let c = cors(
            r#"{ "allow_origins": [{ "exact": "https://a.example" }, { "regex": "https://.*\\.b\\.example" }] }"#,
        );
        let pre = |origin: &str| {
            req(
                Method::OPTIONS,
                &[("origin", origin), ("access-control-request-method", "PUT")],
            )
        };
        assert!(matches!(
            c.verdict(&pre("https://a.example")),
            Verdict::Preflight(_)
        ));
        assert!(matches!(
            c.verdict(&pre("https://x.b.example")),
            Verdict::Preflight(_)
        ));
        assert!(matches!(
            c.verdict(&pre("https://evil.example")),
            Verdict::NotCors
        ));
        let get = req(Method::GET, &[("origin", "https://a.example")]);
        assert!(matches!(c.verdict(&get), Verdict::Request(_)));
        // OPTIONS without the request-method header is not a preflight.
        let options = req(Method::OPTIONS, &[("origin", "https://a.example")]);
        assert!(matches!(c.verdict(&options), Verdict::Request(_)));
        assert!(matches!(
            c.verdict(&req(Method::GET, &[])),
            Verdict::NotCors
        ));

        let ignoring = cors(
            r#"{ "allow_origins": [{ "exact": "https://a.example" }], "forward_unmatched_preflights": false }"#,
        );
        assert!(matches!(
            ignoring.verdict(&pre("https://evil.example")),
            Verdict::IgnoredPreflight
        ));
        // An origin condition matching `*` allows any origin.
        let any = cors(r#"{ "allow_origins": [{ "exact": "*" }] }"#);
        assert!(matches!(
            any.verdict(&pre("https://whoever")),
            Verdict::Preflight(_)
        ));
    }

    #[test]
    fn headers_are_istios_joined_lists() {
        let c = cors(
            r#"{ "allow_origins": [{ "prefix": "https://" }], "allow_methods": ["GET", "POST"], "allow_headers": ["x-a", "x-b"], "expose_headers": ["x-c"], "max_age": "24h", "allow_credentials": true }"#,
        );
        let origin = HeaderValue::from_static("https://a.example");
        let mut h = HeaderMap::new();
        c.preflight_headers(origin.clone(), &mut h);
        assert_eq!(h["access-control-allow-origin"], "https://a.example");
        assert_eq!(h["access-control-allow-methods"], "GET,POST");
        assert_eq!(h["access-control-allow-headers"], "x-a,x-b");
        assert_eq!(h["access-control-max-age"], "86400");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert!(!h.contains_key("access-control-expose-headers"));
        let mut h = HeaderMap::new();
        c.response_headers(&origin, &mut h);
        assert_eq!(h["access-control-expose-headers"], "x-c");
        assert!(!h.contains_key("access-control-allow-methods"));
    }
}
