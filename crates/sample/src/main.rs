//! `weft-sample`: the sample apps behind `weft demo`.

use std::net::SocketAddr;

use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

#[derive(Parser, Debug)]
#[command(version, about = "Sample apps for weft demos and tests")]
struct Args {
    #[command(subcommand)]
    app: App,
}

#[derive(Subcommand, Debug)]
enum App {
    /// Echo server: HTTP/1.1 + HTTP/2, gRPC and TCP, each on its own port.
    Echo {
        /// Name reported in every answer.
        #[arg(long, default_value = "echo")]
        name: String,
        #[arg(long)]
        http: Option<SocketAddr>,
        #[arg(long)]
        grpc: Option<SocketAddr>,
        #[arg(long)]
        tcp: Option<SocketAddr>,
    },
    /// Frontend: answers by calling a backend, through a sidecar if given.
    Frontend {
        #[arg(long, default_value = "frontend")]
        name: String,
        #[arg(long)]
        listen: SocketAddr,
        /// The backend URL, e.g. http://backend.demo:9080/
        #[arg(long)]
        backend: http::Uri,
        /// Send calls through this HTTP proxy (the app's sidecar):
        /// `host:port` or `http://host:port`, as `http_proxy` is written.
        #[arg(long, env = "http_proxy", value_parser = parse_proxy)]
        proxy: Option<SocketAddr>,
    },
    /// Bookinfo's product page (HTML and /api/v1/products).
    Productpage {
        #[arg(long, default_value = "0.0.0.0:9080")]
        listen: SocketAddr,
        #[arg(long, default_value = "http://details:9080")]
        details: http::Uri,
        #[arg(long, default_value = "http://reviews:9080")]
        reviews: http::Uri,
        #[arg(long, default_value = "http://ratings:9080")]
        ratings: http::Uri,
        /// Send calls through this HTTP proxy (the app's sidecar):
        /// `host:port` or `http://host:port`, as `http_proxy` is written.
        #[arg(long, env = "http_proxy", value_parser = parse_proxy)]
        proxy: Option<SocketAddr>,
    },
    /// Bookinfo's details service.
    Details {
        #[arg(long, default_value = "0.0.0.0:9080")]
        listen: SocketAddr,
    },
    /// Bookinfo's reviews service: v1 (no stars), v2 (black), v3 (red).
    Reviews {
        #[arg(long, default_value = "0.0.0.0:9080")]
        listen: SocketAddr,
        #[arg(long, default_value = "v1")]
        version: weft_sample::bookinfo::reviews::Version,
        /// Reported as the pod name the page shows; `reviews-<version>`.
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "http://ratings:9080")]
        ratings: http::Uri,
        /// Send calls through this HTTP proxy (the app's sidecar).
        #[arg(long, env = "http_proxy", value_parser = parse_proxy)]
        proxy: Option<SocketAddr>,
    },
    /// Bookinfo's ratings service.
    Ratings {
        #[arg(long, default_value = "0.0.0.0:9080")]
        listen: SocketAddr,
    },
    /// A service that fails a set fraction of its requests.
    Flaky {
        #[arg(long, default_value = "0.0.0.0:9080")]
        listen: SocketAddr,
        #[arg(long, default_value = "flaky")]
        name: String,
        /// Percent of requests that fail (spread evenly).
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u8).range(0..=100))]
        fail_percent: u8,
        /// The status a failure answers.
        #[arg(long, default_value_t = 503)]
        status: u16,
    },
    /// Traffic generator at a fixed rate.
    Loadgen {
        #[arg(long)]
        target: http::Uri,
        /// Requests per second.
        #[arg(long, default_value_t = 10)]
        rate: u32,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
        /// Print a summary every this many seconds.
        #[arg(long, default_value_t = 5)]
        every: u64,
    },
}

