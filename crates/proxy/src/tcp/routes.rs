//! A port's routes for opaque connections, compiled: chosen by the
//! ClientHello's server name (SNI) the way Envoy chooses a filter chain by
//! `server_names` — an exact name beats the longest matching `*.suffix`,
//! which beats a route for every connection — then a backend by weight.

use std::sync::Arc;

use weft_proto::config::{HttpRoute, TcpRoute};

use crate::http::Route;
use crate::upstream::Cluster;

/// Routes for opaque connections on one port.
#[derive(Debug, Default)]
pub struct TcpRoutes {
    routes: Vec<Compiled>,
    need_sni: bool,
}

#[derive(Debug)]
struct Compiled {
    /// Empty: any connection.
    sni: Vec<Sni>,
    /// The backends, weighted as an HTTP route's are.
    backends: Route,
}

/// One `sni` pattern.
#[derive(Debug)]
enum Sni {
    Exact(Box<str>),
    /// `*.example.com` as `.example.com`.
    Suffix(Box<str>),
    Any,
}

/// How well a route took a connection; higher wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fit {
    Any,
    Suffix(usize),
    Exact,
}

// === impl TcpRoutes ===

impl TcpRoutes {
    /// Compiles `routes`; `cluster` resolves backend names (validation
    /// has reported unknown ones, so they are an error here too).
    pub fn compile(
        routes: &[TcpRoute],
        cluster: impl Fn(&str) -> Option<Arc<Cluster>>,
    ) -> Result<Self, String> {
        let mut out = Vec::with_capacity(routes.len());
        for r in routes {
            let backends = Route::compile(
                &HttpRoute {
                    name: r.name.clone(),
                    backends: r.backends.clone(),
                    ..HttpRoute::default()
                },
                &cluster,
            )?;
            let sni = r.sni.iter().map(|s| Sni::parse(s)).collect();
            out.push(Compiled { sni, backends });
        }
        Ok(Self {
            routes: out,
            need_sni: TcpRoute::need_sni(routes),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Whether choosing a route needs the connection's SNI (some route
    /// names server names), so its ClientHello must be read first.
    pub fn need_sni(&self) -> bool {
        self.need_sni
    }

    /// The cluster for a connection that asked for server name `sni`
    /// (`None`: no TLS, or no SNI): the best-fitting route's backend by
    /// weight; the first route among equally good ones. `None` when no
    /// route takes the connection.
    ///
    /// Cost: O(routes × patterns), no allocation.
    pub fn pick(&self, sni: Option<&str>) -> Option<&Arc<Cluster>> {
        let mut best: Option<(Fit, &Compiled)> = None;
        for r in &self.routes {
            let Some(fit) = r.fit(sni) else {
                continue;
            };
            if best.is_none_or(|(b, _)| fit > b) {
                best = Some((fit, r));
            }
        }
        best.and_then(|(_, r)| r.backends.pick_backend())
    }
}

// === impl Compiled ===

impl Compiled {
    fn fit(&self, sni: Option<&str>) -> Option<Fit> {
        if self.sni.is_empty() {
            return Some(Fit::Any);
        }
        self.sni.iter().filter_map(|p| p.fit(sni)).max()
    }
}

// === impl Sni ===

impl Sni {
    fn parse(pattern: &str) -> Self {
        let p = pattern.to_ascii_lowercase();
        if p == "*" {
            Sni::Any
        } else if let Some(suffix) = p.strip_prefix('*') {
            Sni::Suffix(suffix.into())
        } else {
            Sni::Exact(p.into())
        }
    }

    /// `sni` is lower case already (`client_hello::read`).
    fn fit(&self, sni: Option<&str>) -> Option<Fit> {
        match (self, sni) {
            (Sni::Any, _) => Some(Fit::Any),
            (Sni::Exact(e), Some(s)) => (**e == *s).then_some(Fit::Exact),
            // `*.example.com` takes any subdomain, not the domain itself.
            (Sni::Suffix(x), Some(s)) => {
                (s.len() > x.len() && s.ends_with(&**x)).then_some(Fit::Suffix(x.len()))
            }
            (_, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_proto::config::Backend;

    fn cluster(name: &str) -> Arc<Cluster> {
        Arc::new(Cluster {
            name: Arc::from(name),
            protocol: weft_proto::config::UpstreamProtocol::Auto,
            connect_timeout: std::time::Duration::from_secs(1),
            balancer: crate::upstream::Balancer::new(Default::default(), Vec::new()),
            limits: None,
            outlier: None,
        })
    }

    fn routes(spec: &[(&[&str], &str)]) -> TcpRoutes {
        let cfg: Vec<TcpRoute> = spec
            .iter()
            .map(|(sni, to)| TcpRoute {
                name: None,
                sni: sni.iter().map(|s| s.to_string()).collect(),
                backends: vec![Backend {
                    cluster: to.to_string(),
                    weight: 1,
                    headers: Default::default(),
                }],
            })
            .collect();
        TcpRoutes::compile(&cfg, |n| Some(cluster(n))).unwrap()
    }

    #[test]
    fn the_most_specific_server_name_wins_whatever_the_order() {
        let r = routes(&[
            (&["*"], "any"),
            (&["*.example.com"], "wide"),
            (&["*.db.example.com"], "narrow"),
            (&["Exact.Example.com", "other.test"], "exact"),
        ]);
        let cases = [
            (Some("exact.example.com"), Some("exact")),
            (Some("other.test"), Some("exact")),
            (Some("a.db.example.com"), Some("narrow")),
            (Some("www.example.com"), Some("wide")),
            // The domain itself is not its own subdomain.
            (Some("example.com"), Some("any")),
            (Some("elsewhere.org"), Some("any")),
            (None, Some("any")),
        ];
        for (sni, want) in cases {
            let got = r.pick(sni).map(|c| c.name.to_string());
            assert_eq!(got.as_deref(), want, "sni {sni:?}");
        }
        assert!(r.need_sni());
    }

    #[test]
    fn without_a_catch_all_an_unknown_name_has_no_route() {
        let r = routes(&[(&["a.example.com"], "a"), (&["*.example.com"], "b")]);
        assert_eq!(r.pick(Some("x.test")).map(|c| c.name.to_string()), None);
        assert_eq!(r.pick(None).map(|c| c.name.to_string()), None);
    }

    #[test]
    fn equally_good_routes_keep_their_order_and_tcp_routes_need_no_sni() {
        let r = routes(&[(&[], "first"), (&[], "second")]);
        assert_eq!(
            r.pick(Some("x")).map(|c| c.name.to_string()).as_deref(),
            Some("first")
        );
        assert!(!r.need_sni());
        assert!(!routes(&[(&["*"], "any")]).need_sni());
    }
}
