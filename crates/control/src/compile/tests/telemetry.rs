//! Istio `Telemetry` access logging and tracing, scoped as Istio scopes
//! it: mesh-wide from the root namespace, then the namespace, then a
//! workload selector.

use weft_proto::config::{OtlpExporter, OtlpProtocol, Tracing};
use weft_proto::resources::{ACCESS_LOG, PEER_AUTHENTICATION_NAME, TRACING};

use super::*;

const TELEMETRY: &str = "
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: envoy }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: quiet, namespace: quiet }
spec:
  accessLogging:
  - disabled: true
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: loud-reviews, namespace: quiet }
spec:
  selector: { matchLabels: { app: reviews } }
  accessLogging:
  - providers: [{ name: envoy }]
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: tracing-only, namespace: traced }
spec:
  tracing:
  - randomSamplingPercentage: 10
";

/// What the compiler pushes to a newly connected `app` proxy in `ns`.
fn view_of(c: &Compiler, ns: &str, app: &str) -> Arc<View> {
    let n = node(&format!("{app}-{ns}"), ns, &[("app", app)], "198.18.3.3");
    c.proxy_connected(&n);
    c.rebuild();
    c.view(&n)
}

fn logs(c: &Compiler, ns: &str, app: &str) -> bool {
    view_of(c, ns, app)
        .resources
        .keys()
        .any(|(t, _)| t == ACCESS_LOG)
}

#[test]
fn the_most_specific_telemetry_decides_access_logging() {
    let c = compiler(TELEMETRY);
    // Mesh-wide on.
    assert!(logs(&c, "default", "productpage"));
    // A namespace without access logging settings inherits the mesh's.
    assert!(logs(&c, "traced", "ratings"));
    // The namespace turns it off...
    assert!(!logs(&c, "quiet", "details"));
    // ...and a workload selector back on.
    assert!(logs(&c, "quiet", "reviews"));
}

#[test]
fn without_telemetry_no_proxy_logs() {
    let c = compiler(
        "apiVersion: v1\nkind: Service\nmetadata: { name: a }\nspec: { selector: { app: a }, ports: [{ name: http, port: 80 }] }\n",
    );
    assert!(!logs(&c, "default", "a"));
}

const TRACING_TELEMETRY: &str = "
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - randomSamplingPercentage: 10
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: shop, namespace: shop }
spec:
  tracing:
  - randomSamplingPercentage: 50
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: checkout, namespace: shop }
spec:
  selector: { matchLabels: { app: checkout } }
  tracing:
  - randomSamplingPercentage: 100
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: quiet, namespace: quiet }
spec:
  tracing:
  - disableSpanReporting: true
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: loud-reviews, namespace: quiet }
spec:
  selector: { matchLabels: { app: reviews } }
  tracing:
  - disableSpanReporting: false
";

/// What `weft control --tracing-otlp-endpoint 127.0.0.1:4317
/// --tracing-sampling 1` gives the compiler.
fn mesh_tracing() -> Tracing {
    Tracing {
        otlp: OtlpExporter {
            endpoint: "127.0.0.1:4317".into(),
            protocol: OtlpProtocol::Grpc,
        },
        sampling: 1.0,
        max_path_tag_length: 256,
    }
}

/// The tracing pushed to an `app` proxy in `ns`, if any.
fn tracing(c: &Compiler, ns: &str, app: &str) -> Option<Tracing> {
    let view = view_of(c, ns, app);
    view.resources
        .contains_key(&(TRACING.into(), PEER_AUTHENTICATION_NAME.into()))
        .then(|| match decoded(&view, TRACING, PEER_AUTHENTICATION_NAME) {
            Typed::Tracing(t) => t,
            other => panic!("{other:?}"),
        })
}

fn sampling(c: &Compiler, ns: &str, app: &str) -> Option<f64> {
    tracing(c, ns, app).map(|t| t.sampling)
}

#[test]
fn without_telemetry_every_proxy_samples_at_the_mesh_flag() {
    let c = compiler(TELEMETRY);
    c.set_tracing(Some(mesh_tracing()));
    assert_eq!(tracing(&c, "default", "productpage"), Some(mesh_tracing()));
    assert_eq!(sampling(&c, "quiet", "details"), Some(1.0));
}

#[test]
fn the_most_specific_telemetry_sets_the_sampling_percentage() {
    let c = compiler(TRACING_TELEMETRY);
    c.set_tracing(Some(mesh_tracing()));
    // Mesh-wide from the root namespace; the collector stays the flag's.
    let t = tracing(&c, "default", "productpage").expect("traced");
    assert_eq!(t.sampling, 10.0);
    assert_eq!(t.otlp, mesh_tracing().otlp);
    // The namespace's, then the workload's.
    assert_eq!(sampling(&c, "shop", "cart"), Some(50.0));
    assert_eq!(sampling(&c, "shop", "checkout"), Some(100.0));
    // A level that sets only span reporting inherits the percentage.
    assert_eq!(sampling(&c, "quiet", "reviews"), Some(10.0));
}

#[test]
fn disable_span_reporting_turns_tracing_off_and_a_workload_back_on() {
    let c = compiler(TRACING_TELEMETRY);
    c.set_tracing(Some(mesh_tracing()));
    assert_eq!(tracing(&c, "quiet", "details"), None);
    assert_eq!(sampling(&c, "quiet", "reviews"), Some(10.0));
}

#[test]
fn without_a_collector_telemetry_tracing_stays_off() {
    let c = compiler(TRACING_TELEMETRY);
    for (ns, app) in [("default", "productpage"), ("shop", "checkout")] {
        assert_eq!(tracing(&c, ns, app), None);
    }
}