/// An HTTP proxy's address as `http_proxy` writes it: `host:port`, with or
/// without `http://` and a trailing `/`.
fn parse_proxy(s: &str) -> Result<SocketAddr, String> {
    let bare = s.strip_prefix("http://").unwrap_or(s).trim_end_matches('/');
    bare.parse().map_err(|_| {
        format!("{s:?} is not a proxy address; write 127.0.0.1:15001 or http://127.0.0.1:15001")
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args.app).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(app: App) -> Result<(), Box<dyn std::error::Error>> {
    match app {
        App::Echo {
            name,
            http,
            grpc,
            tcp,
        } => {
            if http.is_none() && grpc.is_none() && tcp.is_none() {
                return Err("give at least one of --http, --grpc, --tcp".into());
            }
            let mut tasks = tokio::task::JoinSet::new();
            if let Some(addr) = http {
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("--http {addr}: {e}"))?;
                let name = name.clone();
                tasks.spawn(async move { weft_sample::echo::serve(l, &name).await });
            }
            if let Some(addr) = grpc {
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("--grpc {addr}: {e}"))?;
                let name = name.clone();
                tasks.spawn(async move {
                    if let Err(e) = weft_sample::grpc::serve(l, &name).await {
                        tracing::error!("gRPC server failed: {e}");
                    }
                });
            }
            if let Some(addr) = tcp {
                let l = TcpListener::bind(addr)
                    .await
                    .map_err(|e| format!("--tcp {addr}: {e}"))?;
                tasks.spawn(weft_sample::tcp::serve(l));
            }
            eprintln!("{name}: serving (http={http:?} grpc={grpc:?} tcp={tcp:?})");
            tokio::select! {
                _ = tasks.join_next() => Err("a server stopped".into()),
                _ = shutdown() => Ok(()),
            }
        }
        App::Frontend {
            name,
            listen,
            backend,
            proxy,
        } => {
            let l = TcpListener::bind(listen)
                .await
                .map_err(|e| format!("--listen {listen}: {e}"))?;
            eprintln!("{name}: serving on {listen}, calling {backend} (proxy {proxy:?})");
            tokio::select! {
                _ = weft_sample::frontend::serve(l, &name, backend, proxy) => Ok(()),
                _ = shutdown() => Ok(()),
            }
        }
        App::Productpage {
            listen,
            details,
            reviews,
            ratings,
            proxy,
        } => {
            let page = std::sync::Arc::new(weft_sample::bookinfo::productpage::ProductPage {
                details,
                reviews,
                ratings,
                caller: weft_sample::call::Caller::new(proxy),
            });
            serve_bookinfo("productpage", listen, move |req| page.clone().handle(req)).await
        }
        App::Details { listen } => {
            serve_bookinfo("details", listen, weft_sample::bookinfo::details::handle).await
        }
        App::Reviews {
            listen,
            version,
            name,
            ratings,
            proxy,
        } => {
            let reviews = std::sync::Arc::new(weft_sample::bookinfo::reviews::Reviews {
                name: name.unwrap_or_else(|| format!("reviews-{version:?}").to_lowercase()),
                version,
                ratings,
                caller: weft_sample::call::Caller::new(proxy),
            });
            serve_bookinfo("reviews", listen, move |req| reviews.clone().handle(req)).await
        }
        App::Ratings { listen } => {
            serve_bookinfo("ratings", listen, weft_sample::bookinfo::ratings::handle).await
        }
        App::Flaky {
            listen,
            name,
            fail_percent,
            status,
        } => {
            let status = http::StatusCode::from_u16(status)
                .map_err(|_| format!("--status {status} is not an HTTP status"))?;
            let app =
                std::sync::Arc::new(weft_sample::flaky::Flaky::new(&name, fail_percent, status));
            serve_bookinfo(&name, listen, move |req| app.clone().handle(req)).await
        }
        App::Loadgen {
            target,
            rate,
            seconds,
            every,
        } => {
            let run = weft_sample::loadgen::run(
                target,
                rate,
                seconds.map(Duration::from_secs),
                Duration::from_secs(every),
            );
            tokio::select! {
                totals = run => if totals.failed == 0 { Ok(()) } else { Err(format!("{} of {} requests failed", totals.failed, totals.sent).into()) },
                _ = shutdown() => Ok(()),
            }
        }
    }
}

/// Serves one bookinfo service on `listen` until SIGTERM or Ctrl-C.
async fn serve_bookinfo<F, Fut>(
    name: &str,
    listen: SocketAddr,
    handler: F,
) -> Result<(), Box<dyn std::error::Error>>
where
    F: Fn(http::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = weft_sample::bookinfo::Rsp> + Send + 'static,
{
    let l = TcpListener::bind(listen)
        .await
        .map_err(|e| format!("--listen {listen}: {e}"))?;
    eprintln!("{name}: serving on {listen}");
    tokio::select! {
        _ = weft_sample::bookinfo::serve(l, handler) => Ok(()),
        _ = shutdown() => Ok(()),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
