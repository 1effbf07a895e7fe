//! Reading and writing trace context headers: W3C Trace Context
//! (`traceparent`, with `tracestate` passed on untouched) and Zipkin's B3,
//! both the single `b3` header and the multi `x-b3-*` headers.
//!
//! Specs: <https://www.w3.org/TR/trace-context/> and
//! <https://github.com/openzipkin/b3-propagation>.

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

/// A 128-bit trace id; never all zeros (both specs call that invalid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId(pub [u8; 16]);

/// A 64-bit span id; never all zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanId(pub [u8; 8]);

/// What the caller said about the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extracted {
    /// The trace and the caller's span, when the request carries them.
    pub parent: Option<(TraceId, SpanId)>,
    /// The caller's sampling decision, when it made one (B3 may carry a
    /// decision alone: `x-b3-sampled: 0` or `b3: 0`).
    pub sampled: Option<bool>,
}

pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub const B3: HeaderName = HeaderName::from_static("b3");
pub const B3_TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
pub const B3_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
pub const B3_PARENT_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-parentspanid");
pub const B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
pub const B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");

// === impl TraceId / SpanId ===

impl TraceId {
    pub fn random() -> Self {
        loop {
            let id = fastrand::u128(..).to_be_bytes();
            if id != [0; 16] {
                return Self(id);
            }
        }
    }

    /// 32 or 16 hex digits; a 64-bit B3 id is widened with zeros in front,
    /// as B3 says 128-bit systems should.
    fn parse(s: &str) -> Option<Self> {
        let mut id = [0u8; 16];
        match s.len() {
            32 => hex_into(s, &mut id)?,
            16 => hex_into(s, &mut id[8..])?,
            _ => return None,
        }
        (id != [0; 16]).then_some(Self(id))
    }
}

impl SpanId {
    pub fn random() -> Self {
        loop {
            let id = fastrand::u64(..).to_be_bytes();
            if id != [0; 8] {
                return Self(id);
            }
        }
    }

    fn parse(s: &str) -> Option<Self> {
        let mut id = [0u8; 8];
        (s.len() == 16).then_some(())?;
        hex_into(s, &mut id)?;
        (id != [0; 8]).then_some(Self(id))
    }
}

// === extract ===

/// The trace context of an incoming request. W3C `traceparent` wins over
/// B3 (Envoy's OpenTelemetry tracer reads it first); the single `b3`
/// header wins over the multi ones (the B3 spec's order). A malformed
/// header counts as absent: the request starts a new trace.
pub fn extract(headers: &HeaderMap) -> Extracted {
    let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(tp) = text(&TRACEPARENT).and_then(parse_traceparent) {
        return tp;
    }
    if let Some(b3) = text(&B3).and_then(parse_b3_single) {
        return b3;
    }
    // `x-b3-flags: 1` is B3's debug flag: sampled, whatever else says.
    let debug = text(&B3_FLAGS) == Some("1");
    let sampled = match text(&B3_SAMPLED) {
        _ if debug => Some(true),
        Some("1" | "true") => Some(true),
        Some("0" | "false") => Some(false),
        _ => None,
    };
    let parent = text(&B3_TRACE_ID)
        .and_then(TraceId::parse)
        .zip(text(&B3_SPAN_ID).and_then(SpanId::parse));
    Extracted { parent, sampled }
}

