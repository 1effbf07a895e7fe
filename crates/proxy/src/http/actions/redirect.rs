//! Redirects: the `location` is the request's own URL with parts
//! replaced, built as Envoy's `Http::Utility::newUri` does from the
//! `RedirectAction` Istio's `ApplyRedirect` makes of a VirtualService
//! `redirect`.

use http::StatusCode;
use weft_proto::config::{self, RedirectPort};

/// A route's redirect, compiled.
#[derive(Debug)]
pub(super) struct Redirect {
    status: StatusCode,
    scheme: Option<Box<str>>,
    authority: Option<Box<str>>,
    port: Option<RedirectPort>,
    path: Option<Box<str>>,
    /// Envoy: a query in the new path replaces the request's.
    path_has_query: bool,
}

/// What a location is built from.
#[derive(Debug, Clone, Copy)]
pub(super) struct RequestUrl<'a> {
    /// `http`, or `https` when the client's TLS ended here (`:scheme`).
    pub scheme: &'a str,
    /// The Host / `:authority` as sent; empty when there was none.
    pub authority: &'a str,
    /// The path with its query.
    pub path_and_query: &'a str,
    /// The port the route serves (service port, gateway port): what
    /// Istio's `FROM_REQUEST_PORT` compiles to.
    pub route_port: u16,
}

// === impl Redirect ===

impl Redirect {
    pub(super) fn compile(cfg: &config::Redirect) -> Result<Self, String> {
        Ok(Self {
            status: StatusCode::from_u16(cfg.status)
                .map_err(|_| format!("bad redirect status {}", cfg.status))?,
            scheme: cfg.scheme.as_deref().map(Box::from),
            authority: cfg.authority.as_deref().map(Box::from),
            port: cfg.port,
            path: cfg.path.as_deref().map(Box::from),
            path_has_query: cfg.path.as_deref().is_some_and(|p| p.contains('?')),
        })
    }

    pub(super) fn status(&self) -> StatusCode {
        self.status
    }

    /// The redirect's target.
    ///
    /// Scheme: the configured one, else the request's. Port: Istio sets
    /// Envoy's `port_redirect` from a number or the route's port (none for
    /// `from_scheme`), dropped when it is the scheme's default. Host: the
    /// configured authority as written (no port from the request), else
    /// the request's Host, losing its port when a port is set or when the
    /// scheme changes and the port was the old scheme's default. Path: the
    /// configured one (its query replacing the request's, else keeping
    /// it), else the request's.
    pub(super) fn location(&self, req: RequestUrl<'_>) -> String {
        let scheme = self.scheme.as_deref().unwrap_or(req.scheme);
        let port = match self.port {
            Some(RedirectPort::Number(n)) => Some(n),
            Some(RedirectPort::FromRequest) => Some(req.route_port),
            Some(RedirectPort::FromScheme) | None => None,
        }
        .filter(|p| !is_default_port(scheme, *p));
        let host = match &self.authority {
            Some(a) => a,
            None => request_host(req.authority, scheme, req.scheme, port.is_some()),
        };

        let mut out =
            String::with_capacity(scheme.len() + host.len() + req.path_and_query.len() + 16);
        out.push_str(scheme);
        out.push_str("://");
        out.push_str(host);
        if let Some(p) = port {
            out.push(':');
            out.push_str(&p.to_string());
        }
        let path_start = out.len();
        match &self.path {
            Some(p) if self.path_has_query => out.push_str(p),
            Some(p) => {
                out.push_str(p);
                if let Some((_, query)) = req.path_and_query.split_once('?') {
                    out.push('?');
                    out.push_str(query);
                }
            }
            None => out.push_str(req.path_and_query),
        }
        if !out[path_start..].starts_with('/') {
            out.insert(path_start, '/');
        }
        out
    }
}

fn is_default_port(scheme: &str, port: u16) -> bool {
    (port == 80 && scheme.eq_ignore_ascii_case("http"))
        || (port == 443 && scheme.eq_ignore_ascii_case("https"))
}

/// Envoy's `processRequestHost`: the request's Host without its port when
/// a new port replaces it, or when the scheme changes and the port was the
/// old scheme's default (`http://a:80` → `https://a`).
fn request_host<'a>(host: &'a str, new_scheme: &str, old_scheme: &str, new_port: bool) -> &'a str {
    let port_at = if host.starts_with('[') {
        host.rfind("]:").map(|i| i + 1)
    } else {
        host.rfind(':')
    };
    let Some(at) = port_at else { return host };
    let old_port = &host[at..];
    let scheme_changed = new_scheme != old_scheme;
    let remove = new_port
        || (scheme_changed && old_scheme.eq_ignore_ascii_case("https") && old_port == ":443")
        || (scheme_changed && old_scheme.eq_ignore_ascii_case("http") && old_port == ":80");
    if remove { &host[..at] } else { host }
}

#[cfg(test)]
mod tests;
