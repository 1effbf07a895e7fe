//! A flaky service, for the retries story: it fails a set fraction of its
//! requests, spread evenly (with 30%, 3 of every 10 fail), so a test or a
//! demo sees exactly the failure rate it asked for.

use std::sync::atomic::{AtomicU64, Ordering};

use http::{Request, StatusCode};

use crate::bookinfo::{Rsp, json};

pub struct Flaky {
    /// Percent of requests that fail, 0 to 100.
    pub fail_percent: u8,
    /// What a failure answers.
    pub status: StatusCode,
    pub name: String,
    served: AtomicU64,
}

// === impl Flaky ===

impl Flaky {
    pub fn new(name: &str, fail_percent: u8, status: StatusCode) -> Self {
        Self {
            fail_percent: fail_percent.min(100),
            status,
            name: name.to_string(),
            served: AtomicU64::new(0),
        }
    }

    pub async fn handle<B>(self: std::sync::Arc<Self>, req: Request<B>) -> Rsp {
        let n = self.served.fetch_add(1, Ordering::Relaxed);
        let path = req.uri().path();
        if self.fails(n) {
            return json(
                self.status,
                &serde_json::json!({ "service": self.name, "path": path, "error": "failing on purpose" }),
            );
        }
        json(
            StatusCode::OK,
            &serde_json::json!({ "service": self.name, "path": path }),
        )
    }

    /// Whether request `n` (from 0) fails: the count of failures so far
    /// tracks `n * percent / 100`.
    fn fails(&self, n: u64) -> bool {
        let p = u64::from(self.fail_percent);
        (n + 1) * p / 100 > n * p / 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fails_exactly_the_fraction_asked() {
        for pct in [0u8, 10, 30, 50, 99, 100] {
            let f = Flaky::new("f", pct, StatusCode::SERVICE_UNAVAILABLE);
            let failed = (0..1000).filter(|n| f.fails(*n)).count();
            assert_eq!(failed, usize::from(pct) * 10, "{pct}%");
            // Spread out: no run of failures longer than needed.
            if pct == 30 {
                assert_eq!((0..10).filter(|n| f.fails(*n)).count(), 3);
            }
        }
    }
}
