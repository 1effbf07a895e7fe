//! What makes an AuthorizationPolicy impossible on its own, following
//! Istio's `ValidateAuthorizationPolicy` (`pkg/config/validation`), plus
//! the principal and path forms the reference documents.

use super::*;
use super::{conditions, values};
use crate::check::{Check, Validate};

/// Source fields that hold IPs: the only ones a CUSTOM policy may use.
const IP_FIELDS: [&str; 4] = [
    "ipBlocks",
    "notIpBlocks",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
];

/// Source fields read from the HTTP request (a JWT) rather than the
/// connection.
const REQUEST_IDENTITY: [&str; 2] = ["requestPrincipals", "notRequestPrincipals"];

impl Validate for AuthorizationPolicy {
    fn validate(&self, cx: &mut Check<'_>) {
        check_scope(
            cx,
            self.selector.as_ref(),
            self.target_ref.as_ref(),
            &self.target_refs,
        );
        self.check_action(cx);
        for (i, rule) in self.rules.iter().enumerate() {
            rule.check(cx, &format!("spec.rules[{i}]"), self.action);
        }
    }
}

// === impl AuthorizationPolicy ===

impl AuthorizationPolicy {
    fn check_action(&self, cx: &mut Check<'_>) {
        let name = match self.action {
            Action::Allow => "ALLOW",
            Action::Deny => "DENY",
            Action::Audit => "AUDIT",
            Action::Custom => "CUSTOM",
        };
        if matches!(self.action, Action::Deny | Action::Custom) && self.rules.is_empty() {
            cx.error(
                "no-rules",
                "spec.action",
                format!("a {name} policy without `rules` never matches; add rules, or an empty rule (`rules: [{{}}]`) to match every request"),
            );
        }
        match (&self.provider, self.action) {
            (None, Action::Custom) => cx.error(
                "provider",
                "spec.action",
                "a CUSTOM policy needs `provider.name`, the extension provider (from MeshConfig `extensionProviders`) that decides",
            ),
            (Some(p), Action::Custom) if p.name.is_empty() => cx.error(
                "provider",
                "spec.provider",
                "`provider.name` is empty; name an extension provider from MeshConfig `extensionProviders`",
            ),
            (Some(_), action) if action != Action::Custom => cx.error(
                "provider",
                "spec.provider",
                format!("`provider` only goes with `action: CUSTOM`, this policy is {name}; set `action: CUSTOM` or remove `provider`"),
            ),
            _ => {}
        }
    }
}

// === impl Rule ===

impl Rule {
    fn check(&self, cx: &mut Check<'_>, path: &str, action: Action) {
        let mut l4_from = false;
        for (j, from) in self.from.iter().enumerate() {
            let at = format!("{path}.from[{j}].source");
            from.source.check(cx, &at, action);
            l4_from |= from
                .source
                .fields()
                .iter()
                .any(|(name, v)| !v.is_empty() && !REQUEST_IDENTITY.contains(name));
        }
        let mut l4_to = false;
        for (j, to) in self.to.iter().enumerate() {
            let at = format!("{path}.to[{j}].operation");
            to.operation.check(cx, &at);
            l4_to |= !to.operation.ports.is_empty() || !to.operation.not_ports.is_empty();
        }
        for (j, c) in self.when.iter().enumerate() {
            let at = format!("{path}.when[{j}]");
            conditions::check(cx, &at, c);
            if action == Action::Custom && conditions::identity_key(&c.key) {
                cx.error(
                    "custom-unsupported",
                    format!("{at}.key"),
                    format!("Istio does not support `{}` in a CUSTOM policy; move this condition to an ALLOW or DENY policy", c.key),
                );
            }
        }
        // Istio's warning: HTTP attributes cannot be read from TCP traffic,
        // and a DENY rule treats them as matching, denying all TCP traffic.
        let from_only_http = !self.from.is_empty() && self.to.is_empty() && !l4_from;
        let to_only_http = !self.to.is_empty() && !l4_to;
        if action == Action::Deny && (from_only_http || to_only_http) {
            cx.warn(
                "deny-http-only",
                path,
                "this DENY rule uses only HTTP attributes, so it denies all traffic to TCP ports in its scope; add `ports` to the operation to scope it",
            );
        }
    }
}

// === impl Source ===

impl Source {
    fn check(&self, cx: &mut Check<'_>, path: &str, action: Action) {
        let fields = self.fields();
        if fields.iter().all(|(_, v)| v.is_empty()) {
            cx.error(
                "empty-source",
                path,
                "a `from` entry needs a `source` with at least one field, such as `principals`, `namespaces` or `ipBlocks`",
            );
        }
        for (name, list) in fields {
            let at = format!("{path}.{name}");
            values::not_empty(cx, &at, list);
            match name {
                "principals" | "notPrincipals" => values::principals(cx, &at, list),
                "serviceAccounts" | "notServiceAccounts" => values::service_accounts(cx, &at, list),
                _ if IP_FIELDS.contains(&name) => values::ips(cx, &at, list),
                _ => {}
            }
        }
        let identities = [
            &self.principals,
            &self.not_principals,
            &self.namespaces,
            &self.not_namespaces,
        ];
        let accounts = !self.service_accounts.is_empty() || !self.not_service_accounts.is_empty();
        if accounts && identities.iter().any(|v| !v.is_empty()) {
            let field = if self.service_accounts.is_empty() {
                "notServiceAccounts"
            } else {
                "serviceAccounts"
            };
            cx.error(
                "service-accounts-mixed",
                format!("{path}.{field}"),
                "`serviceAccounts` cannot be combined with `principals` or `namespaces` in one source; put them in separate `from` entries",
            );
        }
        if action == Action::Custom {
            for (name, list) in fields {
                if !IP_FIELDS.contains(&name) && !list.is_empty() {
                    cx.error(
                        "custom-unsupported",
                        format!("{path}.{name}"),
                        format!("Istio does not support `{name}` in a CUSTOM policy, only IP blocks; move this source to an ALLOW or DENY policy"),
                    );
                }
            }
        }
    }
}

// === impl Operation ===

impl Operation {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let fields = self.fields();
        if fields.iter().all(|(_, v)| v.is_empty()) {
            cx.error(
                "empty-operation",
                path,
                "a `to` entry needs an `operation` with at least one field, such as `methods`, `paths` or `ports`",
            );
        }
        for (name, list) in fields {
            let at = format!("{path}.{name}");
            values::not_empty(cx, &at, list);
            match name {
                "ports" | "notPorts" => values::ports(cx, &at, list),
                "paths" | "notPaths" => values::paths(cx, &at, list),
                _ => {}
            }
        }
    }
}
