//! Mesh mTLS on the wire: no plaintext HTTP travels between two sidecars.
//!
//! Two pods (network namespaces) joined by a veth pair; a real `tcpdump`
//! on the productpage pod's `eth0` records the proxy-to-proxy hop from
//! before the first connection is made. Requests carrying a canary path
//! and header go through both sidecars to the details app, which echoes
//! them back in its body. The capture must show each connection opening
//! with a TLS ClientHello that offers a mesh ALPN, and must hold none of
//! the canaries, `HTTP/1.1` or the HTTP/2 connection preface.
//!
//! ```text
//!  productpage ns                                   details ns
//!  client -> sidecar outbound (127.0.0.1)           weft control (198.18.0.2)
//!            eth0 198.18.0.1/30 <== veth ==> eth0 198.18.0.2/30
//!            tcpdump here                           sidecar inbound 198.18.0.2
//!                                                    -> details app (127.0.0.1)
//! ```
//!
//! Needs root, `ip` and `tcpdump` (`scripts/install-test-deps.sh`); fails
//! naming what is missing, never skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use http::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use weft_testkit::control::ControlProcess;
use weft_testkit::netns::Netns;
use weft_testkit::{PATIENCE, client, eventually, servers};

use support::bookinfo::{client_sidecar_with, details_sidecar, weft, write_files};

const CANARY_PATH: &str = "/secret-path-7f3a";
const CANARY_HEADER: &str = "x-canary";
const CANARY_VALUE: &str = "plaintext-canary-91c2";
/// Requests sent once the route works (the first, readiness one aside).
const REQUESTS: usize = 20;

const PP_IP: &str = "198.18.0.1";
const DETAILS_IP: &str = "198.18.0.2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_http_between_sidecars() {
    let tcpdump = tcpdump_bin();
    // Declared first, so dropped last: every process inside is gone by then.
    let mut pp_ns = Netns::new("wire-pp");
    let details_ns = Netns::new("wire-details");
    pp_ns.veth(
        "eth0",
        &format!("{PP_IP}/30"),
        &details_ns,
        "eth0",
        &format!("{DETAILS_IP}/30"),
    );

    // The app's socket is bound inside the details pod; its task runs on
    // this test's runtime.
    let rt = tokio::runtime::Handle::current();
    let app = details_ns.enter(|| rt.block_on(servers::http_echo("details")));
    let dir = tempfile::tempdir().unwrap();
    write_files(dir.path(), app.addr.port(), "");
    let control = details_ns.enter(|| {
        ControlProcess::spawn(
            weft(),
            &[
                &dir.path().join("details.yaml"),
                &dir.path().join("policy.yaml"),
            ],
            &dir.path().join("state"),
            SocketAddr::from((DETAILS_IP.parse::<Ipv4Addr>().unwrap(), 0)),
        )
    });
    // Tokens come from the control plane's API, on the details pod's
    // loopback.
    let bootstrap = |sa: &str| details_ns.enter(|| control.bootstrap("default", sa));
    // details' inbound listens on its pod's address, so the control plane
    // registers it there and peers dial it across the veth.
    let details =
        details_ns.enter(|| details_sidecar(&control, app.addr, &format!("{DETAILS_IP}:0"), ""));
    let inbound = details.listener("inbound");
    assert_eq!(inbound.ip().to_string(), DETAILS_IP, "inbound listener");

    // Capturing before productpage's sidecar exists: every proxy-to-proxy
    // connection is seen from its first byte.
    let capture = Capture::start(&pp_ns, &tcpdump, "eth0", inbound.port());
    let pp_trust = bootstrap("bookinfo-productpage");
    let productpage =
        pp_ns.enter(|| client_sidecar_with(control.grpc, "bookinfo-productpage", &pp_trust, ""));
    let outbound = productpage.listener("outbound");

    eventually("productpage reaches details", PATIENCE, || async {
        matches!(get_canary(&pp_ns, outbound).await, Ok((StatusCode::OK, _)))
    })
    .await;
    for i in 0..REQUESTS {
        let (status, body) = get_canary(&pp_ns, outbound)
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert_eq!(status, StatusCode::OK, "request {i}: {body}");
        // The app saw the canaries, and echoed them back across the hop.
        assert!(
            body.contains(CANARY_PATH) && body.contains(CANARY_VALUE),
            "request {i}: the echo lacks the canaries: {body}"
        );
    }
    let pcap = capture.stop();

    // Each request carries at least its path and canary header; encrypted,
    // it only grows.
    let least = (REQUESTS + 1) * (CANARY_PATH.len() + CANARY_VALUE.len());
    assert_mesh_tls_only(&pcap, inbound, least);
}

