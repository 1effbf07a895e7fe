//! Everything the streams reported, and waiting on it: the run is the only
//! reader of the event channel, so waiting and recording are one loop.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::stream::{Event, Received};

/// What one stream has seen.
#[derive(Debug, Default)]
pub struct StreamLog {
    pub started: Option<Instant>,
    pub responses: Vec<Received>,
    pub ended: Option<String>,
}

pub struct Collector {
    rx: mpsc::UnboundedReceiver<Event>,
    pub streams: Vec<StreamLog>,
    last_event: Instant,
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    Done,
    TimedOut,
}

// === impl StreamLog ===

impl StreamLog {
    /// The version of the last response, 0 before any.
    pub fn version(&self) -> u64 {
        self.responses.last().map_or(0, |r| r.version)
    }

    /// The first response at or after `t0` that is newer than `baseline`.
    pub fn first_after(&self, t0: Instant, baseline: u64) -> Option<&Received> {
        self.responses
            .iter()
            .find(|r| r.at >= t0 && r.version > baseline)
    }

    /// Responses that arrived within `[from, to]`.
    pub fn within(&self, from: Instant, to: Instant) -> impl Iterator<Item = &Received> {
        self.responses
            .iter()
            .filter(move |r| r.at >= from && r.at <= to)
    }
}

// === impl Collector ===

impl Collector {
    pub fn new(rx: mpsc::UnboundedReceiver<Event>, streams: usize) -> Self {
        Self {
            rx,
            streams: (0..streams).map(|_| StreamLog::default()).collect(),
            last_event: Instant::now(),
        }
    }

    fn absorb(&mut self, event: Event) {
        self.last_event = Instant::now();
        match event {
            Event::Started { stream, at } => {
                if let Some(s) = self.streams.get_mut(stream) {
                    s.started = Some(at);
                }
            }
            Event::Response(r) => {
                if let Some(s) = self.streams.get_mut(r.stream) {
                    s.responses.push(r);
                }
            }
            Event::Ended { stream, why } => {
                if let Some(s) = self.streams.get_mut(stream) {
                    eprintln!("stream sim-{stream:04} ended: {why}");
                    s.ended = Some(why);
                }
            }
        }
    }

    /// Records whatever has arrived, without waiting.
    pub fn drain(&mut self) {
        while let Ok(e) = self.rx.try_recv() {
            self.absorb(e);
        }
    }

    /// Streams that have not ended.
    pub fn live(&self) -> usize {
        self.streams.iter().filter(|s| s.ended.is_none()).count()
    }

    /// Records events until `done` holds for the streams, or `deadline`.
    /// `done` is checked after each burst of events, not after each one:
    /// with a thousand streams that keeps the wait linear.
    pub async fn wait_until(
        &mut self,
        deadline: Instant,
        mut done: impl FnMut(&[StreamLog]) -> bool,
    ) -> Waited {
        loop {
            self.drain();
            if done(&self.streams) {
                return Waited::Done;
            }
            match tokio::time::timeout_at(deadline.into(), self.rx.recv()).await {
                Ok(Some(e)) => self.absorb(e),
                // Every sender is gone: nothing more can arrive.
                Ok(None) | Err(_) => {
                    return if done(&self.streams) {
                        Waited::Done
                    } else {
                        Waited::TimedOut
                    };
                }
            }
        }
    }

    /// Records events until none has arrived for `quiet`, or `deadline`;
    /// returns when the last event arrived.
    pub async fn settle(&mut self, quiet: Duration, deadline: Instant) -> Instant {
        loop {
            let now = Instant::now();
            if now >= deadline || now >= self.last_event + quiet {
                return self.last_event;
            }
            let until = (self.last_event + quiet).min(deadline);
            match tokio::time::timeout_at(until.into(), self.rx.recv()).await {
                Ok(Some(e)) => self.absorb(e),
                // Every sender is gone: only time can pass.
                Ok(None) => tokio::time::sleep_until(until.into()).await,
                Err(_) => {}
            }
        }
    }
}
