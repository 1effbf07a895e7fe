//! Upstream clusters: endpoints, their health and load, load balancing and
//! connection pools.

mod balance;
mod connect;
mod endpoint;
mod ewma;
mod hash;
mod limits;
mod outlier;
mod pool;
mod priority;
mod transport;

pub use balance::Balancer;
pub use connect::connect;
pub use endpoint::{Endpoint, InFlight};
pub use limits::{Limits, Slot};
pub use outlier::{Outcome, OutlierDetector};
pub use pool::HttpVersion;
pub use priority::Place;
pub use transport::{Carries, Conn, Tls, TlsKey, Transport, TransportBuilder};

use std::sync::Arc;
use std::time::Duration;

use weft_proto::config::UpstreamProtocol;

/// A named set of endpoints with a balancer, as compiled from config.
#[derive(Debug)]
pub struct Cluster {
    pub name: Arc<str>,
    pub protocol: UpstreamProtocol,
    pub connect_timeout: Duration,
    pub balancer: Balancer,
    /// Circuit breakers (`connection_pool`); `None`: no limits.
    pub limits: Option<Arc<Limits>>,
    /// Outlier detection; `None`: off.
    pub outlier: Option<Arc<OutlierDetector>>,
}
