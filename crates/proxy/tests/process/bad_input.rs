//! Bad input to the real binary: each case gets a clear answer (or a close)
//! and leaves the proxy serving everyone else, without a panic.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::Request;
use http_body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use weft_testkit::{PATIENCE, eventually, metrics, servers};

use crate::support::{ECHO, Proc, config, raw_exchange, read_to_close};

/// Random bytes, the same for a given seed.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

/// What the proxy may answer to bytes it cannot use: nothing (a close), or
/// an HTTP/1 400.
fn closed_or_400(answer: &str) -> bool {
    answer.is_empty() || answer.starts_with("HTTP/1.1 400 ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_bytes_are_refused_without_disturbing_anyone() {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    for seed in 0..12u64 {
        let bytes = garbage(seed, [16, 100, 5000, 70_000][seed as usize % 4]);
        for listener in ["outbound", "http1"] {
            let answer = raw_exchange(proxy.listener(listener), &bytes).await;
            assert!(
                closed_or_400(&answer),
                "{listener}, seed {seed}: {answer:?}"
            );
        }
    }
    // Garbage after something that looks like a protocol: an HTTP/1 method,
    // the HTTP/2 preface, a TLS record header.
    let prefixes: [&[u8]; 3] = [
        b"GET ",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x16\x03\x01",
    ];
    for (i, prefix) in prefixes.into_iter().enumerate() {
        let bytes = [prefix, &garbage(100 + i as u64, 3000)].concat();
        let answer = raw_exchange(proxy.listener("outbound"), &bytes).await;
        // HTTP/2 answers in binary frames (SETTINGS, GOAWAY) before closing.
        assert!(
            i == 1 || closed_or_400(&answer),
            "{:?}...: {answer:?}",
            String::from_utf8_lossy(prefix)
        );
    }
    proxy.assert_serving().await;
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    let big = "a".repeat(100 * 1024);
    let request = format!("GET / HTTP/1.1\r\nHost: echo.test\r\nx-big: {big}\r\n\r\n");
    for listener in ["outbound", "http1"] {
        let answer = raw_exchange(proxy.listener(listener), request.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 431 "),
            "{listener}: {:?}",
            &answer[..answer.len().min(200)]
        );
    }
    // Many small headers adding up past the limit, too.
    let many: String = (0..2000)
        .map(|i| format!("x-h{i}: {}\r\n", "v".repeat(40)))
        .collect();
    let request = format!("GET / HTTP/1.1\r\nHost: echo.test\r\n{many}\r\n");
    let answer = raw_exchange(proxy.listener("http1"), request.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
    proxy.assert_serving().await;
}

#[tokio::test]
async fn malformed_request_lines_get_400() {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    let bad: [&[u8]; 5] = [
        b"GET /\x7f HTTP/1.1\r\nHost: echo.test\r\n\r\n",
        b"GET / HTTP/1.1 trailing words\r\nHost: echo.test\r\n\r\n",
        b"GET  HTTP/1.1\r\nHost: echo.test\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: echo.test\r\nContent-Length: lots\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: echo.test\r\nbad header line\r\n\r\n",
    ];
    for request in bad {
        for listener in ["outbound", "http1"] {
            let answer = raw_exchange(proxy.listener(listener), request).await;
            assert!(
                answer.starts_with("HTTP/1.1 400 "),
                "{listener}, {:?}: {answer:?}",
                String::from_utf8_lossy(request)
            );
        }
    }
    proxy.assert_serving().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_closed_tcp_still_gets_the_whole_echo() {
    let echo = servers::http_echo("echo").await;
    let tcp = servers::tcp_echo().await;
    let proxy = Proc::spawn(&config(echo.addr, Some(tcp.addr), ""));
    let payload = garbage(7, 1024 * 1024);

    let sock = TcpStream::connect(proxy.listener("to-db")).await.unwrap();
    let (mut rd, mut wr) = sock.into_split();
    let reader = tokio::spawn(async move {
        let mut back = Vec::new();
        rd.read_to_end(&mut back).await.map(|_| back)
    });
    wr.write_all(&payload).await.unwrap();
    // Done sending; the echo keeps flowing back until the server is done.
    wr.shutdown().await.unwrap();
    let back = tokio::time::timeout(PATIENCE, reader)
        .await
        .expect("no EOF after the echo")
        .unwrap()
        .unwrap();
    assert_eq!(back.len(), payload.len());
    assert!(back == payload, "echo differs");
    proxy.assert_serving().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_vanish_mid_body_are_cleaned_up() {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    let half = vec![b'x'; 500_000];
    for listener in ["outbound", "http1"] {
        let mut sock = TcpStream::connect(proxy.listener(listener)).await.unwrap();
        let head = "POST /sink HTTP/1.1\r\nHost: echo.test\r\nContent-Length: 1000000\r\n\r\n";
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.write_all(&half).await.unwrap();
        drop(sock);
    }
    h2_vanish_mid_body(proxy.listener("outbound"), &half).await;

    let addr = proxy.metrics();
    eventually(
        "every downstream connection closed",
        PATIENCE,
        || async move {
            let text = metrics::scrape(addr).await;
            // The scrape's own connection is on the metrics port, not counted.
            metrics::sum(&text, "weft_listener_connections_active", &[]) == Some(0.0)
        },
    )
    .await;
    proxy.assert_serving().await;
}

/// An HTTP/2 client sends half its body, then its connection disappears.
async fn h2_vanish_mid_body(addr: SocketAddr, half: &[u8]) {
    let io = TokioIo::new(TcpStream::connect(addr).await.unwrap());
    let (mut tx, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
        .await
        .unwrap();
    let conn = tokio::spawn(conn);
    let (body_tx, body_rx) = mpsc::channel(1);
    let req = Request::post(format!("http://{ECHO}/sink"))
        .header("content-length", "1000000")
        .body(ChannelBody(body_rx))
        .unwrap();
    let rsp = tokio::spawn(tx.send_request(req));
    body_tx.send(Bytes::copy_from_slice(half)).await.unwrap();
    // Sent once the channel has room again, so the half is on its way.
    body_tx.send(Bytes::new()).await.unwrap();
    // Dropping the connection closes the socket. (hyper's client leaves the
    // response future pending when its connection task is dropped, so it
    // goes too.)
    conn.abort();
    rsp.abort();
}

/// A request body fed from a channel, ending when the sender goes.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b))))
    }
}

#[tokio::test]
async fn a_client_that_says_nothing_is_let_go() {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    // On a detecting listener silence becomes opaque TCP after the detect
    // timeout; with no destination to send it to, the proxy closes.
    let mut sock = TcpStream::connect(proxy.listener("outbound"))
        .await
        .unwrap();
    let answer = read_to_close(&mut sock).await;
    assert_eq!(answer, "");
    proxy.assert_serving().await;
}
