//! Every kind weft reads, by API group and version, with its typed spec.
//!
//! Semantics follow the upstream definitions: istio/api protos, the
//! Kubernetes Gateway API Go types, the SMI spec and Linkerd's CRDs. Field
//! names are accepted as users write them: camelCase, and for Istio (whose
//! resources are protobuf) the proto's snake_case names too.

pub mod gateway_api;
pub mod istio;
pub mod k8s;
pub mod linkerd;
pub mod smi;
pub mod weft;

use std::fmt;

use serde::de::DeserializeOwned;
use weft_yaml::{Node, Problem};

use crate::check::{Check, Validate};
use crate::meta::{Object, ObjectMeta};

/// A document's type as written: `apiVersion: networking.istio.io/v1`.
#[derive(Debug, Clone, Copy)]
pub struct KindInfo {
    pub kind: Kind,
    /// API group; `""` is Kubernetes' core group (`apiVersion: v1`).
    pub group: &'static str,
    /// Every version weft reads, newest first.
    pub versions: &'static [&'static str],
    /// The `kind:` users write.
    pub name: &'static str,
}

/// How a kind's document reads: most are `Object<Spec>`; a few (a
/// ServiceAccount) have no `spec` and define their own shape.
pub trait Envelope: DeserializeOwned {
    type Spec;
    fn split(self) -> (ObjectMeta, Self::Spec);
}

pub(crate) type Parsed = Result<(ObjectMeta, Spec, Vec<Problem>), Vec<Problem>>;

macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident => $envelope:ty, $group:literal, [$($version:literal),+], $name:literal, $display:literal; )*) => {
        /// Which kind a resource is.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind { $( $(#[$doc])* $variant, )* }

        /// A resource's typed spec.
        #[derive(Debug, Clone)]
        #[allow(clippy::large_enum_variant)]
        pub enum Spec { $( $variant(<$envelope as Envelope>::Spec), )* }

        /// Every kind weft reads.
        pub static KINDS: &[KindInfo] = &[
            $( KindInfo { kind: Kind::$variant, group: $group, versions: &[$($version),+], name: $name }, )*
        ];

        impl Kind {
            /// How findings name the kind; says the group where two
            /// groups share a name (Istio's and Gateway API's `Gateway`).
            pub fn display(self) -> &'static str {
                match self { $( Kind::$variant => $display, )* }
            }

            pub(crate) fn parse(self, node: &Node) -> Parsed {
                match self { $( Kind::$variant => parse_as::<$envelope>(node, Spec::$variant), )* }
            }

            /// What each place in `node` accepts, for hints.
            pub(crate) fn trace(self, node: &Node) -> Vec<weft_yaml::StructFields> {
                match self { $( Kind::$variant => weft_yaml::struct_fields::<$envelope>(node), )* }
            }
        }

        impl Spec {
            pub fn kind(&self) -> Kind {
                match self { $( Spec::$variant(_) => Kind::$variant, )* }
            }

            pub(crate) fn validate(&self, cx: &mut Check<'_>) {
                match self { $( Spec::$variant(s) => s.validate(cx), )* }
            }
        }
    };
}

