//! `weft demo` end to end: real processes (two sample apps, two sidecars,
//! a traffic generator) and every request succeeding.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn demo_runs_traffic_through_two_sidecars_without_failures() {
    let weft = env!("CARGO_BIN_EXE_weft");
    let dir = std::path::Path::new(weft).parent().unwrap();
    for bin in ["weft-proxy", "weft-sample"] {
        assert!(
            dir.join(bin).is_file(),
            "{bin} is not built in {}; run `cargo build --workspace --bins` first (scripts/test.sh does)",
            dir.display()
        );
    }
    let out = Command::new(weft)
        .args(["demo", "--seconds", "3", "--rate", "20"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
    // Both sidecars saw the traffic: the frontend's inbound and outbound,
    // and the backend's inbound.
    let count = |who: &str| -> f64 {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(who))
            .unwrap_or_else(|| panic!("no summary for {who}: {stdout}"));
        line.split_whitespace().nth(3).unwrap().parse().unwrap()
    };
    assert!(count("frontend sidecar") >= 80.0, "{stdout}");
    assert!(count("backend sidecar") >= 40.0, "{stdout}");
}
