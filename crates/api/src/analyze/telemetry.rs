//! Telemetry tracing with nowhere to send spans. weft has one collector,
//! the control plane's `--tracing-otlp-endpoint` (Istio's would be a
//! `meshConfig.extensionProviders` entry); without it no proxy traces, so
//! a Telemetry that samples would silently do nothing.

use super::{Index, finding};
use crate::finding::{Finding, Severity};
use crate::kinds::Spec;

pub(super) fn check(index: &Index<'_>, collector: Option<bool>, out: &mut Vec<Finding>) {
    if collector != Some(false) {
        return;
    }
    for r in index.resources {
        let Spec::Telemetry(t) = &r.spec else {
            continue;
        };
        // Turning span reporting off needs no collector: it is off anyway.
        if t.tracing.is_empty() || t.tracing().disabled == Some(true) {
            continue;
        }
        out.push(finding(
            r,
            Severity::Warning,
            "tracing-without-collector",
            "spec.tracing",
            format!(
                "Telemetry {}/{} sets tracing, but the control plane has no collector to send spans to, so tracing stays off; start `weft control` (or `weft up`) with `--tracing-otlp-endpoint HOST:PORT`",
                r.namespace(),
                r.name()
            ),
        ));
    }
}
