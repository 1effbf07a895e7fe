//! How bytes reach an endpoint: plaintext, mesh mTLS to the proxy in front
//! of it, or TLS origination to a server outside the mesh.
//!
//! The rustls configs are built when config is applied, one set per
//! distinct peer identity (or origination setting), and carried over to
//! the next config while that stays the same, so their session caches
//! survive pushes. None is built per connection.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use weft_identity::{ALPN_H1, ALPN_H2, ALPN_TCP, Credentials, Expect, Origination, SpiffeId};
use weft_proto::config::{self, UpstreamTls, UpstreamTlsMode};

/// What a connection to an endpoint carries; it picks the ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carries {
    Http2,
    Http1,
    Tcp,
}

/// How to reach an endpoint.
#[derive(Debug, Clone, Default)]
pub enum Transport {
    #[default]
    Plain,
    Tls(Arc<Tls>),
}

/// TLS settings for one peer identity or origination setting.
#[derive(Debug)]
pub struct Tls {
    pub key: TlsKey,
    h2: Arc<ClientConfig>,
    h1: Arc<ClientConfig>,
    tcp: Arc<ClientConfig>,
    /// SNI and name verified (origination); `None` for mesh peers, which
    /// are verified by SPIFFE ID and sent no SNI.
    name: Option<ServerName<'static>>,
}

/// What a [`Tls`] was built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TlsKey {
    /// Mesh mTLS to a proxy that must prove this identity.
    Mesh(Expect),
    /// Origination with these settings to this server name.
    Origination(UpstreamTls, String),
}

/// A connection to an endpoint.
#[derive(Debug)]
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Builds transports while a config is compiled, sharing one [`Tls`] per
/// key, reusing the previous config's.
pub struct TransportBuilder<'a> {
    creds: Option<&'a Arc<Credentials>>,
    built: HashMap<TlsKey, Arc<Tls>>,
}

// === impl Transport ===

impl Transport {
    /// The TLS key, for telling whether an endpoint's transport changed.
    pub fn key(&self) -> Option<&TlsKey> {
        match self {
            Transport::Plain => None,
            Transport::Tls(t) => Some(&t.key),
        }
    }

    /// Whether this is mesh mTLS to a peer proxy.
    pub fn is_mesh(&self) -> bool {
        matches!(self.key(), Some(TlsKey::Mesh(_)))
    }

    /// Wraps a fresh TCP connection to `addr`.
    pub async fn secure(
        &self,
        tcp: TcpStream,
        addr: SocketAddr,
        carries: Carries,
    ) -> io::Result<Conn> {
        let tls = match self {
            Transport::Plain => return Ok(Conn::Plain(tcp)),
            Transport::Tls(t) => t,
        };
        let config = match carries {
            Carries::Http2 => &tls.h2,
            Carries::Http1 => &tls.h1,
            Carries::Tcp => &tls.tcp,
        };
        let name = tls
            .name
            .clone()
            .unwrap_or(ServerName::IpAddress(addr.ip().into()));
        let stream = TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await?;
        Ok(Conn::Tls(Box::new(stream)))
    }
}

// === impl TransportBuilder ===

impl<'a> TransportBuilder<'a> {
    /// `prev` are transports in use, whose configs are kept when their
    /// key comes up again.
    pub fn new(
        creds: Option<&'a Arc<Credentials>>,
        prev: impl IntoIterator<Item = Transport>,
    ) -> Self {
        let built = prev
            .into_iter()
            .filter_map(|t| match t {
                Transport::Tls(t) => Some((t.key.clone(), t)),
                Transport::Plain => None,
            })
            .collect();
        Self { creds, built }
    }

    /// How to reach `ep` of `cluster`. The cluster's `tls` decides; unset,
    /// an endpoint with an identity gets mesh mTLS and the rest plaintext.
    pub fn for_endpoint(
        &mut self,
        cluster: &config::Cluster,
        ep: &config::Endpoint,
    ) -> Result<Transport, String> {
        let expect = |id: &str| -> Result<Expect, String> {
            SpiffeId::parse(id)
                .map(Expect::Id)
                .map_err(|e| format!("endpoint identity {id:?}: {e}"))
        };
        let key = match (cluster.tls.as_ref(), ep.identity.as_deref()) {
            (None, None) => return Ok(Transport::Plain),
            (Some(t), _) if t.mode == UpstreamTlsMode::Disable => return Ok(Transport::Plain),
            (None, Some(id)) => TlsKey::Mesh(expect(id)?),
            (Some(t), id) if t.mode == UpstreamTlsMode::IstioMutual => match id {
                Some(id) => TlsKey::Mesh(expect(id)?),
                None => TlsKey::Mesh(Expect::TrustDomain(
                    self.creds()?.trust_domain().to_string(),
                )),
            },
            (Some(t), _) => {
                let name = t
                    .sni
                    .clone()
                    .or_else(|| cluster.service.clone())
                    .ok_or("TLS origination needs a server name: set tls.sni")?;
                TlsKey::Origination(t.clone(), name)
            }
        };
        if let Some(t) = self.built.get(&key) {
            return Ok(Transport::Tls(t.clone()));
        }
        let tls = Arc::new(self.build(key.clone())?);
        self.built.insert(key, tls.clone());
        Ok(Transport::Tls(tls))
    }

    fn creds(&self) -> Result<&'a Arc<Credentials>, String> {
        self.creds.ok_or_else(|| {
            "mesh mTLS needs this workload's certificate, which comes from the control plane"
                .to_string()
        })
    }

    fn build(&self, key: TlsKey) -> Result<Tls, String> {
        match &key {
            TlsKey::Mesh(expect) => {
                let creds = self.creds()?;
                let config = |alpn| creds.mesh_client_config(expect.clone(), alpn);
                Ok(Tls {
                    h2: config(ALPN_H2),
                    h1: config(ALPN_H1),
                    tcp: config(ALPN_TCP),
                    name: None,
                    key,
                })
            }
            TlsKey::Origination(t, name) => {
                let o = Origination {
                    roots: t.ca_certificates.as_deref(),
                    server_name: name,
                    alt_names: &t.subject_alt_names,
                    client: t
                        .client_certificate
                        .as_deref()
                        .zip(t.private_key.as_deref()),
                };
                let config = |alpn: &[&[u8]]| {
                    weft_identity::origination_config(&o, alpn).map_err(|e| e.to_string())
                };
                Ok(Tls {
                    h2: config(&[b"h2"])?,
                    h1: config(&[b"http/1.1"])?,
                    tcp: config(&[])?,
                    name: Some(weft_identity::parse_name(name).map_err(|e| e.to_string())?),
                    key,
                })
            }
        }
    }
}

// === impl Conn ===

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Conn::Plain(s) => s.is_write_vectored(),
            Conn::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
