//! When a batch of spans leaves for the collector: OpenTelemetry's
//! `BatchSpanProcessor` rules (SDK spec, "Batching processor"). A batch goes
//! as soon as `max` spans are queued, or once the first of them has waited
//! `delay`. One export runs at a time (the SDK's default), and spans keep
//! queueing meanwhile.
//!
//! The exporter runs on a thread of its own, and waking a thread costs a
//! system call on each side: woken per span, it cost more CPU than the
//! encoding (`perf`, BENCHMARKS.md). So requests ring the exporter's bell
//! only when a queue starts filling (to start the delay) and when it holds
//! a full batch, not for every span in between.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// The batching limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Batching {
    /// The most spans one export carries (`maxExportBatchSize`); a batch
    /// this full goes at once.
    pub max: usize,
    /// How long a span waits for its batch to fill (`scheduledDelayMillis`).
    pub delay: Duration,
}

/// The requests' end of the queue.
#[derive(Debug)]
pub(super) struct Sender<T> {
    tx: mpsc::Sender<T>,
    bell: Arc<Bell>,
}

/// Cuts the queue into batches: [`Batcher::next`] waits for the next one
/// that is due.
pub(super) struct Batcher<T> {
    rx: mpsc::Receiver<T>,
    policy: Batching,
    bell: Arc<Bell>,
}

#[derive(Debug)]
struct Bell {
    /// Spans queued, counted before they are sent so that it never falls
    /// below the queue's length; `next` takes out what it takes.
    queued: AtomicUsize,
    ring: Notify,
    /// A batch is this full.
    max: usize,
    /// Send what is queued now, without waiting for the delay (shutdown).
    flush: AtomicBool,
    /// Spans taken for an export that has not finished yet.
    exporting: AtomicUsize,
}

/// A bounded queue (`capacity` spans) cut into batches by `policy`.
pub(super) fn queue<T>(capacity: usize, policy: Batching) -> (Sender<T>, Batcher<T>) {
    let policy = Batching {
        max: policy.max.clamp(1, capacity),
        ..policy
    };
    let (tx, rx) = mpsc::channel(capacity);
    let bell = Arc::new(Bell {
        queued: AtomicUsize::new(0),
        ring: Notify::new(),
        max: policy.max,
        flush: AtomicBool::new(false),
        exporting: AtomicUsize::new(0),
    });
    let sender = Sender {
        tx,
        bell: bell.clone(),
    };
    (sender, Batcher { rx, policy, bell })
}

// === impl Sender ===

impl<T> Sender<T> {
    /// Queues `item` without waiting; a full queue gives it back.
    pub(super) fn try_send(&self, item: T) -> Result<(), T> {
        let n = self.bell.queued.fetch_add(1, Ordering::AcqRel) + 1;
        if let Err(e) = self.tx.try_send(item) {
            self.bell.queued.fetch_sub(1, Ordering::AcqRel);
            return Err(e.into_inner());
        }
        // The first span starts a batch's delay; the `max`th fills it.
        if n == 1 || n == self.bell.max {
            self.bell.ring.notify_one();
        }
        Ok(())
    }

    /// Sends whatever is queued now instead of after the delay: the
    /// proxy is shutting down.
    pub(super) fn flush(&self) {
        self.bell.flush.store(true, Ordering::Release);
        self.bell.ring.notify_one();
    }

    /// Spans queued or still being exported.
    pub(super) fn pending(&self) -> usize {
        self.bell.queued.load(Ordering::Acquire) + self.bell.exporting.load(Ordering::Acquire)
    }
}

// === impl Batcher ===

