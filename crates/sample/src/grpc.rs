//! The gRPC echo service.

use std::pin::Pin;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::pb::echo_server::{Echo, EchoServer};
use crate::pb::{EchoRequest, EchoResponse};

/// Answers with the caller's message, naming itself in `from`.
#[derive(Debug, Clone)]
pub struct EchoService {
    name: Arc<str>,
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<EchoResponse, Status>> + Send>>;

pub async fn serve(listener: TcpListener, name: &str) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(EchoServer::new(EchoService {
            name: Arc::from(name),
        }))
        .serve_with_incoming(TcpListenerStream::new(listener))
        .await
}

impl EchoService {
    fn reply(&self, message: String, index: u32) -> EchoResponse {
        EchoResponse {
            message,
            from: self.name.to_string(),
            index,
        }
    }
}

#[tonic::async_trait]
impl Echo for EchoService {
    async fn unary(&self, req: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let msg = req.into_inner().message;
        if let Some(code) = msg.strip_prefix("fail:") {
            return Err(Status::new(
                tonic::Code::from(code.parse::<i32>().unwrap_or(2)),
                "asked to fail",
            ));
        }
        Ok(Response::new(self.reply(msg, 0)))
    }

    type ServerStreamStream = ResponseStream;

    async fn server_stream(
        &self,
        req: Request<EchoRequest>,
    ) -> Result<Response<Self::ServerStreamStream>, Status> {
        let req = req.into_inner();
        let this = self.clone();
        let stream = tokio_stream::iter(0..req.count)
            .map(move |i| Ok(this.reply(format!("{} {i}", req.message), i)));
        Ok(Response::new(Box::pin(stream)))
    }

    async fn client_stream(
        &self,
        req: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoResponse>, Status> {
        let mut stream = req.into_inner();
        let mut parts = Vec::new();
        while let Some(msg) = stream.next().await {
            parts.push(msg?.message);
        }
        let n = parts.len() as u32;
        Ok(Response::new(self.reply(parts.join(","), n)))
    }

    type BidiStream = ResponseStream;

    async fn bidi(
        &self,
        req: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<Self::BidiStream>, Status> {
        let this = self.clone();
        let mut index = 0;
        let stream = req.into_inner().map(move |msg| {
            let msg = msg?;
            index += 1;
            Ok(this.reply(msg.message, index - 1))
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
