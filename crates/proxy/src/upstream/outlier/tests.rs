use super::*;

fn detector(hosts: usize, config: OutlierDetection) -> OutlierDetector {
    let d = OutlierDetector::new(Arc::from("c"), config);
    d.set_hosts(hosts);
    d
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn ejected(s: &OutlierState, at: Instant) -> bool {
    s.ejected_until.load(Ordering::Relaxed) > super::super::endpoint::nanos_since_epoch(at)
}

fn fail(d: &OutlierDetector, s: &OutlierState, port: u16, n: usize, status: u16) {
    for _ in 0..n {
        d.observe(s, addr(port), Outcome::Response(status));
    }
}

#[test]
fn consecutive_5xx_eject_and_a_success_resets_the_run() {
    let d = detector(2, OutlierDetection::default());
    let s = OutlierState::default();
    fail(&d, &s, 1, 4, 500);
    d.observe(&s, addr(1), Outcome::Response(200));
    fail(&d, &s, 1, 4, 500);
    assert!(!ejected(&s, Instant::now()));
    fail(&d, &s, 1, 1, 500);
    assert!(ejected(&s, Instant::now()));
    assert_eq!((d.ejections_active(), d.ejections_total()), (1, 1));
}

#[test]
fn gateway_errors_count_only_502_to_504_and_local_failures_count_unless_split() {
    let cfg = OutlierDetection {
        consecutive_5xx: 0,
        consecutive_gateway_errors: 2,
        ..OutlierDetection::default()
    };
    let d = detector(1, cfg.clone());
    let s = OutlierState::default();
    // 500 is a 5xx but not a gateway error: it resets the run.
    fail(&d, &s, 1, 1, 503);
    fail(&d, &s, 1, 1, 500);
    fail(&d, &s, 1, 1, 504);
    assert!(!ejected(&s, Instant::now()));
    d.observe(&s, addr(1), Outcome::Local(503));
    assert!(ejected(&s, Instant::now()));

    // Split: local failures only count toward their own detector.
    let d = detector(
        1,
        OutlierDetection {
            split_external_local_origin_errors: true,
            consecutive_local_origin_failures: 3,
            ..cfg
        },
    );
    let s = OutlierState::default();
    for _ in 0..2 {
        d.observe(&s, addr(1), Outcome::Local(503));
    }
    fail(&d, &s, 1, 1, 200);
    for _ in 0..2 {
        d.observe(&s, addr(1), Outcome::Local(503));
    }
    assert!(!ejected(&s, Instant::now()));
    d.observe(&s, addr(1), Outcome::Local(504));
    assert!(ejected(&s, Instant::now()));
}

#[test]
fn ejection_time_grows_with_repeats_ends_on_a_tick_and_decays_while_healthy() {
    let cfg = OutlierDetection {
        consecutive_5xx: 1,
        interval: Duration::from_secs(10),
        base_ejection_time: Duration::from_secs(30),
        ..OutlierDetection::default()
    };
    let d = detector(1, cfg);
    let s = OutlierState::default();
    let t0 = d.origin;
    d.try_eject(&s, addr(1), t0);
    // 30 s, on a tick.
    assert!(ejected(&s, t0 + Duration::from_secs(29)));
    assert!(!ejected(&s, t0 + Duration::from_secs(30)));
    // Again right after: 60 s.
    let t1 = t0 + Duration::from_secs(30);
    d.try_eject(&s, addr(1), t1);
    assert!(ejected(&s, t1 + Duration::from_secs(59)));
    assert!(!ejected(&s, t1 + Duration::from_secs(60)));
    // Three ticks healthy take the multiplier from 2 to 0: 30 s again.
    let t2 = t1 + Duration::from_secs(60 + 30);
    d.try_eject(&s, addr(1), t2);
    assert!(ejected(&s, t2 + Duration::from_secs(29)));
    assert!(!ejected(&s, t2 + Duration::from_secs(30)));
    // Mid-interval: the ejection lasts until the next tick.
    let t3 = t2 + Duration::from_secs(35);
    let s2 = OutlierState::default();
    d.try_eject(&s2, addr(2), t3);
    assert!(ejected(&s2, t3 + Duration::from_secs(34)));
    assert!(!ejected(&s2, t3 + Duration::from_secs(35)));
}

#[test]
fn ejection_time_is_capped_at_envoys_max() {
    let d = detector(
        1,
        OutlierDetection {
            interval: Duration::from_millis(1),
            base_ejection_time: Duration::from_secs(100),
            ..OutlierDetection::default()
        },
    );
    let s = OutlierState::default();
    // Each ejection starts as the last ends: 100 s, 200 s, 300 s, then
    // 300 s again instead of 400 s.
    let mut t = d.origin;
    for secs in [100, 200, 300] {
        d.try_eject(&s, addr(1), t);
        t += Duration::from_secs(secs);
        assert!(!ejected(&s, t) && ejected(&s, t - Duration::from_millis(1)));
    }
    d.try_eject(&s, addr(1), t);
    assert!(ejected(&s, t + Duration::from_secs(299)));
    assert!(!ejected(&s, t + Duration::from_secs(300)));
}

#[test]
fn max_ejection_percent_holds_but_one_ejection_is_always_allowed() {
    let cfg = OutlierDetection {
        consecutive_5xx: 1,
        max_ejection_percent: 50,
        ..OutlierDetection::default()
    };
    let d = detector(4, cfg.clone());
    let states: Vec<OutlierState> = (0..4).map(|_| OutlierState::default()).collect();
    for (i, s) in states.iter().enumerate() {
        fail(&d, s, i as u16, 1, 500);
    }
    let now = Instant::now();
    assert_eq!(states.iter().filter(|s| ejected(s, now)).count(), 2);

    // 10% of 2 endpoints is less than one, yet one is ejected.
    let d = detector(
        2,
        OutlierDetection {
            max_ejection_percent: 10,
            ..cfg
        },
    );
    let (a, b) = (OutlierState::default(), OutlierState::default());
    fail(&d, &a, 1, 1, 500);
    fail(&d, &b, 2, 1, 500);
    let now = Instant::now();
    assert!(ejected(&a, now) && !ejected(&b, now));
}

#[test]
fn outcomes_come_from_statuses_and_local_failures_but_not_overflow() {
    let ok: Result<http::Response<()>, ProxyError> = Ok(http::Response::new(()));
    assert_eq!(Outcome::of(&ok), Some(Outcome::Response(200)));
    let timeout: Result<http::Response<()>, _> =
        Err(ProxyError::ResponseTimeout(Duration::from_secs(1)));
    assert_eq!(Outcome::of(&timeout), Some(Outcome::Local(504)));
    let refused: Result<http::Response<()>, _> = Err(ProxyError::ConnectFailed {
        addr: addr(1),
        source: std::io::ErrorKind::ConnectionRefused.into(),
    });
    assert_eq!(Outcome::of(&refused), Some(Outcome::Local(503)));
    let overflow: Result<http::Response<()>, _> = Err(ProxyError::Overflow {
        cluster: Arc::from("c"),
        limit: "max_requests",
        max: 1,
    });
    assert_eq!(Outcome::of(&overflow), None);
}
