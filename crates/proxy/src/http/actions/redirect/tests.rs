use super::*;

fn redirect(yaml: serde_json::Value) -> Redirect {
    Redirect::compile(&serde_json::from_value(yaml).unwrap()).unwrap()
}

fn url<'a>(scheme: &'a str, authority: &'a str, path_and_query: &'a str) -> RequestUrl<'a> {
    RequestUrl {
        scheme,
        authority,
        path_and_query,
        route_port: 9080,
    }
}

#[test]
fn locations() {
    use serde_json::json;
    let plain = url("http", "shop.test", "/a/b?x=1");
    let with_port = url("http", "shop.test:8080", "/a?x=1");
    let default_port = url("http", "shop.test:80", "/a");
    let tls = url("https", "shop.test", "/a");
    let v6 = url("http", "[::1]:8080", "/a");
    let cases = [
        // Path: replaced; the request's query stays unless the new path has one.
        (json!({ "path": "/new" }), plain, "http://shop.test/new?x=1"),
        (
            json!({ "path": "/new?y=2" }),
            plain,
            "http://shop.test/new?y=2",
        ),
        (
            json!({ "path": "/new" }),
            url("http", "a", "/p"),
            "http://a/new",
        ),
        (
            json!({ "path": "new" }),
            url("http", "a", "/p"),
            "http://a/new",
        ),
        // Authority: as written; the request's port does not follow it.
        (
            json!({ "authority": "other.test" }),
            with_port,
            "http://other.test/a?x=1",
        ),
        (
            json!({ "authority": "other.test:9" }),
            plain,
            "http://other.test:9/a/b?x=1",
        ),
        // No authority: the request's Host, port included.
        (
            json!({ "path": "/n" }),
            with_port,
            "http://shop.test:8080/n?x=1",
        ),
        // Ports.
        (
            json!({ "port": { "number": 8443 } }),
            with_port,
            "http://shop.test:8443/a?x=1",
        ),
        // Istio drops a scheme's default port before Envoy sees it, so
        // Envoy keeps the request's port (upstream's behaviour).
        (
            json!({ "port": { "number": 80 } }),
            with_port,
            "http://shop.test:8080/a?x=1",
        ),
        (
            json!({ "port": { "number": 80 } }),
            plain,
            "http://shop.test/a/b?x=1",
        ),
        (
            json!({ "port": "from_request" }),
            plain,
            "http://shop.test:9080/a/b?x=1",
        ),
        (
            json!({ "port": "from_scheme" }),
            with_port,
            "http://shop.test:8080/a?x=1",
        ),
        (
            json!({ "port": { "number": 8443 } }),
            v6,
            "http://[::1]:8443/a",
        ),
        (
            json!({ "authority": "o.test", "port": { "number": 81 } }),
            plain,
            "http://o.test:81/a/b?x=1",
        ),
        // Scheme: the request's unless replaced; a default port of the
        // old scheme goes, another stays.
        (json!({ "path": "/n" }), tls, "https://shop.test/n"),
        (
            json!({ "scheme": "https" }),
            default_port,
            "https://shop.test/a",
        ),
        (
            json!({ "scheme": "https" }),
            with_port,
            "https://shop.test:8080/a?x=1",
        ),
        (
            json!({ "scheme": "https", "port": { "number": 443 } }),
            plain,
            "https://shop.test/a/b?x=1",
        ),
        (
            json!({ "scheme": "https", "port": { "number": 443 } }),
            with_port,
            "https://shop.test:8080/a?x=1",
        ),
        (
            json!({ "scheme": "http" }),
            url("https", "s:443", "/"),
            "http://s/",
        ),
    ];
    for (cfg, req, want) in cases {
        assert_eq!(
            redirect(cfg.clone()).location(req),
            want,
            "{cfg} for {req:?}"
        );
    }
}

#[test]
fn status_defaults_to_301() {
    let r = redirect(serde_json::json!({ "path": "/x" }));
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
}
