//! Header hygiene between hops, and finding a request's authority.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Uri, Version};

/// Headers that describe one connection and must not be forwarded
/// (RFC 9110 §7.6.1), besides any the `Connection` header itself names.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Removes hop-by-hop headers. `TE: trailers` survives (HTTP/1.1 servers
/// only send trailers when asked for them), and an upgrade in progress keeps
/// its `Connection: upgrade` / `Upgrade` pair.
pub fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Most messages carry none of these: one pass of cheap name
    // comparisons instead of seven hashed removals (profiled hot).
    if !headers.keys().any(|k| HOP_BY_HOP.contains(k)) {
        return;
    }
    let te_trailers = headers.get_all(header::TE).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
        })
    });
    let upgrade = keep_upgrade
        .then(|| headers.get(header::UPGRADE).cloned())
        .flatten();

    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|t| HeaderName::from_bytes(t.trim().as_bytes()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }

    if te_trailers {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    if let Some(up) = upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, up);
    }
}

/// Whether an HTTP/1.1 request asks to switch protocols (WebSocket, ...).
pub fn is_upgrade<B>(req: &Request<B>) -> bool {
    req.version() == Version::HTTP_11
        && req.headers().contains_key(header::UPGRADE)
        && req
            .headers()
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
}

pub fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// The authority a request is addressed to: the URI's (absolute-form and
/// HTTP/2 `:authority`), else the `Host` header.
pub fn authority<B>(req: &Request<B>) -> Option<&str> {
    authority_in(req.uri(), req.headers().get(header::HOST))
}

/// [`authority`], from the URI and `Host` header a request had (for the
/// access log's writer, which gets those rather than the request).
pub fn authority_in<'a>(uri: &'a Uri, host: Option<&'a HeaderValue>) -> Option<&'a str> {
    if let Some(a) = uri.authority() {
        return Some(a.as_str());
    }
    host.and_then(|h| h.to_str().ok()).filter(|h| !h.is_empty())
}

/// Splits an authority into a lower-case-comparable host and an optional
/// port. Userinfo is dropped; IPv6 brackets are removed.
pub fn split_authority(authority: &str) -> (&str, Option<u16>) {
    let a = authority.rsplit('@').next().unwrap_or(authority);
    if let Some(rest) = a.strip_prefix('[') {
        // [v6]:port
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (rest, None),
        };
    }
    match a.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (a, None),
    }
}

/// Rewrites the request target for the upstream's HTTP version:
/// origin-form plus `Host` for HTTP/1.1, absolute-form (`:scheme` +
/// `:authority`) for HTTP/2. An HTTP/1.1 request already in origin-form is
/// left as it is (the common case costs nothing).
pub fn set_upstream_target<B>(req: &mut Request<B>, upstream: Version) {
    if upstream == Version::HTTP_2 {
        if req.uri().authority().is_none() {
            let host = req
                .headers()
                .get(header::HOST)
                .and_then(|h| Authority::try_from(h.as_bytes()).ok());
            if let Some(authority) = host {
                // Reuse the parsed path; only the authority is new.
                let mut parts = std::mem::take(req.uri_mut()).into_parts();
                parts.scheme = Some(Scheme::HTTP);
                parts.authority = Some(authority);
                if parts.path_and_query.is_none() {
                    parts.path_and_query = Some(PathAndQuery::from_static("/"));
                }
                if let Ok(uri) = Uri::from_parts(parts) {
                    *req.uri_mut() = uri;
                }
            }
        }
        req.headers_mut().remove(header::HOST);
    } else if let Some(authority) = req.uri().authority() {
        let host = HeaderValue::from_str(authority.as_str()).ok();
        let mut parts = std::mem::take(req.uri_mut()).into_parts();
        parts.scheme = None;
        parts.authority = None;
        if parts.path_and_query.is_none() {
            parts.path_and_query = Some(PathAndQuery::from_static("/"));
        }
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
        if let Some(host) = host {
            req.headers_mut().insert(header::HOST, host);
        }
    }
    *req.version_mut() = upstream;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_but_keeps_te_trailers() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert(header::TE, HeaderValue::from_static("trailers, deflate"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("x-kept", HeaderValue::from_static("yes"));
        strip_hop_by_hop(&mut h, false);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["te", "x-kept"]);
        assert_eq!(h[header::TE], "trailers");
    }

    #[test]
    fn keeps_the_upgrade_pair_when_upgrading() {
        let mut h = HeaderMap::new();
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        strip_hop_by_hop(&mut h, true);
        assert_eq!(h[header::UPGRADE], "websocket");
        assert_eq!(h[header::CONNECTION], "upgrade");
    }

    #[test]
    fn splits_authorities() {
        assert_eq!(split_authority("reviews:9080"), ("reviews", Some(9080)));
        assert_eq!(split_authority("reviews"), ("reviews", None));
        assert_eq!(split_authority("user@host:1"), ("host", Some(1)));
        assert_eq!(split_authority("[::1]:8080"), ("::1", Some(8080)));
        assert_eq!(split_authority("[::1]"), ("::1", None));
    }

    #[test]
    fn rewrites_targets_per_version() {
        let mut req = Request::get("http://reviews:9080/a?b=1").body(()).unwrap();
        set_upstream_target(&mut req, Version::HTTP_11);
        assert_eq!(req.uri(), "/a?b=1");
        assert_eq!(req.headers()[header::HOST], "reviews:9080");

        let mut req = Request::get("/a").header("host", "x:1").body(()).unwrap();
        set_upstream_target(&mut req, Version::HTTP_2);
        assert_eq!(req.uri(), "http://x:1/a");
        assert!(req.headers().get(header::HOST).is_none());
    }
}
