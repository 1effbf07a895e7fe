//! The config the control plane runs: files it watches, and resources sent
//! to it with `weft apply` (kept in its state directory so a restart keeps
//! them). Every change is validated together with everything else, exactly
//! as `weft analyze` validates; a set with any error is refused whole, and
//! the last good set keeps serving.

mod applied;
mod files;
pub mod source;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use serde::Serialize;
use weft_api::{Finding, ResourceKey, ResourceSet, Severity};

use crate::compile::Compiler;
use applied::Applied;
use files::Files;
use source::Source;

/// The accepted config, and its sources.
pub struct Store {
    compiler: Arc<Compiler>,
    inner: Mutex<Inner>,
    /// The status as of the last operation: readable while the next one
    /// (a long validation) holds `inner`.
    published: parking_lot::RwLock<ConfigStatus>,
}

struct Inner {
    /// Watched sources (files; a Kubernetes source joins them later).
    sources: Vec<Box<dyn Source>>,
    applied: Applied,
    status: ConfigStatus,
    /// Which watched file defines each resource of the set in force.
    file_owners: BTreeMap<ResourceKey, String>,
    /// Connected workloads, so analysis does not call a selector empty
    /// when a running proxy matches it.
    running: Vec<weft_api::analyze::Workload>,
    /// Whether proxies have a collector for their spans: Telemetry tracing
    /// without one is warned about.
    tracing_collector: bool,
    /// Each text of the last candidate set, parsed, by name and content
    /// hash: a change re-parses only the texts that changed.
    parsed: HashMap<(String, u64), Arc<Parsed>>,
    /// Texts parsed so far (the cache's misses), for tests and logs.
    parses: u64,
}

/// One text's resources and findings, before the set-wide checks.
struct Parsed {
    resources: Vec<Arc<weft_api::Resource>>,
    findings: Vec<Finding>,
}

/// What `GET /api/v1/config` says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigStatus {
    /// Resources in force.
    pub resources: usize,
    /// How many came from `weft apply`.
    pub applied: usize,
    /// Texts in force from watched sources (files).
    pub files: Vec<String>,
    /// Warnings and notes about the set in force.
    pub findings: Vec<Finding>,
    /// The last change that was refused, with why; cleared by the next
    /// accepted change.
    pub rejected: Option<Rejection>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    /// `files` or `apply` or `delete`.
    pub source: &'static str,
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub findings: Vec<Finding>,
}

/// What an apply or delete changed.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// `Kind namespace/name` of each resource created, changed or removed.
    pub resources: Vec<String>,
    /// Warnings about the resulting set.
    pub findings: Vec<Finding>,
}

/// Why an apply or delete changed nothing.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[error("{} error(s); nothing was changed", findings.iter().filter(|f| f.is_error()).count())]
pub struct Refused {
    pub findings: Vec<Finding>,
}

// === impl Store ===

impl Store {
    /// Reads the files and the state directory and hands the compiler the
    /// set if it is valid. An invalid set at start is reported (the
    /// compiler keeps what it has: nothing, on a fresh start).
    pub fn open(
        compiler: Arc<Compiler>,
        paths: Vec<PathBuf>,
        state_dir: Option<&Path>,
    ) -> std::io::Result<Arc<Self>> {
        let applied = Applied::open(state_dir)?;
        let store = Arc::new(Self {
            published: parking_lot::RwLock::default(),
            compiler,
            inner: Mutex::new(Inner {
                sources: vec![Box::new(Files::new(paths))],
                applied,
                status: ConfigStatus::default(),
                file_owners: BTreeMap::new(),
                running: Vec::new(),
                tracing_collector: false,
                parsed: HashMap::new(),
                parses: 0,
            }),
        });
        {
            let mut inner = store.inner.lock();
            inner.poll_sources();
            store.judge_sources(&mut inner);
        }
        Ok(store)
    }

    /// How many texts were parsed so far: a change costs only the texts
    /// that changed.
    pub fn parses(&self) -> u64 {
        self.inner.lock().parses
    }

    pub fn status(&self) -> ConfigStatus {
        self.published.read().clone()
    }

    fn publish(&self, inner: &Inner) {
        *self.published.write() = inner.status.clone();
    }

    /// Re-reads watched files that changed; returns whether any had.
    pub fn poll_files(&self) -> bool {
        let mut inner = self.inner.lock();
        if !inner.poll_sources() {
            self.recheck_selectors(&mut inner);
            return false;
        }
        self.judge_sources(&mut inner);
        true
    }

