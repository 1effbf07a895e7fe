//! What makes a DestinationRule impossible on its own, after Istio's
//! `ValidateDestinationRule` and `agent.ValidateTLS`
//! (`pkg/config/validation`) and the CRD's rules.

mod load_balancer;

use std::collections::BTreeSet;

use super::super::workload_entry::net;
use super::*;
use crate::check::{Check, Validate};

impl Validate for DestinationRule {
    fn validate(&self, cx: &mut Check<'_>) {
        if self.host.is_empty() {
            cx.error("host", "spec.host", "a DestinationRule needs `host`, the service it applies to, such as `reviews.prod.svc.cluster.local`");
        } else if let Err(why) = net::wildcard_domain(&self.host) {
            cx.error("host", "spec.host", why);
        }
        if let Some(tp) = &self.traffic_policy {
            tp.check(cx, "spec.trafficPolicy");
        }
        let mut names = BTreeSet::new();
        for (i, subset) in self.subsets.iter().enumerate() {
            let at = format!("spec.subsets[{i}]");
            if subset.name.is_empty() {
                cx.error(
                    "subset-name",
                    format!("{at}.name"),
                    "a subset needs a `name`, such as `v1`; routes pick subsets by name",
                );
            } else if !names.insert(subset.name.as_str()) {
                cx.error(
                    "subset-name",
                    format!("{at}.name"),
                    format!(
                        "subset `{}` is defined twice; give each subset its own name",
                        subset.name
                    ),
                );
            } else if !net::is_dns1123_label(&subset.name) {
                cx.error(
                    "subset-name",
                    format!("{at}.name"),
                    format!("{:?} is not a valid subset name; use up to 63 letters, digits and '-', starting and ending with a letter or digit", subset.name),
                );
            }
            net::labels(cx, &format!("{at}.labels"), &subset.labels);
            if let Some(tp) = &subset.traffic_policy {
                tp.check(cx, &format!("{at}.trafficPolicy"));
            }
        }
        net::export_to(cx, "spec.exportTo", &self.export_to, false);
        if let Some(sel) = &self.workload_selector {
            net::selector(
                cx,
                "spec.workloadSelector",
                "matchLabels",
                &sel.match_labels,
            );
            // Istio: a rule for selected workloads stays in its namespace.
            if self.export_to.len() > 1 || self.export_to.iter().any(|e| e == "*") {
                cx.error(
                    "export-to",
                    "spec.exportTo",
                    "a DestinationRule with a workloadSelector applies only in its own namespace; set `exportTo: [\".\"]` or remove exportTo",
                );
            }
        }
    }
}

// === impl TrafficPolicy ===

impl TrafficPolicy {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if self.load_balancer.is_none()
            && self.connection_pool.is_none()
            && self.outlier_detection.is_none()
            && self.tls.is_none()
            && self.port_level_settings.is_empty()
            && self.tunnel.is_none()
            && self.proxy_protocol.is_none()
            && self.retry_budget.is_none()
        {
            cx.error("traffic-policy", path, "an empty trafficPolicy does nothing; set loadBalancer, connectionPool, outlierDetection, tls, portLevelSettings, tunnel, proxyProtocol or retryBudget, or remove it");
        }
        if self.tunnel.is_some() && self.proxy_protocol.is_some() {
            cx.error(
                "tunnel",
                format!("{path}.tunnel"),
                "set `tunnel` or `proxyProtocol`, not both",
            );
        }
        check_common(
            cx,
            path,
            self.load_balancer.as_ref(),
            self.connection_pool.as_ref(),
            self.outlier_detection.as_ref(),
            self.tls.as_ref(),
        );
        for (i, pl) in self.port_level_settings.iter().enumerate() {
            let at = format!("{path}.portLevelSettings[{i}]");
            match &pl.port {
                Some(p) => p.check(cx, &format!("{at}.port")),
                None => cx.error(
                    "port",
                    &at,
                    "a port-level policy needs `port`, such as `port: {number: 443}`",
                ),
            }
            if pl.load_balancer.is_none()
                && pl.connection_pool.is_none()
                && pl.outlier_detection.is_none()
                && pl.tls.is_none()
            {
                cx.error("traffic-policy", &at, "a port-level policy needs loadBalancer, connectionPool, outlierDetection or tls");
            }
            check_common(
                cx,
                &at,
                pl.load_balancer.as_ref(),
                pl.connection_pool.as_ref(),
                pl.outlier_detection.as_ref(),
                pl.tls.as_ref(),
            );
        }
        if let Some(t) = &self.tunnel {
            t.check(cx, &format!("{path}.tunnel"));
        }
        if let Some(b) = &self.retry_budget
            && let Some(p) = b.percent
        {
            cx.percentage(format!("{path}.retryBudget.percent"), p);
        }
    }
}

