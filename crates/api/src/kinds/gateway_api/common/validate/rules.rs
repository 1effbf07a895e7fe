//! Checks on what HTTPRoute and GRPCRoute rules share: header and query
//! matches, header modifiers, mirrors, extension references, session
//! persistence and durations.

use std::collections::{BTreeMap, HashMap};

use weft_yaml::{FieldPath, NodeKind, Scalar};

use super::{Backend, backend, max_items, well_formed};
use crate::check::Check;
use crate::kinds::gateway_api::common::*;
use crate::kinds::gateway_api::syntax;

/// A header or query parameter match: name a valid token, value 1 to
/// `max_len` characters, a regex that compiles.
pub(crate) fn value_match(
    cx: &mut Check<'_>,
    path: &str,
    type_: Option<HeaderMatchType>,
    name: &str,
    value: &str,
    max_len: usize,
) {
    well_formed(
        cx,
        "header-name",
        &format!("{path}.name"),
        "name",
        name,
        syntax::header_name,
    );
    let value_path = format!("{path}.value");
    if value.is_empty() {
        cx.error("value", &value_path, "empty value; set the value to match (to match any value, use `type: RegularExpression` with `.*`)");
    } else if value.len() > max_len {
        cx.error(
            "value",
            &value_path,
            format!(
                "the value is {} characters long, more than {max_len}",
                value.len()
            ),
        );
    }
    if type_ == Some(HeaderMatchType::RegularExpression) {
        cx.regex(&value_path, value);
    }
}

/// Names matched twice in one match: the CRD keys these lists by name,
/// and header names compare case-insensitively.
pub(crate) fn duplicate_names<'a>(
    cx: &mut Check<'_>,
    path: &str,
    what: &str,
    names: impl Iterator<Item = &'a str>,
    case_insensitive: bool,
) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, name) in names.enumerate() {
        let key = if case_insensitive {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        };
        if let Some(j) = seen.insert(key, i) {
            let why = if case_insensitive {
                " (header names are case-insensitive)"
            } else {
                ""
            };
            cx.error(
                "duplicate-match",
                format!("{path}[{i}].name"),
                format!("{what} `{name}` is already matched by {path}[{j}]{why}; only the first would be used, so merge the two"),
            );
        }
    }
}

/// `HTTPHeaderFilter`: at most 16 entries per action, names valid, values
/// not empty, and one action per header name.
pub(crate) fn header_filter(cx: &mut Check<'_>, path: &str, f: &HttpHeaderFilter) {
    // Lower-cased name -> where its action is.
    let mut actions: BTreeMap<String, String> = BTreeMap::new();
    let mut one_action = |cx: &mut Check<'_>, at: String, name: &str| {
        if let Some(first) = actions.get(&name.to_ascii_lowercase()) {
            cx.error(
                "header-action",
                &at,
                format!("header `{name}` already has an action at {first}; give each header one action (`set`, `add` or `remove`)"),
            );
        } else {
            actions.insert(name.to_ascii_lowercase(), at);
        }
    };
    for (field, list) in [("set", &f.set), ("add", &f.add)] {
        max_items(
            cx,
            &format!("{path}.{field}"),
            list.len(),
            16,
            "split them across filters on several rules",
        );
        for (i, h) in list.iter().enumerate() {
            let at = format!("{path}.{field}[{i}]");
            well_formed(
                cx,
                "header-name",
                &format!("{at}.name"),
                "header name",
                &h.name,
                syntax::header_name,
            );
            if h.value.is_empty() {
                cx.error(
                    "value",
                    format!("{at}.value"),
                    "empty header value; set a value (to drop the header, list it under `remove`)",
                );
            } else if h.value.len() > 4096 {
                cx.error(
                    "value",
                    format!("{at}.value"),
                    format!(
                        "the value is {} characters long, more than 4096",
                        h.value.len()
                    ),
                );
            }
            one_action(cx, format!("{at}.name"), &h.name);
        }
    }
    max_items(
        cx,
        &format!("{path}.remove"),
        f.remove.len(),
        16,
        "split them across filters on several rules",
    );
    for (i, name) in f.remove.iter().enumerate() {
        let at = format!("{path}.remove[{i}]");
        well_formed(
            cx,
            "header-name",
            &at,
            "header name",
            name,
            syntax::header_name,
        );
        one_action(cx, at, name);
    }
    if f.set.is_empty() && f.add.is_empty() && f.remove.is_empty() {
        cx.warn(
            "empty-filter",
            path,
            "the filter changes no header; add `set`, `add` or `remove`, or delete the filter",
        );
    }
}

