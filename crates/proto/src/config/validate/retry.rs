//! Checks on a route's retry policy and a service port's retry budget:
//! what Envoy's `RetryPolicy` and Linkerd's budget would refuse, and
//! values that would turn a retry storm loose.

use crate::config::{ConfigError, RetryBudget, RetryOn, RetryPolicy};

pub(in crate::config) fn check_retries(
    path: &str,
    policy: &RetryPolicy,
    errs: &mut Vec<ConfigError>,
) {
    let mut err = |field: &str, message: String| {
        errs.push(ConfigError::new(format!("{path}.{field}"), message));
    };
    if policy.per_try_timeout.is_some_and(|t| t.is_zero()) {
        err(
            "per_try_timeout",
            "must be more than 0; leave it unset to use the route timeout".to_string(),
        );
    }
    if policy.backoff.is_zero() {
        err(
            "backoff",
            "must be more than 0 (Envoy's default is 25ms)".to_string(),
        );
    }
    let by_code = policy.retry_on.contains(&RetryOn::RetriableStatusCodes);
    if by_code && policy.status_codes.is_empty() {
        err(
            "status_codes",
            "retry_on has retriable-status-codes but no status_codes lists them".to_string(),
        );
    }
    for (i, code) in policy.status_codes.iter().enumerate() {
        if !(100..=599).contains(code) {
            err(
                &format!("status_codes[{i}]"),
                format!("{code} is not an HTTP status (100-599)"),
            );
        }
    }
}

pub(in crate::config) fn check_budget(
    path: &str,
    budget: &RetryBudget,
    errs: &mut Vec<ConfigError>,
) {
    if !budget.ratio.is_finite() || budget.ratio < 0.0 {
        errs.push(ConfigError::new(
            format!("{path}.ratio"),
            format!(
                "{} must be a number from 0 (retries only at min_per_second)",
                budget.ratio
            ),
        ));
    }
    if budget.ttl.is_zero() {
        errs.push(ConfigError::new(
            format!("{path}.ttl"),
            "must be more than 0 (Linkerd's default is 10s)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigError, ProxyConfig};

    const PORT: &str = "services[0].ports[0]";

    fn errors(port_extra: &str, retries: &str) -> Vec<ConfigError> {
        let yaml = format!(
            "listeners: []
services:
  - name: a.test
    ports:
      - {{ port: 80, {port_extra} routes: [{{ backends: [{{ cluster: c }}], {retries} }}] }}
clusters:
  - {{ name: c, endpoints: [{{ address: 127.0.0.1:1 }}] }}
"
        );
        let cfg: ProxyConfig =
            serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        cfg.validate()
    }

    #[test]
    fn valid_policies_and_budgets_pass_and_round_trip() {
        assert_eq!(
            errors("", "retries: { attempts: 3, retry_on: [5xx] }"),
            vec![]
        );
        assert_eq!(
            errors(
                "retry_budget: { ratio: 0, min_per_second: 0, ttl: 1s },",
                "retries: { attempts: 10, per_try_timeout: 1s, backoff: 1ms,
                   retry_on: [retriable-status-codes, unavailable, reset], status_codes: [100, 599] }"
            ),
            vec![]
        );
    }

    #[test]
    fn bad_values_are_rejected_with_their_field_path() {
        let route = format!("{PORT}.routes[0].retries");
        let cases = [
            (
                "",
                "retries: { attempts: 1, retry_on: [5xx], per_try_timeout: 0s }",
                format!("{route}.per_try_timeout"),
                "more than 0",
            ),
            (
                "",
                "retries: { attempts: 1, retry_on: [5xx], backoff: 0s }",
                format!("{route}.backoff"),
                "more than 0",
            ),
            (
                "",
                "retries: { attempts: 1, retry_on: [retriable-status-codes] }",
                format!("{route}.status_codes"),
                "no status_codes",
            ),
            (
                "",
                "retries: { attempts: 1, retry_on: [retriable-status-codes], status_codes: [503, 600] }",
                format!("{route}.status_codes[1]"),
                "600 is not an HTTP status",
            ),
            (
                "",
                "retries: { attempts: 1, retry_on: [retriable-status-codes], status_codes: [99] }",
                format!("{route}.status_codes[0]"),
                "not an HTTP status",
            ),
            (
                "retry_budget: { ratio: -0.1, min_per_second: 1, ttl: 1s },",
                "",
                format!("{PORT}.retry_budget.ratio"),
                "from 0",
            ),
            (
                "retry_budget: { ratio: .nan, min_per_second: 1, ttl: 1s },",
                "",
                format!("{PORT}.retry_budget.ratio"),
                "from 0",
            ),
            (
                "retry_budget: { ratio: .inf, min_per_second: 1, ttl: 1s },",
                "",
                format!("{PORT}.retry_budget.ratio"),
                "from 0",
            ),
            (
                "retry_budget: { ratio: 0.2, min_per_second: 1, ttl: 0s },",
                "",
                format!("{PORT}.retry_budget.ttl"),
                "more than 0",
            ),
        ];
        for (port, retries, path, words) in cases {
            let errs = errors(port, retries);
            assert_eq!(errs.len(), 1, "{port} {retries}: {errs:#?}");
            assert_eq!(errs[0].path, path, "{errs:#?}");
            assert!(errs[0].message.contains(words), "{errs:#?}");
        }
    }
}
