use weft_api::kinds::gateway_api::HttpRouteMatch;
use weft_api::kinds::gateway_api::http_route::HttpRouteRule;
use weft_proto::config::{HeaderEdits, Redirect, RedirectPort, RegexRewrite};

use super::actions;

/// A rule from YAML (`matches`, `filters`).
fn rule(yaml: &str) -> HttpRouteRule {
    serde_saphyr::from_str(yaml).unwrap()
}

/// Applies `rw` (Istio-style `\1` groups) to `path` as the proxy would.
fn rewrite(rw: &RegexRewrite, path: &str) -> String {
    let re = regex::Regex::new(&rw.pattern).unwrap();
    let sub = rw.substitution.replace("\\1", "${1}");
    re.replace_all(path, sub.as_str()).into_owned()
}

fn prefix_case(prefix: &str, with: &str, path: &str) -> String {
    let r = rule(&format!(
        "matches: [{{ path: {{ type: PathPrefix, value: '{prefix}' }} }}]
filters: [{{ type: URLRewrite, urlRewrite: {{ path: {{ type: ReplacePrefixMatch, replacePrefixMatch: '{with}' }} }} }}]"
    ));
    let a = actions(&r.filters, &r.matches[0]).unwrap();
    rewrite(a.rewrite.unwrap().uri_regex.as_ref().unwrap(), path)
}

#[test]
fn replace_prefix_match_follows_the_gateway_api_table() {
    // gateway-api `HTTPPathModifier.ReplacePrefixMatch`'s examples.
    for (path, prefix, with, want) in [
        ("/foo/bar", "/foo", "/xyz", "/xyz/bar"),
        ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
        ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"),
        ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
        ("/foo", "/foo", "/xyz", "/xyz"),
        ("/foo/", "/foo", "/xyz", "/xyz/"),
        ("/foo/bar", "/foo", "", "/bar"),
        ("/foo/", "/foo", "", "/"),
        ("/foo", "/foo", "", "/"),
        ("/foo/", "/foo", "/", "/"),
        ("/foo", "/foo", "/", "/"),
    ] {
        assert_eq!(
            prefix_case(prefix, with, path),
            want,
            "{path} with prefix {prefix} replaced by {with:?}"
        );
    }
    // A prefix with regex characters is taken literally.
    assert_eq!(prefix_case("/a.b", "/c", "/a.b/x"), "/c/x");
    assert_eq!(prefix_case("/a.b", "/c", "/axb/x"), "/axb/x");
}

#[test]
fn full_path_rewrites_hostnames_and_header_modifiers() {
    let r = rule(
        "filters:
- type: URLRewrite
  urlRewrite: { hostname: api.internal, path: { type: ReplaceFullPath, replaceFullPath: /v2/list } }
- type: RequestHeaderModifier
  requestHeaderModifier: { set: [{ name: X-Env, value: prod }], add: [{ name: x-a, value: b }], remove: [X-Debug] }
- type: ResponseHeaderModifier
  responseHeaderModifier: { remove: [server] }",
    );
    let a = actions(&r.filters, &HttpRouteMatch::default()).unwrap();
    let rw = a.rewrite.unwrap();
    assert_eq!(rw.authority.as_deref(), Some("api.internal"));
    assert_eq!(
        rewrite(rw.uri_regex.as_ref().unwrap(), "/any/thing"),
        "/v2/list"
    );
    assert_eq!(
        a.headers.request,
        HeaderEdits {
            set: vec![("x-env".into(), "prod".into())],
            add: vec![("x-a".into(), "b".into())],
            remove: vec!["x-debug".into()],
        }
    );
    assert_eq!(a.headers.response.remove, ["server"]);
}

#[test]
fn redirects_default_to_302_and_take_the_port_the_spec_says() {
    let redirect = |yaml: &str| {
        let r = rule(&format!(
            "filters: [{{ type: RequestRedirect, requestRedirect: {yaml} }}]"
        ));
        actions(&r.filters, &HttpRouteMatch::default())
            .unwrap()
            .redirect
            .unwrap()
    };
    assert_eq!(
        redirect("{ hostname: www.example.com }"),
        Redirect {
            path: None,
            authority: Some("www.example.com".into()),
            scheme: None,
            port: Some(RedirectPort::FromRequest),
            status: 302,
        }
    );
    let https = redirect("{ scheme: https, statusCode: 301 }");
    assert_eq!(
        (https.scheme.as_deref(), https.port, https.status),
        (Some("https"), Some(RedirectPort::FromScheme), 301)
    );
    assert_eq!(
        redirect("{ port: 8443, path: { type: ReplaceFullPath, replaceFullPath: /new } }").port,
        Some(RedirectPort::Number(8443))
    );
    // A prefix replacement in a redirect is not carried out: no route.
    let r = rule(
        "matches: [{ path: { type: PathPrefix, value: /old } }]
filters: [{ type: RequestRedirect, requestRedirect: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } } }]",
    );
    assert!(actions(&r.filters, &r.matches[0]).is_none());
    // Nor a prefix rewrite on an exact match (Gateway API refuses it).
    let r = rule(
        "matches: [{ path: { type: Exact, value: /old } }]
filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } } }]",
    );
    assert!(actions(&r.filters, &r.matches[0]).is_none());
}

#[test]
fn a_rules_retry_is_istios_conversion() {
    use weft_proto::config::RetryOn;
    let r = rule("retry: { codes: [500, 503], backoff: 100ms }");
    let p = super::retries(r.retry.as_ref().unwrap()).unwrap();
    assert_eq!(p.attempts, 2, "unset attempts are 2");
    assert_eq!(p.status_codes, [500, 503]);
    assert!(p.retry_on.contains(&RetryOn::RetriableStatusCodes));
    assert!(p.retry_on.contains(&RetryOn::ConnectFailure));
    assert_eq!(p.backoff, std::time::Duration::from_millis(100));
    let off = rule("retry: { attempts: 0 }");
    assert!(super::retries(off.retry.as_ref().unwrap()).is_none());
}
