//! Config snippets shared by the tests.

use std::net::SocketAddr;

/// One outbound explicit listener and one service `echo.test:80` whose
/// cluster holds `endpoints`.
pub fn outbound_to(endpoints: &[SocketAddr], extra_cluster: &str) -> String {
    let eps: String = endpoints
        .iter()
        .map(|a| format!("      - address: \"{a}\"\n"))
        .collect();
    format!(
        "listeners:
  - name: outbound
    address: 127.0.0.1:0
    direction: outbound
services:
  - name: echo.test.svc.cluster.local
    hosts: [echo.test]
    ports:
      - port: 80
        cluster: echo
clusters:
  - name: echo
{extra_cluster}    endpoints:
{eps}"
    )
}
