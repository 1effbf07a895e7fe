//! `weft apply -f` and `weft delete -f`: send resources to a running
//! control plane, which checks them with everything else in force and
//! refuses an invalid set whole.

use std::path::PathBuf;

use http::StatusCode;
use serde::Deserialize;
use weft_api::Finding;
use weft_control::api::Submission;

use crate::client::{self, ClientError, DEFAULT_CONTROL};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Files or directories of resources.
    #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
    files: Vec<PathBuf>,
    /// The control plane's HTTP API.
    #[arg(long, env = "WEFT_CONTROL", default_value = DEFAULT_CONTROL)]
    control: String,
}

#[derive(Debug, Deserialize)]
struct Change {
    resources: Vec<String>,
    findings: Vec<Finding>,
}

#[derive(Debug, Deserialize)]
struct Refused {
    findings: Vec<Finding>,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Sends every file; stops at the first refused one.
pub async fn run(args: Args, delete: bool) -> Result<(), Error> {
    let (files, findings) = weft_api::load::config_files(&args.files);
    if let Some(f) = findings.first() {
        return Err(f.to_string().into());
    }
    let (path, verb) = if delete {
        ("/api/v1/delete", "deleted")
    } else {
        ("/api/v1/apply", "applied")
    };
    for file in files {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("{name}: cannot read the file: {e}"))?;
        let answer = client::post_json(
            &args.control,
            path,
            &Submission {
                name: name.clone(),
                text,
            },
        )
        .await?;
        match answer.status {
            StatusCode::OK => {
                let change: Change = serde_json::from_slice(&answer.body)?;
                for r in &change.resources {
                    println!("{r} {verb}");
                }
                for f in change
                    .findings
                    .iter()
                    .filter(|f| f.severity == weft_api::Severity::Warning)
                {
                    eprintln!("warning[{}] {f}", f.code);
                }
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                let refused: Refused = serde_json::from_slice(&answer.body)?;
                for f in refused.findings.iter().filter(|f| f.is_error()) {
                    eprintln!("error[{}] {f}", f.code);
                }
                return Err(format!("{name} was refused; nothing was changed").into());
            }
            status => {
                return Err(ClientError::Status {
                    status,
                    body: String::from_utf8_lossy(&answer.body).trim().to_string(),
                }
                .into());
            }
        }
    }
    Ok(())
}