/// `version-traceid-parentid-flags`. Versions after 00 may append fields,
/// which are ignored; version ff is invalid (W3C Trace Context, 3.2).
fn parse_traceparent(s: &str) -> Option<Extracted> {
    let mut parts = s.trim().split('-');
    let version = parts.next()?;
    let (trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?);
    if version.len() != 2 || version.eq_ignore_ascii_case("ff") || trace.len() != 32 {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    let mut f = [0u8; 1];
    (flags.len() == 2).then_some(())?;
    hex_into(flags, &mut f)?;
    let parent = (TraceId::parse(trace)?, SpanId::parse(span)?);
    Some(Extracted {
        parent: Some(parent),
        sampled: Some(f[0] & 0x01 == 1),
    })
}

/// `{traceid}-{spanid}[-{sampled}[-{parentspanid}]]`, or a decision alone:
/// `0`, `1` or `d` (debug, so sampled).
fn parse_b3_single(s: &str) -> Option<Extracted> {
    let decision = |d: &str| match d {
        "1" | "d" => Some(true),
        "0" => Some(false),
        _ => None,
    };
    let mut parts = s.trim().split('-');
    let first = parts.next()?;
    let Some(span) = parts.next() else {
        return Some(Extracted {
            parent: None,
            sampled: Some(decision(first)?),
        });
    };
    let sampled = match parts.next() {
        Some(d) => Some(decision(d)?),
        None => None,
    };
    Some(Extracted {
        parent: Some((TraceId::parse(first)?, SpanId::parse(span)?)),
        sampled,
    })
}

fn hex_into(s: &str, out: &mut [u8]) -> Option<()> {
    let bytes = s.as_bytes();
    if bytes.len() != out.len() * 2 {
        return None;
    }
    for (i, o) in out.iter_mut().enumerate() {
        *o = (nibble(bytes[2 * i])? << 4) | nibble(bytes[2 * i + 1])?;
    }
    Some(())
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

// === inject ===

/// Writes this proxy's sampled span as the context the next hop joins:
/// `traceparent` always, the multi B3 headers always (apps written for
/// Zipkin, such as Istio's Bookinfo, forward only those), and the single
/// `b3` header when the request came with one. `tracestate` and
/// `x-b3-flags` are left as they came.
pub fn inject(headers: &mut HeaderMap, trace: TraceId, span: SpanId, parent: Option<SpanId>) {
    // Each value is written on the stack and copied once into its header:
    // no intermediate strings.
    let tp = traceparent(trace, span, true);
    set(headers, TRACEPARENT, &tp);
    set(headers, B3_TRACE_ID, &tp[3..35]);
    set(headers, B3_SPAN_ID, &tp[36..52]);
    headers.insert(B3_SAMPLED, HeaderValue::from_static("1"));
    let mut p = [0u8; 16];
    match parent {
        Some(id) => {
            hex_to(&id.0, &mut p);
            set(headers, B3_PARENT_SPAN_ID, &p);
        }
        None => {
            headers.remove(B3_PARENT_SPAN_ID);
        }
    }
    if headers.contains_key(B3) {
        // `{trace}-{span}-1[-{parent}]`
        let mut single = [0u8; 32 + 1 + 16 + 1 + 1 + 1 + 16];
        single[..32].copy_from_slice(&tp[3..35]);
        single[32] = b'-';
        single[33..49].copy_from_slice(&tp[36..52]);
        single[49] = b'-';
        single[50] = b'1';
        let len = match parent {
            Some(_) => {
                single[51] = b'-';
                single[52..].copy_from_slice(&p);
                single.len()
            }
            None => 51,
        };
        set(headers, B3, &single[..len]);
    }
}

/// Marks a new trace "not sampled" for the next hops, in the fewest bytes
/// both families read: `traceparent` with flags `00` (W3C has no
/// decision without ids) and B3's decision alone, `x-b3-sampled: 0` (and
/// `b3: 0` when the request came with a `b3`). B3 ids are left out: 48
/// random hex digits per request that no hop uses when nothing is sampled,
/// and that HPACK cannot compress; writing them cost more than half the
/// throughput that 1% sampling took (BENCHMARKS.md). Stale B3 ids the
/// caller sent without a decision are removed, so no hop joins them.
pub fn inject_unsampled(headers: &mut HeaderMap, trace: TraceId, span: SpanId) {
    set(headers, TRACEPARENT, &traceparent(trace, span, false));
    headers.insert(B3_SAMPLED, HeaderValue::from_static("0"));
    for stale in [B3_TRACE_ID, B3_SPAN_ID, B3_PARENT_SPAN_ID] {
        headers.remove(stale);
    }
    if let Some(b3) = headers.get_mut(B3) {
        *b3 = HeaderValue::from_static("0");
    }
}

/// `00-{trace}-{span}-{flags}`, on the stack.
fn traceparent(trace: TraceId, span: SpanId, sampled: bool) -> [u8; 55] {
    let mut tp = *b"00-00000000000000000000000000000000-0000000000000000-00";
    hex_to(&trace.0, &mut tp[3..35]);
    hex_to(&span.0, &mut tp[36..52]);
    if sampled {
        tp[54] = b'1';
    }
    tp
}

/// Hex digits and dashes only: always a valid header value.
fn set(headers: &mut HeaderMap, name: HeaderName, value: &[u8]) {
    if let Ok(v) = HeaderValue::from_bytes(value) {
        headers.insert(name, v);
    }
}

/// Lowercase hex of `bytes` into `out` (twice as long).
fn hex_to(bytes: &[u8], out: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
}

#[cfg(test)]
mod tests;