    /// Validates the sources as last read with everything else, puts them
    /// in force if they pass, and publishes the outcome.
    fn judge_sources(&self, inner: &mut Inner) {
        self.observe(inner);
        let texts = inner.candidate(Latest::Files, None, None);
        if let Ok((set, findings)) = inner.evaluate("files", texts) {
            inner.accept_sources();
            self.commit(inner, set, findings);
        }
        self.publish(inner);
    }

    /// Watches the files, polling every `every`.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            // A change validates the whole set (hundreds of milliseconds at
            // ten thousand services): off the runtime's threads.
            let store = self.clone();
            if let Err(e) = tokio::task::spawn_blocking(move || store.poll_files()).await {
                tracing::error!("checking the watched files failed: {e}");
            }
        }
    }

    /// `weft apply`: adds or replaces the resources of `text`.
    pub fn apply(&self, name: &str, text: &str) -> Result<Change, Refused> {
        let mut inner = self.inner.lock();
        let result = self.apply_locked(&mut inner, name, text);
        self.publish(&inner);
        result
    }

    fn apply_locked(&self, inner: &mut Inner, name: &str, text: &str) -> Result<Change, Refused> {
        self.observe(inner);
        let docs = applied::documents(name, text)?;
        let keys: Vec<ResourceKey> = docs.iter().map(|d| d.key.clone()).collect();
        if let Some(f) = inner.defined_in_files(name, &docs, "apply") {
            return Err(Refused { findings: vec![f] });
        }
        let texts = inner.candidate(Latest::Good, Some(&keys), Some((name, text)));
        let (set, findings) = inner.evaluate("apply", texts)?;
        inner.applied.put(docs).map_err(io_refused)?;
        self.commit(inner, set, findings.clone());
        Ok(Change {
            resources: keys.iter().map(ToString::to_string).collect(),
            findings,
        })
    }

    /// `weft delete`: removes the applied resources `text` names.
    pub fn delete(&self, name: &str, text: &str) -> Result<Change, Refused> {
        let mut inner = self.inner.lock();
        let result = self.delete_locked(&mut inner, name, text);
        self.publish(&inner);
        result
    }

    fn delete_locked(&self, inner: &mut Inner, name: &str, text: &str) -> Result<Change, Refused> {
        self.observe(inner);
        let docs = applied::documents(name, text)?;
        let keys: Vec<ResourceKey> = docs.iter().map(|d| d.key.clone()).collect();
        if let Some(f) = inner.defined_in_files(name, &docs, "delete") {
            return Err(Refused { findings: vec![f] });
        }
        let missing: Vec<Finding> = keys
            .iter()
            .filter(|k| !inner.applied.contains(k))
            .map(|k| {
                Finding::new(
                    Severity::Error,
                    "not-found",
                    name.into(),
                    format!("{k} was never applied, so there is nothing to delete"),
                )
            })
            .collect();
        if !missing.is_empty() {
            return Err(Refused { findings: missing });
        }
        let texts = inner.candidate(Latest::Good, Some(&keys), None);
        let (set, findings) = inner.evaluate("delete", texts)?;
        inner.applied.remove(&keys).map_err(io_refused)?;
        self.commit(inner, set, findings.clone());
        Ok(Change {
            resources: keys.iter().map(ToString::to_string).collect(),
            findings,
        })
    }

    /// A selector the analysis found matching no workload may match a
    /// proxy that connected since (a `weft up` gateway connects after its
    /// Gateway is loaded): re-analyze the set in force then, so `weft
    /// check` and the dashboard do not show a stale warning. Costs nothing
    /// while no such warning stands.
    fn recheck_selectors(&self, inner: &mut Inner) {
        const CODE: &str = "selector-matches-nothing";
        if !inner.status.findings.iter().any(|f| f.code == CODE) {
            return;
        }
        let running = self.running();
        if running == inner.running {
            return;
        }
        inner.running = running;
        let texts = inner.candidate(Latest::Good, None, None);
        if let Ok((_, findings)) = inner.evaluate("files", texts) {
            inner.status.findings = findings;
            self.publish(inner);
        }
    }

    /// What analysis needs to know of the running mesh, as of now.
    fn observe(&self, inner: &mut Inner) {
        inner.running = self.running();
        inner.tracing_collector = self.compiler.has_tracing();
    }

    /// Connected workloads, sorted (so two lists compare equal).
    fn running(&self) -> Vec<weft_api::analyze::Workload> {
        let mut out: Vec<_> = self
            .compiler
            .proxies()
            .iter()
            .map(|n| {
                let caller = crate::compile::caller_of(n);
                (caller.namespace, caller.labels)
            })
            .collect();
        out.sort();
        out
    }

    /// Puts a validated set in force.
    fn commit(&self, inner: &mut Inner, set: ResourceSet, findings: Vec<Finding>) {
        tracing::info!(resources = set.resources.len(), "config accepted");
        let watched: Vec<String> = inner.sources.iter().flat_map(|s| s.names()).collect();
        inner.file_owners = set
            .resources
            .iter()
            .filter(|r| watched.iter().any(|f| **f == *r.source.file))
            .map(|r| (r.key(), r.source.file.to_string()))
            .collect();
        inner.status.resources = set.resources.len();
        inner.status.applied = inner.applied.len();
        inner.status.files = watched;
        inner.status.findings = findings;
        inner.status.rejected = None;
        self.compiler.set_resources(set.resources);
    }
}

