use std::path::{Path, PathBuf};

use weft_api::ResourceSet;

use super::{Expand, Plan, PlanError};

const BOOKINFO: &str = include_str!("../../../../samples/bookinfo/bookinfo.yaml");
const IMAGES: &str = include_str!("../../../../samples/bookinfo/local-images.yaml");

/// A directory holding an executable `weft-sample`, as weft's bin dir.
fn bin_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("weft-sample");
    std::fs::write(&bin, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn plan(files: &[(&str, &str)], bin: &Path) -> Result<Plan, PlanError> {
    let mut set = ResourceSet::builder();
    for (name, text) in files {
        set.add_text(name, text);
    }
    set.finish();
    assert!(
        !set.has_errors(),
        "{:?}",
        set.errors().map(|f| f.message.clone()).collect::<Vec<_>>()
    );
    Plan::from_resources(&set.resources, bin)
}

#[test]
fn bookinfo_runs_unchanged_with_its_image_map() {
    let bin = bin_dir();
    let plan = plan(
        &[("bookinfo.yaml", BOOKINFO), ("images.yaml", IMAGES)],
        bin.path(),
    )
    .unwrap();
    let got: Vec<(&str, &str, &str, Vec<u16>)> = plan
        .workloads
        .iter()
        .map(|w| {
            (
                w.name.as_str(),
                w.service_account.as_str(),
                w.labels["version"].as_str(),
                w.ports.iter().map(|p| p.port).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("details-v1", "bookinfo-details", "v1", vec![9080]),
            ("ratings-v1", "bookinfo-ratings", "v1", vec![9080]),
            ("reviews-v1", "bookinfo-reviews", "v1", vec![9080]),
            ("reviews-v2", "bookinfo-reviews", "v2", vec![9080]),
            ("reviews-v3", "bookinfo-reviews", "v3", vec![9080]),
            ("productpage-v1", "bookinfo-productpage", "v1", vec![9080]),
        ]
    );
    let reviews = &plan.workloads[3];
    let c = &reviews.containers[0];
    assert_eq!(c.program, bin.path().join("weft-sample"));
    assert_eq!(
        c.args,
        [
            "reviews",
            "--version",
            "v2",
            "--name",
            "$(POD_NAME)",
            "--listen",
            "$(WEFT_LISTEN)"
        ]
    );
    // The container's own env is kept.
    assert!(c.env.contains(&("LOG_DIR".into(), "/tmp/logs".into())));
    assert_eq!(reviews.pod_name(0), "reviews-v2-0");
}

#[test]
fn a_container_command_replaces_the_entrypoint_and_args_the_cmd() {
    let bin = bin_dir();
    let deploy = |container: &str| {
        format!(
            "apiVersion: apps/v1
kind: Deployment
metadata: {{ name: d }}
spec:
  template:
    metadata: {{ labels: {{ app: d }} }}
    spec:
      containers:
      - name: c
        image: example/app:1.0
{container}"
        )
    };
    let image = "apiVersion: weft.dev/v1alpha1
kind: LocalImage
metadata: { name: app }
spec: { image: example/app, command: [weft-sample, serve], args: [--default] }
";
    for (container, want) in [
        ("", vec!["serve", "--default"]),
        ("        args: [--mine]\n", vec!["serve", "--mine"]),
        ("        command: [weft-sample, other]\n", vec!["other"]),
        (
            "        command: [weft-sample, other]\n        args: [--x]\n",
            vec!["other", "--x"],
        ),
    ] {
        let plan = plan(
            &[("d.yaml", &deploy(container)), ("i.yaml", image)],
            bin.path(),
        )
        .unwrap();
        assert_eq!(plan.workloads[0].containers[0].args, want, "{container}");
        assert_eq!(plan.workloads[0].service_account, "default");
    }
}

#[test]
fn an_unmapped_image_names_the_line_and_the_fix() {
    let bin = bin_dir();
    let err = plan(&[("bookinfo.yaml", BOOKINFO)], bin.path()).unwrap_err();
    let text = err.to_string();
    assert_eq!(err.problems.len(), 6, "{text}");
    assert!(
        text.contains("bookinfo.yaml:77: Deployment default/details-v1 container `details`: no LocalImage says what to run for image `registry.istio.io/release/examples-bookinfo-details-v1:1.20.3`; add a `kind: LocalImage` with `image: registry.istio.io/release/examples-bookinfo-details-v1`"),
        "{text}"
    );
}

#[test]
fn a_missing_command_names_the_workload_and_the_fix() {
    let bin = bin_dir();
    let w = "apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: { name: ghost, namespace: demo }
spec:
  command: [no-such-program-anywhere, --flag]
";
    let err = plan(&[("w.yaml", w)], bin.path()).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "w.yaml:5: Workload demo/ghost: the command `no-such-program-anywhere` was not found in"
        ),
        "{err}"
    );
    assert!(err.contains("install it, or give its full path"), "{err}");

    let w = w.replace("no-such-program-anywhere", "./not/here");
    let err = plan(&[("w.yaml", &w)], bin.path()).unwrap_err().to_string();
    assert!(
        err.contains("the command `./not/here` does not exist"),
        "{err}"
    );
}

#[test]
fn two_workloads_with_one_name_are_refused() {
    let bin = bin_dir();
    let w = |file_line: &str| {
        format!(
            "apiVersion: weft.dev/v1alpha1
kind: Workload
metadata: {{ name: details-v1, labels: {{ from: \"{file_line}\" }} }}
spec: {{ command: [weft-sample, details] }}
"
        )
    };
    let err = plan(
        &[
            ("a.yaml", &w("a")),
            ("bookinfo.yaml", BOOKINFO),
            ("images.yaml", IMAGES),
        ],
        bin.path(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("Deployment default/details-v1 has the name of Workload default/details-v1 (a.yaml:1); pods are named after their workload, so rename one of them"),
        "{err}"
    );
}

#[test]
fn expansion_follows_kubernetes() {
    let mut vars = Expand::default();
    vars.set("PORT", "9080");
    vars.set("WEFT_LISTEN", "0.0.0.0:$(PORT)");
    for (input, want) in [
        ("--listen=$(WEFT_LISTEN)", "--listen=0.0.0.0:9080"),
        ("$(PORT)$(PORT)", "90809080"),
        ("$$(PORT)", "$(PORT)"),
        ("$(UNDEFINED)", "$(UNDEFINED)"),
        ("cost: $5", "cost: $5"),
        ("$(PORT", "$(PORT"),
        ("$", "$"),
    ] {
        assert_eq!(vars.expand(input), want, "{input}");
    }
}

#[test]
fn programs_are_found_in_the_bin_dir_then_on_path() {
    let bin = bin_dir();
    assert_eq!(
        super::find_program("weft-sample", bin.path()).unwrap(),
        bin.path().join("weft-sample")
    );
    let sh = super::find_program("sh", bin.path()).unwrap();
    assert!(sh.is_absolute() && sh.ends_with("sh"), "{sh:?}");
    assert_eq!(
        super::find_program("/bin/sh", Path::new("/nonexistent")).unwrap(),
        PathBuf::from("/bin/sh")
    );
}
