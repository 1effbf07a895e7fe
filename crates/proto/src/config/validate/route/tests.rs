use crate::config::{ConfigError, ProxyConfig};

const ROUTE: &str = "services[0].ports[0].routes[0]";

/// A config whose only route is `route` (a YAML flow mapping).
fn config(route: &str) -> ProxyConfig {
    let yaml = format!(
        "listeners: []
services:
  - name: a.test
    ports:
      - port: 80
        routes:
          - {route}
clusters:
  - {{ name: c, endpoints: [{{ address: 127.0.0.1:1 }}] }}
"
    );
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn errors(route: &str) -> Vec<ConfigError> {
    config(route).validate()
}

/// Each case: a route, the field path (after the route's) of the one
/// error it must produce, and words the message must contain.
fn assert_rejected(cases: &[(&str, &str, &str)]) {
    for (route, field, words) in cases {
        let errs = errors(route);
        let want = format!("{ROUTE}{field}");
        assert!(
            errs.iter()
                .any(|e| e.path == want && e.message.contains(words)),
            "{route}\nwanted {want}: ...{words}...\ngot {errs:#?}"
        );
        assert_eq!(errs.len(), 1, "{route}: {errs:#?}");
    }
}

#[test]
fn a_route_using_every_action_is_valid_and_round_trips() {
    let cfg = config(
        r#"{ match: [{ path: { prefix: /API }, path_ignore_case: true, authority: { regex: "shop(:[0-9]+)?" },
             query: [{ name: v, value: { present: true } }, { name: q, value: { prefix: "a" } }] }],
           backends: [{ cluster: c, headers: { request: { set: [[x-b, "1"]], remove: [x-gone] } } }],
           fault: { delay: { fixed: 5ms, percent: 12.5 }, abort: { status: { grpc: 14 }, percent: 0 } },
           rewrite: { uri_regex: { pattern: "^/api/(.*)$", substitution: "/v2/\\1" }, authority: "svc:8080" },
           headers: { request: { add: [[x-a, "two words"]] }, response: { set: [[cache-control, no-store]] } } }"#,
    );
    assert_eq!(cfg.validate(), vec![]);
    let json = serde_json::to_string(&cfg).unwrap();
    let back: ProxyConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(cfg, back);

    for answer in [
        "{ redirect: { path: /new, port: from_request } }",
        "{ redirect: { scheme: https, port: { number: 8443 }, status: 308 } }",
        "{ direct_response: { status: 200, body: { text: ok } } }",
        "{ direct_response: { status: 503, body: { base64: aGk } } }",
        "{ direct_response: { status: 204 } }",
    ] {
        assert_eq!(errors(answer), vec![], "{answer}");
    }
}

#[test]
fn a_route_forwards_or_answers_exactly_one_way() {
    assert_rejected(&[
        (
            "{ backends: [] }",
            ".backends",
            "at least one backend, or a redirect",
        ),
        (
            "{ backends: [{ cluster: c }], redirect: { path: /x } }",
            ".redirect",
            "either forwards to backends or answers with a redirect",
        ),
        (
            "{ backends: [{ cluster: c }], direct_response: { status: 200 } }",
            ".direct_response",
            "either forwards to backends or answers with a direct_response",
        ),
        (
            "{ backends: [], redirect: { path: /x }, direct_response: { status: 200 } }",
            ".direct_response",
            "a redirect or a direct_response, not both",
        ),
        (
            "{ backends: [], redirect: { path: /x }, fault: { abort: { status: { http: 500 }, percent: 1 } } }",
            ".fault",
            "takes no fault",
        ),
        (
            "{ backends: [], direct_response: { status: 200 }, rewrite: { uri: /x } }",
            ".rewrite",
            "forwards nothing to rewrite",
        ),
    ]);
}

