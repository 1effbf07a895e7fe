//! Large bodies stream through the real binary in constant memory: 100 MiB
//! up and down, over HTTP/1.1 and HTTP/2, while the child's resident memory
//! is sampled.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use weft_testkit::{PATIENCE, client, eventually, metrics, process, servers};

use crate::support::{ECHO, ECHO_H2, Proc, config};

/// Bytes moved each way: well above any buffer the proxy should hold.
const SIZE: u64 = 100 * 1024 * 1024;
/// The child's resident memory must stay under this, whatever `SIZE` is.
const RSS_BOUND: u64 = 64 * 1024 * 1024;

/// The echo server's `/bytes` pattern: byte `i` of every 64 KiB chunk is
/// `i % 251`. Uploads use it too, so `/sink`'s sum is known.
const CHUNK: &[u8; 64 * 1024] = &{
    let mut buf = [0u8; 64 * 1024];
    let mut i = 0;
    while i < buf.len() {
        buf[i] = (i % 251) as u8;
        i += 1;
    }
    buf
};

#[derive(Clone, Copy, Debug)]
enum Direction {
    Upload,
    Download,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_upload_in_constant_memory() {
    transfer(Version::HTTP_11, Direction::Upload).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_download_in_constant_memory() {
    transfer(Version::HTTP_11, Direction::Download).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_upload_in_constant_memory() {
    transfer(Version::HTTP_2, Direction::Upload).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_download_in_constant_memory() {
    transfer(Version::HTTP_2, Direction::Download).await;
}

/// Moves `SIZE` bytes through the proxy (HTTP/2 end to end when `version`
/// is HTTP/2) and checks every byte arrived and memory stayed flat.
async fn transfer(version: Version, direction: Direction) {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    let listener = proxy.listener("outbound");
    let idle_rss = proxy.rss_bytes().unwrap();
    let sampler = RssSampler::start(proxy.pid());
    let started = Instant::now();

    let path = match direction {
        Direction::Upload => "/sink".to_string(),
        Direction::Download => format!("/bytes/{SIZE}"),
    };
    let mut req = match direction {
        Direction::Upload => Request::post(&path)
            .header("content-length", SIZE)
            .body(Pattern::body(SIZE)),
        Direction::Download => Request::get(&path).body(client::empty()),
    }
    .unwrap();
    let rsp = if version == Version::HTTP_2 {
        *req.uri_mut() = format!("http://{ECHO_H2}{path}").parse().unwrap();
        client::h2(listener).await.send_request(req).await.unwrap()
    } else {
        req.headers_mut().insert("host", ECHO.parse().unwrap());
        client::h1(listener).await.send_request(req).await.unwrap()
    };
    assert_eq!(rsp.status(), StatusCode::OK);
    assert_eq!(rsp.version(), version);
    match direction {
        Direction::Upload => {
            let body = rsp.into_body().collect().await.unwrap().to_bytes();
            let want = format!(
                "bytes={SIZE} sum={}\n",
                weft_sample::echo::pattern_sum(SIZE)
            );
            assert_eq!(String::from_utf8_lossy(&body), want);
        }
        Direction::Download => {
            let mut body = rsp.into_body();
            let mut received = 0u64;
            while let Some(frame) = body.frame().await {
                if let Some(data) = frame.unwrap().data_ref() {
                    assert_pattern_at(received, data);
                    received += data.len() as u64;
                }
            }
            assert_eq!(received, SIZE);
        }
    }
    let took = started.elapsed();
    let sampled = sampler.stop();
    // The kernel's high-water mark catches a spike between two samples.
    let hwm = proxy.peak_rss_bytes().unwrap();
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    eprintln!(
        "{version:?} {direction:?} of {} MiB in {took:.1?}: proxy RSS idle {:.1} MiB, sampled peak {:.1} MiB, VmHWM {:.1} MiB",
        SIZE >> 20,
        mib(idle_rss),
        mib(sampled),
        mib(hwm),
    );
    for peak in [sampled, hwm] {
        assert!(
            peak < RSS_BOUND,
            "proxy RSS peaked at {peak} bytes moving {SIZE} bytes (bound {RSS_BOUND})"
        );
    }
    // Every byte went through the proxy, as its own metrics say.
    let metric = match direction {
        Direction::Upload => "istio_request_bytes_sum",
        Direction::Download => "istio_response_bytes_sum",
    };
    let addr = proxy.metrics();
    eventually(&format!("{metric} == {SIZE}"), PATIENCE, || async move {
        let text = metrics::scrape(addr).await;
        metrics::sum(&text, metric, &[("response_code", "200")]) == Some(SIZE as f64)
    })
    .await;
    proxy.assert_no_panic();
}

/// Checks that `data`, found at stream offset `offset`, is the pattern.
fn assert_pattern_at(offset: u64, data: &[u8]) {
    let mut at = (offset % CHUNK.len() as u64) as usize;
    let mut rest = data;
    while !rest.is_empty() {
        let n = rest.len().min(CHUNK.len() - at);
        // Slice equality is a memcmp: fast even in a debug build.
        assert!(
            rest[..n] == CHUNK[at..at + n],
            "wrong bytes near offset {offset}"
        );
        rest = &rest[n..];
        at = 0;
    }
}

/// `n` bytes of the pattern, produced lazily.
struct Pattern {
    remaining: u64,
}

impl Pattern {
    fn body(n: u64) -> client::Body {
        Pattern { remaining: n }.map_err(|e| match e {}).boxed()
    }
}

impl Body for Pattern {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let n = self.remaining.min(CHUNK.len() as u64) as usize;
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&CHUNK[..n])))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Samples a process's resident memory every 2 ms on a thread
/// of its own, keeping the peak.
struct RssSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl RssSampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || {
                let mut peak = 0;
                while !stop.load(Ordering::Relaxed) {
                    peak = peak.max(process::rss_bytes(pid).unwrap_or(0));
                    std::thread::sleep(Duration::from_millis(2));
                }
                peak.max(process::rss_bytes(pid).unwrap_or(0))
            }
        });
        Self { stop, thread }
    }

    /// Stops sampling and returns the peak seen.
    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}