/// Which source texts a candidate set takes.
#[derive(Clone, Copy)]
enum Latest {
    /// As last read: a change of a watched source is being considered.
    Files,
    /// As last accepted: an API change is being considered.
    Good,
}

// === impl Inner ===

impl Inner {
    /// Polls every watched source; whether any changed.
    fn poll_sources(&mut self) -> bool {
        // Every source is polled, even after one reports a change.
        self.sources
            .iter_mut()
            .fold(false, |changed, s| s.poll() | changed)
    }

    fn accept_sources(&mut self) {
        for s in &mut self.sources {
            s.accept();
        }
    }

    /// Every text of a candidate set: the files, the applied resources
    /// except `replace`d ones, then the `new` text (whole, so findings
    /// point at its own lines).
    fn candidate(
        &self,
        files: Latest,
        replace: Option<&[ResourceKey]>,
        new: Option<(&str, &str)>,
    ) -> Vec<(String, String)> {
        let latest = matches!(files, Latest::Files);
        let mut texts: Vec<(String, String)> =
            self.sources.iter().flat_map(|s| s.texts(latest)).collect();
        texts.extend(self.applied.texts(replace.unwrap_or_default()));
        texts.extend(new.map(|(n, t)| (n.to_string(), t.to_string())));
        texts
    }

    /// Loads `texts` as one set and analyzes it, as `weft analyze` does.
    /// Any error refuses the set, and the refusal is recorded.
    fn evaluate(
        &mut self,
        source: &'static str,
        texts: Vec<(String, String)>,
    ) -> Result<(ResourceSet, Vec<Finding>), Refused> {
        let mut set = ResourceSet::builder();
        if source == "files" {
            set.findings
                .extend(self.sources.iter().flat_map(|s| s.errors()));
        }
        let mut used = HashMap::with_capacity(texts.len());
        for (name, text) in texts {
            let key = (name, content_hash(&text));
            let parsed = match self.parsed.get(&key) {
                Some(p) => p.clone(),
                None => {
                    self.parses += 1;
                    let mut one = ResourceSet::builder();
                    one.add_text(&key.0, &text);
                    Arc::new(Parsed {
                        resources: one.resources,
                        findings: one.findings,
                    })
                }
            };
            set.resources.extend(parsed.resources.iter().cloned());
            set.findings.extend(parsed.findings.iter().cloned());
            used.insert(key, parsed);
        }
        // Keep what this candidate used, whether or not it is accepted:
        // the next candidate is most likely this one with one change.
        self.parsed = used;
        set.finish();
        let mut findings = set.findings.clone();
        let env = weft_api::analyze::Environment {
            running: &self.running,
            tracing_collector: Some(self.tracing_collector),
        };
        findings.extend(weft_api::analyze::analyze_with(&set, &env));
        weft_api::finding::sort(&mut findings);
        if findings.iter().any(Finding::is_error) {
            for f in findings.iter().filter(|f| f.is_error()) {
                tracing::error!(
                    source,
                    "config refused; the last good config stays in force: {f}"
                );
            }
            self.status.rejected = Some(Rejection {
                source,
                at: now(),
                findings: findings.clone(),
            });
            return Err(Refused { findings });
        }
        Ok((set, findings))
    }

    /// A finding, on the sender's line, when one of `docs` is defined by a
    /// watched file: those change by editing the file, not through the API.
    fn defined_in_files(&self, sent: &str, docs: &[applied::Doc], what: &str) -> Option<Finding> {
        docs.iter().find_map(|d| {
            let file = self.file_owners.get(&d.key)?;
            let mut f = Finding::new(
                Severity::Error,
                "defined-in-file",
                sent.into(),
                format!("cannot {what} {}: it is defined in {file}, which the control plane watches; edit the file instead", d.key),
            );
            f.line = Some(d.line);
            f.path = Some("metadata.name".into());
            Some(f)
        })
    }
}

fn io_refused(e: std::io::Error) -> Refused {
    Refused {
        findings: vec![Finding::new(
            Severity::Error,
            "state",
            "state directory".into(),
            format!("cannot persist the change: {e}"),
        )],
    }
}

fn content_hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
