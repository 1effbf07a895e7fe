//! Consistent-hash keys: what of a request picks its endpoint when the
//! cluster balances by hash (Istio DestinationRule
//! `loadBalancer.consistentHash`, carried out as Envoy's
//! `RouteAction.HashPolicy`).

use std::net::{IpAddr, SocketAddr};

use http::header::{COOKIE, HeaderValue, SET_COOKIE};
use http::{HeaderMap, Request};
use weft_proto::config::{HashCookie, HashKey};
use xxhash_rust::xxh64::xxh64;

use super::route::Target;

/// A request's hash, and the cookie to hand its client when the proxy
/// made the key up.
#[derive(Debug)]
pub struct Affinity {
    /// `None`: the request lacks the key; the balancer picks at random.
    pub hash: Option<u64>,
    set_cookie: Option<HeaderValue>,
}

// === impl Affinity ===

impl Affinity {
    /// The affinity of `req` (from `peer`) for `target`; `None` unless the
    /// target is a cluster that balances by a hash key, so every other
    /// request pays one check.
    ///
    /// Cost: a scan of the hashed header, cookies or query string, no
    /// allocation, except when a cookie is generated.
    pub fn of<B>(target: &Target, peer: SocketAddr, req: &Request<B>) -> Option<Self> {
        let Target::Cluster(c) = target else {
            return None;
        };
        let (hash, set_cookie) = match c.balancer.hash_key()? {
            HashKey::Header(name) => (header_hash(req.headers(), name), None),
            HashKey::Cookie(cookie) => match cookie_value(req.headers(), &cookie.name) {
                Some(v) => (Some(xxh64(v.as_bytes(), 0)), None),
                None => match cookie.ttl {
                    Some(_) => generate(cookie),
                    None => (None, None),
                },
            },
            HashKey::SourceIp => (Some(ip_hash(peer.ip())), None),
            HashKey::QueryParameter(name) => (
                query_value(req.uri().query(), name).map(|v| xxh64(v.as_bytes(), 0)),
                None,
            ),
        };
        Some(Self { hash, set_cookie })
    }

    /// Adds the generated cookie, if any, to the upstream's response, as
    /// Envoy's router adds it to the response headers.
    pub fn set_cookie(&self, headers: &mut HeaderMap) {
        if let Some(v) = &self.set_cookie {
            headers.append(SET_COOKIE, v.clone());
        }
    }
}

/// The hash of a connection for opaque TCP and CONNECT: only a cluster
/// hashing `useSourceIp` has one (Istio sets the TCP proxy's hash policy
/// for that key alone).
pub fn peer_hash(target: &Target, peer: SocketAddr) -> Option<u64> {
    match target {
        Target::Cluster(c) if c.balancer.hash_key() == Some(&HashKey::SourceIp) => {
            Some(ip_hash(peer.ip()))
        }
        _ => None,
    }
}

/// Envoy hashes the peer's IP; these are its bytes, which spares the
/// string.
fn ip_hash(ip: IpAddr) -> u64 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => xxh64(&v4.octets(), 0),
        IpAddr::V6(v6) => xxh64(&v6.octets(), 0),
    }
}

/// A header's hash; several values are hashed each and summed, so their
/// order does not matter, as Envoy sorts them before hashing.
fn header_hash(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get_all(name)
        .iter()
        .map(|v| xxh64(v.as_bytes(), 0))
        .reduce(u64::wrapping_add)
}

/// The first non-empty value of cookie `name` in the `Cookie` headers,
/// without surrounding quotes (Envoy's `parseCookieValue`).
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| {
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
        })
}