/// The settings a policy and a port-level policy share.
fn check_common(
    cx: &mut Check<'_>,
    path: &str,
    lb: Option<&LoadBalancerSettings>,
    pool: Option<&ConnectionPoolSettings>,
    outlier: Option<&OutlierDetection>,
    tls: Option<&ClientTlsSettings>,
) {
    if let Some(o) = outlier {
        o.check(cx, &format!("{path}.outlierDetection"));
    }
    if let Some(p) = pool {
        p.check(cx, &format!("{path}.connectionPool"));
    }
    if let Some(lb) = lb {
        lb.check(cx, &format!("{path}.loadBalancer"), outlier.is_some());
    }
    if let Some(t) = tls {
        t.check(cx, &format!("{path}.tls"));
    }
}

// === impl TunnelSettings ===

impl TunnelSettings {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if let Some(p) = self.protocol.as_deref()
            && !matches!(p, "" | "CONNECT" | "POST")
        {
            cx.error(
                "tunnel",
                format!("{path}.protocol"),
                format!("{p:?} is not a tunnel protocol; use `CONNECT` or `POST`"),
            );
        }
        if self.target_host.is_empty() {
            cx.error(
                "tunnel",
                format!("{path}.targetHost"),
                "a tunnel needs `targetHost`, the FQDN or IP to tunnel to",
            );
        } else if net::fqdn(&self.target_host).is_err() && !net::is_ip(&self.target_host) {
            cx.error(
                "tunnel",
                format!("{path}.targetHost"),
                format!("{:?} is neither a DNS name nor an IP address; write an FQDN such as `proxy.example.com` or an IP", self.target_host),
            );
        }
        net::port(cx, &format!("{path}.targetPort"), self.target_port);
    }
}

// === impl OutlierDetection ===

impl OutlierDetection {
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        if let Some(d) = &self.base_ejection_time {
            net::duration(cx, &format!("{path}.baseEjectionTime"), d);
        }
        if let Some(d) = &self.interval {
            net::duration(cx, &format!("{path}.interval"), d);
        }
        if self.consecutive_errors.is_some_and(|n| n != 0) {
            cx.warn(
                "deprecated",
                format!("{path}.consecutiveErrors"),
                "consecutiveErrors is deprecated; use `consecutive5xxErrors` or `consecutiveGatewayErrors`",
            );
        }
        if self
            .consecutive_local_origin_failures
            .is_some_and(|n| n > 0)
            && self.split_external_local_origin_errors != Some(true)
        {
            cx.error(
                "outlier",
                format!("{path}.consecutiveLocalOriginFailures"),
                "consecutiveLocalOriginFailures only counts with `splitExternalLocalOriginErrors: true`; set that or remove this",
            );
        }
        for (field, v) in [
            ("maxEjectionPercent", self.max_ejection_percent),
            ("minHealthPercent", self.min_health_percent),
        ] {
            if let Some(v) = v {
                cx.percentage(format!("{path}.{field}"), f64::from(v));
            }
        }
    }
}

// === impl ConnectionPoolSettings ===

