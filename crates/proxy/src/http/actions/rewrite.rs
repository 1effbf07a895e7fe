//! Rewrites of the request before it is forwarded, as Envoy's router
//! does them: `uri` replaces what the route's match matched (Envoy's
//! `prefix_rewrite`), `uri_regex` every match in the path (its
//! `regex_rewrite`), `authority` the Host (its `host_rewrite_literal`).
//! The query string is kept either way.

use http::header::{HOST, HeaderValue};
use http::uri::{Authority, PathAndQuery};
use http::{Request, Uri};
use regex::Regex;
use weft_proto::config;

/// A route's rewrite, compiled.
#[derive(Debug)]
pub(super) struct Rewrite {
    uri: Option<Box<str>>,
    /// The pattern and the substitution in the `regex` crate's syntax.
    uri_regex: Option<(Regex, Box<str>)>,
    authority: Option<(Authority, HeaderValue)>,
}

// === impl Rewrite ===

impl Rewrite {
    pub(super) fn compile(cfg: &config::Rewrite) -> Result<Self, String> {
        let uri_regex = match &cfg.uri_regex {
            None => None,
            Some(r) => {
                let re =
                    Regex::new(&r.pattern).map_err(|e| format!("regex {:?}: {e}", r.pattern))?;
                let (replacement, _) = r.replacement()?;
                Some((re, replacement.into_boxed_str()))
            }
        };
        let authority = match &cfg.authority {
            None => None,
            Some(a) => Some((
                Authority::try_from(a.as_str()).map_err(|_| format!("bad authority {a:?}"))?,
                HeaderValue::from_str(a).map_err(|_| format!("bad authority {a:?}"))?,
            )),
        };
        Ok(Self {
            uri: cfg.uri.as_deref().map(Box::from),
            uri_regex,
            authority,
        })
    }

    /// Rewrites `req`'s path (its first `matched` bytes matched the route)
    /// and authority, in whichever target form it arrived.
    pub(super) fn apply<B>(&self, req: &mut Request<B>, matched: usize) {
        let path = req
            .uri()
            .path_and_query()
            .and_then(|pq| self.new_path(pq.as_str(), matched));
        if path.is_none() && self.authority.is_none() {
            return;
        }
        let mut parts = std::mem::take(req.uri_mut()).into_parts();
        if let Some(p) = path {
            match PathAndQuery::try_from(p) {
                Ok(p) => parts.path_and_query = Some(p),
                // Validation keeps rewrites to URI characters; a path that
                // still does not parse is forwarded as it came.
                Err(e) => {
                    tracing::debug!(error = %e, "rewritten path is not a URI path; kept the original")
                }
            }
        }
        if let Some((authority, host)) = &self.authority {
            // Absolute form (HTTP/2, proxy requests) carries it in the URI,
            // origin form in Host; `set_upstream_target` takes either.
            if parts.authority.is_some() {
                parts.authority = Some(authority.clone());
            }
            req.headers_mut().insert(HOST, host.clone());
        }
        match Uri::from_parts(parts) {
            Ok(uri) => *req.uri_mut() = uri,
            Err(e) => tracing::debug!(error = %e, "rewritten URI does not parse"),
        }
    }

    /// The new path and query for `path_and_query`, or `None` to keep it.
    fn new_path(&self, path_and_query: &str, matched: usize) -> Option<String> {
        if let Some(uri) = &self.uri {
            // Envoy replaces the matched bytes of the whole `:path`, so the
            // rest of the path and the query follow.
            let rest = path_and_query.get(matched..)?;
            return Some(format!("{uri}{rest}"));
        }
        let (re, replacement) = self.uri_regex.as_ref()?;
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        let mut out = re.replace_all(path, replacement.as_ref()).into_owned();
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rewrite(cfg: serde_json::Value) -> Rewrite {
        Rewrite::compile(&serde_json::from_value(cfg).unwrap()).unwrap()
    }

    #[test]
    fn uri_replaces_the_matched_part_and_keeps_the_query() {
        let cases = [
            // A prefix match of /api.
            (json!({ "uri": "/v2" }), "/api/x?q=1", 4, "/v2/x?q=1"),
            (json!({ "uri": "/" }), "/api/x", 4, "//x"),
            // An exact or regex match: the whole path.
            (json!({ "uri": "/new" }), "/old?q=1", 4, "/new?q=1"),
            // No path condition: Istio's prefix `/`.
            (json!({ "uri": "/v2/" }), "/x?q", 1, "/v2/x?q"),
        ];
        for (cfg, path, matched, want) in cases {
            assert_eq!(
                rewrite(cfg.clone()).new_path(path, matched).as_deref(),
                Some(want),
                "{cfg} {path}"
            );
        }
    }

    #[test]
    fn uri_regex_replaces_every_match_in_the_path_only() {
        let r = rewrite(
            json!({ "uri_regex": { "pattern": "^/service/([^/]+)(/.*)$", "substitution": "/customprefix\\2/\\1" } }),
        );
        assert_eq!(
            r.new_path("/service/update/v1/api?a=/service/x", 0)
                .as_deref(),
            Some("/customprefix/v1/api/update?a=/service/x")
        );
        let r = rewrite(json!({ "uri_regex": { "pattern": "a", "substitution": "$b" } }));
        assert_eq!(r.new_path("/aXa?a", 0).as_deref(), Some("/$bX$b?a"));
    }

    #[test]
    fn authority_replaces_host_in_either_target_form() {
        let r = rewrite(json!({ "authority": "svc.internal:8080" }));
        let mut origin = Request::get("/x").header("host", "shop").body(()).unwrap();
        r.apply(&mut origin, 1);
        assert_eq!(origin.headers()[HOST], "svc.internal:8080");
        assert_eq!(origin.uri(), "/x");

        let mut absolute = Request::get("http://shop/x?y").body(()).unwrap();
        r.apply(&mut absolute, 1);
        assert_eq!(absolute.uri(), "http://svc.internal:8080/x?y");
    }
}
