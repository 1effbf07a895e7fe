//! Reading a TLS ClientHello without answering it: enough to learn the
//! server name (SNI) and ALPN the client asks for, with every byte kept so
//! the connection can be replayed to whoever handles it next (a TLS
//! handshake here, or an upstream when TLS is passed through). This is
//! Envoy's `tls_inspector` listener filter; rustls' `Acceptor` parses.

use std::io;

use bytes::{Bytes, BytesMut};
use rustls::server::Acceptor;
use tokio::io::{AsyncRead, AsyncReadExt};
use weft_identity::MESH_ALPNS;

/// How long a connection on a port that routes by server name may take
/// to send its ClientHello (Envoy's listener filter timeout is 15 s; the
/// mesh's own handshakes allow 10 s). One that sends none is routed as a
/// connection without SNI.
pub const HELLO_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A ClientHello longer than this is not read on; the connection is
/// handled as if it had none (no SNI, not a mesh peer).
pub const MAX_HELLO: usize = 64 * 1024;

/// What the first bytes of a connection said.
#[derive(Debug)]
pub struct Hello {
    /// Every byte read, to be replayed.
    pub bytes: Bytes,
    /// A whole ClientHello was read.
    pub tls: bool,
    /// It offers a mesh ALPN (`weft/h2`, ...).
    pub mesh: bool,
    /// The server name it asks for, lower case.
    pub sni: Option<String>,
    /// The client stopped talking before its ClientHello was whole.
    pub timed_out: bool,
}

/// Reads from `io`, after the `prefix` already read from it, until the
/// whole ClientHello is in, the bytes cannot be one, the client closes,
/// or `deadline` passes.
///
/// Cost: the ClientHello is parsed here and again by a handshake, if one
/// follows: a few microseconds against the handshake's signatures.
pub async fn read<I: AsyncRead + Unpin>(
    io: &mut I,
    prefix: Bytes,
    deadline: tokio::time::Instant,
) -> io::Result<Hello> {
    let mut buf = BytesMut::from(prefix);
    let mut acceptor = Acceptor::default();
    let mut fed = 0;
    loop {
        while fed < buf.len() {
            let n = acceptor.read_tls(&mut &buf[fed..])?;
            if n == 0 {
                break;
            }
            fed += n;
        }
        match acceptor.accept() {
            Ok(Some(accepted)) => {
                let hello = accepted.client_hello();
                let mesh = hello
                    .alpn()
                    .is_some_and(|mut offered| offered.any(|p| MESH_ALPNS.contains(&p)));
                let sni = hello.server_name().map(str::to_ascii_lowercase);
                return Ok(Hello {
                    bytes: buf.freeze(),
                    tls: true,
                    mesh,
                    sni,
                    timed_out: false,
                });
            }
            Ok(None) => {}
            // Not a ClientHello rustls understands.
            Err(_) => return Ok(none(buf, false)),
        }
        if buf.len() >= MAX_HELLO {
            return Ok(none(buf, false));
        }
        match tokio::time::timeout_at(deadline, io.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return Ok(none(buf, false)),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_elapsed) => return Ok(none(buf, true)),
        }
    }
}

/// For routing by server name: the bytes read and the SNI, waiting at
/// most [`HELLO_TIMEOUT`]; a connection that sends no ClientHello in time
/// has no SNI. `None` when the connection failed (logged here).
pub async fn sni_of<I: AsyncRead + Unpin>(
    io: &mut I,
    peer: std::net::SocketAddr,
) -> Option<(Bytes, Option<String>)> {
    let deadline = tokio::time::Instant::now() + HELLO_TIMEOUT;
    match read(io, Bytes::new(), deadline).await {
        Ok(hello) => Some((hello.bytes, hello.sni)),
        Err(e) => {
            tracing::debug!(%peer, error = %e, "connection failed before its TLS ClientHello was read");
            None
        }
    }
}

fn none(buf: BytesMut, timed_out: bool) -> Hello {
    Hello {
        bytes: buf.freeze(),
        tls: false,
        mesh: false,
        sni: None,
        timed_out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// A real ClientHello, as rustls writes one for `name`.
    fn client_hello(name: &str) -> Vec<u8> {
        let roots = rustls::RootCertStore::empty();
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let server = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let mut conn = rustls::ClientConnection::new(Arc::new(config), server).unwrap();
        let mut out = Vec::new();
        conn.write_tls(&mut out).unwrap();
        out
    }

    #[tokio::test]
    async fn reads_the_server_name_and_keeps_every_byte() {
        let hello = client_hello("DB.Example.com");
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        // Split across writes, and the first byte already read by detection.
        client.write_all(&hello[1..10]).await.unwrap();
        let rest = hello[10..].to_vec();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            client.write_all(&rest).await.unwrap();
            // Keep the client open: the reader must not need EOF.
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let got = read(&mut server, Bytes::copy_from_slice(&hello[..1]), deadline)
            .await
            .unwrap();
        assert!(got.tls && !got.mesh && !got.timed_out);
        assert_eq!(got.sni.as_deref(), Some("db.example.com"));
        assert_eq!(&got.bytes[..], &hello[..]);
    }

    #[tokio::test]
    async fn plaintext_is_not_a_hello() {
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let got = read(&mut server, Bytes::new(), deadline).await.unwrap();
        assert!(!got.tls && got.sni.is_none() && !got.timed_out);
        assert!(got.bytes.starts_with(b"GET"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_times_out_with_what_it_sent() {
        let hello = client_hello("a.example.com");
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(&hello[..5]).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        let got = read(&mut server, Bytes::new(), deadline).await.unwrap();
        assert!(got.timed_out && !got.tls && got.sni.is_none());
        assert_eq!(&got.bytes[..], &hello[..5]);
        drop(client);
    }
}
