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
//! Needs root, `ip`, `nsenter` and `tcpdump`
//! (`scripts/install-test-deps.sh`); fails naming what is missing, never
//! skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use http::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use weft_testkit::control::ControlProcess;
use weft_testkit::netns::Netns;
use weft_testkit::{PATIENCE, client, eventually, servers};

use support::bookinfo::{client_sidecar_with, details_sidecar, weft, write_files};
use support::pcap::{self, Capture};

const CANARY_PATH: &str = "/secret-path-7f3a";
const CANARY_HEADER: &str = "x-canary";
const CANARY_VALUE: &str = "plaintext-canary-91c2";
/// Requests sent once the route works (the first, readiness one aside).
const REQUESTS: usize = 20;

const PP_IP: &str = "198.18.0.1";
const DETAILS_IP: &str = "198.18.0.2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_http_between_sidecars() {
    let tcpdump = pcap::tcpdump_bin();
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
    let capture = Capture::start(
        &pp_ns.path(),
        &tcpdump,
        "eth0",
        &format!("tcp port {}", inbound.port()),
    );
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
    let connections = pcap::connections(&pcap::segments(pcap));
    for (client, to) in connections.keys() {
        assert_eq!(*to, server, "{client} opened a connection to {to}");
    }
    let sent: usize = connections.values().map(|s| s.to_server.len()).sum();
    assert!(
        sent >= least,
        "the capture holds {sent} payload bytes towards {server} over {} connections, \
         fewer than the {least} the requests needed: did it see the proxy-to-proxy hop?",
        connections.len()
    );
    // HPACK may hide the request's path and header (Huffman), but not the
    // HTTP/2 preface, nor the echo's body, which repeats both as they are.
    pcap::assert_mesh_tls(
        pcap,
        &connections,
        &[
            CANARY_PATH.as_bytes(),
            CANARY_VALUE.as_bytes(),
            b"HTTP/1.1",
            b"PRI * HTTP/2.0",
        ],
    );
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
