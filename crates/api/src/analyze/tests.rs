use super::*;

const SERVICES: &str = "
apiVersion: v1
kind: Service
metadata: { name: reviews }
spec:
  selector: { app: reviews }
  ports: [{ name: http, port: 9080 }]
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: reviews-v1 }
spec:
  selector: { matchLabels: { app: reviews, version: v1 } }
  template:
    metadata: { labels: { app: reviews, version: v1 } }
    spec: { containers: [{ name: reviews, image: reviews }] }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
";

/// Loads `SERVICES` plus `extra` (as `extra.yaml`) and returns what
/// analysis says, as `severity code file:line: path: message`.
fn analyzed(extra: &str) -> Vec<String> {
    let mut set = ResourceSet::from_text("svc.yaml", SERVICES);
    let more = ResourceSet::from_text("extra.yaml", extra);
    assert!(!more.has_errors(), "{:?}", more.findings);
    set.resources.extend(more.resources);
    analyze(&set)
        .iter()
        .map(|f| format!("{} {} {f}", f.severity, f.code))
        .collect()
}

fn vs(body: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{ name: vs }}\nspec:\n{body}"
    )
}

#[test]
fn a_sound_set_has_nothing_to_say() {
    let out = analyzed(&vs("  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews.default.svc.cluster.local, subset: v1 }
"));
    assert!(out.is_empty(), "{out:?}");
}

#[test]
fn a_destination_no_service_backs_is_an_error() {
    let out = analyzed(&vs("  hosts: [reviews]
  http:
  - route:
    - destination: { host: reveiws }
"));
    assert_eq!(
        out,
        [
            "error host-not-found extra.yaml:8: spec.http[0].route[0].destination.host: no Service or ServiceEntry defines host `reveiws.default.svc.cluster.local`; check the name, or add the Service or ServiceEntry"
        ]
    );
}

#[test]
fn a_dotted_short_name_gets_the_fqdn_hint() {
    let out = analyzed(&vs("  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews.default }
"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].contains("write `reviews.default.svc.cluster.local` or the short name"),
        "{out:?}"
    );
}

#[test]
fn an_undefined_subset_names_the_rule_and_what_it_defines() {
    let out = analyzed(&vs("  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v3 }
"));
    assert_eq!(
        out,
        [
            "error subset-not-found extra.yaml:8: spec.http[0].route[0].destination.subset: subset `v3` is not defined by DestinationRule default/reviews (svc.yaml:23); it defines `v1` or `v2`"
        ]
    );
}

#[test]
fn two_virtual_services_claiming_one_host_conflict() {
    let a = vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: { host: reviews }\n");
    let b = a.replace("name: vs", "name: vs2").replace(
        "hosts: [reviews]",
        "hosts: [reviews.default.svc.cluster.local]",
    );
    let out = analyzed(&format!("{a}---\n{b}"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with("error conflicting-hosts extra.yaml:14: spec.hosts[0]: host `reviews.default.svc.cluster.local` is already claimed by VirtualService default/vs (extra.yaml:5)"),
        "{out:?}"
    );
}

#[test]
fn routing_one_service_twice_says_which_weft_ignores() {
    let route = "---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ group: '', kind: Service, name: reviews }]
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
";
    let split = "---
apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: { name: s }
spec: { service: reviews, backends: [{ service: reviews, weight: 1 }] }
";
    let second = split.replace("name: s }", "name: s2 }");
    let out = analyzed(&format!("{}{split}{second}", &route[4..]));
    assert_eq!(out.len(), 2, "{out:?}");
    assert!(out.iter().any(|f| f.starts_with("warning overlapping-routing extra.yaml:5: spec.parentRefs[0]: TrafficSplit default/s (extra.yaml:")
        && f.contains("weft follows the TrafficSplit and ignores this HTTPRoute")), "{out:?}");
    assert!(
        out.iter()
            .any(|f| f.contains("weft follows the first TrafficSplit")),
        "{out:?}"
    );

    let with_vs = format!(
        "{}{route}",
        vs(
            "  hosts: [reviews]\n  http:\n  - route:\n    - destination: { host: reviews, subset: v1 }\n"
        )
    );
    let out = analyzed(&with_vs);
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].contains("VirtualService default/vs (extra.yaml:4) also routes `reviews.default.svc.cluster.local`; weft follows the VirtualService and ignores this HTTPRoute"), "{out:?}");
}

#[test]
fn an_unknown_gateway_is_an_error() {
    let out = analyzed(&vs("  hosts: ['*']
  gateways: [bookinfo-gateway, mesh]
  http:
  - route:
    - destination: { host: reviews }
"));
    assert_eq!(
        out,
        [
            "error gateway-not-found extra.yaml:6: spec.gateways[0]: no Gateway `default/bookinfo-gateway`; define it, fix the name, or write `namespace/name` for a Gateway in another namespace"
        ]
    );
}

#[test]
fn a_selector_that_matches_no_workload_is_a_warning() {
    let out = analyzed(
        "apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: p }
spec:
  selector: { matchLabels: { app: reveiws } }
  action: ALLOW
",
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].starts_with("warning selector-matches-nothing extra.yaml:5: spec.selector.matchLabels: no workload in namespace `default` has labels `app=reveiws`"),
        "{out:?}"
    );
}

#[test]
fn a_port_name_without_a_protocol_is_a_warning() {
    let out = analyzed(
        "apiVersion: v1
kind: Service
metadata: { name: catalog }
spec:
  selector: { app: reviews }
  ports: [{ name: '3550', port: 3550 }]
",
    );
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("warning port-name extra.yaml:6: spec.ports[0].name: port name `3550` does not name a protocol"), "{out:?}");
}

#[test]
fn delegates_that_do_not_exist_or_are_not_delegates_drop_their_rule() {
    let got = analyzed(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: root }
spec:
  hosts: [reviews]
  http:
  - match: [{ uri: { prefix: /a } }]
    delegate: { name: team-a }
  - match: [{ uri: { prefix: /b } }]
    delegate: { name: nowhere }
  - match: [{ uri: { prefix: /c } }]
    delegate: { name: other-root }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: team-a }
spec:
  http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: other-root }
spec:
  hosts: [other.example.com]
  http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: orphan }
spec:
  http: [{ route: [{ destination: { host: reviews, subset: v1 } }] }]
",
    );
    let ours: Vec<&String> = got.iter().filter(|f| f.contains("delegate")).collect();
    assert_eq!(
        ours,
        [
            "warning delegate-not-found extra.yaml:10: spec.http[1].delegate: VirtualService default/nowhere does not exist; add it or fix the name and namespace: this rule is dropped until then",
            "warning delegate-not-found extra.yaml:12: spec.http[2].delegate: VirtualService default/other-root has `hosts`, so it is not a delegate (delegates name no hosts); remove its hosts or point at a VirtualService without them: this rule is dropped until then",
            "warning unused-delegate extra.yaml:30: spec: this VirtualService has no hosts, so it only routes as a delegate, and no root VirtualService names it in a `delegate`",
        ],
        "{got:#?}"
    );
}

#[test]
fn a_service_profile_wins_over_mesh_routes_and_loses_to_a_virtual_service() {
    let route = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ group: '', kind: Service, name: reviews }]
  rules: [{ backendRefs: [{ name: reviews, port: 9080 }] }]
";
    let profile = "---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: { name: reviews.default.svc.cluster.local }
spec: { routes: [{ name: all, condition: { pathRegex: '.*' } }] }
";
    let out = analyzed(&format!("{route}{profile}"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].contains("weft follows the ServiceProfile and ignores this HTTPRoute"),
        "{out:?}"
    );
    let vs = vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: { host: reviews }\n");
    let out = analyzed(&format!("{vs}{profile}"));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].contains("weft follows the VirtualService and ignores this ServiceProfile"),
        "{out:?}"
    );
}

#[test]
fn telemetry_tracing_without_a_collector_is_a_warning_naming_the_flag() {
    let set = ResourceSet::from_text(
        "t.yaml",
        "apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - randomSamplingPercentage: 10
---
apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: quiet, namespace: quiet }
spec:
  tracing:
  - disableSpanReporting: true
",
    );
    assert!(!set.has_errors(), "{:?}", set.findings);
    let codes = |collector| {
        let env = Environment {
            running: &[],
            tracing_collector: collector,
        };
        analyze_with(&set, &env)
            .iter()
            .map(|f| format!("{} {f}", f.code))
            .collect::<Vec<_>>()
    };
    // `weft analyze` alone cannot know the control plane's flags.
    assert_eq!(codes(None), Vec::<String>::new());
    assert_eq!(codes(Some(true)), Vec::<String>::new());
    // Only the one that would turn tracing on is told; turning it off
    // needs no collector.
    let out = codes(Some(false));
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(out[0].starts_with("tracing-without-collector"), "{out:?}");
    assert!(out[0].contains("istio-system/mesh-default"), "{out:?}");
    assert!(out[0].contains("--tracing-otlp-endpoint"), "{out:?}");
}
