use super::*;

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata: { name: reviews }
spec: { selector: { app: reviews }, ports: [{ name: http, port: 9080 }] }
";

const RULE: &str = "apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets: [{ name: v1, labels: { version: v1 } }]
";

fn vs(subset: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{ name: reviews }}
spec:
  hosts: [reviews]
  http:
  - route: [{{ destination: {{ host: reviews, subset: {subset} }} }}]
"
    )
}

struct Fixture {
    dir: tempfile::TempDir,
    compiler: Arc<Compiler>,
    store: Arc<Store>,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join("config").join(name), text).unwrap();
        }
        let compiler = Compiler::new(Vec::new());
        let store = Store::open(
            compiler.clone(),
            vec![dir.path().join("config")],
            Some(&dir.path().join("state")),
        )
        .unwrap();
        compiler.rebuild();
        Self {
            dir,
            compiler,
            store,
        }
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.dir.path().join("config").join(name);
        std::fs::write(&path, text).unwrap();
        // Filesystem timestamps can be coarse: make the change visible.
        let later = SystemTime::now() + Duration::from_secs(1);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(later)
            .unwrap();
    }

    /// Polls until a change is read: the first poll only sees it, the
    /// second (the file held still) reads it.
    fn settle(&self) -> bool {
        assert!(
            !self.store.poll_files(),
            "a change is read only once the file holds still"
        );
        self.store.poll_files()
    }

    fn resources(&self) -> usize {
        self.compiler.rebuild();
        self.compiler.current().mesh.resources.len()
    }
}

#[test]
fn files_load_at_start() {
    let f = Fixture::new(&[("svc.yaml", SERVICE), ("dr.yaml", RULE)]);
    assert_eq!(f.resources(), 2);
    let status = f.store.status();
    assert_eq!((status.resources, status.files.len()), (2, 2));
    assert!(status.rejected.is_none());
}

#[test]
fn a_broken_edit_is_refused_whole_and_the_last_good_set_serves() {
    let f = Fixture::new(&[("svc.yaml", SERVICE), ("dr.yaml", RULE)]);
    f.write("vs.yaml", &vs("v9"));
    assert!(f.settle());
    assert_eq!(f.resources(), 2, "the subset does not exist: refused");
    let rejected = f.store.status().rejected.unwrap();
    assert_eq!(rejected.source, "files");
    let msg = rejected
        .findings
        .iter()
        .find(|f| f.is_error())
        .unwrap()
        .to_string();
    assert!(
        msg.contains(
            "vs.yaml:7: spec.http[0].route[0].destination.subset: subset `v9` is not defined"
        ),
        "{msg}"
    );
    assert!(
        !f.store.poll_files(),
        "an unchanged broken file is not judged again"
    );

    f.write("vs.yaml", &vs("v1"));
    assert!(f.settle());
    assert_eq!(f.resources(), 3);
    assert!(f.store.status().rejected.is_none());

    std::fs::remove_file(f.dir.path().join("config/vs.yaml")).unwrap();
    assert!(f.settle());
    assert_eq!(
        f.resources(),
        2,
        "a deleted file takes its resources with it"
    );
}

#[test]
fn a_file_caught_mid_write_is_not_judged() {
    let f = Fixture::new(&[("svc.yaml", SERVICE), ("dr.yaml", RULE)]);
    // An editor truncates, then writes: a poll in between sees an empty
    // file, which is valid config that would delete the rule.
    std::fs::write(f.dir.path().join("config/dr.yaml"), "").unwrap();
    assert!(!f.store.poll_files());
    f.write("dr.yaml", &RULE.replace("version: v1", "version: v2"));
    assert!(!f.store.poll_files(), "still moving: not read");
    assert_eq!(f.resources(), 2, "the rule was never taken away");
    assert!(f.store.poll_files(), "held still for a poll: read");
    assert_eq!(f.resources(), 2);
    assert!(f.store.status().rejected.is_none());

    // A file gone for one poll only (delete, then rewrite) is kept.
    let path = f.dir.path().join("config/dr.yaml");
    std::fs::remove_file(&path).unwrap();
    assert!(!f.store.poll_files());
    f.write("dr.yaml", RULE);
    assert!(!f.store.poll_files());
    assert_eq!(f.resources(), 2);
    assert!(f.store.poll_files());
    std::fs::remove_file(&path).unwrap();
    assert!(f.settle());
    assert_eq!(f.resources(), 1, "gone for good: its resources go too");
}

#[test]
fn applied_resources_are_checked_with_everything_and_survive_a_restart() {
    let f = Fixture::new(&[("svc.yaml", SERVICE), ("dr.yaml", RULE)]);
    let change = f.store.apply("vs.yaml", &vs("v1")).unwrap();
    assert_eq!(change.resources, ["VirtualService default/reviews"]);
    assert_eq!(f.resources(), 3);
    assert_eq!(f.store.status().applied, 1);

    let refused = f
        .store
        .apply(
            "bad.yaml",
            &format!(
                "{SERVICE}---\n{}",
                vs("v7").replace("name: reviews", "name: other")
            ),
        )
        .unwrap_err();
    let lines: Vec<String> = refused
        .findings
        .iter()
        .filter(|x| x.is_error())
        .map(ToString::to_string)
        .collect();
    assert!(
        lines.iter().any(|l| l
            .starts_with("bad.yaml:3: metadata.name: cannot apply Service default/reviews")
            && l.contains("edit the file instead")),
        "{lines:?}"
    );
    assert_eq!(f.resources(), 3, "nothing changed");

    // A new control plane on the same state directory.
    let compiler = Compiler::new(Vec::new());
    let again = Store::open(
        compiler.clone(),
        vec![f.dir.path().join("config")],
        Some(&f.dir.path().join("state")),
    )
    .unwrap();
    compiler.rebuild();
    assert_eq!(compiler.current().mesh.resources.len(), 3);
    assert_eq!(again.status().applied, 1);
}

