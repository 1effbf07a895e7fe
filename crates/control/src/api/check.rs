//! `GET /api/v1/check`: the health of a running mesh as ✓/‼/✗ lines with
//! hints (`weft check`, Linkerd's `linkerd check`): the control plane and
//! its CA, the config in force, and every connected proxy's sync state,
//! version and workload certificate.

use std::time::{Duration, SystemTime};

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use weft_api::Severity;

use super::Api;
use crate::server::SyncState;

/// A CA whose signing certificate expires sooner than this is flagged.
const CA_WARNING: Duration = Duration::from_secs(30 * 24 * 3600);

/// One check's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Check {
    pub category: String,
    pub name: String,
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// What to do about it, when it is not fine.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Ok,
    Warning,
    Failed,
}

pub(super) async fn checks(State(api): State<Api>) -> Json<Vec<Check>> {
    Json(run(&api, SystemTime::now()))
}

fn run(api: &Api, now: SystemTime) -> Vec<Check> {
    let mut out = Vec::new();
    let mut add = |category: &str, name: &str, outcome, detail: String, hint: &str| {
        out.push(Check {
            category: category.into(),
            name: name.into(),
            outcome,
            detail,
            hint: hint.into(),
        })
    };
    add(
        "control plane",
        "the control plane answers",
        Outcome::Ok,
        format!("weft {}", env!("CARGO_PKG_VERSION")),
        "",
    );
    let ca_left = api
        .authority
        .ca
        .not_after()
        .duration_since(now)
        .unwrap_or_default();
    let (outcome, hint) = if ca_left < CA_WARNING {
        (
            Outcome::Warning,
            "rotate the CA (plug in a renewed root with --cacerts) before workload certificates can no longer be issued",
        )
    } else {
        (Outcome::Ok, "")
    };
    add(
        "control plane",
        "the CA's signing certificate is valid",
        outcome,
        format!("expires in {}", days(ca_left)),
        hint,
    );

    let status = api.store.status();
    match &status.rejected {
        None => add(
            "config",
            "the config in force loaded",
            Outcome::Ok,
            format!(
                "{} resources ({} applied)",
                status.resources, status.applied
            ),
            "",
        ),
        Some(r) => add(
            "config",
            "the last change was accepted",
            Outcome::Failed,
            format!(
                "a change from {} was refused: {}",
                r.source,
                r.findings
                    .iter()
                    .find(|f| f.severity == Severity::Error)
                    .map_or("see `weft analyze`", |f| f.message.as_str())
            ),
            "fix the files (`weft analyze -f <files>` shows every error); the config before it stays in force",
        ),
    }
    let warnings = status
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    add(
        "config",
        "analysis is clean",
        if warnings == 0 {
            Outcome::Ok
        } else {
            Outcome::Warning
        },
        format!("{warnings} warnings"),
        if warnings == 0 {
            ""
        } else {
            "`weft analyze -f <files>` lists them with their lines"
        },
    );

    let proxies = api.registry.list();
    add(
        "proxies",
        "proxies are connected",
        if proxies.is_empty() {
            Outcome::Warning
        } else {
            Outcome::Ok
        },
        format!("{} connected", proxies.len()),
        if proxies.is_empty() {
            "start workloads with sidecars (`weft up`, `weft-proxy --config`) pointing at this control plane"
        } else {
            ""
        },
    );
    for p in &proxies {
        match p.state {
            SyncState::Synced => {}
            SyncState::Stale => add(
                "proxies",
                "every proxy holds its current config",
                Outcome::Warning,
                format!("{} has not acknowledged its latest config yet", p.id),
                "it may still be applying it; if this persists, see its log",
            ),
            SyncState::Nacked => add(
                "proxies",
                "every proxy holds its current config",
                Outcome::Failed,
                format!(
                    "{} refused its latest config: {}",
                    p.id,
                    p.nack.as_deref().unwrap_or("no reason given")
                ),
                "it keeps serving the config before; `weft proxy-status` and the proxy's log say why",
            ),
        }
        if p.proxy_version != env!("CARGO_PKG_VERSION") {
            add(
                "proxies",
                "proxies run the control plane's version",
                Outcome::Warning,
                format!("{} runs {}", p.id, p.proxy_version),
                "upgrade it with the control plane",
            );
        }
    }
    if proxies.iter().all(|p| p.state == SyncState::Synced) && !proxies.is_empty() {
        add(
            "proxies",
            "every proxy holds its current config",
            Outcome::Ok,
            format!("{} synced", proxies.len()),
            "",
        );
    }

    let issued = api.authority.issued.lock().clone();
    let td = api.authority.ca.trust_domain();
    let mut certs_ok = 0;
    for p in &proxies {
        let id = format!(
            "spiffe://{td}/ns/{}/sa/{}",
            p.namespace, p.node.service_account
        );
        let Some((from, until)) = issued.get(&id) else {
            continue;
        };
        let left = until.duration_since(now).unwrap_or_default();
        let life = until.duration_since(*from).unwrap_or_default();
        if left.is_zero() {
            add(
                "certificates",
                "workload certificates are valid",
                Outcome::Failed,
                format!("{id} ({}) expired", p.id),
                "its proxy could not renew: check that it reaches the control plane on 15012",
            );
        } else if left < life / 4 {
            // Proxies renew halfway through a certificate's life.
            add(
                "certificates",
                "workload certificates are renewed",
                Outcome::Warning,
                format!("{id} ({}) expires in {}", p.id, days(left)),
                "its renewal is overdue: check that the proxy reaches the control plane on 15012",
            );
        } else {
            certs_ok += 1;
        }
    }
    add(
        "certificates",
        "workload certificates are valid",
        Outcome::Ok,
        format!("{certs_ok} current (issued by this control plane since it started)"),
        "",
    );
    out
}

fn days(d: Duration) -> String {
    let h = d.as_secs() / 3600;
    if h >= 48 {
        format!("{} days", h / 24)
    } else {
        format!("{h} h {} min", (d.as_secs() % 3600) / 60)
    }
}