/// `HTTPRequestMirrorFilter`: a valid backend, and at most one of
/// `percent` (0 to 100) and `fraction` (numerator <= denominator).
pub(crate) fn mirror(cx: &mut Check<'_>, path: &str, m: &HttpRequestMirrorFilter) {
    let b = &m.backend_ref;
    let backend_view = Backend {
        group: b.group.as_deref(),
        kind: b.kind.as_deref(),
        name: &b.name,
        namespace: b.namespace.as_deref(),
        port: b.port,
        weight: None,
    };
    backend(cx, &format!("{path}.backendRef"), &backend_view);
    if m.percent.is_some() && m.fraction.is_some() {
        cx.error(
            "mirror-fraction",
            path,
            "set `percent` or `fraction`, not both",
        );
    }
    if let Some(p) = m.percent {
        cx.percentage(format!("{path}.percent"), f64::from(p));
    }
    if let Some(f) = &m.fraction {
        let at = format!("{path}.fraction");
        if f.numerator < 0 {
            cx.error(
                "mirror-fraction",
                format!("{at}.numerator"),
                format!("numerator {} is negative; use 0 or more", f.numerator),
            );
        }
        if f.denominator() < 1 {
            cx.error(
                "mirror-fraction",
                format!("{at}.denominator"),
                format!("denominator {} must be at least 1", f.denominator()),
            );
        } else if f.numerator > f.denominator() {
            cx.error(
                "mirror-fraction",
                &at,
                format!("{}/{} is more than all requests; the numerator must not exceed the denominator", f.numerator, f.denominator()),
            );
        }
    }
}

/// `LocalObjectReference` of an `extensionRef` filter.
pub(crate) fn extension_ref(cx: &mut Check<'_>, path: &str, r: &LocalObjectReference) {
    if let Some(g) = &r.group {
        well_formed(
            cx,
            "name",
            &format!("{path}.group"),
            "API group",
            g,
            syntax::group,
        );
    }
    well_formed(
        cx,
        "name",
        &format!("{path}.kind"),
        "kind",
        &r.kind,
        syntax::kind,
    );
    well_formed(
        cx,
        "name",
        &format!("{path}.name"),
        "object name",
        &r.name,
        syntax::object_name,
    );
}

/// `SessionPersistence`: a permanent cookie needs `absoluteTimeout`;
/// `cookieConfig` goes with `type: Cookie` only.
pub(crate) fn session_persistence(cx: &mut Check<'_>, path: &str, s: &SessionPersistence) {
    if let Some(name) = &s.session_name
        && name.len() > 128
    {
        cx.error(
            "session-persistence",
            format!("{path}.sessionName"),
            format!(
                "the session name is {} characters long, more than 128",
                name.len()
            ),
        );
    }
    for (field, d) in [
        ("absoluteTimeout", &s.absolute_timeout),
        ("idleTimeout", &s.idle_timeout),
    ] {
        if d.is_some() {
            duration(cx, &format!("{path}.{field}"));
        }
    }
    let Some(c) = &s.cookie_config else { return };
    if s.type_ == Some(SessionPersistenceType::Header) {
        cx.error(
            "session-persistence",
            format!("{path}.cookieConfig"),
            "`cookieConfig` applies to `type: Cookie` only; remove it or change the type",
        );
    }
    if c.lifetime_type == Some(CookieLifetimeType::Permanent) && s.absolute_timeout.is_none() {
        cx.error(
            "session-persistence",
            format!("{path}.cookieConfig.lifetimeType"),
            "a `Permanent` cookie needs `absoluteTimeout` (its lifetime); set it, such as `absoluteTimeout: 1h`",
        );
    }
}

/// A duration field: Gateway API accepts only GEP-2257's form (whole
/// numbers with `h`, `m`, `s` or `ms`), stricter than Go's. The typed value
/// has lost its spelling, so the text is read back from the document.
pub(crate) fn duration(cx: &mut Check<'_>, path: &str) {
    let text = match cx.tree.get(&FieldPath::parse(path)).map(|n| &n.kind) {
        Some(NodeKind::Scalar(Scalar::Str(s))) => s.clone(),
        _ => return,
    };
    if !syntax::gep2257(&text) {
        cx.error(
            "duration",
            path,
            format!("{text:?} is not a Gateway API duration; write whole numbers with h, m, s or ms, such as `1m30s` or `500ms` (GEP-2257: no fractions, no us or ns)"),
        );
    }
}
