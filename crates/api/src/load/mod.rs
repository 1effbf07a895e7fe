//! Loading resources from files, directories or text: every document is
//! parsed, typed by its `apiVersion` and `kind`, read strictly (every
//! unknown field reported with a hint at what slipped), then validated.
//!
//! Nothing is applied here: loading yields resources and findings, and the
//! caller decides (the control plane refuses a set with any error whole).

mod files;
mod hint;
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use weft_yaml::{Document, FieldPath, Problem, ProblemKind};

use crate::check::Check;
use crate::finding::{self, Finding, Severity};
use crate::kinds::{FOREIGN_OK_GROUPS, KINDS, Kind};
use crate::resource::{Resource, ResourceKey, Source};

/// The config files `paths` name: each file as it is, and the `.yaml`,
/// `.yml` and `.json` files under each directory, in a stable order; a
/// path that cannot be read is a finding.
pub fn config_files<P: AsRef<Path>>(paths: &[P]) -> (Vec<std::path::PathBuf>, Vec<Finding>) {
    let mut findings = Vec::new();
    let files = paths
        .iter()
        .flat_map(|p| files::expand(p.as_ref(), &mut findings))
        .collect();
    (files, findings)
}

/// Resources loaded together, and everything said about them.
#[derive(Debug, Default)]
pub struct ResourceSet {
    /// Shared: a resource that did not change is the same object from one
    /// set to the next (the control plane's parse cache relies on it).
    pub resources: Vec<Arc<Resource>>,
    pub findings: Vec<Finding>,
}

// === impl ResourceSet ===

impl ResourceSet {
    /// Loads every path: a file is read whatever its name; a directory is
    /// walked for `.yaml`, `.yml` and `.json` files, in name order.
    pub fn load_paths<P: AsRef<Path>>(paths: &[P]) -> Self {
        let mut set = Self::default();
        for path in paths {
            for file in files::expand(path.as_ref(), &mut set.findings) {
                match std::fs::read_to_string(&file) {
                    Ok(text) => set.add_text(&file.display().to_string(), &text),
                    Err(e) => set.findings.push(Finding::new(
                        Severity::Error,
                        "read",
                        file.display().to_string().into(),
                        format!("cannot read the file: {e}"),
                    )),
                }
            }
        }
        set.finish();
        set
    }

    /// Loads one text (a file's content, or what `weft apply` sent);
    /// `file` names it in findings.
    pub fn from_text(file: &str, text: &str) -> Self {
        let mut set = Self::default();
        set.add_text(file, text);
        set.finish();
        set
    }

    /// Starts a set to which texts from several sources are added, each
    /// with [`Self::add_text`]; [`Self::finish`] then checks the whole.
    pub fn builder() -> Self {
        Self::default()
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(Finding::is_error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.is_error())
    }

    /// Adds one text; `file` names it in findings.
    pub fn add_text(&mut self, file: &str, text: &str) {
        let file: Arc<str> = file.into();
        let docs = match weft_yaml::parse_documents(text) {
            Ok(docs) => docs,
            Err(e) => {
                let mut f = Finding::new(
                    Severity::Error,
                    "yaml",
                    file.clone(),
                    hint::syntax(&e, text),
                );
                f.line = e.pos.map(|p| p.line);
                self.findings.push(f);
                return;
            }
        };
        for doc in docs {
            self.add_document(&file, doc);
        }
    }

    fn add_document(&mut self, file: &Arc<str>, doc: Document) {
        let root = &doc.root;
        let report = |findings: &mut Vec<Finding>, severity, code, path: &str, message: String| {
            findings.push(at(file, root, severity, code, path, message));
        };
        let Some(api_version) = root.str_at("apiVersion") else {
            report(&mut self.findings, Severity::Error, "type", "apiVersion", "missing `apiVersion`; every resource names its API, such as `apiVersion: networking.istio.io/v1`".into());
            return;
        };
        let Some(kind_name) = root.str_at("kind") else {
            report(
                &mut self.findings,
                Severity::Error,
                "type",
                "kind",
                "missing `kind`; every resource names its kind, such as `kind: VirtualService`"
                    .into(),
            );
            return;
        };
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        let Some(info) = KINDS
            .iter()
            .find(|k| k.group == group && k.name == kind_name)
        else {
            let (severity, code, message) = unknown_kind(group, kind_name, api_version);
            report(&mut self.findings, severity, code, "kind", message);
            return;
        };
        if !info.versions.contains(&version) {
            let supported: Vec<String> = info
                .versions
                .iter()
                .map(|v| {
                    if group.is_empty() {
                        v.to_string()
                    } else {
                        format!("{group}/{v}")
                    }
                })
                .collect();
            report(
                &mut self.findings,
                Severity::Error,
                "api-version",
                "apiVersion",
                format!(
                    "weft reads {kind_name} as {}, not {api_version}",
                    weft_yaml::backticked(
                        &supported.iter().map(String::as_str).collect::<Vec<_>>()
                    )
                ),
            );
            return;
        }
        let kind = info.kind;
        let (meta, spec, problems) = match kind.parse(root) {
            Ok(parsed) => parsed,
            Err(problems) => {
                self.report_problems(file, kind, &doc, &problems);
                return;
            }
        };
        if !problems.is_empty() {
            // A resource that does not fit its schema is not loaded: what
            // was read of it is partial, and checking its meaning would
            // report the slip's echoes ("weights sum to 0") beside it.
            self.report_problems(file, kind, &doc, &problems);
            return;
        }
        let key = ResourceKey {
            kind,
            namespace: meta.namespace().to_string(),
            name: meta.name.clone(),
        };
        if meta.name.is_empty() {
            report(
                &mut self.findings,
                Severity::Error,
                "name",
                "metadata.name",
                "missing `metadata.name`; every resource needs a name".into(),
            );
            return;
        }
        let label = key.to_string();
        let mut cx = Check {
            file,
            tree: root,
            resource: &label,
            out: &mut self.findings,
        };
        spec.validate(&mut cx);
        for (path, message) in support::unimplemented(kind, root) {
            let mut f = at(
                file,
                root,
                Severity::Warning,
                "not-implemented",
                &path,
                message,
            );
            f.resource = Some(label.clone());
            self.findings.push(f);
        }
        self.resources.push(Arc::new(Resource {
            kind,
            api_version: api_version.to_string(),
            meta,
            spec,
            source: Source {
                file: file.clone(),
                line: root.pos.line,
                tree: Arc::new(doc.root),
            },
        }));
    }

