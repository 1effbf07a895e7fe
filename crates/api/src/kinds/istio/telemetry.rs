//! istio/api `telemetry/v1/telemetry.proto`: per-workload telemetry
//! settings. weft acts on `accessLogging` (on or off for the workloads a
//! Telemetry applies to); the rest loads, is checked, and gets a warning.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::WorkloadSelector;
use super::authorization_policy::check_selector;
use crate::check::{Check, Validate};

/// istio/api `Telemetry`. Applies to the workloads `selector` picks, or to
/// the whole namespace (the whole mesh in the root namespace) when unset;
/// the most specific one that sets a kind of telemetry wins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Telemetry {
    pub selector: Option<WorkloadSelector>,
    #[serde(default, alias = "access_logging")]
    pub access_logging: Vec<AccessLogging>,
    #[serde(default)]
    pub tracing: Vec<Opaque>,
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
    }
}
