//! Header edits on requests towards a backend and responses towards the
//! client (Istio's `headers.request` / `headers.response`), applied as
//! Envoy's header parser does: every `remove`, then every `set` (replacing
//! all values), then every `add` (appending).

use http::{HeaderMap, HeaderName, HeaderValue};
use weft_proto::config;

/// A route's or a backend's edits, compiled.
#[derive(Debug, Default)]
pub struct HeaderOps {
    pub(super) request: HeaderEdits,
    pub(super) response: HeaderEdits,
}

#[derive(Debug, Default)]
pub(super) struct HeaderEdits {
    remove: Vec<HeaderName>,
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
}

// === impl HeaderOps ===

impl HeaderOps {
    pub fn compile(cfg: &config::HeaderOps) -> Result<Self, String> {
        Ok(Self {
            request: HeaderEdits::compile(&cfg.request)?,
            response: HeaderEdits::compile(&cfg.response)?,
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.request.is_empty() && self.response.is_empty()
    }
}

// === impl HeaderEdits ===

impl HeaderEdits {
    fn compile(cfg: &config::HeaderEdits) -> Result<Self, String> {
        let name = |n: &str| {
            HeaderName::from_bytes(n.as_bytes()).map_err(|_| format!("bad header name {n:?}"))
        };
        // Envoy drops a header to add whose value is empty (its
        // `keep_empty_value` defaults to false, and Istio leaves it so).
        let pairs = |list: &[(String, String)]| {
            list.iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(n, v)| {
                    let value = HeaderValue::from_bytes(v.as_bytes())
                        .map_err(|_| format!("bad value {v:?} for header {n:?}"))?;
                    Ok((name(n)?, value))
                })
                .collect::<Result<Vec<_>, String>>()
        };
        Ok(Self {
            remove: cfg
                .remove
                .iter()
                .map(|n| name(n))
                .collect::<Result<_, _>>()?,
            set: pairs(&cfg.set)?,
            add: pairs(&cfg.add)?,
        })
    }

    fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty() && self.add.is_empty()
    }

    /// Cost: one hashed operation per edit; names and values are shared
    /// (`Bytes`), not copied.
    pub(super) fn apply(&self, headers: &mut HeaderMap) {
        for name in &self.remove {
            headers.remove(name);
        }
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edits(set: &[(&str, &str)], add: &[(&str, &str)], remove: &[&str]) -> HeaderEdits {
        let own = |l: &[(&str, &str)]| {
            l.iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect()
        };
        HeaderEdits::compile(&config::HeaderEdits {
            set: own(set),
            add: own(add),
            remove: remove.iter().map(|n| n.to_string()).collect(),
        })
        .unwrap()
    }

    fn values<'a>(h: &'a HeaderMap, name: &str) -> Vec<&'a str> {
        h.get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn remove_then_set_then_add() {
        let mut h = HeaderMap::new();
        h.append("x-set", HeaderValue::from_static("old1"));
        h.append("x-set", HeaderValue::from_static("old2"));
        h.insert("x-add", HeaderValue::from_static("old"));
        h.insert("x-gone", HeaderValue::from_static("old"));
        h.insert("x-both", HeaderValue::from_static("old"));
        edits(
            &[("x-set", "new"), ("X-Both", "set")],
            &[("x-add", "more"), ("x-both", "added"), ("x-new", "1")],
            &["x-gone", "x-both"],
        )
        .apply(&mut h);
        assert_eq!(values(&h, "x-set"), ["new"], "set replaces every value");
        assert_eq!(values(&h, "x-add"), ["old", "more"], "add appends");
        assert!(h.get("x-gone").is_none());
        // Removed first, so the set and add that follow survive.
        assert_eq!(values(&h, "x-both"), ["set", "added"]);
        assert_eq!(values(&h, "x-new"), ["1"]);
    }

    #[test]
    fn an_empty_value_adds_nothing_as_in_envoy() {
        let mut h = HeaderMap::new();
        h.insert("x-kept", HeaderValue::from_static("old"));
        edits(&[("x-kept", "")], &[("x-empty", "")], &[]).apply(&mut h);
        assert_eq!(values(&h, "x-kept"), ["old"]);
        assert!(h.get("x-empty").is_none());
    }
}
