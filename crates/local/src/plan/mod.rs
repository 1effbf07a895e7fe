//! What `weft up` will run, read from resources: each weft `Workload`, and
//! each Kubernetes Deployment whose images a `LocalImage` maps to a local
//! command. Planning checks everything it can before anything starts
//! (commands exist, names are unique), so a bad file starts nothing.

mod command;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weft_api::Resource;
use weft_api::kinds::Spec;
use weft_api::kinds::k8s::{Container, DeploymentSpec};
use weft_api::kinds::weft::{LocalImageSpec, WorkloadSpec};

pub use command::{Expand, find_program};

/// Everything to run.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub workloads: Vec<Workload>,
}

/// One workload: a Deployment or a weft `Workload`, run as `replicas` pods.
#[derive(Debug, Clone)]
pub struct Workload {
    pub name: String,
    pub namespace: String,
    /// The pod labels (a Deployment's template labels).
    pub labels: BTreeMap<String, String>,
    pub service_account: String,
    pub replicas: u32,
    pub containers: Vec<Process>,
    /// Every container's ports (a pod's ports are shared).
    pub ports: Vec<Port>,
    /// Where it was declared, for messages.
    pub origin: Origin,
}

/// One process of a pod.
#[derive(Debug, Clone)]
pub struct Process {
    pub name: String,
    pub program: PathBuf,
    /// Unexpanded: `$(VAR)` references are filled per pod at start.
    pub args: Vec<String>,
    /// Declared variables, in order (later ones may refer to earlier ones).
    pub env: Vec<(String, String)>,
    pub working_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub port: u16,
    pub name: Option<String>,
}

/// A resource's file, line and key.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: u64,
    pub what: String,
}

/// Everything wrong with the files for running them, each with its fix.
#[derive(Debug, thiserror::Error)]
pub struct PlanError {
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone)]
pub struct Problem {
    pub file: Arc<str>,
    pub line: u64,
    pub message: String,
}

// === impl Plan ===

impl Plan {
    /// Plans every workload in `resources`; commands are looked up in
    /// `bin_dir` first (where `weft` and `weft-sample` live), then `PATH`.
    pub fn from_resources(resources: &[Arc<Resource>], bin_dir: &Path) -> Result<Self, PlanError> {
        let images: Vec<(&Resource, &LocalImageSpec)> = resources
            .iter()
            .filter_map(|r| match &r.spec {
                Spec::LocalImage(i) => Some((&**r, i)),
                _ => None,
            })
            .collect();
        let mut problems = Vec::new();
        let mut workloads: Vec<Workload> = Vec::new();
        for r in resources {
            let planned = match &r.spec {
                Spec::Workload(w) => from_workload(r, w, bin_dir),
                Spec::Deployment(d) => from_deployment(r, d, &images, bin_dir),
                _ => continue,
            };
            match planned {
                Ok(w) => {
                    if let Some(first) = workloads
                        .iter()
                        .find(|o| o.name == w.name && o.namespace == w.namespace)
                    {
                        problems.push(Problem::at(
                            r,
                            "",
                            format!(
                                "{} has the name of {} ({}:{}); pods are named after their workload, so rename one of them",
                                w.origin.what, first.origin.what, first.origin.file, first.origin.line
                            ),
                        ));
                        continue;
                    }
                    workloads.push(w);
                }
                Err(mut p) => problems.append(&mut p),
            }
        }
        if problems.is_empty() {
            Ok(Self { workloads })
        } else {
            Err(PlanError { problems })
        }
    }
}

// === impl Workload ===

impl Workload {
    /// The pod name of replica `i`: `<workload>-<i>`.
    pub fn pod_name(&self, i: u32) -> String {
        format!("{}-{i}", self.name)
    }
}

fn from_workload(r: &Resource, w: &WorkloadSpec, bin_dir: &Path) -> Result<Workload, Vec<Problem>> {
    let origin = Origin::of(r);
    let (program, args) = match w.command.split_first() {
        Some((first, rest)) => (first, rest.to_vec()),
        // Validation already reported it.
        None => return Err(Vec::new()),
    };
    let program = find_program(program, bin_dir).map_err(|e| {
        vec![Problem::at(
            r,
            "spec.command[0]",
            format!("{}: {e}", origin.what),
        )]
    })?;
    let ports = w
        .ports
        .iter()
        .filter_map(|p| {
            Some(Port {
                port: u16::try_from(p.port).ok()?,
                name: p.name.clone(),
            })
        })
        .collect();
    Ok(Workload {
        name: r.name().to_string(),
        namespace: r.namespace().to_string(),
        labels: r.meta.labels.clone(),
        service_account: w.service_account().to_string(),
        replicas: w.replicas.unwrap_or(1),
        containers: vec![Process {
            name: r.name().to_string(),
            program,
            args,
            env: w.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            working_dir: w.working_dir.as_ref().map(PathBuf::from),
        }],
        ports,
        origin,
    })
}

