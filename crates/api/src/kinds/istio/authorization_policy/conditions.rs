//! `when` conditions: the attribute keys Istio supports (the Authorization
//! Policy Conditions reference; Istio's `security.ValidateAttribute`) and
//! the form each one's values take.

use super::Condition;
use super::values;
use crate::check::Check;

/// Every key Istio accepts, as users write them.
const KEYS: [&str; 15] = [
    "request.headers[<name>]",
    "request.experimental.inline.headers[<name>]",
    "source.ip",
    "remote.ip",
    "source.namespace",
    "source.serviceAccount",
    "source.principal",
    "request.auth.principal",
    "request.auth.audiences",
    "request.auth.presenter",
    "request.auth.claims[<claim>]",
    "destination.ip",
    "destination.port",
    "connection.sni",
    "experimental.envoy.filters.<filter>[<key>]",
];

/// What a key's values are.
enum Values {
    Text,
    Ips,
    Ports,
    ServiceAccounts,
    Principals,
}

pub(super) fn check(cx: &mut Check<'_>, path: &str, c: &Condition) {
    if c.key.is_empty() {
        cx.error(
            "condition-key",
            format!("{path}.key"),
            "empty key; name an attribute such as `request.headers[x-user]` or `source.ip`",
        );
        return;
    }
    if c.values.is_empty() && c.not_values.is_empty() {
        cx.error(
            "condition-values",
            path,
            format!("the condition on `{}` needs `values` or `notValues`", c.key),
        );
    }
    let kind = match classify(&c.key) {
        Ok(kind) => kind,
        Err(why) => {
            cx.error("condition-key", format!("{path}.key"), why);
            return;
        }
    };
    for (field, list) in [("values", &c.values), ("notValues", &c.not_values)] {
        let at = format!("{path}.{field}");
        values::not_empty(cx, &at, list);
        match kind {
            Values::Text => {}
            Values::Ips => values::ips(cx, &at, list),
            Values::Ports => values::ports(cx, &at, list),
            Values::ServiceAccounts => values::service_accounts(cx, &at, list),
            Values::Principals => values::principals(cx, &at, list),
        }
    }
}

/// True for the keys a CUSTOM policy cannot use: the extension runs before
/// Istio knows the peer's or the request's identity.
pub(super) fn identity_key(key: &str) -> bool {
    matches!(
        key,
        "source.namespace" | "source.serviceAccount" | "source.principal"
    ) || key.starts_with("request.auth.")
}

fn classify(key: &str) -> Result<Values, String> {
    let mapped = |prefix: &str| key.starts_with(prefix);
    if mapped("request.headers")
        || mapped("request.experimental.inline.headers")
        || mapped("request.auth.claims")
        || mapped("experimental.envoy.filters.")
    {
        return map_key(key).map(|()| Values::Text);
    }
    match key {
        "source.ip" | "remote.ip" | "destination.ip" => Ok(Values::Ips),
        "destination.port" => Ok(Values::Ports),
        "source.serviceAccount" => Ok(Values::ServiceAccounts),
        "source.principal" => Ok(Values::Principals),
        "source.namespace" | "request.auth.principal" | "request.auth.audiences" | "request.auth.presenter" | "connection.sni" => Ok(Values::Text),
        "destination.namespace" => Err("`destination.namespace` is not a condition: the policy's own `metadata.namespace` decides where it applies".into()),
        "destination.name" | "destination.user" => Err(format!("`{key}` was only supported by the v1alpha1 RBAC API; select the workload with `selector` instead")),
        _ if key.starts_with("destination.labels") => Err(format!("`{key}` is not a condition: select the workload with `selector.matchLabels` instead")),
        _ => Err(format!("unknown condition key `{key}`; use one of {}", weft_yaml::backticked(&KEYS))),
    }
}

/// `name[entry]`, with both parts non-empty.
fn map_key(key: &str) -> Result<(), String> {
    match key.find('[') {
        Some(open) if open > 0 && key.ends_with(']') && open + 2 < key.len() => Ok(()),
        _ => Err(format!(
            "`{key}` needs the entry in brackets, such as `request.headers[x-user]` or `request.auth.claims[iss]`"
        )),
    }
}
