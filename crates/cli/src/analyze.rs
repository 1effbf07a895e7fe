//! `weft analyze`: load resources from files and directories, check each
//! and the set as a whole, and report, as `istioctl analyze` does.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::ValueEnum;
use weft_api::{Finding, ResourceSet, Severity};

/// Check mesh config for errors before applying it.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories to analyze (directories are walked for .yaml,
    /// .yml and .json files).
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// More files or directories.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Exit non-zero when a finding at or above this severity is reported.
    #[arg(long, value_enum, default_value_t = Threshold::Error)]
    failure_threshold: Threshold,
    /// Print only findings at or above this severity.
    #[arg(long, value_enum, default_value_t = Threshold::Info)]
    output_threshold: Threshold,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Output {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Threshold {
    Error,
    Warning,
    Info,
}

pub fn run(args: Args) -> ExitCode {
    let paths: Vec<PathBuf> = args.files.into_iter().chain(args.paths).collect();
    if paths.is_empty() {
        eprintln!(
            "error: nothing to analyze; give files or directories with -f, such as `weft analyze -f samples/`"
        );
        return ExitCode::from(2);
    }
    let set = ResourceSet::load_paths(&paths);
    let mut findings = set.findings.clone();
    findings.extend(weft_api::analyze::analyze(&set));
    weft_api::finding::sort(&mut findings);
    let shown: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity <= args.output_threshold.severity())
        .collect();
    match args.output {
        Output::Text => print_text(&shown, set.resources.len(), &paths),
        Output::Json => print_json(&shown, set.resources.len()),
    }
    let fail = args.failure_threshold.severity();
    if findings.iter().any(|f| f.severity <= fail) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_text(findings: &[&Finding], resources: usize, paths: &[PathBuf]) {
    for f in findings {
        let resource = f
            .resource
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default();
        println!("{}[{}] {f}{resource}", f.severity, f.code);
    }
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let what: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    if errors + warnings == 0 {
        println!(
            "✔ no problems found in {resources} resources from {}",
            what.join(", ")
        );
    } else {
        println!(
            "{errors} error{}, {warnings} warning{} in {resources} resources from {}",
            plural(errors),
            plural(warnings),
            what.join(", ")
        );
    }
}

fn print_json(findings: &[&Finding], resources: usize) {
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let doc = serde_json::json!({
        "resources": resources,
        "errors": count(Severity::Error),
        "warnings": count(Severity::Warning),
        "findings": findings,
    });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

// === impl Threshold ===

impl Threshold {
    fn severity(self) -> Severity {
        match self {
            Threshold::Error => Severity::Error,
            Threshold::Warning => Severity::Warning,
            Threshold::Info => Severity::Info,
        }
    }
}
