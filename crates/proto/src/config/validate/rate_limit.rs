//! Checks on a local rate limit: what Envoy's `LocalRateLimit` and its
//! `TokenBucket` would refuse.

use std::time::Duration;

use crate::config::{ConfigError, LocalRateLimit};

pub(in crate::config) fn check_rate_limit(
    path: &str,
    rl: &LocalRateLimit,
    errs: &mut Vec<ConfigError>,
) {
    let mut err = |field: &str, message: &str| {
        errs.push(ConfigError::new(format!("{path}.{field}"), message));
    };
    if rl.max_tokens == 0 {
        err("max_tokens", "must be at least 1 (the bucket's size)");
    }
    if rl.tokens_per_fill == 0 {
        err("tokens_per_fill", "must be at least 1");
    }
    // Envoy's TokenBucket: `fill_interval` must be at least 1ms.
    if rl.fill_interval < Duration::from_millis(1) {
        err("fill_interval", "must be at least 1ms");
    }
    for (field, p) in [
        ("enabled_percent", rl.enabled_percent),
        ("enforced_percent", rl.enforced_percent),
    ] {
        if !(0.0..=100.0).contains(&p) {
            err(field, "must be between 0 and 100");
        }
    }
    let headers = &rl.response_headers;
    if !headers.remove.is_empty() {
        err(
            "response_headers.remove",
            "a rate-limited response has no headers to remove; use set or add",
        );
    }
    super::route::check_header_edits(&format!("{path}.response_headers"), headers, errs);
}

#[cfg(test)]
mod tests {
    use crate::config::{LoadError, ProxyConfig};

    const CONFIG: &str = "\
listeners:
  - name: inbound
    address: 127.0.0.1:15006
    direction: inbound
    target_port: 9080
inbound:
  - port: 9080
    protocol: http
    rate_limit:
      max_tokens: 4
      tokens_per_fill: 4
      fill_interval: 60s
      response_headers:
        set: [[x-local-rate-limit, 'true']]
";

    #[test]
    fn an_inbound_rate_limit_loads_with_full_percentages() {
        let cfg = ProxyConfig::from_yaml("proxy.yaml", CONFIG).expect("valid");
        let rl = cfg.inbound[0].rate_limit.as_ref().expect("rate limit");
        assert_eq!(rl.max_tokens, 4);
        assert_eq!(rl.fill_interval, std::time::Duration::from_secs(60));
        assert_eq!(rl.enabled_percent, 100.0);
        assert_eq!(rl.enforced_percent, 100.0);
        // Unset fields stay out of a dump, so existing configs round-trip.
        let json = serde_json::to_string(&cfg).expect("json");
        assert!(!json.contains("enabled_percent"), "{json}");
    }

    #[test]
    fn bad_values_name_their_field() {
        let yaml = CONFIG.replace("max_tokens: 4", "max_tokens: 0").replace(
            "fill_interval: 60s",
            "fill_interval: 0s\n      enforced_percent: 150",
        );
        let err = match ProxyConfig::from_yaml("proxy.yaml", &yaml) {
            Err(e @ LoadError::Invalid { .. }) => e.to_string(),
            other => panic!("expected an error, got {other:?}"),
        };
        for field in [
            "inbound[0].rate_limit.max_tokens",
            "inbound[0].rate_limit.fill_interval",
            "inbound[0].rate_limit.enforced_percent",
        ] {
            assert!(err.contains(field), "{field} missing from {err}");
        }
    }
}
