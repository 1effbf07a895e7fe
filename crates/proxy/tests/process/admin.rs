//! The admin port of the real binary: readiness, liveness, config dump,
//! run-time log levels and what unknown requests get.

use http::{Method, StatusCode};
use weft_testkit::{PATIENCE, eventually, servers};

use crate::support::{Proc, call, config, raw_exchange};

#[tokio::test]
async fn ready_live_and_unknown_paths() {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    let admin = proxy.admin();

    let ready = call(admin, Method::GET, "/ready").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.text(), "LIVE\n");
    let live = call(admin, Method::GET, "/live").await;
    assert_eq!(live.status, StatusCode::OK);
    assert_eq!(live.text(), "LIVE\n");

    let index = call(admin, Method::GET, "/").await;
    assert_eq!(index.status, StatusCode::OK);
    assert!(index.text().contains("/config_dump"), "{}", index.text());

    let missing = call(admin, Method::GET, "/no/such/thing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.text().contains("not found"), "{}", missing.text());
    let put = call(admin, Method::PUT, "/ready").await;
    assert_eq!(put.status, StatusCode::METHOD_NOT_ALLOWED);

    // Prometheus is served on its own port; the admin port has it too.
    let prom = call(proxy.metrics(), Method::GET, "/stats/prometheus").await;
    assert_eq!(prom.status, StatusCode::OK);
    assert!(
        prom.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        prom.headers
    );
    // The metrics port is not an admin port.
    let not_admin = call(proxy.metrics(), Method::GET, "/config_dump").await;
    assert_eq!(not_admin.status, StatusCode::NOT_FOUND);
    proxy.assert_no_panic();
}

#[tokio::test]
async fn config_dump_shows_the_config_and_bound_addresses() {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, "drain_timeout: 3s\n"));

    let dump = call(proxy.admin(), Method::GET, "/config_dump").await;
    assert_eq!(dump.status, StatusCode::OK);
    assert_eq!(dump.headers["content-type"], "application/json");
    let json = dump.json();
    let config = &json["config"];
    assert_eq!(config["node"]["workload"], "client-v1");
    assert_eq!(
        config["clusters"][0]["endpoints"][0]["address"],
        echo.addr.to_string()
    );
    assert_eq!(config["listeners"].as_array().unwrap().len(), 3);
    assert_eq!(json["draining"], false);

    let bound = &json["bound_addresses"];
    for name in ["outbound", "http1", "to-db"] {
        assert_eq!(
            bound["listeners"][name],
            proxy.listener(name).to_string(),
            "{name} in {bound}"
        );
    }
    assert_eq!(bound["admin"], proxy.admin().to_string());
    assert_eq!(bound["metrics"], proxy.metrics().to_string());
    assert!(bound["health"].is_null(), "{bound}");
    proxy.assert_no_panic();
}

#[tokio::test]
async fn logging_level_changes_at_run_time() {
    let echo = servers::http_echo("echo").await;
    let proxy = Proc::spawn(&config(echo.addr, None, ""));
    let admin = proxy.admin();
    // hyper rejects this request line; the proxy logs why at debug level.
    let bad = b"GET /\x7f HTTP/1.1\r\nHost: echo.test\r\n\r\n";
    const DEBUG_LINE: &str = "client connection ended with an error";

    let now = call(admin, Method::GET, "/logging").await;
    assert_eq!((now.status, now.text()), (StatusCode::OK, "info\n".into()));
    raw_exchange(proxy.listener("http1"), bad).await;
    // Its connection is over on the proxy's side too (and whatever it had
    // to log, logged) before the level changes.
    let metrics = proxy.metrics();
    eventually("no downstream connections", PATIENCE, || async move {
        let text = weft_testkit::metrics::scrape(metrics).await;
        weft_testkit::metrics::sum(&text, "weft_listener_connections_active", &[]) == Some(0.0)
    })
    .await;

    let set = call(admin, Method::POST, "/logging?level=debug").await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    assert_eq!(set.text(), "log level set to debug\n");
    let now = call(admin, Method::GET, "/logging").await;
    assert_eq!(now.text(), "debug\n");
    // Only the request sent at debug level was logged.
    assert!(!proxy.stderr().contains(DEBUG_LINE), "{}", proxy.stderr());
    raw_exchange(proxy.listener("http1"), bad).await;
    eventually("a debug line in the log", PATIENCE, || async {
        proxy.stderr().contains(DEBUG_LINE)
    })
    .await;

    // Percent-encoded directive lists work too.
    let set = call(
        admin,
        Method::POST,
        "/logging?level=warn%2Cweft_proxy%3Dinfo",
    )
    .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text());
    let now = call(admin, Method::GET, "/logging").await;
    assert_eq!(now.text(), "warn,weft_proxy=info\n");

    // An invalid filter is refused with a reason and changes nothing.
    let invalid = call(admin, Method::POST, "/logging?level=weft_proxy%3Dloud").await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
    assert!(
        invalid
            .text()
            .contains("invalid log level \"weft_proxy=loud\""),
        "{}",
        invalid.text()
    );
    assert!(invalid.text().contains("use e.g."), "{}", invalid.text());
    let missing = call(admin, Method::POST, "/logging").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(
        missing.text().contains("missing ?level="),
        "{}",
        missing.text()
    );
    let now = call(admin, Method::GET, "/logging").await;
    assert_eq!(now.text(), "warn,weft_proxy=info\n");
    proxy.assert_no_panic();
}
