use super::*;

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_static(v));
    }
    h
}

const T: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const S: &str = "00f067aa0ba902b7";

fn ids() -> (TraceId, SpanId) {
    (
        TraceId::parse(T).expect("trace id"),
        SpanId::parse(S).expect("span id"),
    )
}

#[test]
fn traceparent_sampled_and_not() {
    // The W3C spec's own example.
    let e = extract(&headers(&[(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )]));
    assert_eq!(e.parent, Some(ids()));
    assert_eq!(e.sampled, Some(true));
    let e = extract(&headers(&[(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
    )]));
    assert_eq!(e.sampled, Some(false));
}

#[test]
fn malformed_traceparent_is_ignored() {
    for bad in [
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-xyz92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        let mut h = HeaderMap::new();
        h.insert(TRACEPARENT, HeaderValue::from_static(bad));
        assert_eq!(extract(&h), Extracted::default(), "{bad}");
    }
    // A later version may add fields.
    let e = extract(&headers(&[(
        "traceparent",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever",
    )]));
    assert_eq!(e.parent, Some(ids()));
}

#[test]
fn b3_multi_with_64_bit_trace_id_and_debug_flag() {
    let e = extract(&headers(&[
        ("x-b3-traceid", "a3ce929d0e0e4736"),
        ("x-b3-spanid", S),
        ("x-b3-sampled", "0"),
        ("x-b3-flags", "1"),
    ]));
    let (trace, span) = e.parent.expect("parent");
    let mut hex = [0u8; 32];
    hex_to(&trace.0, &mut hex);
    assert_eq!(&hex, b"0000000000000000a3ce929d0e0e4736");
    assert_eq!(span, ids().1);
    // Debug wins over `x-b3-sampled: 0`.
    assert_eq!(e.sampled, Some(true));
}

#[test]
fn b3_decision_alone() {
    let e = extract(&headers(&[("x-b3-sampled", "0")]));
    assert_eq!((e.parent, e.sampled), (None, Some(false)));
    let e = extract(&headers(&[("b3", "0")]));
    assert_eq!((e.parent, e.sampled), (None, Some(false)));
    let e = extract(&headers(&[("b3", "d")]));
    assert_eq!(e.sampled, Some(true));
}

#[test]
fn b3_single_with_and_without_decision() {
    let e = extract(&headers(&[(
        "b3",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1-05e3ac9a4f6e3b90",
    )]));
    assert_eq!((e.parent, e.sampled), (Some(ids()), Some(true)));
    let e = extract(&headers(&[(
        "b3",
        "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    )]));
    assert_eq!((e.parent, e.sampled), (Some(ids()), None));
}

#[test]
fn traceparent_wins_over_b3() {
    let e = extract(&headers(&[
        (
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        ),
        ("x-b3-traceid", "11111111111111111111111111111111"),
        ("x-b3-spanid", "2222222222222222"),
        ("x-b3-sampled", "1"),
    ]));
    assert_eq!((e.parent, e.sampled), (Some(ids()), Some(false)));
}

#[test]
fn inject_round_trips_through_every_format() {
    let (trace, parent) = ids();
    let span = SpanId([1, 2, 3, 4, 5, 6, 7, 8]);
    let mut h = headers(&[("b3", "1"), ("tracestate", "congo=t61rcWkgMzE")]);
    inject(&mut h, trace, span, Some(parent));
    assert_eq!(
        h["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-01"
    );
    assert_eq!(h["x-b3-traceid"], T);
    assert_eq!(h["x-b3-spanid"], "0102030405060708");
    assert_eq!(h["x-b3-parentspanid"], S);
    assert_eq!(h["x-b3-sampled"], "1");
    assert_eq!(h["b3"], format!("{T}-0102030405060708-1-{S}").as_str());
    assert_eq!(h["tracestate"], "congo=t61rcWkgMzE");
    let back = extract(&h);
    assert_eq!(
        (back.parent, back.sampled),
        (Some((trace, span)), Some(true))
    );

    // A sampled span without a parent drops a stale parent id.
    let mut h = headers(&[("x-b3-parentspanid", S)]);
    inject(&mut h, trace, span, None);
    assert!(!h.contains_key("x-b3-parentspanid"));
    assert_eq!(h["x-b3-sampled"], "1");
}

#[test]
fn a_new_unsampled_trace_carries_the_decision_in_both_families() {
    let (trace, _) = ids();
    let span = SpanId([1, 2, 3, 4, 5, 6, 7, 8]);
    let mut h = HeaderMap::new();
    inject_unsampled(&mut h, trace, span);
    assert_eq!(
        h["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0102030405060708-00"
    );
    assert_eq!(h["x-b3-sampled"], "0");
    // B3's decision alone: no ids on the wire.
    assert!(!h.contains_key("x-b3-traceid") && !h.contains_key("x-b3-spanid"));
    assert!(!h.contains_key("b3") && !h.contains_key("x-b3-parentspanid"));
    let back = extract(&h);
    assert_eq!(
        (back.parent, back.sampled),
        (Some((trace, span)), Some(false))
    );
    // A hop that reads only B3 sees "not sampled" too.
    h.remove(TRACEPARENT);
    assert_eq!(
        extract(&h),
        Extracted {
            parent: None,
            sampled: Some(false)
        }
    );

    // Half a B3 context (no span id, no decision) is not a context: its
    // stale id is removed, and a caller's single `b3` becomes `b3: 0`.
    let mut h = headers(&[
        ("x-b3-traceid", T),
        ("x-b3-parentspanid", S),
        ("b3", "garbage"),
    ]);
    assert_eq!(extract(&h), Extracted::default());
    inject_unsampled(&mut h, trace, span);
    assert!(!h.contains_key("x-b3-traceid") && !h.contains_key("x-b3-parentspanid"));
    assert_eq!(h["b3"], "0");
    h.remove(TRACEPARENT);
    assert_eq!(extract(&h).sampled, Some(false));
}