    fn report_problems(
        &mut self,
        file: &Arc<str>,
        kind: Kind,
        doc: &Document,
        problems: &[Problem],
    ) {
        if problems.is_empty() {
            return;
        }
        // The trace costs a second read; only pay it when hints need it.
        let unknown = problems
            .iter()
            .any(|p| matches!(p.kind, ProblemKind::UnknownField { .. }));
        let trace = if unknown {
            kind.trace(&doc.root)
        } else {
            Vec::new()
        };
        for p in problems {
            // `missing field` beside an unknown field in the same object is
            // one slip reported twice (`- route:` nested where a new rule
            // was meant leaves its item without `destination`).
            if matches!(p.kind, ProblemKind::MissingField(_))
                && problems.iter().any(|o| {
                    matches!(o.kind, ProblemKind::UnknownField { .. }) && o.path.parent() == p.path
                })
            {
                continue;
            }
            let (code, message) = match &p.kind {
                ProblemKind::UnknownField { field, expected } => (
                    "unknown-field",
                    hint::unknown_field(field, &p.path, expected, &doc.root, &trace),
                ),
                ProblemKind::UnknownVariant { .. } => ("unknown-value", p.kind.to_string()),
                ProblemKind::MissingField(_) => ("missing-field", p.kind.to_string()),
                ProblemKind::Invalid(msg) => ("invalid", msg.clone()),
            };
            let mut f = Finding::new(Severity::Error, code, file.clone(), message);
            f.line = Some(p.pos.line);
            f.path = (!p.path.is_root()).then(|| p.path.to_string());
            f.resource = resource_label(kind, &doc.root);
            self.findings.push(f);
        }
    }

    /// Cross-document checks loading alone can make (duplicates), then
    /// sorting. Call once, after the last text.
    pub fn finish(&mut self) {
        let mut seen: HashMap<ResourceKey, (Arc<str>, u64)> = HashMap::new();
        for r in &self.resources {
            if let Some((file, line)) = seen.insert(r.key(), (r.source.file.clone(), r.source.line))
            {
                let mut f = Finding::new(
                    Severity::Error,
                    "duplicate",
                    r.source.file.clone(),
                    format!(
                        "{} is defined twice; the other is at {file}:{line}; rename one or delete it",
                        r.key()
                    ),
                );
                f.line = Some(r.line_of("metadata.name"));
                f.path = Some("metadata.name".into());
                self.findings.push(f);
            }
        }
        finding::sort(&mut self.findings);
    }
}

/// A finding at `path` of the document `root`.
fn at(
    file: &Arc<str>,
    root: &weft_yaml::Node,
    severity: Severity,
    code: &'static str,
    path: &str,
    message: String,
) -> Finding {
    let mut f = Finding::new(severity, code, file.clone(), message);
    f.line = Some(root.line_of(&FieldPath::parse(path)));
    f.path = (!path.is_empty()).then(|| path.to_string());
    f
}

/// What to say about a `kind` weft has no type for.
fn unknown_kind(group: &str, kind: &str, api_version: &str) -> (Severity, &'static str, String) {
    let same_group: Vec<&str> = KINDS
        .iter()
        .filter(|k| k.group == group)
        .map(|k| k.name)
        .collect();
    if let Some(close) = hint::closest(kind, &same_group) {
        return (
            Severity::Error,
            "unknown-kind",
            format!("unknown kind `{kind}` in {api_version}; did you mean `{close}`?"),
        );
    }
    if same_group.is_empty() || FOREIGN_OK_GROUPS.contains(&group) {
        (
            Severity::Info,
            "ignored",
            format!("{kind} ({api_version}) is not a kind weft reads; it is ignored"),
        )
    } else {
        (
            Severity::Warning,
            "not-implemented",
            format!("weft does not implement {kind} ({api_version}) yet; it is ignored"),
        )
    }
}

fn resource_label(kind: Kind, root: &weft_yaml::Node) -> Option<String> {
    let meta = root.entry("metadata")?;
    let name = meta.value.str_at("name")?;
    let ns = meta
        .value
        .str_at("namespace")
        .unwrap_or(crate::meta::DEFAULT_NAMESPACE);
    Some(format!("{kind} {ns}/{name}"))
}

/// Loads `text` keeping only what the kinds' own rules say: tests of a
/// kind's validation use this, so they do not change as weft comes to act
/// on more fields (that is tested in `load/tests.rs`).
#[cfg(test)]
pub(crate) fn checked(file: &str, text: &str) -> ResourceSet {
    let mut set = ResourceSet::from_text(file, text);
    set.findings.retain(|f| f.code != "not-implemented");
    set
}

/// [`checked`]'s findings as `severity: file:line: path: message`.
#[cfg(test)]
pub(crate) fn checked_messages(file: &str, text: &str) -> Vec<String> {
    checked(file, text)
        .findings
        .iter()
        .map(|f| format!("{}: {f}", f.severity))
        .collect()
}

#[cfg(test)]
mod tests;