/// The raw (undecoded) value of the first query parameter `name`, as
/// Envoy's `QueryParameterHashMethod` reads it; `a` alone is `""`.
fn query_value<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A cookie for a request that lacks it: a random value whose hash picks
/// the endpoint, returned as Envoy writes it:
/// `name="value"; Max-Age=<ttl s>; Path=<path>; <attributes>; HttpOnly`,
/// without `Max-Age` for a zero TTL (a session cookie).
fn generate(cookie: &HashCookie) -> (Option<u64>, Option<HeaderValue>) {
    let value = format!("{:016x}", fastrand::u64(..));
    let mut header = format!("{}=\"{value}\"", cookie.name);
    let max_age = cookie.ttl.map_or(0, |t| t.as_secs());
    if max_age > 0 {
        header.push_str(&format!("; Max-Age={max_age}"));
    }
    if let Some(path) = cookie.path.as_deref().filter(|p| !p.is_empty()) {
        header.push_str(&format!("; Path={path}"));
    }
    for a in &cookie.attributes {
        match a.value.as_deref().filter(|v| !v.is_empty()) {
            Some(v) => header.push_str(&format!("; {}={v}", a.name)),
            None => header.push_str(&format!("; {}", a.name)),
        }
    }
    header.push_str("; HttpOnly");
    // Name and path were validated with the config; a value that still
    // cannot be a header only loses the cookie, not the request.
    let set_cookie = HeaderValue::try_from(header).ok();
    (Some(xxh64(value.as_bytes(), 0)), set_cookie)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use weft_proto::config::CookieAttribute;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn cookies_are_found_among_others_and_unquoted() {
        let h = headers(&[("cookie", "a=1; sticky=\"abc\""), ("cookie", "b=2")]);
        assert_eq!(cookie_value(&h, "sticky"), Some("abc"));
        assert_eq!(cookie_value(&h, "b"), Some("2"));
        assert_eq!(cookie_value(&h, "c"), None);
        assert_eq!(cookie_value(&headers(&[("cookie", "c=")]), "c"), None);
    }

    #[test]
    fn query_parameters_are_raw_and_first_wins() {
        assert_eq!(query_value(Some("a=1&u=x%20y&u=2"), "u"), Some("x%20y"));
        assert_eq!(query_value(Some("flag&b=1"), "flag"), Some(""));
        assert_eq!(query_value(Some("ab=1"), "a"), None);
        assert_eq!(query_value(None, "a"), None);
    }

    #[test]
    fn several_header_values_hash_in_any_order() {
        let ab = headers(&[("x-user", "a"), ("x-user", "b")]);
        let ba = headers(&[("x-user", "b"), ("x-user", "a")]);
        assert_eq!(header_hash(&ab, "x-user"), header_hash(&ba, "x-user"));
        assert_eq!(header_hash(&ab, "x-other"), None);
    }

    #[test]
    fn generated_cookies_follow_envoy() {
        let mut c = HashCookie {
            name: "sticky".into(),
            path: Some("/cart".into()),
            ttl: Some(Duration::from_secs(60)),
            attributes: vec![
                CookieAttribute {
                    name: "SameSite".into(),
                    value: Some("Strict".into()),
                },
                CookieAttribute {
                    name: "Secure".into(),
                    value: None,
                },
            ],
        };
        let (hash, header) = generate(&c);
        let header = header.unwrap();
        let header = header.to_str().unwrap();
        assert!(
            header.ends_with("\"; Max-Age=60; Path=/cart; SameSite=Strict; Secure; HttpOnly"),
            "{header}"
        );
        // The hash is the generated value's, so sending it back sticks.
        let sent = HeaderMap::from_iter([(
            COOKIE,
            HeaderValue::from_str(header.split(';').next().unwrap()).unwrap(),
        )]);
        let value = cookie_value(&sent, "sticky").unwrap();
        assert_eq!(hash, Some(xxh64(value.as_bytes(), 0)));
        c.ttl = Some(Duration::ZERO);
        c.path = None;
        c.attributes.clear();
        let (_, session) = generate(&c);
        let session = session.unwrap();
        assert!(session.to_str().unwrap().ends_with("\"; HttpOnly"));
    }
}
