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

/// What `weft up` runs for a container image: Kubernetes Deployments name
/// images, a local mesh runs processes. The image's tag or digest is
/// ignored when matching.
///
/// ```yaml
/// apiVersion: weft.dev/v1alpha1
/// kind: LocalImage
/// metadata: { name: bookinfo-details }
/// spec:
///   image: docker.io/istio/examples-bookinfo-details-v1
///   command: [weft-sample, details, --listen, "$(WEFT_LISTEN)"]
/// ```
///
/// `command` and `args` stand for the image's ENTRYPOINT and CMD: a
/// container's own `command` replaces the first and its `args` the second,
/// as in Kubernetes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalImageSpec {
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

impl LocalImageSpec {
    /// Whether a container's `image` is this one, whatever its tag or digest.
    pub fn matches(&self, image: &str) -> bool {
        image_name(image) == image_name(&self.image)
    }
}

/// An image reference without its tag or digest (`repo/name:tag@sha` →
/// `repo/name`); a registry's port (`host:5000/name`) is kept.
pub fn image_name(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => &image[..i],
        _ => image,
    }
}

impl Validate for LocalImageSpec {
    fn validate(&self, cx: &mut Check<'_>) {
        if self.image.is_empty() {
            cx.error(
                "image",
                "spec.image",
                "a LocalImage needs the `image` it stands for, as Deployments write it",
            );
        }
        if self.command.is_empty() {
            cx.error(
                "command",
                "spec.command",
                "a LocalImage needs a `command` to run, such as `[weft-sample, details]`",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::image_name;

    #[test]
    fn image_names_drop_tags_and_digests() {
        for (image, want) in [
            (
                "docker.io/istio/examples-bookinfo-details-v1:1.20.3",
                "docker.io/istio/examples-bookinfo-details-v1",
            ),
            ("details", "details"),
            ("details:latest", "details"),
            ("localhost:5000/details", "localhost:5000/details"),
            ("localhost:5000/details:v1", "localhost:5000/details"),
            ("repo/details@sha256:abcd", "repo/details"),
            ("repo/details:v1@sha256:abcd", "repo/details"),
        ] {
            assert_eq!(image_name(image), want, "{image}");
        }
    }
}
