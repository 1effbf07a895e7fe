//! Checking mesh traffic on the wire: a real `tcpdump` in a network
//! namespace, a reader for the classic pcap it writes, and the checks that
//! each connection is mesh mTLS and carries no plaintext.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use weft_testkit::PATIENCE;

/// `tcpdump`, or a panic saying how to get it.
pub fn tcpdump_bin() -> PathBuf {
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
pub struct Capture {
    child: Child,
    /// Taken by [`stop`](Self::stop).
    pcap: Option<JoinHandle<Vec<u8>>>,
    stderr: mpsc::Receiver<String>,
}

// === impl Capture ===

impl Capture {
    /// Starts capturing what `filter` (a BPF expression) selects on
    /// `iface` inside the network namespace mounted at `netns`; returns
    /// once tcpdump says it is listening (its filter is set), so nothing
    /// sent afterwards is missed.
    pub fn start(netns: &Path, tcpdump: &Path, iface: &str, filter: &str) -> Self {
        // `--immediate-mode`: without it, libpcap's TPACKET_V3 ring hands
        // packets over a block at a time, and a block still filling when
        // SIGINT comes is never written: a capture shorter than the block
        // timeout (tcpdump's one second) came out empty, "0 packets
        // captured" though hundreds were "received by filter". `-U`: each
        // packet is written as it comes. To stdout rather than a file:
        // tcpdump may drop root for its own user before it opens the file,
        // in a directory it cannot write. `nsenter --net` execs tcpdump, so
        // the child's pid is tcpdump's and SIGINT reaches it.
        let mut child = Command::new("nsenter")
            .arg(format!("--net={}", netns.display()))
            .arg(tcpdump)
            .args([
                "-i",
                iface,
                "-n",
                "--immediate-mode",
                "-U",
                "-w",
                "-",
                filter,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} with nsenter: {e}", tcpdump.display()));
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
                    netns.display(),
                    capture.child.try_wait(),
                    said.join("\n")
                ),
            }
        }
    }

    /// Stops tcpdump as Ctrl-C would (it flushes and prints its counts)
    /// and returns the pcap it wrote.
    pub fn stop(mut self) -> Vec<u8> {
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
pub struct Segment {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// A SYN without ACK: `src` is opening a connection to `dst`.
    pub opens: bool,
    pub payload: Vec<u8>,
}

/// The two directions of one connection, each one's payloads in capture
/// order.
#[derive(Default)]
pub struct Stream {
    pub to_server: Vec<u8>,
    pub to_client: Vec<u8>,
}

/// The TCP segments of a classic pcap file of Ethernet frames (what
/// tcpdump writes for a veth or a bridge), IPv4 only.
pub fn segments(pcap: &[u8]) -> Vec<Segment> {
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
    let (syn, ack) = (tcp[13] & 0x02 != 0, tcp[13] & 0x10 != 0);
    Segment {
        src: SocketAddrV4::new(addr(12), port(0)).into(),
        dst: SocketAddrV4::new(addr(16), port(2)).into(),
        opens: syn && !ack,
        payload: tcp[offset..].to_vec(),
    }
}

/// The connections `segments` belong to, by (client, server): the client
/// is the side whose SYN opened it. A segment of a connection whose
/// opening the capture missed fails the test: its first bytes, which the
/// handshake checks read, were missed too.
pub fn connections(segments: &[Segment]) -> BTreeMap<(SocketAddr, SocketAddr), Stream> {
    let mut connections = BTreeMap::<(SocketAddr, SocketAddr), Stream>::new();
    for s in segments {
        if s.opens {
            connections.entry((s.src, s.dst)).or_default();
        }
        if let Some(c) = connections.get_mut(&(s.src, s.dst)) {
            c.to_server.extend_from_slice(&s.payload);
        } else if let Some(c) = connections.get_mut(&(s.dst, s.src)) {
            c.to_client.extend_from_slice(&s.payload);
        } else {
            panic!(
                "{} -> {}: a connection opened before the capture began",
                s.src, s.dst
            );
        }
    }
    connections
}

/// Checks that every connection that carried data opens with a mesh TLS
/// handshake, and that none of `forbidden` appears in `pcap` or in either
/// direction of a connection.
pub fn assert_mesh_tls(
    pcap: &[u8],
    connections: &BTreeMap<(SocketAddr, SocketAddr), Stream>,
    forbidden: &[&[u8]],
) {
    for ((client, server), s) in connections {
        if s.to_server.is_empty() {
            continue;
        }
        // A TLS handshake record (0x16 0x03) holding a ClientHello (1)
        // that asks for a mesh protocol, answered by a ServerHello (2).
        assert!(
            s.to_server.starts_with(&[0x16, 0x03]) && s.to_server.get(5) == Some(&1),
            "{client} -> {server} does not open with a TLS ClientHello: {:?}",
            preview(&s.to_server)
        );
        let hello = record(&s.to_server);
        assert!(
            weft_identity::MESH_ALPNS
                .iter()
                .any(|alpn| contains(hello, alpn)),
            "{client}'s ClientHello to {server} offers no mesh ALPN: {:?}",
            preview(hello)
        );
        assert!(
            s.to_client.starts_with(&[0x16, 0x03]) && s.to_client.get(5) == Some(&2),
            "{server} -> {client} does not answer with a TLS ServerHello: {:?}",
            preview(&s.to_client)
        );
    }
    // In the raw file, and in each direction's bytes put back together, so
    // a string split across two segments is found too.
    for needle in forbidden {
        let shown = String::from_utf8_lossy(needle);
        assert!(!contains(pcap, needle), "{shown:?} in the raw capture");
        for ((client, server), s) in connections {
            assert!(
                !contains(&s.to_server, needle) && !contains(&s.to_client, needle),
                "{shown:?} in plaintext between {client} and {server}"
            );
        }
    }
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
