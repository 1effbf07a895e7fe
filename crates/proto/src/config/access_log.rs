//! Access logs: one JSON line per request, as Istio turns on Envoy's file
//! access log (`meshConfig.accessLogFile` with `accessLogEncoding: JSON`).

use serde::{Deserialize, Serialize};

/// Write one JSON line per HTTP request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessLog {
    /// Where the lines go: `/dev/stdout` (Istio's usual choice), or a file
    /// appended to.
    #[serde(default = "stdout")]
    pub path: String,
}

fn stdout() -> String {
    "/dev/stdout".into()
}

impl Default for AccessLog {
    fn default() -> Self {
        Self { path: stdout() }
    }
}
