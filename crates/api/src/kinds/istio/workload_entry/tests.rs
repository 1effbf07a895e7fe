use crate::ResourceSet;
use crate::kinds::Spec;

fn load(yaml: &str) -> ResourceSet {
    crate::load::checked("we.yaml", yaml)
}

fn messages(set: &ResourceSet) -> Vec<String> {
    set.findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect()
}

/// A WorkloadEntry whose spec starts on line 5.
fn we(spec: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {{ name: w }}\nspec:\n{spec}"
    )
}

/// The examples in istio/api's `workload_entry.proto` reference.
const DOC_EXAMPLES: &str = r#"
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: details-svc
spec:
  # use of the service account indicates that the workload has a
  # sidecar proxy bootstrapped with this service account. Pods with
  # sidecars will automatically communicate with the workload using
  # istio mutual TLS.
  serviceAccount: details-legacy
  address: 2.2.2.2
  labels:
    app: details-legacy
    instance-id: vm1
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: details-svc-dns
spec:
  serviceAccount: details-legacy
  address: vm1.vpc01.corp.net
  labels:
    app: details-legacy
    instance-id: vm1
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: foo-workloads-cluster-2
spec:
  serviceAccount: foo
  network: cluster-2-network
  labels:
    app: foo
"#;

#[test]
fn documentation_examples_load_clean() {
    let set = load(DOC_EXAMPLES);
    assert!(set.findings.is_empty(), "{:#?}", messages(&set));
    assert_eq!(set.resources.len(), 3);
    let Spec::WorkloadEntry(w) = &set.resources[0].spec else {
        panic!("not a WorkloadEntry")
    };
    assert_eq!(w.address.as_deref(), Some("2.2.2.2"));
    assert_eq!(w.service_account.as_deref(), Some("details-legacy"));
    assert_eq!(w.labels["instance-id"], "vm1");
}

#[test]
fn every_field_reads_in_both_spellings() {
    let set = load(&we(
        "  address: 10.0.0.5\n  ports: { http: 8080, grpc: 9090 }\n  locality: us-east/zone1\n  weight: 5\n  network: net1\n  service_account: vm\n",
    ));
    assert!(set.findings.is_empty(), "{:#?}", messages(&set));
}

#[test]
fn address_is_required_unless_network_is_set() {
    let set = load(&we("  labels: { app: vm }\n"));
    assert_eq!(
        messages(&set),
        [
            "error: we.yaml:4: spec.address: an address is required; set `address` (an IP address) or, for a workload in another network, `network`"
        ]
    );
}

#[test]
fn ports_addresses_and_labels() {
    let set = load(&we("  address: vm_1.example.com
  ports:
    http: 0
    Bad_Port: 80
  labels:
    app.kubernetes.io/name: ok
    \"bad key!\": v
"));
    assert_eq!(
        messages(&set),
        [
            "error: we.yaml:5: spec.address: \"vm_1.example.com\" is neither an IP address nor a DNS name; write an IP such as `10.0.0.5` or a name such as `vm1.corp.example.com`",
            "error: we.yaml:7: spec.ports.http: 0 is not a port; use 1 to 65535",
            "error: we.yaml:8: spec.ports.Bad_Port: \"Bad_Port\" is not a valid port name; use up to 63 letters, digits and '-', starting and ending with a letter or digit, such as `http-web`",
            "error: we.yaml:11: spec.labels.bad key!: label key \"bad key!\" is invalid: the name must be 1 to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
        ]
    );
}

#[test]
fn unix_sockets_take_no_ports() {
    let set = load(&we(
        "  address: unix:///var/run/vm.sock\n  ports: { http: 80 }\n",
    ));
    assert_eq!(
        messages(&set),
        ["error: we.yaml:6: spec.ports: a Unix socket endpoint has no ports; remove `ports`"]
    );
    let set = load(&we("  address: unix://var/run/\n"));
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].starts_with("error: we.yaml:5: spec.address: \"var/run/\" is not an absolute path"),
        "{m:#?}"
    );
}

#[test]
fn typos_are_reported() {
    let set = load(&we("  address: 10.0.0.5\n  serviceAcount: vm\n"));
    let m = messages(&set);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(
        m[0].contains("we.yaml:6: spec.serviceAcount: unknown field `serviceAcount`"),
        "{m:#?}"
    );
    assert!(m[0].contains("did you mean `serviceAccount`?"), "{m:#?}");
}
