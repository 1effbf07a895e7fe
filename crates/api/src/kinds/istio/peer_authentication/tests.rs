use crate::Spec;

use super::{MutualTls, MutualTlsMode};

fn findings(yaml: &str) -> Vec<String> {
    crate::load::checked_messages("pa.yaml", yaml)
}

/// `spec` under a PeerAuthentication header: its first line is line 5.
fn policy(spec: &str) -> String {
    format!(
        "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {{ name: default, namespace: foo }}\nspec:\n{spec}"
    )
}

#[test]
fn reference_examples_load_clean() {
    // The examples of the PeerAuthentication reference (istio/api
    // `peer_authentication.proto`).
    let set = crate::load::checked(
        "pa.yaml",
        "apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: default
  namespace: foo
spec:
  mtls:
    mode: PERMISSIVE
---
apiVersion: security.istio.io/v1beta1
kind: PeerAuthentication
metadata:
  name: finance
  namespace: foo
spec:
  selector:
    matchLabels:
      app: finance
  mtls:
    mode: STRICT
  portLevelMtls:
    8080:
      mode: DISABLE
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata:
  name: finance-unset
  namespace: foo
spec:
  selector:
    matchLabels:
      app: finance
  mtls:
    mode: UNSET
  port_level_mtls:
    8080:
      mode: DISABLE
",
    );
    let m: Vec<String> = set
        .findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect();
    assert!(m.is_empty(), "{m:#?}");
    let Spec::PeerAuthentication(p) = &set.resources[1].spec else {
        panic!("not a PeerAuthentication")
    };
    assert_eq!(p.mtls.and_then(|m| m.mode), Some(MutualTlsMode::Strict));
    let ports: Vec<(u16, &MutualTls)> = p.port_level().collect();
    assert_eq!(
        ports,
        [(
            8080,
            &MutualTls {
                mode: Some(MutualTlsMode::Disable)
            }
        )]
    );
}

#[test]
fn port_level_mtls_needs_a_selector_and_port_keys() {
    let m = findings(&policy(
        "  mtls: { mode: STRICT }\n  portLevelMtls:\n    http:\n      mode: DISABLE\n    \"70000\": { mode: PERMISSIVE }\n",
    ));
    assert_eq!(
        m,
        [
            "error: pa.yaml:6: spec.portLevelMtls: `portLevelMtls` only applies to selected workloads (a namespace- or mesh-wide policy has no ports of its own); add `selector.matchLabels`, or set `mtls` instead",
            "error: pa.yaml:7: spec.portLevelMtls.http: `http` is not a port; key `portLevelMtls` by the workload's port number, from 1 to 65535, such as `8080:`",
            "error: pa.yaml:9: spec.portLevelMtls.70000: `70000` is not a port; key `portLevelMtls` by the workload's port number, from 1 to 65535, such as `8080:`",
        ]
    );
}

#[test]
fn typos_and_unknown_modes_are_reported() {
    let m = findings(&policy("  mtls:\n    mdoe: STRICT\n"));
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("error: pa.yaml:6: spec.mtls.mdoe: unknown field `mdoe`"),
        "{m:#?}"
    );
    let m = findings(&policy("  mtls:\n    mode: STRICTER\n"));
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("error: pa.yaml:6: spec.mtls.mode: "),
        "{m:#?}"
    );
    assert!(m[0].contains("STRICTER"), "{m:#?}");
}

#[test]
fn selectors_without_labels_warn() {
    let m = findings(&policy("  selector: {}\n  mtls: { mode: STRICT }\n"));
    assert_eq!(
        m,
        [
            "warning: pa.yaml:5: spec.selector: the selector has no `matchLabels`, so it selects every workload in the namespace; add labels such as `app: reviews`, or remove `selector`"
        ]
    );
}
