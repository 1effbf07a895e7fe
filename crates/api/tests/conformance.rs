//! Real configuration written by other projects (`../shared/conformance`):
//! every valid file loads with no error, and every "as printed" slide
//! config is rejected with an error that names the line and what slipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use weft_api::{ResourceSet, Severity};

fn conformance() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance");
    assert!(
        dir.is_dir(),
        "{} is missing: the conformance inputs live in ../shared beside the repository",
        dir.display()
    );
    dir
}

/// Every config file under `dir`, recursively, whatever its extension
/// (`.yml` too), skipping non-config files such as `.swagger`.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn every_valid_file_loads_without_error() {
    let root = conformance();
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in ["istio", "linkerd", "seeds/valid"] {
        for file in files(&root.join(dir)) {
            let set = ResourceSet::load_paths(&[&file]);
            checked += 1;
            if set.has_errors() || set.resources.is_empty() {
                failures.push(format!(
                    "{}: {} resources;\n  {}",
                    file.display(),
                    set.resources.len(),
                    set.findings
                        .iter()
                        .map(|f| format!("{}: {f}", f.severity))
                        .collect::<Vec<_>>()
                        .join("\n  ")
                ));
            }
            for f in set
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Warning)
            {
                eprintln!("warning: {f}");
            }
        }
    }
    assert!(
        checked >= 40,
        "only {checked} files found under {}",
        root.display()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} files failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Loads one invalid seed and returns its error lines as `line: message`.
fn errors(name: &str) -> Vec<String> {
    let set = ResourceSet::load_paths(&[conformance().join("seeds/invalid").join(name)]);
    let errors: Vec<String> = set
        .errors()
        .map(|f| {
            format!(
                "{}: {}{}",
                f.line.unwrap_or(0),
                f.path
                    .as_deref()
                    .map(|p| format!("{p}: "))
                    .unwrap_or_default(),
                f.message
            )
        })
        .collect();
    assert!(!errors.is_empty(), "{name} loaded without error");
    errors
}

fn assert_has(errors: &[String], line_and_text: &str) {
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with(line_and_text) || e.contains(line_and_text)),
        "no error like {line_and_text:?} in:\n{}",
        errors.join("\n")
    );
}

#[test]
fn weight_indented_into_destination_says_to_un_indent_it() {
    let e = errors("reviews-50-50-as-printed.yaml");
    assert_has(
        &e,
        "13: spec.http[0].route[0].destination.weight: unknown field `weight` in `spec.http[0].route[0].destination`; it belongs to `spec.http[0].route[0]`: un-indent it to line up with `destination:`",
    );
    assert_has(&e, "17: spec.http[0].route[1].destination.weight");
}

#[test]
fn timeout_in_a_route_entry_belongs_to_the_rule() {
    let e = errors("reviews-timeout-as-printed.yaml");
    assert_has(
        &e,
        "13: spec.http[0].route[0].timeout: unknown field `timeout` in `spec.http[0].route[0]`; it belongs to `spec.http[0]`: un-indent it to line up with `route:`",
    );
}

#[test]
fn mirror_in_a_route_entry_belongs_to_the_rule() {
    let e = errors("reviews-mirror-as-printed.yaml");
    assert_has(&e, "13: spec.http[0].route[0].destination.weight");
    assert_has(
        &e,
        "14: spec.http[0].route[0].mirror: unknown field `mirror` in `spec.http[0].route[0]`; it belongs to `spec.http[0]`",
    );
}

#[test]
fn a_nested_route_item_should_start_a_new_rule() {
    for name in [
        "ratings-abort-as-printed.yaml",
        "ratings-delay-as-printed.yaml",
    ] {
        let e = errors(name);
        assert_has(
            &e,
            "22: spec.http[0].route[1].route: unknown field `route` in `spec.http[0].route[1]`; `route` is a field of each item of `spec.http`: to start another item, indent `- route:` like `- match:` on line 9",
        );
    }
}

#[test]
fn a_header_not_indented_under_headers_is_caught() {
    let e = errors("ratings-delay-as-printed.yaml");
    assert_has(
        &e,
        "11: spec.http[0].match[0].end-user: unknown field `end-user` in `spec.http[0].match[0]`; `headers:` on line 10 is empty: if `end-user` belongs under it, indent it two more spaces",
    );
}

#[test]
fn a_misindented_to_is_reported_on_its_line() {
    let e = errors("details-viewer-as-printed.yaml");
    assert!(e.iter().any(|l| l.starts_with("14:")), "{e:?}");
}
