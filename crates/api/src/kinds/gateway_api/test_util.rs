//! Helpers for the Gateway API kinds' tests.

use crate::ResourceSet;

/// Loads `yaml` as the file `gw.yaml`.
pub(crate) fn load(yaml: &str) -> ResourceSet {
    crate::load::checked("gw.yaml", yaml)
}

/// Every finding as `severity: file:line: path: message`.
pub(crate) fn findings(yaml: &str) -> Vec<String> {
    load(yaml)
        .findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect()
}

/// Asserts `yaml` loads with no finding at all.
#[track_caller]
pub(crate) fn assert_clean(yaml: &str) {
    let set = load(yaml);
    let all: Vec<String> = set
        .findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect();
    assert!(all.is_empty(), "{all:#?}");
    assert!(!set.resources.is_empty());
}

/// Asserts some finding contains every one of `parts`.
#[track_caller]
pub(crate) fn assert_finding(yaml: &str, parts: &[&str]) {
    let all = findings(yaml);
    assert!(
        all.iter().any(|f| parts.iter().all(|p| f.contains(p))),
        "no finding with {parts:?} in {all:#?}"
    );
}
