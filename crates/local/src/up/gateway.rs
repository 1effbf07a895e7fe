//! Starting the ingress gateways (`crate::gateway`): each a `weft-proxy`
//! on the host, listening on the ingress address, with an identity of its
//! own like any workload's.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::process::Command;

use super::{Up, UpError, bound_addr, io_err};
use crate::gateway::{GatewayPlan, GatewayProxy, host_port};
use crate::state::PodState;

impl Up {
    /// Starts a proxy for each of `gateways` on `ingress`, then waits for
    /// each to bind; returns their entries for the state file.
    pub(super) async fn start_gateways(
        &mut self,
        gateways: &[GatewayPlan],
        ingress: IpAddr,
        proxy_bin: &Path,
        deadline: Instant,
    ) -> Result<Vec<PodState>, UpError> {
        let root = nix::unistd::geteuid().is_root();
        // Host address → the gateway port that took it, across gateways.
        let mut taken: BTreeMap<SocketAddr, String> = BTreeMap::new();
        let mut started = Vec::new();
        for g in gateways {
            let mut listen = Vec::new();
            for &port in &g.ports {
                let addr = SocketAddr::new(ingress, host_port(port, root));
                let what = format!("gateway port {port} of {}", g.serves.join(", "));
                if let Some(other) = taken.insert(addr, what.clone()) {
                    return Err(UpError::Start(format!(
                        "{what} and {other} would both listen on {addr}; give one of them another port number"
                    )));
                }
                // The proxy binds it; trying first turns a port in use into
                // a message that says what to do.
                std::net::TcpListener::bind(addr).map_err(|e| {
                    UpError::Start(format!(
                        "the ingress gateway {} cannot listen on {addr} for {what}: {e}; stop what holds the port, or pass --ingress-address to listen on another address",
                        g.name
                    ))
                })?;
                listen.push((port, addr));
            }
            let dir = self.dir.join("gateways").join(&g.name);
            std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            let id = weft_identity::SpiffeId::new(
                self.control.authority.ca.trust_domain(),
                &g.namespace,
                &g.service_account,
            )
            .map_err(|e| UpError::Start(format!("gateway {}: {e}", g.name)))?;
            let token = self
                .control
                .authority
                .tokens
                .issue(id, Duration::from_secs(600));
            let token_file = dir.join("token");
            std::fs::write(&token_file, token).map_err(|e| io_err(&token_file, e))?;
            let proxy = GatewayProxy {
                plan: g,
                listen,
                ip: ingress,
                control: self.control.bound.grpc,
                ca_bundle: self.control.trust_bundle.clone(),
                token_file,
            };
            let config = dir.join("gateway.yaml");
            let text = serde_json::to_string_pretty(&proxy.config())
                .map_err(|e| UpError::Start(format!("gateway config for {}: {e}", g.name)))?;
            std::fs::write(&config, text).map_err(|e| io_err(&config, e))?;
            let bound = dir.join("gateway.bound.json");
            let mut cmd = Command::new(proxy_bin);
            cmd.arg("--config")
                .arg(&config)
                .arg("--bound-addresses-file")
                .arg(&bound)
                .args(["--log-level", "info"]);
            let log = dir.join("gateway.log");
            self.procs
                .spawn(&format!("{}/gateway", g.name), cmd, &log)
                .map_err(|e| UpError::Start(e.to_string()))?;
            started.push((g, dir, bound, log));
        }
        let mut states = Vec::new();
        for (g, dir, bound_file, log) in started {
            let what = format!("the ingress gateway {}", g.name);
            let bound = self.wait_bound(&what, &bound_file, &log, deadline).await?;
            let ports = g
                .ports
                .iter()
                .filter_map(|p| Some((*p, bound_addr(&bound, &format!("/listeners/gateway-{p}"))?)))
                .collect();
            states.push(PodState {
                name: g.name.clone(),
                workload: g.name.clone(),
                namespace: g.namespace.clone(),
                labels: g.labels.clone(),
                identity: format!(
                    "spiffe://{}/ns/{}/sa/{}",
                    self.control.authority.ca.trust_domain(),
                    g.namespace,
                    g.service_account
                ),
                ip: ingress,
                netns: None,
                outbound_proxy: None,
                ports,
                admin: bound_addr(&bound, "/admin"),
                dir,
                role: "gateway".into(),
            });
        }
        Ok(states)
    }
}