#[test]
fn fault_percentages_and_statuses_have_ranges() {
    let fault = |f: &str| format!("{{ backends: [{{ cluster: c }}], fault: {f} }}");
    assert_rejected(&[
        (
            &fault("{ delay: { fixed: 1s, percent: 100.5 } }"),
            ".fault.delay.percent",
            "100.5 is not a share of requests; use 0 to 100",
        ),
        (
            &fault("{ delay: { fixed: 1s, percent: -1 } }"),
            ".fault.delay.percent",
            "use 0 to 100",
        ),
        (
            &fault("{ delay: { fixed: 1s, percent: .nan } }"),
            ".fault.delay.percent",
            "NaN is not a share of requests",
        ),
        (
            &fault("{ abort: { status: { http: 500 }, percent: 101 } }"),
            ".fault.abort.percent",
            "use 0 to 100",
        ),
        (
            &fault("{ abort: { status: { http: 600 }, percent: 1 } }"),
            ".fault.abort.status.http",
            "600 is not a status an abort can answer with; use 200-599",
        ),
        (
            &fault("{ abort: { status: { http: 199 }, percent: 1 } }"),
            ".fault.abort.status.http",
            "use 200-599",
        ),
        (
            &fault("{ abort: { status: { grpc: 17 }, percent: 1 } }"),
            ".fault.abort.status.grpc",
            "17 is not a gRPC status code; use 0-16",
        ),
        (&fault("{}"), ".fault", "needs a delay, an abort or both"),
        (
            &fault("{ delay: { fixed: 0s, percent: 1 } }"),
            ".fault.delay.fixed",
            "must be more than 0",
        ),
    ]);
    // The ends of each range are fine.
    for ok in [
        "{ delay: { fixed: 1ms, percent: 0 }, abort: { status: { http: 200 }, percent: 100 } }",
        "{ abort: { status: { http: 599 }, percent: 0.0001 } }",
        "{ abort: { status: { grpc: 0 }, percent: 1 } }",
        "{ abort: { status: { grpc: 16 }, percent: 1 } }",
    ] {
        assert_eq!(errors(&fault(ok)), vec![], "{ok}");
    }
}

#[test]
fn redirects_and_direct_responses_send_what_clients_understand() {
    assert_rejected(&[
        (
            "{ backends: [], redirect: { path: /x, status: 300 } }",
            ".redirect.status",
            "300 is not a redirect status; use 301, 302, 303, 307 or 308",
        ),
        (
            "{ backends: [], redirect: { status: 302 } }",
            ".redirect",
            "needs a path, authority, scheme or port",
        ),
        (
            "{ backends: [], redirect: { scheme: ftp } }",
            ".redirect.scheme",
            "use http or https",
        ),
        (
            "{ backends: [], redirect: { port: { number: 0 } } }",
            ".redirect.port.number",
            "must be 1-65535",
        ),
        (
            "{ backends: [], redirect: { authority: \"a b\" } }",
            ".redirect.authority",
            "is not a host[:port]",
        ),
        (
            "{ backends: [], redirect: { path: \"/a b\" } }",
            ".redirect.path",
            "is not a URI path",
        ),
        (
            "{ backends: [], direct_response: { status: 600 } }",
            ".direct_response.status",
            "600 is not a status to answer with; use 200-599",
        ),
        (
            "{ backends: [], direct_response: { status: 199 } }",
            ".direct_response.status",
            "use 200-599",
        ),
        (
            "{ backends: [], direct_response: { status: 200, body: { base64: \"not base64!\" } } }",
            ".direct_response.body.base64",
            "does not decode as standard base64",
        ),
    ]);
}

