//! The Kubernetes Gateway API kinds (`gateway.networking.k8s.io`), as
//! kubernetes-sigs/gateway-api's Go types define them: HTTPRoute,
//! GRPCRoute, TCPRoute and Gateway. Validation follows the CRDs' markers
//! and CEL rules, which the API server enforces on apply.
//!
//! Routes attach to Gateways, or, for mesh routes (GAMMA), to Services
//! (`parentRefs: [{group: "", kind: Service, name: ...}]`).

pub mod common;
pub mod gateway;
pub mod grpc_route;
pub mod http_route;
pub(crate) mod syntax;
pub mod tcp_route;

#[cfg(test)]
mod test_util;

pub use common::{
    BackendObjectReference, BackendRef, GatewayDefaultScope, HeaderMatchType, HttpHeader,
    HttpHeaderFilter, HttpRequestMirrorFilter, LocalObjectReference, ObjectReference,
    ParentReference, SecretObjectReference, SessionPersistence,
};
pub use gateway::{Gateway, Listener, ListenerTlsConfig, TlsModeType};
pub use grpc_route::{GrpcBackendRef, GrpcRoute, GrpcRouteFilter, GrpcRouteMatch, GrpcRouteRule};
pub use http_route::{
    HttpBackendRef, HttpPathMatch, HttpRoute, HttpRouteFilter, HttpRouteFilterType, HttpRouteMatch,
    HttpRouteRule, HttpRouteTimeouts, PathMatchType,
};
pub use tcp_route::{TcpRoute, TcpRouteRule};
