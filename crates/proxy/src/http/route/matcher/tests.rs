use http::Request;
use serde_json::json;
use weft_proto::config::RouteMatch;

use super::*;

fn compile(m: serde_json::Value) -> Match {
    let cfg: RouteMatch = serde_json::from_value(m.clone()).unwrap_or_else(|e| panic!("{e}: {m}"));
    Match::compile(&cfg).unwrap()
}

/// `uri` in origin form with Host `host`, or in absolute form (as HTTP/2
/// and proxy requests arrive) when it has a scheme.
fn request(uri: &str, host: Option<&str>) -> Request<()> {
    let mut b = Request::get(uri);
    if let Some(h) = host {
        b = b.header("host", h);
    }
    b.body(()).unwrap()
}

/// Each case: a match block, a request target, a Host, and whether it
/// matches.
fn check(cases: &[(serde_json::Value, &str, Option<&str>, bool)]) {
    for (m, uri, host, want) in cases {
        let got = compile(m.clone()).matches(&request(uri, *host), "http");
        assert_eq!(got, *want, "{m} vs {uri} (host {host:?})");
    }
}

#[test]
fn authority_matches_the_host_as_sent_port_included() {
    let shop = Some("shop.example.com");
    let shop_port = Some("shop.example.com:8080");
    check(&[
        (
            json!({ "authority": { "exact": "shop.example.com" } }),
            "/",
            shop,
            true,
        ),
        (
            json!({ "authority": { "exact": "shop.example.com" } }),
            "/",
            shop_port,
            false,
        ),
        (
            json!({ "authority": { "exact": "shop.example.com:8080" } }),
            "/",
            shop_port,
            true,
        ),
        (
            json!({ "authority": { "prefix": "shop." } }),
            "/",
            shop_port,
            true,
        ),
        (
            json!({ "authority": { "prefix": "shop." } }),
            "/",
            Some("cart.example.com"),
            false,
        ),
        (
            json!({ "authority": { "regex": "shop\\.example\\.com(:[0-9]+)?" } }),
            "/",
            shop_port,
            true,
        ),
        // Regexes match the whole authority.
        (
            json!({ "authority": { "regex": "shop" } }),
            "/",
            shop,
            false,
        ),
        (
            json!({ "authority": { "present": true } }),
            "/",
            None,
            false,
        ),
        (
            json!({ "authority": { "present": false } }),
            "/",
            None,
            true,
        ),
        // Absolute form: the URI's authority is the one sent.
        (
            json!({ "authority": { "exact": "api.test:81" } }),
            "http://api.test:81/x",
            None,
            true,
        ),
    ]);
}

#[test]
fn query_parameters_match_their_first_raw_value() {
    let q = |name: &str, value: serde_json::Value| json!({ "query": [{ "name": name, "value": value }] });
    check(&[
        (q("v", json!({ "exact": "2" })), "/p?v=2", None, true),
        (q("v", json!({ "exact": "2" })), "/p?a=1&v=2&z", None, true),
        (q("v", json!({ "exact": "2" })), "/p?v=3", None, false),
        (q("v", json!({ "exact": "2" })), "/p", None, false),
        // Envoy reads the first value only.
        (q("v", json!({ "exact": "2" })), "/p?v=1&v=2", None, false),
        // Neither names nor values are percent-decoded (Envoy's router
        // parses without decoding).
        (
            q("name", json!({ "exact": "a b" })),
            "/p?name=a%20b",
            None,
            false,
        ),
        (
            q("name", json!({ "exact": "a%20b" })),
            "/p?name=a%20b",
            None,
            true,
        ),
        (
            q("a b", json!({ "present": true })),
            "/p?a%20b=1",
            None,
            false,
        ),
        (q("v", json!({ "prefix": "ab" })), "/p?v=abc", None, true),
        (q("v", json!({ "regex": "[0-9]+" })), "/p?v=123", None, true),
        (
            q("v", json!({ "regex": "[0-9]+" })),
            "/p?v=12a",
            None,
            false,
        ),
        // Present: the name appears, with or without a value.
        (
            q("debug", json!({ "present": true })),
            "/p?debug",
            None,
            true,
        ),
        (
            q("debug", json!({ "present": true })),
            "/p?debug=",
            None,
            true,
        ),
        (
            q("debug", json!({ "present": true })),
            "/p?debugger=1",
            None,
            false,
        ),
        (
            q("debug", json!({ "present": false })),
            "/p?x=1",
            None,
            true,
        ),
        (
            q("debug", json!({ "present": false })),
            "/p?debug",
            None,
            false,
        ),
        // A name without `=` has the empty value.
        (q("flag", json!({ "exact": "" })), "/p?flag", None, true),
        // The query is not part of path conditions, nor they of it.
        (
            json!({ "path": { "exact": "/p" }, "query": [{ "name": "v", "value": { "exact": "1" } }] }),
            "/p?v=1",
            None,
            true,
        ),
    ]);
}

#[test]
fn ignore_case_applies_to_exact_and_prefix_paths_not_regexes() {
    let m =
        |path: serde_json::Value, ignore: bool| json!({ "path": path, "path_ignore_case": ignore });
    check(&[
        (m(json!({ "exact": "/Login" }), true), "/LOGIN", None, true),
        (
            m(json!({ "exact": "/Login" }), true),
            "/login/x",
            None,
            false,
        ),
        (
            m(json!({ "exact": "/Login" }), false),
            "/login",
            None,
            false,
        ),
        (m(json!({ "prefix": "/API/" }), true), "/api/v1", None, true),
        (m(json!({ "prefix": "/API/" }), true), "/Api/", None, true),
        (m(json!({ "prefix": "/API/" }), true), "/ap", None, false),
        (
            m(json!({ "prefix": "/API/" }), false),
            "/api/v1",
            None,
            false,
        ),
        // Envoy ignores case_sensitive for regexes.
        (
            m(json!({ "regex": "/api/.*" }), true),
            "/API/x",
            None,
            false,
        ),
        // Multi-byte text after the prefix is fine.
        (
            m(json!({ "prefix": "/caf" }), true),
            "/CAF%C3%A9",
            None,
            true,
        ),
    ]);
}

#[test]
fn matched_len_is_what_a_uri_rewrite_replaces() {
    let len = |m: serde_json::Value, path: &str| compile(m).matched_len(path);
    assert_eq!(len(json!({ "path": { "prefix": "/api" } }), "/api/x"), 4);
    assert_eq!(
        len(
            json!({ "path": { "prefix": "/API" }, "path_ignore_case": true }),
            "/api/x"
        ),
        4
    );
    assert_eq!(len(json!({ "path": { "exact": "/a/b" } }), "/a/b"), 4);
    assert_eq!(
        len(json!({ "path": { "regex": "/v[0-9]/.*" } }), "/v1/xyz"),
        7
    );
    assert_eq!(len(json!({ "method": "GET" }), "/anything"), 1);
}
