//! What weft acts on today, so a resource that asks for more is told so:
//! "never drop a field silently". A field outside these lists loads and is
//! checked, and gets a warning on its line that weft ignores it.
//!
//! The lists follow the control plane's compiler (`weft-control`'s
//! `compile/`); grow them as it grows.

mod gateways;
mod mesh;

use weft_yaml::{Entry, FieldPath, Node, Scalar, Segment};

use crate::kinds::Kind;

/// Path patterns: `[]` for any index, `*` for any map key. A pattern
/// covers its whole subtree, unless it ends in `!`: then only the node
/// itself (`withoutHeaders.*!`: a header name with an empty match).
fn implemented(kind: Kind) -> Option<&'static [&'static str]> {
    Some(match kind {
        Kind::VirtualService => &[
            "spec.hosts",
            "spec.gateways",
            "spec.http[].name",
            "spec.http[].match[].name",
            "spec.http[].match[].uri",
            "spec.http[].match[].method",
            "spec.http[].match[].scheme",
            "spec.http[].match[].headers",
            "spec.http[].match[].withoutHeaders.*!",
            "spec.http[].match[].port",
            "spec.http[].match[].sourceLabels",
            "spec.http[].match[].sourceNamespace",
            "spec.http[].match[].gateways",
            "spec.http[].match[].authority",
            "spec.http[].match[].queryParams",
            "spec.http[].match[].ignoreUriCase",
            "spec.http[].route[].destination",
            "spec.http[].route[].weight",
            "spec.http[].route[].headers",
            "spec.http[].timeout",
            "spec.http[].retries.attempts",
            "spec.http[].retries.perTryTimeout",
            "spec.http[].retries.retryOn",
            "spec.http[].retries.backoff",
            "spec.http[].fault.delay.fixedDelay",
            "spec.http[].fault.delay.percentage",
            "spec.http[].fault.delay.percent",
            "spec.http[].fault.abort.httpStatus",
            "spec.http[].fault.abort.grpcStatus",
            "spec.http[].fault.abort.percentage",
            "spec.http[].redirect",
            "spec.http[].directResponse",
            "spec.http[].rewrite",
            "spec.http[].headers",
            "spec.http[].corsPolicy",
            "spec.http[].delegate",
            "spec.http[].mirror",
            "spec.http[].mirrors",
            "spec.http[].mirrorPercentage",
            "spec.http[].mirrorPercent",
            "spec.tls[].match[].sniHosts",
            "spec.tls[].match[].port",
            "spec.tls[].match[].sourceLabels",
            "spec.tls[].match[].sourceNamespace",
            "spec.tls[].match[].gateways",
            "spec.tls[].route[].destination",
            "spec.tls[].route[].weight",
            "spec.tcp[].match[].port",
            "spec.tcp[].match[].sourceLabels",
            "spec.tcp[].match[].sourceNamespace",
            "spec.tcp[].match[].gateways",
            "spec.tcp[].route[].destination",
            "spec.tcp[].route[].weight",
        ],
        Kind::DestinationRule => &[
            "spec.host",
            "spec.subsets[].name",
            "spec.subsets[].labels",
            "spec.trafficPolicy.loadBalancer.simple",
            "spec.trafficPolicy.loadBalancer.consistentHash.httpHeaderName",
            "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.name",
            "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.path",
            "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl",
            "spec.trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes",
            "spec.trafficPolicy.loadBalancer.consistentHash.useSourceIp",
            "spec.trafficPolicy.loadBalancer.consistentHash.httpQueryParameterName",
            "spec.trafficPolicy.loadBalancer.consistentHash.ringHash",
            "spec.trafficPolicy.loadBalancer.consistentHash.maglev",
            "spec.trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
            "spec.trafficPolicy.connectionPool.tcp.connectTimeout",
            "spec.trafficPolicy.connectionPool.http.h2UpgradePolicy",
            "spec.trafficPolicy.connectionPool.http.useClientProtocol",
            "spec.trafficPolicy.portLevelSettings[].port",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.simple",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpHeaderName",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpCookie.name",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpCookie.path",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpCookie.ttl",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpCookie.attributes",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.useSourceIp",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpQueryParameterName",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.ringHash",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.maglev",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.minimumRingSize",
            "spec.trafficPolicy.portLevelSettings[].connectionPool.tcp.connectTimeout",
            "spec.trafficPolicy.tls.mode",
            "spec.trafficPolicy.tls.sni",
            "spec.trafficPolicy.tls.caCertificates",
            "spec.trafficPolicy.tls.subjectAltNames",
            "spec.trafficPolicy.tls.clientCertificate",
            "spec.trafficPolicy.tls.privateKey",
            "spec.trafficPolicy.portLevelSettings[].tls.mode",
            "spec.trafficPolicy.portLevelSettings[].tls.sni",
            "spec.trafficPolicy.portLevelSettings[].tls.caCertificates",
            "spec.trafficPolicy.portLevelSettings[].tls.subjectAltNames",
            "spec.trafficPolicy.portLevelSettings[].tls.clientCertificate",
            "spec.trafficPolicy.portLevelSettings[].tls.privateKey",
            "spec.subsets[].trafficPolicy.tls.mode",
            "spec.subsets[].trafficPolicy.tls.sni",
            "spec.subsets[].trafficPolicy.tls.caCertificates",
            "spec.subsets[].trafficPolicy.tls.subjectAltNames",
            "spec.subsets[].trafficPolicy.tls.clientCertificate",
            "spec.subsets[].trafficPolicy.tls.privateKey",
            "spec.subsets[].trafficPolicy.loadBalancer.simple",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.httpHeaderName",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.httpCookie.name",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.httpCookie.path",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.httpCookie.ttl",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.httpCookie.attributes",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.useSourceIp",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.httpQueryParameterName",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.ringHash",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.maglev",
            "spec.subsets[].trafficPolicy.loadBalancer.consistentHash.minimumRingSize",
            "spec.subsets[].trafficPolicy.connectionPool.tcp.connectTimeout",
            "spec.subsets[].trafficPolicy.connectionPool.http.h2UpgradePolicy",
            "spec.subsets[].trafficPolicy.connectionPool.http.useClientProtocol",
            "spec.subsets[].trafficPolicy.portLevelSettings[].port",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.simple",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpHeaderName",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpCookie.name",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpCookie.path",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpCookie.ttl",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpCookie.attributes",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.useSourceIp",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.httpQueryParameterName",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.ringHash",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.maglev",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.consistentHash.minimumRingSize",
            "spec.subsets[].trafficPolicy.portLevelSettings[].connectionPool.tcp.connectTimeout",
            // Circuit breakers and outlier detection (compile/circuit.rs).
            "spec.trafficPolicy.connectionPool.tcp.maxConnections",
            "spec.trafficPolicy.connectionPool.tcp.maxConnectionDuration",
            "spec.trafficPolicy.connectionPool.http.http1MaxPendingRequests",
            "spec.trafficPolicy.connectionPool.http.http2MaxRequests",
            "spec.trafficPolicy.connectionPool.http.maxRequestsPerConnection",
            "spec.trafficPolicy.connectionPool.http.idleTimeout",
            "spec.trafficPolicy.connectionPool.http.maxRetries",
            "spec.trafficPolicy.outlierDetection.consecutive5xxErrors",
            "spec.trafficPolicy.outlierDetection.consecutiveGatewayErrors",
            "spec.trafficPolicy.outlierDetection.splitExternalLocalOriginErrors",
            "spec.trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
            "spec.trafficPolicy.outlierDetection.interval",
            "spec.trafficPolicy.outlierDetection.baseEjectionTime",
            "spec.trafficPolicy.outlierDetection.maxEjectionPercent",
            "spec.trafficPolicy.portLevelSettings[].connectionPool.tcp.maxConnections",
            "spec.trafficPolicy.portLevelSettings[].connectionPool.tcp.maxConnectionDuration",
            "spec.trafficPolicy.portLevelSettings[].connectionPool.http.http1MaxPendingRequests",
            "spec.trafficPolicy.portLevelSettings[].connectionPool.http.http2MaxRequests",
            "spec.trafficPolicy.portLevelSettings[].connectionPool.http.maxRequestsPerConnection",
            "spec.trafficPolicy.portLevelSettings[].connectionPool.http.idleTimeout",
            "spec.trafficPolicy.portLevelSettings[].connectionPool.http.maxRetries",
            "spec.trafficPolicy.portLevelSettings[].outlierDetection.consecutive5xxErrors",
            "spec.trafficPolicy.portLevelSettings[].outlierDetection.consecutiveGatewayErrors",
            "spec.trafficPolicy.portLevelSettings[].outlierDetection.splitExternalLocalOriginErrors",
            "spec.trafficPolicy.portLevelSettings[].outlierDetection.consecutiveLocalOriginFailures",
            "spec.trafficPolicy.portLevelSettings[].outlierDetection.interval",
            "spec.trafficPolicy.portLevelSettings[].outlierDetection.baseEjectionTime",
            "spec.trafficPolicy.portLevelSettings[].outlierDetection.maxEjectionPercent",
            "spec.subsets[].trafficPolicy.connectionPool.tcp.maxConnections",
            "spec.subsets[].trafficPolicy.connectionPool.tcp.maxConnectionDuration",
            "spec.subsets[].trafficPolicy.connectionPool.http.http1MaxPendingRequests",
            "spec.subsets[].trafficPolicy.connectionPool.http.http2MaxRequests",
            "spec.subsets[].trafficPolicy.connectionPool.http.maxRequestsPerConnection",
            "spec.subsets[].trafficPolicy.connectionPool.http.idleTimeout",
            "spec.subsets[].trafficPolicy.connectionPool.http.maxRetries",
            "spec.subsets[].trafficPolicy.outlierDetection.consecutive5xxErrors",
            "spec.subsets[].trafficPolicy.outlierDetection.consecutiveGatewayErrors",
            "spec.subsets[].trafficPolicy.outlierDetection.splitExternalLocalOriginErrors",
            "spec.subsets[].trafficPolicy.outlierDetection.consecutiveLocalOriginFailures",
            "spec.subsets[].trafficPolicy.outlierDetection.interval",
            "spec.subsets[].trafficPolicy.outlierDetection.baseEjectionTime",
            "spec.subsets[].trafficPolicy.outlierDetection.maxEjectionPercent",
            "spec.subsets[].trafficPolicy.portLevelSettings[].connectionPool.tcp.maxConnections",
            "spec.subsets[].trafficPolicy.portLevelSettings[].connectionPool.tcp.maxConnectionDuration",
            "spec.subsets[].trafficPolicy.portLevelSettings[].connectionPool.http.http1MaxPendingRequests",
            "spec.subsets[].trafficPolicy.portLevelSettings[].connectionPool.http.http2MaxRequests",
            "spec.subsets[].trafficPolicy.portLevelSettings[].connectionPool.http.maxRequestsPerConnection",
            "spec.subsets[].trafficPolicy.portLevelSettings[].connectionPool.http.idleTimeout",
            "spec.subsets[].trafficPolicy.portLevelSettings[].connectionPool.http.maxRetries",
            "spec.subsets[].trafficPolicy.portLevelSettings[].outlierDetection.consecutive5xxErrors",
            "spec.subsets[].trafficPolicy.portLevelSettings[].outlierDetection.consecutiveGatewayErrors",
            "spec.subsets[].trafficPolicy.portLevelSettings[].outlierDetection.splitExternalLocalOriginErrors",
            "spec.subsets[].trafficPolicy.portLevelSettings[].outlierDetection.consecutiveLocalOriginFailures",
            "spec.subsets[].trafficPolicy.portLevelSettings[].outlierDetection.interval",
            "spec.subsets[].trafficPolicy.portLevelSettings[].outlierDetection.baseEjectionTime",
            "spec.subsets[].trafficPolicy.portLevelSettings[].outlierDetection.maxEjectionPercent",
            // Locality load balancing (compile/locality.rs).
            "spec.trafficPolicy.loadBalancer.localityLbSetting",
            "spec.trafficPolicy.portLevelSettings[].loadBalancer.localityLbSetting",
            "spec.subsets[].trafficPolicy.loadBalancer.localityLbSetting",
            "spec.subsets[].trafficPolicy.portLevelSettings[].loadBalancer.localityLbSetting",
        ],
        Kind::ServiceEntry => &[
            "spec.hosts",
            "spec.addresses",
            "spec.ports",
            "spec.location",
            "spec.resolution",
            "spec.endpoints[].address",
            "spec.endpoints[].ports",
            "spec.endpoints[].labels",
            "spec.endpoints[].serviceAccount",
            "spec.workloadSelector",
        ],
        Kind::WorkloadEntry => &[
            "spec.address",
            "spec.ports",
            "spec.labels",
            "spec.serviceAccount",
            "spec.locality",
        ],
        Kind::Sidecar => &["spec.workloadSelector", "spec.egress[].hosts"],
        // Patches weft does not carry out get their own warning (the
        // EnvoyFilter validator's), naming the one shape it does.
        Kind::EnvoyFilter => &[
            "spec.workloadSelector",
            "spec.configPatches",
            "spec.priority",
        ],
        Kind::Gateway => gateways::ISTIO_GATEWAY,
        Kind::KubeGateway => gateways::KUBE_GATEWAY,
        Kind::HttpRoute => gateways::HTTP_ROUTE,
        Kind::GrpcRoute => mesh::GRPC_ROUTE,
        Kind::TcpRoute => mesh::TCP_ROUTE,
        Kind::TrafficSplit => mesh::TRAFFIC_SPLIT,
        Kind::ServiceProfile => mesh::SERVICE_PROFILE,
        Kind::PeerAuthentication => &["spec.selector", "spec.mtls.mode", "spec.portLevelMtls"],
        Kind::Telemetry => &[
            "spec.selector",
            "spec.accessLogging[].providers",
            "spec.accessLogging[].disabled",
            // compile/telemetry.rs; a named provider gets its own warning.
            "spec.tracing[].randomSamplingPercentage",
            "spec.tracing[].disableSpanReporting",
            "spec.tracing[].providers",
        ],
        Kind::AuthorizationPolicy => &[
            "spec.selector",
            "spec.action",
            "spec.rules[].from[].source.principals",
            "spec.rules[].from[].source.notPrincipals",
            "spec.rules[].from[].source.namespaces",
            "spec.rules[].from[].source.notNamespaces",
            "spec.rules[].from[].source.serviceAccounts",
            "spec.rules[].from[].source.notServiceAccounts",
            "spec.rules[].from[].source.ipBlocks",
            "spec.rules[].from[].source.notIpBlocks",
            "spec.rules[].from[].source.remoteIpBlocks",
            "spec.rules[].from[].source.notRemoteIpBlocks",
            "spec.rules[].to",
            "spec.rules[].when",
        ],
        // Everything a control plane reads of them; `weft up` runs them.
        Kind::Service
        | Kind::ServiceAccount
        | Kind::Pod
        | Kind::Deployment
        | Kind::Workload
        | Kind::LocalImage => {
            return None;
        }
        _ => &[],
    })
}

