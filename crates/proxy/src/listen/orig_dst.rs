//! The original destination of a connection redirected by iptables
//! (`-j REDIRECT`), read with `SO_ORIGINAL_DST`.

use std::io;
use std::net::SocketAddr;

use tokio::net::TcpStream;

/// Where the client was connecting before iptables sent it to us.
#[cfg(target_os = "linux")]
pub fn original_dst(sock: &TcpStream) -> io::Result<SocketAddr> {
    use nix::sys::socket::{SockaddrIn, SockaddrIn6, getsockopt, sockopt};

    let local = sock.local_addr()?;
    if local.is_ipv4() {
        let sa = getsockopt(sock, sockopt::OriginalDst).map_err(io::Error::from)?;
        let sa = SockaddrIn::from(sa);
        Ok(SocketAddr::new(sa.ip().into(), sa.port()))
    } else {
        let sa = getsockopt(sock, sockopt::Ip6tOriginalDst).map_err(io::Error::from)?;
        let sa = SockaddrIn6::from(sa);
        Ok(SocketAddr::new(sa.ip().into(), sa.port()))
    }
}

#[cfg(not(target_os = "linux"))]
pub fn original_dst(_sock: &TcpStream) -> io::Result<SocketAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "transparent interception needs Linux (SO_ORIGINAL_DST)",
    ))
}
