//! Fault injection, as Envoy's fault filter runs it ahead of the router:
//! a delay sampled on its own, then an abort sampled on its own, each
//! with the share Istio gives Envoy as a fraction of a million.

use std::time::Duration;

use http::StatusCode;
use weft_proto::config::{self, AbortStatus};

/// Istio turns a percentage into `FractionalPercent { numerator:
/// percent * 10_000, denominator: MILLION }`.
const MILLION: u32 = 1_000_000;

/// A route's faults, compiled.
#[derive(Debug)]
pub(super) struct Fault {
    delay: Option<(Duration, Share)>,
    abort: Option<(Abort, Share)>,
}

/// What an aborted request is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Abort {
    Http(StatusCode),
    /// HTTP 200 with this `grpc-status` (to a gRPC request).
    Grpc(u16),
}

/// A share of requests, in millionths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Share(u32);

// === impl Fault ===

impl Fault {
    pub(super) fn compile(cfg: &config::Fault) -> Result<Self, String> {
        let abort = match &cfg.abort {
            None => None,
            Some(a) => {
                let abort = match a.status {
                    AbortStatus::Http(s) => Abort::Http(
                        StatusCode::from_u16(s).map_err(|_| format!("bad abort status {s}"))?,
                    ),
                    AbortStatus::Grpc(c) => {
                        Abort::Grpc(u16::try_from(c).map_err(|_| format!("bad gRPC status {c}"))?)
                    }
                };
                Some((abort, Share::from_percent(a.percent)))
            }
        };
        Ok(Self {
            delay: cfg
                .delay
                .as_ref()
                .map(|d| (d.fixed, Share::from_percent(d.percent))),
            abort,
        })
    }

    /// How long to hold this request, if its delay is drawn.
    pub(super) fn sample_delay(&self) -> Option<Duration> {
        self.delay
            .and_then(|(delay, share)| share.sample().then_some(delay))
    }

    /// What to answer this request with, if its abort is drawn.
    pub(super) fn sample_abort(&self) -> Option<Abort> {
        self.abort
            .and_then(|(abort, share)| share.sample().then_some(abort))
    }
}

// === impl Share ===

impl Share {
    fn from_percent(percent: f64) -> Self {
        // Validation keeps percent within 0..=100; the cast saturates.
        Self((percent * 10_000.0) as u32)
    }

    /// Envoy's `featureEnabled`: a random value below the numerator. 0 and
    /// 100% never draw.
    fn sample(self) -> bool {
        match self.0 {
            0 => false,
            n if n >= MILLION => true,
            n => fastrand::u32(..MILLION) < n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_become_millionths() {
        assert_eq!(Share::from_percent(100.0), Share(MILLION));
        assert_eq!(Share::from_percent(12.5), Share(125_000));
        assert_eq!(Share::from_percent(0.0001), Share(1));
        assert_eq!(Share::from_percent(0.0), Share(0));
    }

    #[test]
    fn all_or_nothing_shares_never_roll() {
        assert!((0..1000).all(|_| Share(MILLION).sample()));
        assert!((0..1000).all(|_| !Share(0).sample()));
    }

    #[test]
    fn a_share_draws_about_that_often() {
        fastrand::seed(7);
        let drawn = (0..100_000).filter(|_| Share(250_000).sample()).count();
        assert!((23_000..27_000).contains(&drawn), "{drawn}");
    }

    #[test]
    fn delay_and_abort_are_drawn_independently() {
        let fault = Fault::compile(&config::Fault {
            delay: Some(config::FaultDelay {
                fixed: Duration::from_millis(5),
                percent: 100.0,
            }),
            abort: Some(config::FaultAbort {
                status: AbortStatus::Grpc(14),
                percent: 0.0,
            }),
        })
        .unwrap();
        assert_eq!(fault.sample_delay(), Some(Duration::from_millis(5)));
        assert_eq!(fault.sample_abort(), None);
    }
}