/// Warnings for what `root` (a resource of `kind`) asks of weft that weft
/// does not do yet, as (field path, message).
pub(super) fn unimplemented(kind: Kind, root: &Node) -> Vec<(String, String)> {
    let Some(patterns) = implemented(kind) else {
        return Vec::new();
    };
    if patterns.is_empty() {
        return vec![(
            "kind".into(),
            format!(
                "weft does not act on {kind} resources yet: this one is checked, and otherwise ignored"
            ),
        )];
    }
    let patterns: Vec<Vec<&str>> = patterns.iter().map(|p| split(p)).collect();
    let mut out = Vec::new();
    root.walk(&mut |path, entry| {
        let segs = pattern_segments(path);
        if !matches!(segs.first().copied(), Some("spec")) || segs.len() < 2 {
            return segs.first().copied() == Some("spec");
        }
        match coverage(&patterns, &segs) {
            Coverage::Whole => false,
            Coverage::Partly => true,
            Coverage::None => {
                if !is_empty(entry) {
                    let name = path.last_key().unwrap_or_default();
                    out.push((path.to_string(), format!("weft does not implement `{name}` here yet: it is checked, and otherwise ignored")));
                }
                false
            }
        }
    });
    out.extend(values(kind, root));
    out
}

/// Values weft does not act on, where the field itself is implemented.
fn values(kind: Kind, root: &Node) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if kind == Kind::ServiceEntry
        && let Some(r) = root.get(&FieldPath::parse("spec.resolution"))
        && let weft_yaml::NodeKind::Scalar(Scalar::Str(v)) = &r.kind
        && v != "STATIC"
    {
        out.push((
            "spec.resolution".into(),
            format!("weft sends ServiceEntry traffic to the IP addresses of its endpoints (STATIC); `{v}` resolution is not implemented yet"),
        ));
    }
    if kind == Kind::VirtualService {
        root.walk(&mut |path, entry| {
            if path.pattern() == "spec.http[].retries.retryOn"
                && let weft_yaml::NodeKind::Scalar(Scalar::Str(list)) = &entry.value.kind
            {
                for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if item.parse::<u16>().is_err()
                        && crate::kinds::istio::retry_condition(item).is_none()
                    {
                        out.push((
                            path.to_string(),
                            format!(
                                "weft does not retry on `{item}` yet: that condition is left out"
                            ),
                        ));
                    }
                }
            }
            true
        });
    }
    if kind == Kind::AuthorizationPolicy {
        if let Some(a) = root.get(&FieldPath::parse("spec.action"))
            && matches!(&a.kind, weft_yaml::NodeKind::Scalar(Scalar::Str(s)) if s == "CUSTOM")
        {
            out.push((
                "spec.action".into(),
                "weft does not implement external authorization (CUSTOM) yet: it denies every request this policy would send to its provider".into(),
            ));
        }
        root.walk(&mut |path, entry| {
            if path.last_key() == Some("key")
                && matches!(&entry.value.kind, weft_yaml::NodeKind::Scalar(Scalar::Str(k)) if k.starts_with("request.auth."))
            {
                out.push((
                    path.to_string(),
                    "weft does not validate JWTs yet (RequestAuthentication): a condition on `request.auth.*` never holds".into(),
                ));
            }
            true
        });
    }
    if kind == Kind::Telemetry {
        root.walk(&mut |path, entry| {
            if path.pattern() == "spec.tracing[].providers[].name"
                && let weft_yaml::NodeKind::Scalar(Scalar::Str(name)) = &entry.value.kind
            {
                out.push((
                    path.to_string(),
                    format!("weft sends spans to its one collector (`weft control --tracing-otlp-endpoint`); provider `{name}` is not looked up"),
                ));
            }
            true
        });
    }
    gateways::values(kind, root, &mut out);
    mesh::values(kind, root, &mut out);
    out
}