/// Checks that `pcap` holds at least `least` payload bytes towards
/// `server`, that every connection to it opens with a mesh TLS handshake,
/// and that no plaintext HTTP appears in it.
fn assert_mesh_tls_only(pcap: &[u8], server: SocketAddr, least: usize) {
    let streams = streams(&segments(pcap), server);
    let sent: usize = streams.values().map(|s| s.to_server.len()).sum();
    assert!(
        sent >= least,
        "the capture holds {sent} payload bytes towards {server} over {} connections, \
         fewer than the {least} the requests needed: did it see the proxy-to-proxy hop?",
        streams.len()
    );
    for (peer, s) in &streams {
        if s.to_server.is_empty() {
            continue;
        }
        // A TLS handshake record (0x16 0x03) holding a ClientHello (1)
        // that asks for a mesh protocol, answered by a ServerHello (2).
        assert!(
            s.to_server.starts_with(&[0x16, 0x03]) && s.to_server.get(5) == Some(&1),
            "{peer} -> {server} does not open with a TLS ClientHello: {:?}",
            preview(&s.to_server)
        );
        let hello = record(&s.to_server);
        assert!(
            weft_identity::MESH_ALPNS
                .iter()
                .any(|alpn| contains(hello, alpn)),
            "{peer}'s ClientHello offers no mesh ALPN: {:?}",
            preview(hello)
        );
        assert!(
            s.to_client.starts_with(&[0x16, 0x03]) && s.to_client.get(5) == Some(&2),
            "{server} -> {peer} does not answer with a TLS ServerHello: {:?}",
            preview(&s.to_client)
        );
    }
    // In the raw file, and in each direction's bytes put back together, so
    // a string split across two segments is found too. HPACK may hide the
    // request's path and header (Huffman), but not the HTTP/2 preface, nor
    // the echo's body, which repeats both as they are.
    let forbidden: [&[u8]; 4] = [
        CANARY_PATH.as_bytes(),
        CANARY_VALUE.as_bytes(),
        b"HTTP/1.1",
        b"PRI * HTTP/2.0",
    ];
    for needle in forbidden {
        let shown = String::from_utf8_lossy(needle);
        assert!(!contains(pcap, needle), "{shown:?} in the raw capture");
        for (peer, s) in &streams {
            assert!(
                !contains(&s.to_server, needle) && !contains(&s.to_client, needle),
                "{shown:?} in plaintext between {peer} and {server}"
            );
        }
    }
}

/// `GET http://details:9080/<canary>` with the canary header, on a fresh
/// connection from inside `ns` to the sidecar's `outbound`: the status and
/// body.
async fn get_canary(ns: &Netns, outbound: SocketAddr) -> Result<(StatusCode, String), String> {
    let attempt = async {
        let tcp = ns
            .tcp_socket()
            .connect(outbound)
            .await
            .map_err(|e| e.to_string())?;
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let req = Request::get(CANARY_PATH)
            .header("host", "details:9080")
            .header(CANARY_HEADER, CANARY_VALUE)
            .body(client::empty())
            .unwrap();
        let rsp = send.send_request(req).await.map_err(|e| e.to_string())?;
        let got = client::collect(rsp).await;
        Ok((got.status, got.text()))
    };
    tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .map_err(|_| "timed out".to_string())?
}

/// `tcpdump`, or a panic saying how to get it.
fn tcpdump_bin() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join("tcpdump"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("tcpdump not found: run scripts/install-test-deps.sh (installs tcpdump)")
        })
}

/// A running `tcpdump` writing pcap to its stdout, which a thread drains
/// (a pipe holds only 64 KiB).
struct Capture {
    child: Child,
    /// Taken by [`stop`](Self::stop).
    pcap: Option<JoinHandle<Vec<u8>>>,
    stderr: mpsc::Receiver<String>,
}

// === impl Capture ===

