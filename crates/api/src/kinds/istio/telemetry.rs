//! istio/api `telemetry/v1/telemetry.proto`: per-workload telemetry
//! settings. weft acts on `accessLogging` (on or off for the workloads a
//! Telemetry applies to) and on `tracing`'s sampling percentage and span
//! reporting; the rest loads, is checked, and gets a warning.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::WorkloadSelector;
use super::authorization_policy::check_selector;
use crate::check::{Check, Validate};

/// istio/api `Telemetry`. Applies to the workloads `selector` picks, or to
/// the whole namespace (the whole mesh in the root namespace) when unset;
/// the most specific one that sets a kind of telemetry wins (for tracing,
/// field by field: [`TracingSettings::over`]).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Telemetry {
    pub selector: Option<WorkloadSelector>,
    #[serde(default, alias = "access_logging")]
    pub access_logging: Vec<AccessLogging>,
    #[serde(default)]
    pub tracing: Vec<Tracing>,
    #[serde(default)]
    pub metrics: Vec<Opaque>,
    #[serde(alias = "target_ref")]
    pub target_ref: Option<Opaque>,
    #[serde(default, alias = "target_refs")]
    pub target_refs: Vec<Opaque>,
}

/// istio/api `AccessLogging`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessLogging {
    /// Where logs go, by extension provider name (`envoy`: the proxy's
    /// standard output). None: the mesh's default providers, which weft
    /// has none of.
    #[serde(default)]
    pub providers: Vec<ProviderRef>,
    /// `true` turns access logs off for these workloads.
    pub disabled: Option<bool>,
    #[serde(rename = "match")]
    pub matches: Option<Opaque>,
    pub filter: Option<Opaque>,
}

/// istio/api `Tracing`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tracing {
    /// Where spans go, by extension provider name. weft has one collector
    /// (`weft control --tracing-otlp-endpoint`); a name is not looked up.
    #[serde(default)]
    pub providers: Vec<ProviderRef>,
    /// Share of new traces sampled, 0 to 100 in 0.01 steps (Istio's
    /// `DoubleValue`); unset inherits the less specific level's.
    #[serde(alias = "random_sampling_percentage")]
    pub random_sampling_percentage: Option<f64>,
    /// `true`: these workloads report no spans (trace context still passes
    /// through); unset inherits.
    #[serde(alias = "disable_span_reporting")]
    pub disable_span_reporting: Option<bool>,
    #[serde(rename = "match")]
    pub matches: Option<Opaque>,
    #[serde(alias = "custom_tags")]
    pub custom_tags: Option<Opaque>,
    #[serde(alias = "use_request_id_for_trace_sampling")]
    pub use_request_id_for_trace_sampling: Option<bool>,
    #[serde(alias = "enable_istio_tags")]
    pub enable_istio_tags: Option<bool>,
}

/// What one Telemetry says about tracing: each field `None` when it does
/// not set it, so a less specific Telemetry's value shows through.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TracingSettings {
    pub sampling: Option<f64>,
    pub disabled: Option<bool>,
}

/// istio/api `ProviderRef`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderRef {
    pub name: String,
}

/// A part weft does not act on: read and checked only for its shape.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Opaque {
    #[serde(flatten)]
    _rest: BTreeMap<String, IgnoredAny>,
}

// === impl Telemetry ===

impl Telemetry {
    /// Whether these settings turn access logs on (`Some(true)`), off
    /// (`Some(false)`), or say nothing about them (`None`).
    pub fn access_logs(&self) -> Option<bool> {
        if self.access_logging.is_empty() {
            return None;
        }
        Some(
            self.access_logging
                .iter()
                .any(|a| a.disabled != Some(true) && !a.providers.is_empty()),
        )
    }
}

impl Telemetry {
    /// The tracing fields these settings set. Istio reads the entries in
    /// order, a later one's field replacing an earlier one's.
    pub fn tracing(&self) -> TracingSettings {
        self.tracing
            .iter()
            .fold(TracingSettings::default(), |acc, t| TracingSettings {
                sampling: t.random_sampling_percentage.or(acc.sampling),
                disabled: t.disable_span_reporting.or(acc.disabled),
            })
    }
}

// === impl TracingSettings ===

impl TracingSettings {
    /// These settings over `parent`'s (a less specific level): Istio's
    /// Telemetry inherits field by field.
    pub fn over(self, parent: TracingSettings) -> TracingSettings {
        TracingSettings {
            sampling: self.sampling.or(parent.sampling),
            disabled: self.disabled.or(parent.disabled),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == TracingSettings::default()
    }
}

impl Validate for Telemetry {
    fn validate(&self, cx: &mut Check<'_>) {
        if let Some(s) = &self.selector {
            check_selector(cx, s);
        }
        for (i, a) in self.access_logging.iter().enumerate() {
            for (j, p) in a.providers.iter().enumerate() {
                if p.name.is_empty() {
                    cx.error(
                        "provider",
                        format!("spec.accessLogging[{i}].providers[{j}].name"),
                        "name a provider, such as `envoy`",
                    );
                }
            }
        }
        for (i, t) in self.tracing.iter().enumerate() {
            if let Some(p) = t.random_sampling_percentage {
                cx.percentage(format!("spec.tracing[{i}].randomSamplingPercentage"), p);
            }
        }
    }
}