fn from_deployment(
    r: &Resource,
    d: &DeploymentSpec,
    images: &[(&Resource, &LocalImageSpec)],
    bin_dir: &Path,
) -> Result<Workload, Vec<Problem>> {
    let origin = Origin::of(r);
    let pod = &d.template.spec;
    let mut problems = Vec::new();
    let mut containers = Vec::new();
    let mut ports = Vec::new();
    for (i, c) in pod.containers.iter().enumerate() {
        match container(r, i, c, images, bin_dir, &origin) {
            Ok(p) => containers.push(p),
            Err(p) => problems.push(p),
        }
        for p in &c.ports {
            if let Ok(port) = u16::try_from(p.container_port) {
                ports.push(Port {
                    port,
                    name: p.name.clone(),
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Workload {
        name: r.name().to_string(),
        namespace: r.namespace().to_string(),
        labels: d.template.metadata.labels.clone(),
        service_account: pod
            .service_account_name
            .clone()
            .or_else(|| pod.service_account.clone())
            .unwrap_or_else(|| "default".to_string()),
        replicas: d.replicas.unwrap_or(1),
        containers,
        ports,
        origin,
    })
}

/// A container as a local process: its image's mapping, with the
/// container's own `command`, `args` and `env` over it (Kubernetes' rules
/// for ENTRYPOINT and CMD).
fn container(
    r: &Resource,
    i: usize,
    c: &Container,
    images: &[(&Resource, &LocalImageSpec)],
    bin_dir: &Path,
    origin: &Origin,
) -> Result<Process, Problem> {
    let path = format!("spec.template.spec.containers[{i}].image");
    let image = c.image.as_deref().unwrap_or_default();
    let Some((image_res, mapped)) = images.iter().find(|(_, m)| m.matches(image)) else {
        return Err(Problem::at(
            r,
            &path,
            format!(
                "{} container `{}`: no LocalImage says what to run for image `{image}`; add a `kind: LocalImage` with `image: {}` and the command to run (see samples/bookinfo/local-images.yaml)",
                origin.what,
                c.name,
                weft_api::kinds::weft::image_name(image)
            ),
        ));
    };
    let command = if c.command.is_empty() {
        &mapped.command
    } else {
        &c.command
    };
    let args = if c.command.is_empty() && c.args.is_empty() {
        &mapped.args
    } else {
        &c.args
    };
    let Some((program, rest)) = command.split_first() else {
        return Err(Problem::at(
            image_res,
            "spec.command",
            format!("LocalImage {}: `command` is empty", image_res.name()),
        ));
    };
    let program = find_program(program, bin_dir).map_err(|e| {
        Problem::at(
            image_res,
            "spec.command[0]",
            format!(
                "LocalImage {} (for {} container `{}`): {e}",
                image_res.name(),
                origin.what,
                c.name
            ),
        )
    })?;
    let mut env: Vec<(String, String)> = mapped
        .env
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for e in &c.env {
        // `valueFrom` (secrets, the downward API) has no local source;
        // such a variable is left unset.
        if let Some(v) = &e.value {
            env.retain(|(k, _)| k != &e.name);
            env.push((e.name.clone(), v.clone()));
        }
    }
    Ok(Process {
        name: c.name.clone(),
        program,
        args: rest.iter().chain(args).cloned().collect(),
        env,
        working_dir: None,
    })
}

// === impl Origin ===

impl Origin {
    pub(crate) fn of(r: &Resource) -> Self {
        Self {
            file: r.source.file.clone(),
            line: r.source.line,
            what: format!("{} {}/{}", r.kind.display(), r.namespace(), r.name()),
        }
    }
}

// === impl Problem ===

impl Problem {
    fn at(r: &Resource, path: &str, message: String) -> Self {
        Self {
            file: r.source.file.clone(),
            line: if path.is_empty() {
                r.source.line
            } else {
                r.line_of(path)
            },
            message,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}
