use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};
use weft_sample::pb::EchoRequest;
use weft_sample::pb::echo_client::EchoClient;
use weft_testkit::proxy::TestProxy;
use weft_testkit::servers;

use crate::support::wait_metric;

fn config(upstream: std::net::SocketAddr) -> String {
    format!(
        "listeners:
  - {{ name: outbound, address: 127.0.0.1:0, direction: outbound }}
services:
  - name: grpc.test
    ports:
      - {{ port: 50051, protocol: grpc, cluster: grpc }}
clusters:
  - name: grpc
    protocol: http2
    endpoints: [{{ address: \"{upstream}\" }}]
"
    )
}

/// A gRPC client that connects to the proxy but addresses `grpc.test`.
async fn client(proxy: &TestProxy) -> EchoClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{}", proxy.listener("outbound")))
        .unwrap()
        .origin("http://grpc.test:50051".parse().unwrap())
        .connect()
        .await
        .unwrap();
    EchoClient::new(channel)
}

fn req(message: &str, count: u32) -> EchoRequest {
    EchoRequest {
        message: message.into(),
        count,
    }
}

#[tokio::test]
async fn unary() {
    let server = servers::grpc_echo("grpc-echo").await;
    let proxy = TestProxy::start(&config(server.addr)).await;
    let rsp = client(&proxy)
        .await
        .unary(req("hi", 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (rsp.message.as_str(), rsp.from.as_str()),
        ("hi", "grpc-echo")
    );

    let ok = [
        ("request_protocol", "grpc"),
        ("grpc_response_status", "0"),
        ("response_code", "200"),
    ];
    wait_metric(&proxy, "istio_requests_total", &ok, 1.0).await;
}

#[tokio::test]
async fn server_streaming() {
    let server = servers::grpc_echo("grpc-echo").await;
    let proxy = TestProxy::start(&config(server.addr)).await;
    let mut stream = client(&proxy)
        .await
        .server_stream(req("tick", 5))
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(m) = stream.next().await {
        got.push(m.unwrap().message);
    }
    assert_eq!(got, ["tick 0", "tick 1", "tick 2", "tick 3", "tick 4"]);
}

#[tokio::test]
async fn client_streaming() {
    let server = servers::grpc_echo("grpc-echo").await;
    let proxy = TestProxy::start(&config(server.addr)).await;
    let input = tokio_stream::iter(["a", "b", "c"].map(|m| req(m, 0)));
    let rsp = client(&proxy)
        .await
        .client_stream(input)
        .await
        .unwrap()
        .into_inner();
    assert_eq!((rsp.message.as_str(), rsp.index), ("a,b,c", 3));
}

#[tokio::test]
async fn bidi_streaming_interleaves() {
    let server = servers::grpc_echo("grpc-echo").await;
    let proxy = TestProxy::start(&config(server.addr)).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut replies = client(&proxy)
        .await
        .bidi(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    // Each reply arrives before the next request is sent: a true
    // bidirectional stream, not a buffered one.
    for i in 0..5 {
        tx.send(req(&format!("m{i}"), 0)).await.unwrap();
        let r = replies.next().await.unwrap().unwrap();
        assert_eq!((r.message, r.index), (format!("m{i}"), i));
    }
    drop(tx);
    assert!(replies.next().await.is_none());
}

#[tokio::test]
async fn grpc_status_codes_pass_through_and_are_counted() {
    let server = servers::grpc_echo("grpc-echo").await;
    let proxy = TestProxy::start(&config(server.addr)).await;
    let err = client(&proxy)
        .await
        .unary(req("fail:5", 0))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    wait_metric(
        &proxy,
        "istio_requests_total",
        &[("grpc_response_status", "5")],
        1.0,
    )
    .await;
}

#[tokio::test]
async fn proxy_errors_reach_grpc_clients_as_grpc_statuses() {
    let dead = servers::refused_addr().await;
    let proxy = TestProxy::start(&config(dead)).await;
    let err = client(&proxy).await.unary(req("hi", 0)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().contains("upstream connect failure"),
        "{err:?}"
    );
}
