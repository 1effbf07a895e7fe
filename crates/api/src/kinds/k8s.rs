//! The Kubernetes kinds a mesh reads: Service, ServiceAccount, Pod and
//! Deployment (for `weft up` and `weft inject`).
//!
//! Pod and container specs have dozens of fields that mean nothing to the
//! mesh (volumes, probes, resources); those structs accept and ignore any
//! field. The parts the mesh acts on (ports, selectors, service accounts)
//! are read strictly, so a typo there is reported.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::check::{Check, Validate};
use crate::kinds::Envelope;
use crate::meta::ObjectMeta;
use crate::types::IntOrString;

/// Fields a lenient struct accepts and ignores.
type Rest = BTreeMap<String, IgnoredAny>;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
// Private fields are accepted so real manifests load, and ignored: they
// mean nothing to the mesh.
#[allow(dead_code)]
pub struct ServiceSpec {
    #[serde(default)]
    pub ports: Vec<ServicePort>,
    #[serde(default)]
    pub selector: BTreeMap<String, String>,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: Option<String>,
    #[serde(default, rename = "clusterIPs")]
    pub cluster_ips: Vec<String>,
    #[serde(rename = "type")]
    pub service_type: Option<String>,
    pub external_name: Option<String>,
    session_affinity: Option<IgnoredAny>,
    session_affinity_config: Option<IgnoredAny>,
    external_traffic_policy: Option<IgnoredAny>,
    internal_traffic_policy: Option<IgnoredAny>,
    ip_families: Option<IgnoredAny>,
    ip_family_policy: Option<IgnoredAny>,
    #[serde(rename = "loadBalancerIP")]
    load_balancer_ip: Option<IgnoredAny>,
    load_balancer_source_ranges: Option<IgnoredAny>,
    load_balancer_class: Option<IgnoredAny>,
    #[serde(rename = "externalIPs")]
    external_ips: Option<IgnoredAny>,
    publish_not_ready_addresses: Option<IgnoredAny>,
    health_check_node_port: Option<IgnoredAny>,
    allocate_load_balancer_node_ports: Option<IgnoredAny>,
    traffic_distribution: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub app_protocol: Option<String>,
    #[serde(default)]
    pub port: u32,
    pub target_port: Option<IntOrString>,
    pub node_port: Option<u32>,
}

/// A ServiceAccount has no `spec`; its name is the workload identity.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
// Private fields are accepted so real manifests load, and ignored: they
// mean nothing to the mesh.
#[allow(dead_code)]
pub struct ServiceAccount {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    secrets: Option<IgnoredAny>,
    image_pull_secrets: Option<IgnoredAny>,
    automount_service_account_token: Option<IgnoredAny>,
}

/// What a ServiceAccount keeps after loading: nothing beyond its metadata.
#[derive(Debug, Clone, Default)]
pub struct ServiceAccountSpec;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    #[serde(default)]
    pub init_containers: Vec<Container>,
    pub service_account_name: Option<String>,
    /// Deprecated alias of `serviceAccountName`.
    pub service_account: Option<String>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    #[serde(default)]
    pub name: String,
    pub image: Option<String>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: Vec<EnvVar>,
    #[serde(default)]
    pub ports: Vec<ContainerPort>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    pub name: String,
    pub value: Option<String>,
    #[serde(flatten)]
    _rest: Rest,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerPort {
    #[serde(default)]
    pub container_port: u32,
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub host_port: Option<u32>,
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
// Private fields are accepted so real manifests load, and ignored: they
// mean nothing to the mesh.
#[allow(dead_code)]
pub struct DeploymentSpec {
    pub replicas: Option<u32>,
    #[serde(default)]
    pub selector: LabelSelector,
    #[serde(default)]
    pub template: PodTemplateSpec,
    strategy: Option<IgnoredAny>,
    min_ready_seconds: Option<IgnoredAny>,
    revision_history_limit: Option<IgnoredAny>,
    paused: Option<IgnoredAny>,
    progress_deadline_seconds: Option<IgnoredAny>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelSelector {
    #[serde(default)]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default)]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodTemplateSpec {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: PodSpec,
}

// === impl ServiceAccount ===

impl Envelope for ServiceAccount {
    type Spec = ServiceAccountSpec;
    fn split(self) -> (ObjectMeta, ServiceAccountSpec) {
        (self.metadata, ServiceAccountSpec)
    }
}

impl Validate for ServiceAccountSpec {
    fn validate(&self, _: &mut Check<'_>) {}
}

// === impl ServiceSpec ===

impl Validate for ServiceSpec {
    fn validate(&self, cx: &mut Check<'_>) {
        for (i, p) in self.ports.iter().enumerate() {
            let path = format!("spec.ports[{i}]");
            if !(1..=65535).contains(&p.port) {
                cx.error(
                    "port",
                    format!("{path}.port"),
                    format!("{} is not a port; use 1 to 65535", p.port),
                );
            }
            // Kubernetes: every port needs a name once there are several.
            if self.ports.len() > 1 && p.name.as_deref().unwrap_or_default().is_empty() {
                cx.error(
                    "port-name",
                    format!("{path}.name"),
                    "a Service with several ports must name each one, such as `name: http`",
                );
            }
            if let Some(IntOrString::Int(t)) = &p.target_port
                && !(1..=65535).contains(t)
            {
                cx.error(
                    "port",
                    format!("{path}.targetPort"),
                    format!("{t} is not a port; use 1 to 65535"),
                );
            }
        }
    }
}

// === impl PodSpec ===

impl PodSpec {
    /// The service account pods run as: Kubernetes' `default` when unset.
    pub fn service_account(&self) -> &str {
        self.service_account_name
            .as_deref()
            .or(self.service_account.as_deref())
            .unwrap_or("default")
    }
}

impl Validate for PodSpec {
    fn validate(&self, cx: &mut Check<'_>) {
        check_containers(cx, "spec", self);
    }
}

impl Validate for DeploymentSpec {
    fn validate(&self, cx: &mut Check<'_>) {
        let labels = &self.template.metadata.labels;
        for (k, v) in &self.selector.match_labels {
            if labels.get(k) != Some(v) {
                cx.error(
                    "selector",
                    format!("spec.selector.matchLabels.{k}"),
                    format!("the pod template has no label `{k}: {v}`, so this Deployment would select none of its own pods; add it under spec.template.metadata.labels"),
                );
            }
        }
        check_containers(cx, "spec.template.spec", &self.template.spec);
    }
}

fn check_containers(cx: &mut Check<'_>, path: &str, spec: &PodSpec) {
    if spec.containers.is_empty() {
        cx.error(
            "containers",
            format!("{path}.containers"),
            "a pod needs at least one container",
        );
    }
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, p) in c.ports.iter().enumerate() {
            if !(1..=65535).contains(&p.container_port) {
                cx.error(
                    "port",
                    format!("{path}.containers[{i}].ports[{j}].containerPort"),
                    format!("{} is not a port; use 1 to 65535", p.container_port),
                );
            }
        }
    }
}
