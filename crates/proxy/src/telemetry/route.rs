//! Per-route metrics for routes that ask for them (Linkerd ServiceProfile
//! routes, HTTPRoute and GRPCRoute rules): Linkerd's `route_request_total` and `route_response_latency_ms`
//! as `weft_route_requests_total` and `weft_route_response_latency_ms`,
//! each request classified by the route's response classes (linkerd.io
//! "Per-Route Metrics", "Service Profiles: Response Class"). Routes that
//! do not ask cost nothing: the exchange holds no route.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use weft_proto::config::RouteMetrics as RouteMetricsConfig;

/// Linkerd's latency buckets (ms) for `response_latency_ms`.
const LATENCY_BUCKETS_MS: [f64; 19] = [
    1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 30.0, 40.0, 50.0, 100.0, 200.0, 300.0, 400.0, 500.0,
    1000.0, 2000.0, 5000.0, 10000.0,
];

/// A route counted under its name, and how it tells failures.
#[derive(Debug)]
pub struct MeteredRoute {
    pub name: Arc<str>,
    config: RouteMetricsConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EncodeLabelValue)]
pub enum Classification {
    #[allow(non_camel_case_types)]
    success,
    #[allow(non_camel_case_types)]
    failure,
}

/// `route, service, response_code, classification`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: Arc<str>,
    pub service: Arc<str>,
    pub response_code: u16,
    pub classification: Classification,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The route metric families.
#[derive(Clone)]
pub(super) struct RouteFamilies {
    requests: Family<RouteLabels, Counter>,
    latency_ms: HistogramFamily<RouteLabels>,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS_MS)
}

// === impl MeteredRoute ===

impl MeteredRoute {
    pub fn new(config: &RouteMetricsConfig) -> Self {
        Self {
            name: Arc::from(config.name.as_str()),
            config: config.clone(),
        }
    }

    pub fn classify(&self, status: u16, grpc_status: Option<u32>) -> Classification {
        if self.config.is_failure(status, grpc_status) {
            Classification::failure
        } else {
            Classification::success
        }
    }
}

// === impl RouteFamilies ===

impl RouteFamilies {
    pub(super) fn register(reg: &mut Registry) -> Self {
        let requests = Family::default();
        let latency_ms: HistogramFamily<_> = Family::new_with_constructor(latency_histogram);
        // Counters are registered without `_total`; the encoder appends it.
        reg.register(
            "weft_route_requests",
            "Requests of routes with per-route metrics (Linkerd ServiceProfile routes), by route and classification",
            requests.clone(),
        );
        reg.register(
            "weft_route_response_latency_ms",
            "Response latency of routes with per-route metrics, in milliseconds",
            latency_ms.clone(),
        );
        Self {
            requests,
            latency_ms,
        }
    }

    pub(super) fn record(
        &self,
        route: &MeteredRoute,
        service: &Arc<str>,
        status: u16,
        grpc_status: Option<u32>,
        elapsed: Duration,
    ) {
        let labels = RouteLabels {
            route: route.name.clone(),
            service: service.clone(),
            response_code: status,
            classification: route.classify(status, grpc_status),
        };
        self.requests.get_or_create(&labels).inc();
        self.latency_ms
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64() * 1000.0);
    }
}
