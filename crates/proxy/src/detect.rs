//! Protocol detection: TLS ClientHello, HTTP/2 preface, HTTP/1 request line,
//! or anything else (opaque TCP), decided from the client's first bytes.
//!
//! Detection never stalls a server-speaks-first protocol (MySQL, SMTP) for
//! long: if the client has not said enough within the timeout, the
//! connection is treated as opaque and whatever was read is replayed.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

/// What a connection turned out to carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
    Tls,
    Opaque,
}

/// The outcome of detection: the protocol and the bytes consumed to decide.
#[derive(Debug)]
pub struct Detection {
    pub protocol: Protocol,
    /// The bytes read so far; they must be replayed to whoever handles the
    /// connection next.
    pub prefix: Bytes,
    /// Detection gave up waiting for the client.
    pub timed_out: bool,
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Methods that decide HTTP/1 as soon as they and a space arrive. Other
/// methods (WebDAV, ...) are recognized from the whole request line.
const KNOWN_METHODS: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"DELETE ",
    b"HEAD ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// The longest request line read before giving up on HTTP/1.
const MAX_REQUEST_LINE: usize = 8 * 1024;

/// Reads from `io` until the protocol is known, the client stops talking for
/// `timeout`, or the client closes.
pub async fn detect<I: AsyncRead + Unpin>(
    io: &mut I,
    timeout: Duration,
) -> std::io::Result<Detection> {
    detect_with(io, timeout, classify).await
}

/// As [`detect`], deciding only whether the client starts a TLS handshake
/// (`Tls`) or not (`Opaque`): for a port whose protocol is declared, that
/// is all there is to decide, and a plaintext client is not held for the
/// timeout because its first bytes could begin an HTTP request line.
pub async fn detect_tls<I: AsyncRead + Unpin>(
    io: &mut I,
    timeout: Duration,
) -> std::io::Result<Detection> {
    detect_with(io, timeout, classify_tls).await
}

async fn detect_with<I: AsyncRead + Unpin>(
    io: &mut I,
    timeout: Duration,
    classify: fn(&[u8]) -> Option<Protocol>,
) -> std::io::Result<Detection> {
    let mut buf = BytesMut::with_capacity(512);
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(protocol) = classify(&buf) {
            return Ok(Detection {
                protocol,
                prefix: buf.freeze(),
                timed_out: false,
            });
        }
        match tokio::time::timeout_at(deadline, io.read_buf(&mut buf)).await {
            Ok(Ok(0)) => {
                // The client closed before we could tell: hand what we have
                // to the opaque path, which forwards it and the half-close.
                return Ok(Detection {
                    protocol: Protocol::Opaque,
                    prefix: buf.freeze(),
                    timed_out: false,
                });
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_elapsed) => {
                return Ok(Detection {
                    protocol: Protocol::Opaque,
                    prefix: buf.freeze(),
                    timed_out: true,
                });
            }
        }
    }
}

/// Decides from the bytes so far; `None` means more bytes are needed.
///
/// Cost: O(len) over at most one request line.
pub fn classify(buf: &[u8]) -> Option<Protocol> {
    let first = *buf.first()?;
    // TLS record header: handshake (0x16), major version 3.
    if first == 0x16 {
        return match buf.get(1) {
            None => None,
            Some(0x03) => Some(Protocol::Tls),
            Some(_) => Some(Protocol::Opaque),
        };
    }
    if buf.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(buf) {
        return None;
    }
    if buf.starts_with(H2_PREFACE) {
        return Some(Protocol::Http2);
    }
    let mut maybe_known = false;
    for m in KNOWN_METHODS {
        if buf.starts_with(m) {
            return Some(Protocol::Http1);
        }
        maybe_known |= m.starts_with(buf);
    }
    if maybe_known {
        return None;
    }
    classify_request_line(buf)
}

