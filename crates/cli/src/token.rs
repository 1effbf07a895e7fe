//! `weft token`: a single-use bootstrap token for a workload identity, from
//! a control plane on this machine (for VMs and hand-started sidecars).

use std::time::Duration;

use weft_control::api::{TokenRequest, TokenResponse};

use crate::client::{self, DEFAULT_CONTROL};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The workload's namespace.
    #[arg(short, long, default_value = "default")]
    namespace: String,
    /// The workload's service account.
    #[arg(long, short = 's')]
    service_account: String,
    /// How long the token stays usable.
    #[arg(long, default_value = "1h", value_parser = crate::control::parse_duration)]
    ttl: Duration,
    #[arg(long, env = "WEFT_CONTROL", default_value = DEFAULT_CONTROL)]
    control: String,
}

pub async fn run(args: Args) -> Result<(), client::ClientError> {
    let answer = client::post_json(
        &args.control,
        "/api/v1/tokens",
        &TokenRequest {
            namespace: args.namespace,
            service_account: args.service_account,
            ttl_seconds: Some(args.ttl.as_secs()),
        },
    )
    .await?;
    if answer.status != http::StatusCode::OK {
        return Err(client::ClientError::Status {
            status: answer.status,
            body: String::from_utf8_lossy(&answer.body).trim().to_string(),
        });
    }
    let resp: TokenResponse = serde_json::from_slice(&answer.body)?;
    eprintln!(
        "a single-use token for {} (valid {} s); give it to the proxy as control_plane.token_file",
        resp.identity, resp.expires_in_seconds
    );
    println!("{}", resp.token);
    Ok(())
}
