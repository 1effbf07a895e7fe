//! Match blocks: a route's conditions on a request's path, method,
//! headers, authority and query string, compiled once per config and
//! checked with no allocation.

use http::{HeaderMap, HeaderName, Method, Request};
use regex::Regex;
use weft_proto::config::{self, PathMatch, StringMatch};

use super::super::headers::authority;

/// One match block; all its conditions must hold.
#[derive(Debug)]
pub(crate) struct Match {
    path: Option<PathMatcher>,
    /// Exact and prefix path conditions ignore ASCII case (Envoy's
    /// `case_sensitive: false`, which regexes ignore).
    ignore_case: bool,
    method: Option<MethodMatcher>,
    /// Against `http` / `https` (the caller passes the request's scheme).
    scheme: Option<ValueMatcher>,
    headers: Vec<(HeaderName, ValueMatcher)>,
    /// Against the authority as sent (`:authority` / Host), port included.
    authority: Option<ValueMatcher>,
    query: Vec<(Box<str>, ValueMatcher)>,
}

#[derive(Debug)]
enum PathMatcher {
    Exact(String),
    Prefix(String),
    Regex(Regex),
}

#[derive(Debug)]
enum MethodMatcher {
    /// The common case, compared without looking at the method's text.
    Is(Method),
    Like(ValueMatcher),
}

#[derive(Debug)]
enum ValueMatcher {
    Exact(String),
    Prefix(String),
    Regex(Regex),
    Present(bool),
}

// === impl Match ===

impl Match {
    pub(crate) fn compile(cfg: &config::RouteMatch) -> Result<Self, String> {
        let path = match &cfg.path {
            None => None,
            Some(PathMatch::Exact(p)) => Some(PathMatcher::Exact(p.clone())),
            Some(PathMatch::Prefix(p)) => Some(PathMatcher::Prefix(p.clone())),
            Some(PathMatch::Regex(re)) => Some(PathMatcher::Regex(full_match(re)?)),
        };
        let method = match &cfg.method {
            None => None,
            Some(StringMatch::Exact(m)) => Some(MethodMatcher::Is(
                Method::from_bytes(m.as_bytes()).map_err(|_| format!("bad method {m:?}"))?,
            )),
            Some(other) => Some(MethodMatcher::Like(ValueMatcher::compile(other)?)),
        };
        let mut headers = Vec::with_capacity(cfg.headers.len());
        for h in &cfg.headers {
            let name = HeaderName::from_bytes(h.name.to_ascii_lowercase().as_bytes())
                .map_err(|_| format!("bad header name {:?}", h.name))?;
            headers.push((name, ValueMatcher::compile(&h.value)?));
        }
        let query = cfg
            .query
            .iter()
            .map(|q| Ok((Box::from(q.name.as_str()), ValueMatcher::compile(&q.value)?)))
            .collect::<Result<_, String>>()?;
        Ok(Self {
            path,
            ignore_case: cfg.path_ignore_case,
            method,
            scheme: cfg.scheme.as_ref().map(ValueMatcher::compile).transpose()?,
            headers,
            authority: cfg
                .authority
                .as_ref()
                .map(ValueMatcher::compile)
                .transpose()?,
            query,
        })
    }

    /// `scheme` is the request's: `http` or `https`.
    pub(crate) fn matches<B>(&self, req: &Request<B>, scheme: &str) -> bool {
        let path = req.uri().path();
        let path_ok = match &self.path {
            None => true,
            Some(PathMatcher::Exact(p)) if self.ignore_case => path.eq_ignore_ascii_case(p),
            Some(PathMatcher::Exact(p)) => path == p,
            Some(PathMatcher::Prefix(p)) if self.ignore_case => path
                .as_bytes()
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes())),
            Some(PathMatcher::Prefix(p)) => path.starts_with(p.as_str()),
            Some(PathMatcher::Regex(re)) => re.is_match(path),
        };
        path_ok
            && self.method.as_ref().is_none_or(|m| match m {
                MethodMatcher::Is(m) => req.method() == m,
                MethodMatcher::Like(m) => m.matches(Some(req.method().as_str())),
            })
            && self.scheme.as_ref().is_none_or(|m| m.matches(Some(scheme)))
            && self
                .headers
                .iter()
                .all(|(name, m)| m.matches_header(req.headers(), name))
            && self
                .authority
                .as_ref()
                .is_none_or(|m| m.matches(authority(req)))
            && self
                .query
                .iter()
                .all(|(name, m)| m.matches(query_value(req.uri().query(), name)))
    }

    /// How many bytes at the start of `path` this block matched, which is
    /// what `rewrite.uri` replaces: a prefix condition's prefix, else
    /// (exact, regex) the whole path. With no path condition Istio gives
    /// Envoy the prefix `/`.
    pub(crate) fn matched_len(&self, path: &str) -> usize {
        match &self.path {
            Some(PathMatcher::Prefix(p)) => p.len(),
            Some(PathMatcher::Exact(_) | PathMatcher::Regex(_)) => path.len(),
            None => usize::from(path.starts_with('/')),
        }
    }
}

// === impl ValueMatcher ===

impl ValueMatcher {
    fn compile(cfg: &StringMatch) -> Result<Self, String> {
        Ok(match cfg {
            StringMatch::Exact(v) => Self::Exact(v.clone()),
            StringMatch::Prefix(v) => Self::Prefix(v.clone()),
            StringMatch::Regex(re) => Self::Regex(full_match(re)?),
            StringMatch::Present(p) => Self::Present(*p),
        })
    }

    fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Self::Present(want), v) => v.is_some() == *want,
            (_, None) => false,
            (Self::Exact(e), Some(v)) => v == e,
            (Self::Prefix(p), Some(v)) => v.starts_with(p.as_str()),
            (Self::Regex(re), Some(v)) => re.is_match(v),
        }
    }

    /// A header is present whatever its bytes; values that are not text
    /// match nothing else.
    fn matches_header(&self, headers: &HeaderMap, name: &HeaderName) -> bool {
        match self {
            Self::Present(want) => headers.contains_key(name) == *want,
            _ => self.matches(headers.get(name).and_then(|v| v.to_str().ok())),
        }
    }
}

/// The first value of query parameter `name`, as Envoy's route matcher
/// reads it (`QueryParamsMulti::parseQueryString`): split on `&`, then on
/// the first `=` (none: the value is empty), and neither the name nor the
/// value is percent-decoded.
fn query_value<'q>(query: Option<&'q str>, name: &str) -> Option<&'q str> {
    query?.split('&').find_map(|param| {
        let (k, v) = param.split_once('=').unwrap_or((param, ""));
        (k == name).then_some(v)
    })
}

/// Istio and Envoy regexes match the whole string.
fn full_match(re: &str) -> Result<Regex, String> {
    Regex::new(&format!("^(?:{re})$")).map_err(|e| format!("regex {re:?}: {e}"))
}

#[cfg(test)]
mod tests;
