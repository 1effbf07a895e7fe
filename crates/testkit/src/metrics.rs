//! Reading Prometheus text exposition in tests.

/// Sums every sample of metric `name` whose labels include all of `want`.
/// Returns `None` when no series matches.
pub fn sum(text: &str, name: &str, want: &[(&str, &str)]) -> Option<f64> {
    let mut total = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let (series, value) = match line.rsplit_once(' ') {
            Some(p) => p,
            None => continue,
        };
        let (metric, labels) = match series.split_once('{') {
            Some((m, l)) => (m, l.trim_end_matches('}')),
            None => (series, ""),
        };
        if metric != name {
            continue;
        }
        let matches = want
            .iter()
            .all(|(k, v)| labels.contains(&format!("{k}=\"{v}\"")));
        if matches && let Ok(v) = value.parse::<f64>() {
            *total.get_or_insert(0.0) += v;
        }
    }
    total
}

/// Fetches the Prometheus text from a metrics address.
pub async fn scrape(addr: std::net::SocketAddr) -> String {
    crate::client::get(addr, http::Version::HTTP_11, "metrics", "/stats/prometheus")
        .await
        .text()
}
