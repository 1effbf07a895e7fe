//! TLS origination to servers outside the mesh (DestinationRule `SIMPLE`
//! and `MUTUAL`): the server's chain is verified against the given roots,
//! or the system's, and its certificate must name the server. Nothing here
//! can turn verification off.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::pem::{self, PemError};

/// Where Debian, Fedora and Alpine keep the system's roots, in the order
/// looked at.
const SYSTEM_ROOTS: [&str; 3] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

/// What to originate TLS with.
#[derive(Debug, Clone, Copy)]
pub struct Origination<'a> {
    /// PEM roots; the system's when `None`.
    pub roots: Option<&'a Path>,
    /// The name the server's certificate must carry (the SNI).
    pub server_name: &'a str,
    /// Other names accepted instead (`subjectAltNames`).
    pub alt_names: &'a [String],
    /// Client certificate chain and key files (`MUTUAL`).
    pub client: Option<(&'a Path, &'a Path)>,
}

#[derive(Debug, thiserror::Error)]
pub enum OriginationError {
    #[error(transparent)]
    Pem(#[from] PemError),
    #[error("no system CA bundle found (looked at {}); set caCertificates", SYSTEM_ROOTS.join(", "))]
    NoSystemRoots,
    #[error("{path}: {why}")]
    Roots { path: String, why: String },
    #[error("{0:?} is not a DNS name or IP address; set sni to the server's name")]
    Name(String),
    #[error("the client certificate and key do not go together: {0}")]
    ClientCert(String),
}

/// A client config for origination; `alpn` as offered to the server.
pub fn origination_config(
    o: &Origination<'_>,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, OriginationError> {
    let roots_path = match o.roots {
        Some(p) => p.to_path_buf(),
        None => SYSTEM_ROOTS
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .ok_or(OriginationError::NoSystemRoots)?
            .to_path_buf(),
    };
    let mut roots = RootCertStore::empty();
    for cert in pem::certs(&roots_path)? {
        roots.add(cert).map_err(|e| OriginationError::Roots {
            path: roots_path.display().to_string(),
            why: e.to_string(),
        })?;
    }
    let provider = crate::provider();
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| OriginationError::Roots {
            path: roots_path.display().to_string(),
            why: e.to_string(),
        })?;
    let mut names = vec![parse_name(o.server_name)?];
    for n in o.alt_names {
        // SPIFFE URIs name mesh workloads, which are not originated to.
        if !n.contains("://") {
            names.push(parse_name(n)?);
        }
    }
    let verifier = Arc::new(NamedServer { webpki, names });
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| OriginationError::ClientCert(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut config = match o.client {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => {
            let chain = pem::certs(chain)?;
            let (_, key) = pem::private_key(key)?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| OriginationError::ClientCert(e.to_string()))?
        }
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The name `s` as rustls takes it (SNI and verification).
pub fn parse_name(s: &str) -> Result<ServerName<'static>, OriginationError> {
    ServerName::try_from(s.to_string()).map_err(|_| OriginationError::Name(s.to_string()))
}

/// webpki's chain and name check, passing when any accepted name matches.
#[derive(Debug)]
struct NamedServer {
    webpki: Arc<WebPkiServerVerifier>,
    names: Vec<ServerName<'static>>,
}

impl ServerCertVerifier for NamedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let mut last = Error::General("no server name to verify".into());
        for name in &self.names {
            match self
                .webpki
                .verify_server_cert(end_entity, intermediates, name, ocsp, now)
            {
                Ok(v) => return Ok(v),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
