//! `x-request-id`, as Envoy's UUID request ID extension sets it for Istio:
//! a request without one gets a random UUIDv4 before anything reads it
//! (the app, the span's `guid:x-request-id`, the access log's
//! `request_id`), and one that has one keeps it, so a request is one id
//! from the first proxy to the last.
//!
//! The exception is the edge: Envoy replaces the id of an *edge request*,
//! one from an external client to a proxy that uses the remote address
//! (`preserve_external_request_id` defaults to false). Istio's gateways
//! use it, its sidecars do not; so a gateway replaces the id a client
//! outside the internal address ranges sent, and sidecars keep any
//! (istio/istio#10875, #43833: an external client's id is replaced at the
//! ingress gateway, an internal address's kept).
//!
//! Cost: a header lookup; a missing id costs one `u128` from the
//! thread-local RNG, 36 bytes formatted on the stack, and the
//! `HeaderValue`'s own copy.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName, HeaderValue};
use weft_proto::config::Direction;

/// The header.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Gives the request an id if it has none, or a new one when it arrives
/// at a gateway from an external client.
pub fn ensure(direction: Direction, peer: IpAddr, headers: &mut HeaderMap) {
    let replace = direction == Direction::Gateway && !is_internal(peer);
    if replace || !headers.contains_key(&REQUEST_ID) {
        headers.insert(REQUEST_ID.clone(), uuid_v4(fastrand::u128(..)));
    }
}

/// Envoy's default internal addresses (`Network::Utility::
/// isInternalAddress`): RFC 1918, loopback, and IPv6 unique local
/// `fd00::/8`.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_private() || v4.is_loopback(),
            None => v6.is_loopback() || v6.octets()[0] == 0xfd,
        },
    }
}

/// RFC 9562 version 4 UUID from 128 random bits, in its canonical
/// lowercase `8-4-4-4-12` form.
fn uuid_v4(random: u128) -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = random.to_be_bytes();
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10
    let mut out = [b'-'; 36];
    let mut at = 0;
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            at += 1; // the dash already there
        }
        out[at] = HEX[usize::from(b >> 4)];
        out[at + 1] = HEX[usize::from(b & 0x0f)];
        at += 2;
    }
    // Hex digits and dashes only: always a valid header value.
    HeaderValue::from_bytes(&out).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(direction: Direction, peer: &str, sent: Option<&str>) -> String {
        let mut h = HeaderMap::new();
        if let Some(s) = sent {
            h.insert(&REQUEST_ID, HeaderValue::from_str(s).unwrap());
        }
        ensure(direction, peer.parse().unwrap(), &mut h);
        h.get(&REQUEST_ID).unwrap().to_str().unwrap().to_string()
    }

    fn is_uuid_v4(s: &str) -> bool {
        let b = s.as_bytes();
        b.len() == 36
            && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
            && b.iter().enumerate().all(|(i, c)| {
                matches!(i, 8 | 13 | 18 | 23) || matches!(c, b'0'..=b'9' | b'a'..=b'f')
            })
            && b[14] == b'4'
            && matches!(b[19], b'8' | b'9' | b'a' | b'b')
    }

    #[test]
    fn the_uuid_is_a_canonical_version_4() {
        assert_eq!(
            uuid_v4(0).to_str().unwrap(),
            "00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(
            uuid_v4(u128::MAX).to_str().unwrap(),
            "ffffffff-ffff-4fff-bfff-ffffffffffff"
        );
        assert_eq!(
            uuid_v4(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef)
                .to_str()
                .unwrap(),
            "01234567-89ab-4def-8123-456789abcdef"
        );
    }

    #[test]
    fn a_missing_id_is_made_and_a_present_one_kept_except_from_outside_at_a_gateway() {
        let cases = [
            // (direction, peer, sent, kept)
            (Direction::Outbound, "10.0.0.1", Some("app-id"), true),
            (Direction::Inbound, "10.0.0.1", Some("app-id"), true),
            (Direction::Inbound, "203.0.113.7", Some("app-id"), true),
            (Direction::Gateway, "10.1.2.3", Some("app-id"), true),
            (Direction::Gateway, "127.0.0.1", Some("app-id"), true),
            (Direction::Gateway, "172.16.0.9", Some("app-id"), true),
            (Direction::Gateway, "fd12::1", Some("app-id"), true),
            (Direction::Gateway, "203.0.113.7", Some("app-id"), false),
            (
                Direction::Gateway,
                "::ffff:203.0.113.7",
                Some("app-id"),
                false,
            ),
            (Direction::Gateway, "2001:db8::1", Some("app-id"), false),
        ];
        for (direction, peer, sent, kept) in cases {
            let got = id(direction, peer, sent);
            if kept {
                assert_eq!(got, "app-id", "{direction:?} {peer}");
            } else {
                assert!(is_uuid_v4(&got), "{direction:?} {peer}: {got}");
            }
        }
        for direction in [Direction::Outbound, Direction::Inbound, Direction::Gateway] {
            let a = id(direction, "10.0.0.1", None);
            let b = id(direction, "10.0.0.1", None);
            assert!(is_uuid_v4(&a) && is_uuid_v4(&b), "{a} {b}");
            assert_ne!(a, b);
        }
    }
}
