//! Real servers on 127.0.0.1:0 for tests.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server task; stops accepting when dropped.
pub struct Server {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn bind() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

/// The sample echo app over HTTP/1.1 and HTTP/2, answering as `name`.
pub async fn http_echo(name: &str) -> Server {
    let (l, addr) = bind().await;
    let name = name.to_string();
    Server {
        addr,
        task: tokio::spawn(async move { weft_sample::echo::serve(l, &name).await }),
    }
}

/// The sample gRPC echo service.
pub async fn grpc_echo(name: &str) -> Server {
    let (l, addr) = bind().await;
    let name = name.to_string();
    Server {
        addr,
        task: tokio::spawn(async move {
            let _ = weft_sample::grpc::serve(l, &name).await;
        }),
    }
}

/// A TCP echo server that passes half-closes on.
pub async fn tcp_echo() -> Server {
    let (l, addr) = bind().await;
    Server {
        addr,
        task: tokio::spawn(weft_sample::tcp::serve(l)),
    }
}

/// A server-speaks-first server (think MySQL, SMTP): sends `banner` on
/// accept, then echoes.
pub async fn banner(banner: &'static [u8]) -> Server {
    let (l, addr) = bind().await;
    Server {
        addr,
        task: tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = l.accept().await else {
                    continue;
                };
                tokio::spawn(async move {
                    if sock.write_all(banner).await.is_err() {
                        return;
                    }
                    let (mut r, mut w) = sock.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        }),
    }
}

/// An address where nothing listens: connecting is refused.
pub async fn refused_addr() -> SocketAddr {
    let (l, addr) = bind().await;
    drop(l);
    addr
}

/// An address where connects hang (no SYN-ACK) instead of being refused:
/// a listener that never accepts, with its accept queue already full.
pub struct Blackhole {
    pub addr: SocketAddr,
    _listener: socket2::Socket,
    _fillers: Vec<std::net::TcpStream>,
}

pub fn blackhole() -> Blackhole {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    sock.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    sock.listen(0).unwrap();
    let addr = sock.local_addr().unwrap().as_socket().unwrap();
    // Fill the accept queue; once full, the kernel drops further SYNs.
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(100)) {
            Ok(s) => fillers.push(s),
            Err(_) => break,
        }
    }
    Blackhole {
        addr,
        _listener: sock,
        _fillers: fillers,
    }
}