kinds! {
    Service => Object<k8s::ServiceSpec>, "", ["v1"], "Service", "Service";
    ServiceAccount => k8s::ServiceAccount, "", ["v1"], "ServiceAccount", "ServiceAccount";
    Pod => Object<k8s::PodSpec>, "", ["v1"], "Pod", "Pod";
    Deployment => Object<k8s::DeploymentSpec>, "apps", ["v1"], "Deployment", "Deployment";
    /// A local process in the mesh (`weft up`).
    Workload => Object<weft::WorkloadSpec>, "weft.dev", ["v1alpha1"], "Workload", "Workload";
    /// What `weft up` runs for a container image.
    LocalImage => Object<weft::LocalImageSpec>, "weft.dev", ["v1alpha1"], "LocalImage", "LocalImage";
    VirtualService => Object<istio::VirtualService>, "networking.istio.io", ["v1", "v1beta1", "v1alpha3"], "VirtualService", "VirtualService";
    DestinationRule => Object<istio::DestinationRule>, "networking.istio.io", ["v1", "v1beta1", "v1alpha3"], "DestinationRule", "DestinationRule";
    Gateway => Object<istio::Gateway>, "networking.istio.io", ["v1", "v1beta1", "v1alpha3"], "Gateway", "Gateway";
    ServiceEntry => Object<istio::ServiceEntry>, "networking.istio.io", ["v1", "v1beta1", "v1alpha3"], "ServiceEntry", "ServiceEntry";
    WorkloadEntry => Object<istio::WorkloadEntry>, "networking.istio.io", ["v1", "v1beta1", "v1alpha3"], "WorkloadEntry", "WorkloadEntry";
    /// Only its local rate limit patches are carried out.
    EnvoyFilter => Object<istio::EnvoyFilter>, "networking.istio.io", ["v1alpha3"], "EnvoyFilter", "EnvoyFilter";
    Sidecar => Object<istio::Sidecar>, "networking.istio.io", ["v1", "v1beta1", "v1alpha3"], "Sidecar", "Sidecar";
    PeerAuthentication => Object<istio::PeerAuthentication>, "security.istio.io", ["v1", "v1beta1"], "PeerAuthentication", "PeerAuthentication";
    AuthorizationPolicy => Object<istio::AuthorizationPolicy>, "security.istio.io", ["v1", "v1beta1"], "AuthorizationPolicy", "AuthorizationPolicy";
    RequestAuthentication => Object<istio::RequestAuthentication>, "security.istio.io", ["v1", "v1beta1"], "RequestAuthentication", "RequestAuthentication";
    /// Only its access logging is carried out.
    Telemetry => Object<istio::Telemetry>, "telemetry.istio.io", ["v1", "v1alpha1"], "Telemetry", "Telemetry";
    HttpRoute => Object<gateway_api::HttpRoute>, "gateway.networking.k8s.io", ["v1", "v1beta1"], "HTTPRoute", "HTTPRoute";
    GrpcRoute => Object<gateway_api::GrpcRoute>, "gateway.networking.k8s.io", ["v1", "v1alpha2"], "GRPCRoute", "GRPCRoute";
    TcpRoute => Object<gateway_api::TcpRoute>, "gateway.networking.k8s.io", ["v1", "v1alpha2"], "TCPRoute", "TCPRoute";
    /// Gateway API's Gateway (not Istio's).
    KubeGateway => Object<gateway_api::Gateway>, "gateway.networking.k8s.io", ["v1", "v1beta1"], "Gateway", "Gateway (gateway.networking.k8s.io)";
    TrafficSplit => Object<smi::TrafficSplit>, "split.smi-spec.io", ["v1alpha4", "v1alpha3", "v1alpha2", "v1alpha1"], "TrafficSplit", "TrafficSplit";
    ServiceProfile => Object<linkerd::ServiceProfile>, "linkerd.io", ["v1alpha2"], "ServiceProfile", "ServiceProfile";
}

/// API groups whose other kinds weft knows it does not read: a document of
/// one of them is ignored and said to be, not called a typo.
pub const FOREIGN_OK_GROUPS: &[&str] =
    &["", "apps", "batch", "policy", "rbac.authorization.k8s.io"];

fn parse_as<E: Envelope>(node: &Node, wrap: fn(E::Spec) -> Spec) -> Parsed {
    let (envelope, problems) = weft_yaml::from_node::<E>(node)?;
    let (meta, spec) = envelope.split();
    Ok((meta, wrap(spec), problems))
}

// === impl Kind ===

impl Kind {
    pub fn info(self) -> &'static KindInfo {
        // Every variant has exactly one row: both come from one macro list.
        &KINDS[KINDS.iter().position(|k| k.kind == self).unwrap_or(0)]
    }

    /// The kind of `kind:` in `group`.
    pub fn lookup(group: &str, name: &str) -> Option<&'static KindInfo> {
        KINDS.iter().find(|k| k.group == group && k.name == name)
    }

    /// The newest `apiVersion` of this kind, as written in a document.
    pub fn api_version(self) -> String {
        let info = self.info();
        match info.group {
            "" => info.versions[0].to_string(),
            group => format!("{group}/{}", info.versions[0]),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display())
    }
}

impl<S: DeserializeOwned + Default> Envelope for Object<S> {
    type Spec = S;
    fn split(self) -> (ObjectMeta, S) {
        (self.metadata, self.spec)
    }
}