impl<T> Batcher<T> {
    /// The next batch (at most `max` spans) once `max` are queued, the
    /// first has waited `delay`, or every sender is gone; `None` after the
    /// last. A closed queue is noticed within `delay`, when idle.
    pub(super) async fn next(&mut self) -> Option<Vec<T>> {
        let max = self.policy.max;
        loop {
            if self.bell.queued.load(Ordering::Acquire) == 0 {
                if self.rx.is_closed() && self.rx.is_empty() {
                    return None;
                }
                tokio::select! {
                    () = self.bell.ring.notified() => {}
                    () = tokio::time::sleep(self.policy.delay) => {}
                }
                continue;
            }
            let deadline = Instant::now() + self.policy.delay;
            while self.bell.queued.load(Ordering::Acquire) < max
                && Instant::now() < deadline
                && !self.rx.is_closed()
                && !self.bell.flush.load(Ordering::Acquire)
            {
                tokio::select! {
                    () = self.bell.ring.notified() => {}
                    () = tokio::time::sleep_until(deadline) => {}
                }
            }
            let mut batch = Vec::with_capacity(max);
            while batch.len() < max
                && let Ok(item) = self.rx.try_recv()
            {
                batch.push(item);
            }
            // Counted as exporting before it stops counting as queued,
            // so `pending` never reads 0 while a span is on its way.
            self.bell.exporting.fetch_add(batch.len(), Ordering::AcqRel);
            let left = self.bell.queued.fetch_sub(batch.len(), Ordering::AcqRel) - batch.len();
            if left == 0 {
                self.bell.flush.store(false, Ordering::Release);
            }
            if !batch.is_empty() {
                return Some(batch);
            }
        }
    }

    /// The export of `n` spans [`next`](Self::next) gave out is over.
    pub(super) fn done(&self, n: usize) {
        self.bell.exporting.fetch_sub(n, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;

    const POLICY: Batching = Batching {
        max: 4,
        delay: Duration::from_secs(5),
    };

    /// Each batch sent, with when it left (since the test began).
    type Sent = Arc<Mutex<Vec<(Duration, Vec<u32>)>>>;

    fn exporter() -> (Sender<u32>, Sent, tokio::task::JoinHandle<()>) {
        let (tx, mut batcher) = queue(64, POLICY);
        let sent = Sent::default();
        let log = sent.clone();
        let began = Instant::now();
        let task = tokio::spawn(async move {
            while let Some(batch) = batcher.next().await {
                let n = batch.len();
                log.lock().push((began.elapsed(), batch));
                batcher.done(n);
            }
        });
        (tx, sent, task)
    }

    #[tokio::test(start_paused = true)]
    async fn spans_below_a_batch_leave_together_after_the_delay() {
        let (tx, sent, _task) = exporter();
        for i in 0..3 {
            tx.try_send(i).unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert!(sent.lock().is_empty(), "nothing before the delay");
        tokio::time::sleep(Duration::from_secs(10)).await;
        // The delay runs from the first span: 5 s, not 5 s after the last.
        assert_eq!(*sent.lock(), vec![(Duration::from_secs(5), vec![0, 1, 2])]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_span_that_fills_a_batch_sends_it() {
        let (tx, sent, _task) = exporter();
        for i in 0..4 {
            tx.try_send(i).unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(
            *sent.lock(),
            vec![(Duration::from_secs(3), vec![0, 1, 2, 3])]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_batch_leaves_at_once_and_the_rest_waits() {
        let (tx, sent, _task) = exporter();
        for i in 0..10 {
            tx.try_send(i).unwrap();
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(
            *sent.lock(),
            vec![
                (Duration::ZERO, vec![0, 1, 2, 3]),
                (Duration::ZERO, vec![4, 5, 6, 7]),
            ],
            "full batches go without waiting"
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(sent.lock()[2], (Duration::from_secs(5), vec![8, 9]));
    }

    #[tokio::test(start_paused = true)]
    async fn a_flush_sends_what_is_queued_without_waiting() {
        let (tx, sent, _task) = exporter();
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(tx.pending(), 3);
        tx.flush();
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(*sent.lock(), vec![(Duration::from_secs(1), vec![0, 1, 2])]);
        assert_eq!(tx.pending(), 0);
        // Later spans wait for the delay again.
        tx.try_send(3).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(sent.lock().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_queue_sends_nothing_and_a_closed_one_sends_the_rest() {
        let (tx, sent, task) = exporter();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert!(sent.lock().is_empty());
        tx.try_send(7).unwrap();
        drop(tx);
        task.await.unwrap();
        assert_eq!(*sent.lock(), vec![(Duration::from_secs(60), vec![7])]);
    }
}
