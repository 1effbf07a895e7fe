//! Checks on a cluster's circuit breakers and outlier detection: the
//! ranges Envoy's `CircuitBreakers.Thresholds` and `OutlierDetection`
//! protos accept, plus zeros that would make a cluster unusable.

use std::time::Duration;

use crate::config::{Cluster, ConfigError, ConnectionPool, OutlierDetection};

pub(in crate::config) fn check_circuit(path: &str, c: &Cluster, errs: &mut Vec<ConfigError>) {
    if let Some(p) = &c.connection_pool {
        check_pool(&format!("{path}.connection_pool"), p, errs);
    }
    if let Some(o) = &c.outlier_detection {
        check_outlier(&format!("{path}.outlier_detection"), o, errs);
    }
}

fn check_pool(path: &str, p: &ConnectionPool, errs: &mut Vec<ConfigError>) {
    for (field, v) in [
        ("max_connections", p.max_connections),
        ("max_requests", p.max_requests),
        ("max_requests_per_connection", p.max_requests_per_connection),
    ] {
        if v == Some(0) {
            errs.push(ConfigError::new(
                format!("{path}.{field}"),
                "0 would refuse every request; use at least 1, or remove the field for no limit",
            ));
        }
    }
    for (field, d) in [
        ("idle_timeout", p.idle_timeout),
        ("max_connection_duration", p.max_connection_duration),
    ] {
        positive(&format!("{path}.{field}"), d, errs);
    }
}

fn check_outlier(path: &str, o: &OutlierDetection, errs: &mut Vec<ConfigError>) {
    if o.max_ejection_percent > 100 {
        errs.push(ConfigError::new(
            format!("{path}.max_ejection_percent"),
            format!(
                "{} is more than 100 percent; use 0 to 100",
                o.max_ejection_percent
            ),
        ));
    }
    positive(&format!("{path}.interval"), Some(o.interval), errs);
    positive(
        &format!("{path}.base_ejection_time"),
        Some(o.base_ejection_time),
        errs,
    );
}

/// Envoy: these durations must be greater than zero.
fn positive(path: &str, d: Option<Duration>, errs: &mut Vec<ConfigError>) {
    if d.is_some_and(|d| d.is_zero()) {
        errs.push(ConfigError::new(
            path,
            "must be longer than 0s; write it like 100ms or 10s",
        ));
    }
}
