//! Checks on routes for opaque connections (`tcp_routes` of service
//! ports and gateway servers).

use std::collections::HashSet;

use super::gateway::host_pattern;
use crate::config::{ConfigError, TcpRoute};

/// Checks `routes` (at `path`), whose backends must name clusters in
/// `clusters`.
pub(super) fn check_tcp_routes(
    path: &str,
    routes: &[TcpRoute],
    clusters: &HashSet<&str>,
    errs: &mut Vec<ConfigError>,
) {
    for (i, route) in routes.iter().enumerate() {
        let path = format!("{path}[{i}]");
        for (k, sni) in route.sni.iter().enumerate() {
            if let Err(why) = host_pattern(sni) {
                errs.push(ConfigError::new(format!("{path}.sni[{k}]"), why));
            }
        }
        if route.backends.is_empty() {
            errs.push(ConfigError::new(
                format!("{path}.backends"),
                "a TCP route needs at least one backend",
            ));
        }
        if !route.backends.is_empty() && route.backends.iter().all(|b| b.weight == 0) {
            errs.push(ConfigError::new(
                format!("{path}.backends"),
                "every backend has weight 0, so no connection could be routed; give one a weight",
            ));
        }
        for (b, backend) in route.backends.iter().enumerate() {
            let bpath = format!("{path}.backends[{b}]");
            if !clusters.contains(backend.cluster.as_str()) {
                errs.push(ConfigError::new(
                    format!("{bpath}.cluster"),
                    format!(
                        "no cluster named {:?}; define it under clusters or fix the name",
                        backend.cluster
                    ),
                ));
            }
            if !backend.headers.is_empty() {
                errs.push(ConfigError::new(
                    format!("{bpath}.headers"),
                    "a connection has no headers to edit; remove headers from TCP route backends",
                ));
            }
        }
    }
}
