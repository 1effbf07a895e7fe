//! weft's own kinds.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::check::{Check, Validate};

/// A local process in the mesh, as `weft up` runs it: the command, its
/// environment and ports, and the identity it runs as. Labels come from
/// `metadata.labels`, as for a pod.
///
/// ```yaml
/// apiVersion: weft.dev/v1alpha1
/// kind: Workload
/// metadata: { name: reviews-v1, labels: { app: reviews, version: v1 } }
/// spec:
///   command: [weft-sample, reviews, --version, v1]
///   ports: [{ name: http, port: 9080 }]
///   serviceAccount: bookinfo-reviews
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadSpec {
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default)]
    pub ports: Vec<WorkloadPort>,
    pub service_account: Option<String>,
    pub replicas: Option<u32>,
    pub working_dir: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadPort {
    #[serde(default)]
    pub port: u32,
    pub name: Option<String>,
    /// `http`, `http2`, `grpc` or `tcp`; detected when unset.
    pub protocol: Option<String>,
}

impl WorkloadSpec {
    /// The service account the workload runs as: `default` when unset.
    pub fn service_account(&self) -> &str {
        self.service_account.as_deref().unwrap_or("default")
    }
}

impl Validate for WorkloadSpec {
    fn validate(&self, cx: &mut Check<'_>) {
        if self.command.is_empty() {
            cx.error(
                "command",
                "spec.command",
                "a Workload needs a `command` to run, such as `[weft-sample, details]`",
            );
        }
        for (i, p) in self.ports.iter().enumerate() {
            if !(1..=65535).contains(&p.port) {
                cx.error(
                    "port",
                    format!("spec.ports[{i}].port"),
                    format!("{} is not a port; use 1 to 65535", p.port),
                );
            }
        }
    }
}
