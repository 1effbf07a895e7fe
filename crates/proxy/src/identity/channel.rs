//! A gRPC channel to the control plane over TLS, verified by SPIFFE ID.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to `address` with `tls` (which decides whom to accept and
/// whether to present a certificate), speaking gRPC (ALPN `h2`).
pub async fn channel(
    address: &str,
    tls: Arc<rustls::ClientConfig>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![b"h2".to_vec()];
    let connector = TlsConnector::from(Arc::new(tls));
    let target = address.to_string();
    let connect = tower::service_fn(move |_uri: http::Uri| {
        let (connector, target) = (connector.clone(), target.clone());
        async move {
            let tcp = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&target))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out")
                })??;
            let _ = tcp.set_nodelay(true);
            // The verifier checks the SPIFFE ID, not this name; it only
            // fills SNI when the address is a host name.
            let host = target.rsplit_once(':').map_or(target.as_str(), |(h, _)| h);
            let name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
            let tls = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect(name, tcp))
                .await
                .map_err(|_| {
                    std::io::Error::new(std::io::ErrorKind::TimedOut, "TLS handshake timed out")
                })??;
            Ok::<_, std::io::Error>(TokioIo::new(tls))
        }
    });
    Endpoint::from_shared(format!("http://{address}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .connect_with_connector(connect)
        .await
}