enum Coverage {
    /// A pattern covers this node and all below it.
    Whole,
    /// Some pattern covers something below it.
    Partly,
    None,
}

fn coverage(patterns: &[Vec<&str>], path: &[&str]) -> Coverage {
    let mut partly = false;
    for p in patterns {
        let exact_only = p.last().is_some_and(|s| s.ends_with('!'));
        let p: Vec<&str> = p.iter().map(|s| s.trim_end_matches('!')).collect();
        let common = p.len().min(path.len());
        if !(0..common).all(|i| p[i] == "*" || p[i] == path[i]) {
            continue;
        }
        if path.len() > p.len() && exact_only {
            continue;
        }
        if path.len() == p.len() && exact_only {
            // The node is fine; what is under it is judged on its own.
            partly = true;
        } else if path.len() >= p.len() {
            return Coverage::Whole;
        } else {
            partly = true;
        }
    }
    if partly {
        Coverage::Partly
    } else {
        Coverage::None
    }
}

fn split(pattern: &str) -> Vec<&str> {
    pattern
        .split('.')
        .flat_map(|s| match s.strip_suffix("[]") {
            Some(k) => vec![k, "[]"],
            None => vec![s],
        })
        .collect()
}

/// `spec.http[2].route` → `["spec", "http", "[]", "route"]`.
fn pattern_segments(path: &FieldPath) -> Vec<&str> {
    path.segments()
        .iter()
        .map(|s| match s {
            Segment::Key(k) => k.as_str(),
            Segment::Index(_) => "[]",
        })
        .collect()
}

/// A field written with nothing in it (`exportTo: []`) asks for nothing.
fn is_empty(entry: &Entry) -> bool {
    match &entry.value.kind {
        weft_yaml::NodeKind::Scalar(Scalar::Null) => true,
        weft_yaml::NodeKind::Seq(items) => items.is_empty(),
        weft_yaml::NodeKind::Map(entries) => entries.is_empty(),
        weft_yaml::NodeKind::Scalar(_) => false,
    }
}
