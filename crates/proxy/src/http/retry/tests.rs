use std::time::Duration;

use http::StatusCode;
use weft_proto::config::RetryOn::{self, *};

use super::{Outcome, Policy, matches};

fn rsp(status: u16) -> Outcome {
    Outcome::Response {
        status: StatusCode::from_u16(status).unwrap(),
        grpc_status: None,
    }
}

fn grpc(code: u16) -> Outcome {
    Outcome::Response {
        status: StatusCode::OK,
        grpc_status: Some(code),
    }
}

#[test]
fn retry_on_classifies_as_envoy_does() {
    use Outcome::{ConnectFailure as CF, Other, Reset as RS, Timeout as TO};
    // (condition, outcomes it retries, outcomes it does not)
    let cases: &[(RetryOn, Vec<Outcome>, Vec<Outcome>)] = &[
        (
            FiveXx,
            vec![rsp(500), rsp(503), rsp(599), CF, RS, TO],
            vec![rsp(200), rsp(409), rsp(404), Other, grpc(14)],
        ),
        (
            GatewayError,
            vec![rsp(502), rsp(503), rsp(504), CF, RS, TO],
            vec![rsp(500), rsp(501), rsp(409), Other],
        ),
        (Reset, vec![RS, TO, CF], vec![rsp(503), Other]),
        (ConnectFailure, vec![CF], vec![RS, TO, rsp(503)]),
        (Retriable4xx, vec![rsp(409)], vec![rsp(400), rsp(503), RS]),
        (
            RetriableStatusCodes,
            vec![rsp(418), rsp(503)],
            vec![rsp(500), RS],
        ),
        (
            Unavailable,
            vec![grpc(14)],
            vec![grpc(13), grpc(0), rsp(503)],
        ),
        (Internal, vec![grpc(13)], vec![grpc(14)]),
        (Cancelled, vec![grpc(1)], vec![grpc(4)]),
        (DeadlineExceeded, vec![grpc(4)], vec![grpc(1)]),
        (ResourceExhausted, vec![grpc(8)], vec![grpc(14)]),
        (RefusedStream, vec![], vec![RS, rsp(503)]),
    ];
    for (on, yes, no) in cases {
        for o in yes {
            assert!(matches(*on, *o, &[418, 503]), "{on:?} should retry {o:?}");
        }
        for o in no {
            assert!(
                !matches(*on, *o, &[418, 503]),
                "{on:?} should not retry {o:?}"
            );
        }
    }
}

#[test]
fn backoff_is_jittered_and_bounded() {
    let p = Policy {
        retries: 3,
        per_try_timeout: None,
        retry_on: vec![FiveXx],
        status_codes: vec![],
        backoff: Duration::from_millis(25),
    };
    for (n, ceiling) in [(1, 25), (2, 75), (3, 175), (4, 250), (30, 250)] {
        let waits: Vec<_> = (0..2000).map(|_| p.backoff(n)).collect();
        let max = waits.iter().max().unwrap();
        assert!(*max < Duration::from_millis(ceiling), "retry {n}: {max:?}");
        // Full jitter: short and long waits both happen.
        assert!(
            *max >= Duration::from_millis(ceiling * 8 / 10),
            "retry {n}: {max:?}"
        );
        assert!(
            waits
                .iter()
                .any(|w| *w < Duration::from_millis(ceiling / 4)),
            "retry {n}"
        );
    }
}