impl ConnectionPoolSettings {
    /// Istio `validateConnectionPool`; Sidecars' pools share it.
    pub(crate) fn check(&self, cx: &mut Check<'_>, path: &str) {
        if self.tcp.is_none() && self.http.is_none() {
            cx.error(
                "connection-pool",
                path,
                "an empty connectionPool does nothing; set `tcp` or `http`, or remove it",
            );
        }
        if let Some(h) = &self.http {
            let at = format!("{path}.http");
            for (field, v) in [
                ("http1MaxPendingRequests", h.http1_max_pending_requests),
                ("http2MaxRequests", h.http2_max_requests),
                ("maxRequestsPerConnection", h.max_requests_per_connection),
                ("maxRetries", h.max_retries),
                ("maxConcurrentStreams", h.max_concurrent_streams),
            ] {
                non_negative(cx, &format!("{at}.{field}"), v);
            }
            if let Some(d) = &h.idle_timeout {
                net::duration(cx, &format!("{at}.idleTimeout"), d);
            }
            if h.h2_upgrade_policy == Some(H2UpgradePolicy::Upgrade)
                && h.use_client_protocol == Some(true)
            {
                cx.error(
                    "connection-pool",
                    format!("{at}.useClientProtocol"),
                    "useClientProtocol keeps HTTP/1.1 and contradicts `h2UpgradePolicy: UPGRADE`; drop one",
                );
            }
        }
        if let Some(t) = &self.tcp {
            let at = format!("{path}.tcp");
            non_negative(cx, &format!("{at}.maxConnections"), t.max_connections);
            for (field, d) in [
                ("connectTimeout", &t.connect_timeout),
                ("maxConnectionDuration", &t.max_connection_duration),
            ] {
                if let Some(d) = d {
                    net::duration(cx, &format!("{at}.{field}"), d);
                }
            }
            // `0s` turns the idle timeout off (istio/api).
            if let Some(d) = &t.idle_timeout
                && !d.0.is_zero()
            {
                net::duration(cx, &format!("{at}.idleTimeout"), d);
            }
            if let Some(k) = &t.tcp_keepalive {
                for (field, d) in [("time", &k.time), ("interval", &k.interval)] {
                    if let Some(d) = d {
                        net::duration(cx, &format!("{at}.tcpKeepalive.{field}"), d);
                    }
                }
            }
        }
    }
}

fn non_negative(cx: &mut Check<'_>, path: &str, v: Option<i32>) {
    if let Some(v) = v
        && v < 0
    {
        cx.error(
            "connection-pool",
            path,
            format!("{v} is negative; use 0 or more"),
        );
    }
}

// === impl ClientTlsSettings ===

impl ClientTlsSettings {
    /// Istio `agent.ValidateTLS`.
    fn check(&self, cx: &mut Check<'_>, path: &str) {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        let mode = self.mode.unwrap_or(ClientTlsMode::Disable);
        if self.insecure_skip_verify == Some(true) {
            let verifying = match mode {
                ClientTlsMode::Simple => {
                    set(&self.ca_certificates)
                        || set(&self.credential_name)
                        || !self.subject_alt_names.is_empty()
                }
                ClientTlsMode::Mutual => {
                    set(&self.ca_certificates) || !self.subject_alt_names.is_empty()
                }
                _ => false,
            };
            if verifying {
                cx.error(
                    "tls",
                    format!("{path}.insecureSkipVerify"),
                    "insecureSkipVerify turns off the verification that caCertificates, credentialName and subjectAltNames configure; remove one or the other",
                );
            }
        }
        if matches!(mode, ClientTlsMode::Simple | ClientTlsMode::Mutual)
            && set(&self.credential_name)
        {
            if set(&self.client_certificate)
                || set(&self.private_key)
                || set(&self.ca_certificates)
                || set(&self.ca_crl)
            {
                cx.error(
                    "tls",
                    format!("{path}.credentialName"),
                    "with credentialName the certificates come from the secret; remove clientCertificate, privateKey, caCertificates and caCrl",
                );
            }
            return;
        }
        match mode {
            ClientTlsMode::Mutual => {
                for (field, v) in [("clientCertificate", &self.client_certificate), ("privateKey", &self.private_key)] {
                    if !set(v) {
                        cx.error(
                            "tls",
                            format!("{path}.mode"),
                            format!("MUTUAL TLS needs `{field}` (a file path) or `credentialName` (a secret); use ISTIO_MUTUAL for Istio's own certificates"),
                        );
                    }
                }
            }
            ClientTlsMode::IstioMutual if self.names_certificates() => cx.warn(
                "tls",
                format!("{path}.mode"),
                "ISTIO_MUTUAL uses Istio's certificates and ignores clientCertificate, privateKey, caCertificates, credentialName and caCrl; remove them or use MUTUAL",
            ),
            _ => {}
        }
    }
}
