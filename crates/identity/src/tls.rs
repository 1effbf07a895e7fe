//! A workload's TLS credentials, swapped atomically on rotation, and the
//! rustls configs built on them. Configs read the current certificate and
//! bundle at each handshake, so a rotation needs no new config.

use std::sync::Arc;
use std::time::SystemTime;

use arc_swap::{ArcSwap, ArcSwapOption};
use rustls::client::ResolvesClientCert;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, ServerConfig, SignatureScheme};
use rustls_pki_types::CertificateDer;

use crate::verify::{ClientVerifier, ServerVerifier};
use crate::{SpiffeId, TrustBundle};

/// ALPN between proxies: HTTP/2 (which also carries the apps' HTTP/1.1).
pub const ALPN_H2: &[u8] = b"weft/h2";
/// ALPN between proxies: HTTP/1.1 as is (upgrades such as WebSocket).
pub const ALPN_H1: &[u8] = b"weft/h1";
/// ALPN between proxies: opaque TCP.
pub const ALPN_TCP: &[u8] = b"weft/tcp";
/// Every protocol a proxy's inbound side accepts over mesh mTLS.
pub const MESH_ALPNS: [&[u8]; 3] = [ALPN_H2, ALPN_H1, ALPN_TCP];

/// Whom a client expects to reach.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expect {
    /// Exactly this workload.
    Id(SpiffeId),
    /// Any workload of this trust domain (no identity is known for the
    /// endpoint).
    TrustDomain(String),
}

/// The certificate a workload presents and the roots it trusts.
#[derive(Debug)]
pub struct Credentials {
    trust_domain: String,
    cert: ArcSwapOption<Current>,
    bundle: ArcSwap<TrustBundle>,
}

/// The certificate in use.
#[derive(Debug)]
pub struct Current {
    pub id: SpiffeId,
    pub key: Arc<CertifiedKey>,
    /// When the certificate was installed; its life for renewal counts
    /// from here (`notBefore` is backdated to absorb clock skew).
    pub not_before: SystemTime,
    pub not_after: SystemTime,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("the certificate names `{presented}`, not this workload's `{expected}`")]
    WrongId { presented: String, expected: String },
    #[error(transparent)]
    Id(#[from] crate::IdError),
}

// === impl Credentials ===

impl Credentials {
    pub fn new(trust_domain: &str, bundle: TrustBundle) -> Arc<Self> {
        Arc::new(Self {
            trust_domain: trust_domain.to_string(),
            cert: ArcSwapOption::empty(),
            bundle: ArcSwap::from_pointee(bundle),
        })
    }

    pub fn trust_domain(&self) -> &str {
        &self.trust_domain
    }

    pub fn bundle(&self) -> arc_swap::Guard<Arc<TrustBundle>> {
        self.bundle.load()
    }

    pub fn current(&self) -> Option<Arc<Current>> {
        self.cert.load_full()
    }

    /// Replaces the trust bundle; new handshakes verify against it.
    pub fn set_bundle(&self, bundle: TrustBundle) {
        if **self.bundle.load() != bundle {
            self.bundle.store(Arc::new(bundle));
        }
    }

    /// Installs a newly issued certificate for `id`. New handshakes present
    /// it; established connections keep theirs.
    pub fn set_cert(
        &self,
        id: SpiffeId,
        key: Arc<CertifiedKey>,
        not_before: SystemTime,
        not_after: SystemTime,
    ) -> Result<(), CredentialsError> {
        let presented = match key.cert.first() {
            Some(leaf) => SpiffeId::from_cert(leaf)?,
            None => return Err(crate::IdError::Missing.into()),
        };
        if presented != id {
            return Err(CredentialsError::WrongId {
                presented: presented.to_string(),
                expected: id.to_string(),
            });
        }
        self.cert.store(Some(Arc::new(Current {
            id,
            key,
            not_before,
            not_after,
        })));
        Ok(())
    }

    /// A server config for mesh mTLS: the client must present a workload
    /// certificate of this trust domain (`mandatory`), or may (the control
    /// plane's port, where proxies without one yet ask for one).
    pub fn server_config(self: &Arc<Self>, mandatory: bool, alpn: &[&[u8]]) -> Arc<ServerConfig> {
        let provider = crate::provider();
        let verifier = Arc::new(ClientVerifier {
            creds: self.clone(),
            mandatory,
            algs: provider.signature_verification_algorithms,
        });
        let builder = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map(|b| {
                b.with_client_cert_verifier(verifier)
                    .with_cert_resolver(Arc::new(Resolver(self.clone())))
            });
        // TLS 1.3 is in every provider rustls ships; the error cannot
        // happen with aws-lc-rs.
        let mut config = match builder {
            Ok(c) => c,
            Err(e) => panic!("aws-lc-rs lacks TLS 1.3: {e}"),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }

    /// A client config that presents this workload's certificate and
    /// accepts only a server that `expect` names.
    pub fn client_config(self: &Arc<Self>, expect: Expect) -> Arc<ClientConfig> {
        self.client_config_with(expect, true)
    }

    /// A client config for mesh mTLS to a peer proxy. ALPN names what the
    /// connection carries; no SNI is sent, since peers are checked by
    /// SPIFFE ID and not by name.
    pub fn mesh_client_config(self: &Arc<Self>, expect: Expect, alpn: &[u8]) -> Arc<ClientConfig> {
        let mut config = Arc::unwrap_or_clone(self.client_config(expect));
        config.alpn_protocols = vec![alpn.to_vec()];
        config.enable_sni = false;
        Arc::new(config)
    }

    /// As [`Self::client_config`]; `present_cert` false for a proxy asking
    /// for its first certificate.
    pub fn client_config_with(
        self: &Arc<Self>,
        expect: Expect,
        present_cert: bool,
    ) -> Arc<ClientConfig> {
        let provider = crate::provider();
        let verifier = Arc::new(ServerVerifier {
            creds: self.clone(),
            expect,
            algs: provider.signature_verification_algorithms,
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map(|b| b.dangerous().with_custom_certificate_verifier(verifier));
        let builder = match builder {
            Ok(b) => b,
            Err(e) => panic!("aws-lc-rs lacks TLS 1.3: {e}"),
        };
        let config = if present_cert {
            builder.with_client_cert_resolver(Arc::new(Resolver(self.clone())))
        } else {
            builder.with_no_client_auth()
        };
        Arc::new(config)
    }
}

/// The SPIFFE ID of a peer whose chain a verifier here already accepted.
pub fn peer_id(certs: Option<&[CertificateDer<'_>]>) -> Option<SpiffeId> {
    SpiffeId::from_cert(certs?.first()?).ok()
}

/// Presents whatever certificate is current at handshake time.
#[derive(Debug)]
struct Resolver(Arc<Credentials>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0.cert.load().as_ref().map(|c| c.key.clone())
    }
}

impl ResolvesClientCert for Resolver {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.0.cert.load().as_ref().map(|c| c.key.clone())
    }

    fn has_certs(&self) -> bool {
        self.0.cert.load().is_some()
    }
}
