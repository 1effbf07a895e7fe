use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

use crate::errors::ProxyError;

/// Opens a TCP connection, failing after `timeout`.
pub async fn connect(addr: SocketAddr, timeout: Duration) -> Result<TcpStream, ProxyError> {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(stream)) => {
            // Request/response traffic: don't let Nagle hold small writes.
            let _ = stream.set_nodelay(true);
            Ok(stream)
        }
        Ok(Err(source)) => Err(ProxyError::ConnectFailed { addr, source }),
        Err(_) => Err(ProxyError::ConnectTimeout { addr, timeout }),
    }
}