impl Capture {
    /// Starts capturing TCP to and from `port` on `iface` inside `ns`;
    /// returns once tcpdump says it is listening (its filter is set).
    fn start(ns: &Netns, tcpdump: &Path, iface: &str, port: u16) -> Self {
        // `--immediate-mode`: without it, libpcap's TPACKET_V3 ring hands
        // packets over a block at a time, and a block still filling when
        // SIGINT comes is never written: a capture shorter than the block
        // timeout came out empty. `-U`: each packet is written as it
        // comes. To stdout rather than a file: tcpdump may drop root for
        // its own user before it opens the file, in a directory it cannot
        // write.
        let filter = format!("tcp port {port}");
        let mut child = ns.enter(|| {
            Command::new(tcpdump)
                .args([
                    "-i",
                    iface,
                    "-n",
                    "--immediate-mode",
                    "-U",
                    "-w",
                    "-",
                    &filter,
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", tcpdump.display()))
        });
        let mut stdout = child.stdout.take().unwrap();
        let pcap = std::thread::spawn(move || {
            let mut pcap = Vec::new();
            stdout.read_to_end(&mut pcap).unwrap();
            pcap
        });
        let (tx, stderr) = mpsc::channel();
        let lines = BufReader::new(child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut capture = Self {
            child,
            pcap: Some(pcap),
            stderr,
        };
        let mut said = Vec::new();
        loop {
            match capture.stderr.recv_timeout(PATIENCE) {
                Ok(line) if line.contains("listening on") => return capture,
                Ok(line) => said.push(line),
                Err(_) => panic!(
                    "tcpdump on {iface} in {} is not capturing ({:?}): {}",
                    ns.name(),
                    capture.child.try_wait(),
                    said.join("\n")
                ),
            }
        }
    }

    /// Stops tcpdump as Ctrl-C would (it flushes and prints its counts)
    /// and returns the pcap it wrote.
    fn stop(mut self) -> Vec<u8> {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGINT).unwrap();
        let status = self.child.wait().unwrap();
        let pcap = self.pcap.take().unwrap().join().unwrap();
        let said: Vec<String> = self.stderr.try_iter().collect();
        assert!(status.success(), "tcpdump: {status}: {}", said.join("\n"));
        // Lost packets could hide exactly the bytes that matter.
        assert!(
            said.iter().any(|l| l == "0 packets dropped by kernel"),
            "tcpdump dropped packets: {}",
            said.join("\n")
        );
        pcap
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One captured TCP segment.
struct Segment {
    src: SocketAddr,
    dst: SocketAddr,
    payload: Vec<u8>,
}

/// The two directions of one connection, each one's payloads in capture
/// order.
#[derive(Default)]
struct Stream {
    to_server: Vec<u8>,
    to_client: Vec<u8>,
}

/// The TCP segments of a classic pcap file of Ethernet frames (what
/// tcpdump writes for a veth), IPv4 only.
fn segments(pcap: &[u8]) -> Vec<Segment> {
    assert!(pcap.len() >= 24, "not a pcap file: {} bytes", pcap.len());
    // Magic in the writer's byte order: microsecond or nanosecond stamps.
    let little = match pcap[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("not a pcap file: magic {:02x?}", &pcap[..4]),
    };
    let u32_at = |at: usize| {
        let b: [u8; 4] = pcap[at..at + 4].try_into().unwrap();
        let n = if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        };
        n as usize
    };
    assert_eq!(u32_at(20), 1, "link type is not Ethernet");
    let mut out = Vec::new();
    let mut at = 24;
    while at < pcap.len() {
        let (captured, original) = (u32_at(at + 8), u32_at(at + 12));
        assert_eq!(captured, original, "frame {} was cut short", out.len());
        out.push(tcp_segment(&pcap[at + 16..at + 16 + captured]));
        at += 16 + captured;
    }
    out
}

fn tcp_segment(frame: &[u8]) -> Segment {
    assert_eq!(frame[12..14], [0x08, 0x00], "not IPv4");
    let ip = &frame[14..];
    let header = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    assert_eq!(ip[9], 6, "not TCP");
    let addr = |at: usize| Ipv4Addr::new(ip[at], ip[at + 1], ip[at + 2], ip[at + 3]);
    let tcp = &ip[header..total];
    let port = |at: usize| u16::from_be_bytes([tcp[at], tcp[at + 1]]);
    let offset = usize::from(tcp[12] >> 4) * 4;
    Segment {
        src: SocketAddrV4::new(addr(12), port(0)).into(),
        dst: SocketAddrV4::new(addr(16), port(2)).into(),
        payload: tcp[offset..].to_vec(),
    }
}

/// The connections to `server`, by client address.
fn streams(segments: &[Segment], server: SocketAddr) -> BTreeMap<SocketAddr, Stream> {
    let mut streams = BTreeMap::<SocketAddr, Stream>::new();
    for s in segments {
        if s.dst == server {
            let stream = streams.entry(s.src).or_default();
            stream.to_server.extend_from_slice(&s.payload);
        } else {
            assert_eq!(s.src, server, "a segment of neither direction");
            let stream = streams.entry(s.dst).or_default();
            stream.to_client.extend_from_slice(&s.payload);
        }
    }
    streams
}

/// The first TLS record of `bytes` (header and body), or all of them.
fn record(bytes: &[u8]) -> &[u8] {
    let len = bytes
        .get(3..5)
        .map_or(0, |l| usize::from(u16::from_be_bytes([l[0], l[1]])));
    &bytes[..(5 + len).min(bytes.len())]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first bytes of `bytes`, readable where they are text.
fn preview(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned()
}