#[test]
fn rewrites_replace_the_path_one_way_and_regexes_compile() {
    let rewrite = |r: &str| format!("{{ backends: [{{ cluster: c }}], rewrite: {r} }}");
    assert_rejected(&[
        (
            &rewrite("{ uri: /v2, uri_regex: { pattern: a, substitution: b } }"),
            ".rewrite",
            "set uri or uri_regex, not both",
        ),
        (
            &rewrite("{}"),
            ".rewrite",
            "needs uri, uri_regex or authority",
        ),
        (
            &rewrite("{ uri_regex: { pattern: \"(\", substitution: b } }"),
            ".rewrite.uri_regex.pattern",
            "\"(\" does not compile",
        ),
        (
            &rewrite(r#"{ uri_regex: { pattern: "/(a)", substitution: "/\\2" } }"#),
            ".rewrite.uri_regex.substitution",
            "refers to group 2, but the pattern has 1",
        ),
        (
            &rewrite(r#"{ uri_regex: { pattern: "/(a)", substitution: "/\\q" } }"#),
            ".rewrite.uri_regex.substitution",
            "\\q is not an escape RE2 knows",
        ),
        (
            &rewrite("{ uri: \"\" }"),
            ".rewrite.uri",
            "must not be empty",
        ),
        (
            &rewrite("{ authority: \"a/b\" }"),
            ".rewrite.authority",
            "is not a host[:port]",
        ),
    ]);
}

#[test]
fn match_regexes_compile_and_query_names_are_given() {
    let route = |m: &str| format!("{{ match: [{m}], backends: [{{ cluster: c }}] }}");
    assert_rejected(&[
        (
            &route("{ authority: { regex: \"shop(\" } }"),
            ".match[0].authority.regex",
            "does not compile",
        ),
        (
            &route("{ query: [{ name: v, value: { regex: \"[\" } }] }"),
            ".match[0].query[0].value.regex",
            "does not compile",
        ),
        (
            &route("{ query: [{ name: \"\", value: { exact: x } }] }"),
            ".match[0].query[0].name",
            "must not be empty",
        ),
    ]);
}

#[test]
fn header_edits_name_real_headers_and_leave_the_host_to_rewrite() {
    let edits = |e: &str| format!("{{ backends: [{{ cluster: c }}], headers: {e} }}");
    let backend = |e: &str| format!("{{ backends: [{{ cluster: c, headers: {e} }}] }}");
    assert_rejected(&[
        (
            &edits("{ request: { set: [[\"bad name\", x]] } }"),
            ".headers.request.set[0]",
            "\"bad name\" is not a valid HTTP header name",
        ),
        (
            &edits("{ response: { add: [[x-a, \"line\\nbreak\"]] } }"),
            ".headers.response.add[0]",
            "has a control character",
        ),
        (
            &edits("{ request: { set: [[\":path\", /x]] } }"),
            ".headers.request.set[0]",
            "use rewrite.authority",
        ),
        (
            &edits("{ request: { add: [[Host, x]] } }"),
            ".headers.request.add[0]",
            "\"Host\" cannot be edited",
        ),
        (
            &edits("{ request: { remove: [host] } }"),
            ".headers.request.remove[0]",
            "\"host\" cannot be edited",
        ),
        (
            &edits("{ response: { remove: [\":status\"] } }"),
            ".headers.response.remove[0]",
            "cannot be edited",
        ),
        (
            &backend("{ request: { remove: [\"a:b\"] } }"),
            ".backends[0].headers.request.remove[0]",
            "is not a valid HTTP header name",
        ),
    ]);
}

#[test]
fn substitutions_become_regex_crate_replacements() {
    use crate::config::RegexRewrite;
    let conv = |s: &str| {
        RegexRewrite {
            pattern: String::new(),
            substitution: s.into(),
        }
        .replacement()
    };
    assert_eq!(conv(r"/v2/\1"), Ok(("/v2/${1}".into(), 1)));
    assert_eq!(conv(r"\2\1x\0"), Ok(("${2}${1}x${0}".into(), 2)));
    // RE2 groups are one digit: `\12` is group 1, then a 2.
    assert_eq!(conv(r"\12"), Ok(("${1}2".into(), 1)));
    assert_eq!(conv(r"a\\b$c"), Ok((r"a\b$$c".into(), 0)));
    assert!(conv(r"trailing\").is_err());
}
