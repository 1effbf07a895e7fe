//! rustls verifiers that accept a peer by its SPIFFE ID: the chain must
//! lead to a root in the current trust bundle, and the one URI SAN must
//! name the identity expected (client side) or one in the trust domain
//! (server side). DNS names play no part, as in Istio and Linkerd.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError};
use rustls::{Error, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::tls::{Credentials, Expect};
use crate::{IdError, SpiffeId};

/// Checks a server's certificate against what the caller expects.
#[derive(Debug)]
pub(crate) struct ServerVerifier {
    pub creds: Arc<Credentials>,
    pub expect: Expect,
    pub algs: WebPkiSupportedAlgorithms,
}

/// Checks a client's certificate: any workload of our trust domain.
#[derive(Debug)]
pub(crate) struct ClientVerifier {
    pub creds: Arc<Credentials>,
    pub mandatory: bool,
    pub algs: WebPkiSupportedAlgorithms,
}

/// A certificate that verified but names the wrong workload.
#[derive(Debug, thiserror::Error)]
#[error("peer is `{presented}`, expected {expected}")]
pub(crate) struct WrongPeer {
    presented: String,
    expected: String,
}

#[derive(Debug, thiserror::Error)]
#[error("peer certificate: {0}")]
struct NoId(IdError);

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let id = verify_chain(
            &self.creds,
            &self.algs,
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::server_auth(),
        )?;
        let ok = match &self.expect {
            Expect::Id(want) => &id == want,
            Expect::TrustDomain(td) => id.trust_domain() == td,
        };
        if !ok {
            return Err(wrong_peer(&id, &self.expect));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let id = verify_chain(
            &self.creds,
            &self.algs,
            end_entity,
            intermediates,
            now,
            webpki::KeyUsage::client_auth(),
        )?;
        let td = self.creds.trust_domain();
        if id.trust_domain() != td {
            return Err(wrong_peer(&id, &Expect::TrustDomain(td.to_string())));
        }
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Verifies the chain against the current bundle and returns the SPIFFE ID
/// it carries.
fn verify_chain(
    creds: &Credentials,
    algs: &WebPkiSupportedAlgorithms,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    now: UnixTime,
    usage: webpki::KeyUsage,
) -> Result<SpiffeId, Error> {
    let bundle = creds.bundle();
    let cert = webpki::EndEntityCert::try_from(end_entity).map_err(pki_error)?;
    cert.verify_for_usage(
        algs.all,
        bundle.anchors(),
        intermediates,
        now,
        usage,
        None,
        None,
    )
    .map_err(pki_error)?;
    SpiffeId::from_cert(end_entity).map_err(|e| {
        Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(NoId(e)))))
    })
}

fn wrong_peer(id: &SpiffeId, expect: &Expect) -> Error {
    let expected = match expect {
        Expect::Id(want) => format!("`{want}`"),
        Expect::TrustDomain(td) => format!("a workload of trust domain `{td}`"),
    };
    Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(WrongPeer {
        presented: id.to_string(),
        expected,
    }))))
}

fn pki_error(e: webpki::Error) -> Error {
    use webpki::Error as E;
    let kind = match e {
        E::BadDer | E::BadDerTime | E::TrailingData(_) => CertificateError::BadEncoding,
        E::CertExpired { .. } | E::InvalidCertValidity => CertificateError::Expired,
        E::CertNotValidYet { .. } => CertificateError::NotValidYet,
        E::UnknownIssuer => CertificateError::UnknownIssuer,
        E::InvalidSignatureForPublicKey => CertificateError::BadSignature,
        E::RequiredEkuNotFoundContext(_) => CertificateError::InvalidPurpose,
        other => CertificateError::Other(OtherError(Arc::new(other))),
    };
    Error::InvalidCertificate(kind)
}