#[test]
fn an_invalid_apply_names_the_senders_file_and_lines() {
    let f = Fixture::new(&[("svc.yaml", SERVICE), ("dr.yaml", RULE)]);
    let refused = f
        .store
        .apply("mine.yaml", &format!("# comment\n{}", vs("v3")))
        .unwrap_err();
    let msg: Vec<String> = refused
        .findings
        .iter()
        .filter(|x| x.is_error())
        .map(ToString::to_string)
        .collect();
    assert_eq!(msg.len(), 1, "{msg:?}");
    assert!(
        msg[0].starts_with("mine.yaml:8: spec.http[0].route[0].destination.subset"),
        "{msg:?}"
    );
    assert!(f.store.status().rejected.is_some());
    assert_eq!(f.resources(), 2);
}

#[test]
fn deletes_remove_applied_resources_unless_that_breaks_the_set() {
    let f = Fixture::new(&[("svc.yaml", SERVICE)]);
    f.store.apply("dr.yaml", RULE).unwrap();
    f.store.apply("vs.yaml", &vs("v1")).unwrap();
    assert_eq!(f.resources(), 3);

    let refused = f.store.delete("dr.yaml", RULE).unwrap_err();
    assert!(
        refused
            .findings
            .iter()
            .any(|x| x.code == "subset-not-found"),
        "{:?}",
        refused.findings
    );
    assert_eq!(f.resources(), 3);

    f.store.delete("vs.yaml", &vs("v1")).unwrap();
    f.store.delete("dr.yaml", RULE).unwrap();
    assert_eq!(f.resources(), 1);
    assert_eq!(
        std::fs::read_dir(f.dir.path().join("state/applied"))
            .unwrap()
            .count(),
        0
    );

    let refused = f.store.delete("dr.yaml", RULE).unwrap_err();
    assert!(
        refused.findings[0].message.contains("was never applied"),
        "{:?}",
        refused.findings
    );
    let refused = f.store.delete("svc.yaml", SERVICE).unwrap_err();
    assert!(
        refused.findings[0]
            .message
            .contains("edit the file instead"),
        "{:?}",
        refused.findings
    );
}

#[test]
fn a_change_parses_only_what_changed() {
    let f = Fixture::new(&[("svc.yaml", SERVICE), ("dr.yaml", RULE)]);
    assert_eq!(f.store.parses(), 2);
    f.store.apply("vs.yaml", &vs("v1")).unwrap();
    assert_eq!(f.store.parses(), 3, "only the applied text is new");
    f.write(
        "dr.yaml",
        &RULE.replace("version: v1", "version: v1, tier: gold"),
    );
    assert!(f.settle());
    // The edited file, and once the applied resource under the name it is
    // kept by in the state directory.
    assert_eq!(f.store.parses(), 5);
    f.write("dr.yaml", RULE);
    assert!(f.settle());
    assert_eq!(f.store.parses(), 6, "from now on, only what changed");
}

#[test]
fn at_start_registered_proxies_count_as_workloads() {
    use crate::views::Views;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("config")).unwrap();
    std::fs::write(dir.path().join("config/svc.yaml"), SERVICE).unwrap();
    let registrations = dir.path().join("registrations.bin");
    // An earlier run had a reviews pod connected.
    let before = Compiler::with_registrations(Vec::new(), registrations.clone());
    let pod = weft_proto::discovery::Node {
        id: "reviews-1".into(),
        namespace: "default".into(),
        labels: [("app".to_string(), "reviews".to_string())].into(),
        addresses: vec!["198.18.0.3".into()],
        ..Default::default()
    };
    before.proxy_connected(&pod);
    before.set_resources(Vec::new());
    before.rebuild();

    let compiler = Compiler::with_registrations(Vec::new(), registrations);
    let store = Store::open(compiler, vec![dir.path().join("config")], None).unwrap();
    let codes: Vec<String> = store
        .status()
        .findings
        .iter()
        .map(|f| f.code.to_string())
        .collect();
    assert!(
        !codes.contains(&"selector-matches-nothing".to_string()),
        "{codes:?}"
    );
}

/// Telemetry tracing with no `--tracing-otlp-endpoint` is told, in the
/// findings `weft check` and the dashboard show, and not once a
/// collector is set.
#[test]
fn telemetry_tracing_without_a_collector_is_warned_about() {
    const TELEMETRY: &str = "apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: { name: mesh-default, namespace: istio-system }
spec:
  tracing: [{ randomSamplingPercentage: 10 }]
";
    let f = Fixture::new(&[]);
    let change = f.store.apply("telemetry.yaml", TELEMETRY).unwrap();
    let codes = |findings: &[Finding]| -> Vec<String> {
        findings.iter().map(|f| f.code.to_string()).collect()
    };
    assert_eq!(codes(&change.findings), ["tracing-without-collector"]);
    assert!(
        change.findings[0]
            .message
            .contains("--tracing-otlp-endpoint")
    );

    f.compiler.set_tracing(Some(weft_proto::config::Tracing {
        otlp: weft_proto::config::OtlpExporter {
            endpoint: "127.0.0.1:4317".into(),
            protocol: Default::default(),
        },
        sampling: 1.0,
        max_path_tag_length: 256,
    }));
    let change = f.store.apply("telemetry.yaml", TELEMETRY).unwrap();
    assert_eq!(codes(&change.findings), Vec::<String>::new());
}
