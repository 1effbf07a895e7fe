//! Istio `Telemetry`: what loads, what is warned about, what is refused.

#[test]
fn telemetry_access_logging_and_tracing_are_read_and_the_rest_warned_about() {
    let set = crate::ResourceSet::from_text(
        "t.yaml",
        "apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  accessLogging:
  - providers: [{ name: envoy }]
  tracing:
  - randomSamplingPercentage: 10
  - providers: [{ name: zipkin }]
    disableSpanReporting: false
    customTags: { team: { literal: { value: a } } }
",
    );
    assert!(!set.has_errors(), "{:?}", set.findings);
    let warnings: Vec<String> = set.findings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("spec.tracing[1].providers[0].name")
            && warnings[0].contains("`zipkin` is not looked up"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("spec.tracing[1].customTags"),
        "{warnings:?}"
    );
    let crate::kinds::Spec::Telemetry(t) = &set.resources[0].spec else {
        panic!("not a Telemetry");
    };
    assert_eq!(t.access_logs(), Some(true));
    let tracing = t.tracing();
    assert_eq!(
        (tracing.sampling, tracing.disabled),
        (Some(10.0), Some(false))
    );
}

#[test]
fn a_sampling_percentage_outside_0_to_100_is_an_error_on_its_field() {
    let set = crate::ResourceSet::from_text(
        "t.yaml",
        "apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing:
  - randomSamplingPercentage: 150
",
    );
    let errors: Vec<String> = set
        .findings
        .iter()
        .filter(|f| f.is_error())
        .map(ToString::to_string)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("t.yaml")
            && errors[0].contains("spec.tracing[0].randomSamplingPercentage")
            && errors[0].contains("from 0 to 100"),
        "{errors:?}"
    );
}
