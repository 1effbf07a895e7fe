//! `weft check`: health checks of a running mesh, one ✓/‼/✗ line each
//! with a hint, as `linkerd check` prints them. Exits non-zero when any
//! check failed.

use std::process::ExitCode;

use weft_control::api::check::{Check, Outcome};

use crate::client::{self, DEFAULT_CONTROL};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output: ✓/✗ lines with hints, or the checks as JSON.
    #[arg(short, long, value_enum, default_value_t = Output::Table)]
    output: Output,
    /// The control plane's HTTP API.
    #[arg(long, env = "WEFT_CONTROL", default_value = DEFAULT_CONTROL)]
    control: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Table,
    Json,
}

pub async fn run(args: Args) -> ExitCode {
    let checks: Vec<Check> = match client::get_json(&args.control, "/api/v1/check").await {
        Ok(c) => c,
        Err(e) => {
            println!(
                "control plane\n-------------\n× the control plane answers\n    {e}\n    see: start `weft control` or `weft up`, or pass --control <host:port>"
            );
            return ExitCode::FAILURE;
        }
    };
    if args.output == Output::Json {
        match serde_json::to_string_pretty(&checks) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("error: {e}"),
        }
    } else {
        print!("{}", render(&checks));
    }
    if checks.iter().any(|c| c.outcome == Outcome::Failed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    let mut category = "";
    for c in checks {
        if c.category != category {
            if !category.is_empty() {
                out.push('\n');
            }
            category = &c.category;
            out.push_str(&format!("{category}\n{}\n", "-".repeat(category.len())));
        }
        let mark = match c.outcome {
            Outcome::Ok => "√",
            Outcome::Warning => "‼",
            Outcome::Failed => "×",
        };
        out.push_str(&format!("{mark} {}: {}\n", c.name, c.detail));
        if !c.hint.is_empty() {
            out.push_str(&format!("    see: {}\n", c.hint));
        }
    }
    let failed = checks
        .iter()
        .filter(|c| c.outcome == Outcome::Failed)
        .count();
    let warned = checks
        .iter()
        .filter(|c| c.outcome == Outcome::Warning)
        .count();
    out.push_str(&match (failed, warned) {
        (0, 0) => "\nStatus check results are √\n".to_string(),
        (0, w) => format!("\nStatus check results are √ with {w} warning(s)\n"),
        (f, _) => format!("\nStatus check results are × ({f} failed)\n"),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(category: &str, outcome: Outcome, hint: &str) -> Check {
        Check {
            category: category.into(),
            name: "n".into(),
            outcome,
            detail: "d".into(),
            hint: hint.into(),
        }
    }

    #[test]
    fn lines_are_grouped_marked_and_summed_up() {
        let out = render(&[
            check("control plane", Outcome::Ok, ""),
            check("proxies", Outcome::Warning, "do this"),
            check("proxies", Outcome::Failed, "and that"),
        ]);
        assert_eq!(
            out,
            "control plane\n-------------\n√ n: d\n\nproxies\n-------\n‼ n: d\n    see: do this\n× n: d\n    see: and that\n\nStatus check results are × (1 failed)\n"
        );
    }
}
