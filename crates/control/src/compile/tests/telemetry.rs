//! Istio `Telemetry` access logging, scoped as Istio scopes it: mesh-wide
//! from the root namespace, then the namespace, then a workload selector.

use weft_proto::resources::ACCESS_LOG;

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

fn logs(c: &Compiler, ns: &str, app: &str) -> bool {
    let n = node(&format!("{app}-{ns}"), ns, &[("app", app)], "198.18.3.3");
    c.proxy_connected(&n);
    c.rebuild();
    let view = c.view(&n);
    view.resources.keys().any(|(t, _)| t == ACCESS_LOG)
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