/// TLS or not, from the first two bytes.
pub fn classify_tls(buf: &[u8]) -> Option<Protocol> {
    match buf {
        [] | [0x16] => None,
        [0x16, 0x03, ..] => Some(Protocol::Tls),
        _ => Some(Protocol::Opaque),
    }
}

/// `token SP request-target SP HTTP/1.x CRLF`, for methods not in the list.
fn classify_request_line(buf: &[u8]) -> Option<Protocol> {
    let method_end = buf.iter().position(|&b| b == b' ');
    let method = &buf[..method_end.unwrap_or(buf.len())];
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Some(Protocol::Opaque);
    }
    let Some(line_end) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() >= MAX_REQUEST_LINE || (method_end.is_none() && method.len() > 32) {
            return Some(Protocol::Opaque);
        }
        return None;
    };
    let line = buf[..line_end]
        .strip_suffix(b"\r")
        .unwrap_or(&buf[..line_end]);
    if line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0") {
        Some(Protocol::Http1)
    } else {
        Some(Protocol::Opaque)
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_complete_prefixes() {
        let cases: &[(&[u8], Option<Protocol>)] = &[
            (b"GET / HTTP/1.1\r\n", Some(Protocol::Http1)),
            (b"POST ", Some(Protocol::Http1)),
            (b"PROPFIND /x HTTP/1.1\r\n", Some(Protocol::Http1)),
            (b"PROPFIND /x SOMETHING\r\n", Some(Protocol::Opaque)),
            (H2_PREFACE, Some(Protocol::Http2)),
            (b"\x16\x03\x01\x02\x00", Some(Protocol::Tls)),
            (b"\x16\x07", Some(Protocol::Opaque)),
            (b"\x00\x01binary", Some(Protocol::Opaque)),
            (b"SSH-2.0-OpenSSH\r\n", Some(Protocol::Opaque)),
            (b"hello world\n", Some(Protocol::Opaque)),
        ];
        for (input, want) in cases {
            assert_eq!(
                classify(input),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn tls_sniffing_decides_on_two_bytes() {
        assert_eq!(classify_tls(b""), None);
        assert_eq!(classify_tls(b"\x16"), None);
        assert_eq!(classify_tls(b"\x16\x03"), Some(Protocol::Tls));
        assert_eq!(
            classify_tls(b"p"),
            Some(Protocol::Opaque),
            "`ping` is not held"
        );
        assert_eq!(classify_tls(b"\x16\x07"), Some(Protocol::Opaque));
    }

    #[test]
    fn waits_for_more_on_ambiguous_prefixes() {
        for input in [
            &b""[..],
            b"G",
            b"GE",
            b"GET",
            b"PRI * HTTP/2",
            b"\x16",
            b"PROPFIND /x",
        ] {
            assert_eq!(
                classify(input),
                None,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn every_prefix_of_a_request_is_undecided_or_http1() {
        let req = b"GET /index.html HTTP/1.1\r\n";
        for n in 0..req.len() {
            assert!(matches!(classify(&req[..n]), None | Some(Protocol::Http1)));
        }
        for n in 0..H2_PREFACE.len() {
            assert_eq!(classify(&H2_PREFACE[..n]), None, "{n}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_times_out_as_opaque() {
        let (_client, mut server) = tokio::io::duplex(64);
        let d = detect(&mut server, Duration::from_millis(100))
            .await
            .unwrap();
        assert_eq!(d.protocol, Protocol::Opaque);
        assert!(d.timed_out);
        assert!(d.prefix.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn one_byte_at_a_time_is_still_detected() {
        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::spawn(async move {
            for b in H2_PREFACE {
                tokio::io::AsyncWriteExt::write_all(&mut client, &[*b])
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            std::future::pending::<()>().await;
        });
        let d = detect(&mut server, Duration::from_millis(100))
            .await
            .unwrap();
        assert_eq!(d.protocol, Protocol::Http2);
        assert_eq!(&d.prefix[..], H2_PREFACE);
    }
}
