//! A TCP echo server that honours half-close: when the client finishes
//! sending, it finishes echoing and closes its side too.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

pub async fn serve(listener: TcpListener) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let (mut r, mut w) = sock.split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
            let _ = w.shutdown().await;
        });
    }
}
