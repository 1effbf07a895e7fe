//! A small OTLP trace receiver, as an OpenTelemetry collector's `otlp`
//! receiver: it implements the official
//! `opentelemetry.proto.collector.trace.v1.TraceService` over gRPC, or
//! OTLP/HTTP's `POST /v1/traces` with protobuf bodies, and keeps every span
//! it is sent, for tests to check.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use prost::Message;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};
use weft_proto::otlp::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use weft_proto::otlp::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use weft_proto::otlp::common::v1::any_value;
use weft_proto::otlp::trace::v1::Span;

/// A running receiver on 127.0.0.1:0.
pub struct Receiver {
    pub addr: SocketAddr,
    spans: Arc<Mutex<Vec<Received>>>,
    /// Export calls received, for tests of batching.
    exports: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// One span and the `service.name` of the resource it came under.
#[derive(Debug, Clone)]
pub struct Received {
    pub service: String,
    pub span: Span,
}

#[derive(Clone)]
struct Collect(Arc<Mutex<Vec<Received>>>, Arc<AtomicUsize>);

impl Receiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let exports = Arc::new(AtomicUsize::new(0));
        let svc = TraceServiceServer::new(Collect(spans.clone(), exports.clone()));
        let task = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(svc)
                .serve_with_incoming(TcpListenerStream::new(listener))
                .await;
        });
        Self {
            addr,
            spans,
            exports,
            task,
        }
    }

    /// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf).
    pub async fn start_http() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let exports = Arc::new(AtomicUsize::new(0));
        let collect = Collect(spans.clone(), exports.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let collect = collect.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: http::Request<Incoming>| {
                        let collect = collect.clone();
                        async move {
                            let path_ok = req.uri().path() == "/v1/traces"
                                && req.headers()[http::header::CONTENT_TYPE]
                                    == "application/x-protobuf";
                            let body = match req.into_body().collect().await {
                                Ok(b) => b.to_bytes(),
                                Err(_) => Bytes::new(),
                            };
                            let status = match ExportTraceServiceRequest::decode(body) {
                                Ok(r) if path_ok => {
                                    collect.store(r);
                                    200
                                }
                                _ => 400,
                            };
                            let mut rsp = http::Response::new(Full::new(Bytes::new()));
                            *rsp.status_mut() = http::StatusCode::from_u16(status).unwrap();
                            Ok::<_, std::convert::Infallible>(rsp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(sock), svc)
                        .await;
                });
            }
        });
        Self {
            addr,
            spans,
            exports,
            task,
        }
    }

    pub fn spans(&self) -> Vec<Received> {
        self.spans.lock().clone()
    }

    /// How many export calls (batches) arrived.
    pub fn exports(&self) -> usize {
        self.exports.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` spans arrived (the proxies batch them).
    pub async fn wait_for(&self, n: usize, patience: Duration) -> Vec<Received> {
        crate::eventually(&format!("{n} spans at the OTLP receiver"), patience, || {
            let got = self.spans.lock().len();
            async move { got >= n }
        })
        .await;
        self.spans()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Collect {
    fn store(&self, request: ExportTraceServiceRequest) {
        let mut spans = self.0.lock();
        self.1.fetch_add(1, Ordering::SeqCst);
        for rs in request.resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| string(kv.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for span in ss.spans {
                    spans.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
    }
}

#[tonic::async_trait]
impl TraceService for Collect {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.store(request.into_inner());
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A span attribute's string value.
pub fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| string(kv.value.as_ref()?.value.as_ref()?))
}

fn string(v: &any_value::Value) -> Option<String> {
    match v {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

/// Ids as the trace headers write them.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
