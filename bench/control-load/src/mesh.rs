//! The generated mesh: Kubernetes Services, the Istio WorkloadEntries that
//! back them, and one VirtualService, in files laid out as a team would
//! keep them (one file per group of services with their endpoints).
//!
//! The layout is a pure function of [`Layout`], so `run` can rewrite one
//! file with a single change and know the rest of the directory is as
//! `gen` wrote it.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Every endpoint address comes from 198.18.0.0/15 (RFC 2544's benchmark
/// range): it can never collide with a real address on the machine.
const ENDPOINT_BASE: u32 = u32::from_be_bytes([198, 18, 0, 0]);
const ENDPOINT_RANGE: u32 = 1 << 17;
/// Cluster IPs from 10.96.0.0/12, Kubernetes' default service range: real
/// Services always have one, and proxies index services by it.
const VIP_BASE: u32 = u32::from_be_bytes([10, 96, 0, 0]);
const VIP_RANGE: u32 = 1 << 20;

pub const NAMESPACE: &str = "bench";
/// The file holding the VirtualService every proxy uses.
pub const ROUTE_FILE: &str = "route.yaml";

/// The shape of the generated mesh.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Layout {
    /// Kubernetes Services.
    #[arg(long, default_value_t = 10_000)]
    pub services: u32,
    /// WorkloadEntries selected by each Service.
    #[arg(long, default_value_t = 5)]
    pub endpoints_per_service: u32,
    /// Files the services (with their endpoints) are split into.
    #[arg(long, default_value_t = 100)]
    pub files: u32,
}

/// A different address for one WorkloadEntry: the endpoint change.
#[derive(Debug, Clone, Copy)]
pub struct Moved {
    pub service: u32,
    pub endpoint: u32,
    pub address: Ipv4Addr,
}

/// The VirtualService's two versions: as generated, and with the route
/// change (a header-matched rule sending to another service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Initial,
    Changed,
}

// === impl Layout ===

impl Layout {
    pub fn check(&self) -> Result<(), String> {
        if self.services == 0 || self.files == 0 {
            return Err("--services and --files must be at least 1".into());
        }
        if self.services > VIP_RANGE - 2 {
            return Err(format!(
                "at most {} services fit 10.96.0.0/12",
                VIP_RANGE - 2
            ));
        }
        // One address of the range stays free for each endpoint change.
        let endpoints = u64::from(self.services) * u64::from(self.endpoints_per_service);
        if endpoints + 16 > u64::from(ENDPOINT_RANGE) {
            return Err(format!(
                "{endpoints} endpoints do not fit 198.18.0.0/15 ({ENDPOINT_RANGE} addresses)"
            ));
        }
        Ok(())
    }

    pub fn endpoints(&self) -> u32 {
        self.services * self.endpoints_per_service
    }

    fn per_file(&self) -> u32 {
        self.services.div_ceil(self.files)
    }

    /// The file holding service `service` and its endpoints.
    pub fn file_of(&self, dir: &Path, service: u32) -> PathBuf {
        dir.join(format!("services-{:04}.yaml", service / self.per_file()))
    }

    /// An address no generated endpoint has, for the `n`th endpoint change.
    pub fn spare_address(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(ENDPOINT_BASE + 1 + self.endpoints() + n)
    }

    /// The text of the file holding service `service`, with `moved`
    /// applied when it falls in that file.
    pub fn services_file(&self, service: u32, moved: Option<Moved>) -> String {
        let first = service / self.per_file() * self.per_file();
        let last = (first + self.per_file()).min(self.services);
        let mut out = String::new();
        for s in first..last {
            push_service(&mut out, s);
            for e in 0..self.endpoints_per_service {
                let address = match moved {
                    Some(m) if m.service == s && m.endpoint == e => m.address,
                    _ => Ipv4Addr::from(ENDPOINT_BASE + 1 + s * self.endpoints_per_service + e),
                };
                push_endpoint(&mut out, s, e, address);
            }
        }
        out
    }

    /// Writes the whole mesh into `dir` (created if needed).
    pub fn write_all(&self, dir: &Path) -> Result<(), String> {
        self.check()?;
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut service = 0;
        while service < self.services {
            write(
                &self.file_of(dir, service),
                &self.services_file(service, None),
            )?;
            service += self.per_file();
        }
        write(&dir.join(ROUTE_FILE), &route(Route::Initial))
    }
}

pub fn service_name(s: u32) -> String {
    format!("svc-{s:05}")
}

fn push_service(out: &mut String, s: u32) {
    let name = service_name(s);
    let vip = Ipv4Addr::from(VIP_BASE + 1 + s);
    // `write!` to a String cannot fail.
    let _ = write!(
        out,
        "---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {NAMESPACE}
spec:
  clusterIP: {vip}
  selector:
    app: {name}
  ports:
    - name: http
      port: 8080
"
    );
}

fn push_endpoint(out: &mut String, s: u32, e: u32, address: Ipv4Addr) {
    let name = service_name(s);
    let _ = write!(
        out,
        "---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: {name}-{e}
  namespace: {NAMESPACE}
spec:
  address: {address}
  labels:
    app: {name}
    version: v1
"
    );
}

/// The VirtualService for `svc-00000`, which every proxy sees.
pub fn route(version: Route) -> String {
    let host = service_name(0);
    let extra = match version {
        Route::Initial => String::new(),
        // A canary rule: requests marked with a header go to another
        // service. It changes the route every proxy holds for this host.
        Route::Changed => format!(
            "    - match:
        - headers:
            x-bench-canary:
              exact: \"1\"
      route:
        - destination:
            host: {}
            port:
              number: 8080
",
            service_name(1)
        ),
    };
    format!(
        "apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: {host}
  namespace: {NAMESPACE}
spec:
  hosts:
    - {host}
  http:
{extra}    - route:
        - destination:
            host: {host}
            port:
              number: 8080
      timeout: 5s
"
    )
}

/// Replaces `path` atomically (write a sibling, then rename), so the
/// control plane's poller never reads half a file. The sibling's `.tmp`
/// suffix keeps it out of the directory walk.
pub fn write(path: &Path, text: &str) -> Result<(), String> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("cannot replace {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_has_a_unique_address_and_the_spare_one_is_unused() {
        let layout = Layout {
            services: 7,
            endpoints_per_service: 3,
            files: 3,
        };
        let text: String = (0..3).map(|f| layout.services_file(f * 3, None)).collect();
        let addresses: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("address: "))
            .collect();
        assert_eq!(addresses.len(), 21);
        let unique: std::collections::BTreeSet<_> = addresses.iter().collect();
        assert_eq!(unique.len(), 21);
        assert!(!text.contains(&layout.spare_address(0).to_string()));
    }

    #[test]
    fn a_moved_endpoint_changes_one_line_of_its_file() {
        let layout = Layout {
            services: 10,
            endpoints_per_service: 2,
            files: 2,
        };
        let moved = Moved {
            service: 6,
            endpoint: 1,
            address: layout.spare_address(0),
        };
        let before = layout.services_file(6, None);
        let after = layout.services_file(6, Some(moved));
        let diff: Vec<_> = before
            .lines()
            .zip(after.lines())
            .filter(|(a, b)| a != b)
            .collect();
        assert_eq!(diff.len(), 1);
        assert!(diff[0].1.contains(&moved.address.to_string()));
        assert_eq!(
            layout.file_of(Path::new("d"), 6),
            Path::new("d/services-0001.yaml")
        );
    }
}
