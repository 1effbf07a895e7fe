//! The web dashboard in a real browser: Debian's Chromium, driven by
//! playwright-core (both installed by scripts/install-test-deps.sh), loads
//! the dashboard of a running bookinfo and finds the live workloads in
//! its table, their mTLS edges in its graph, a workload's routes (from a
//! ServiceProfile), and requests arriving in its live tap (started with
//! the tap token). Screenshots are kept in
//! `target/tmp/dashboard/` as the test's artifacts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;

use support::local_mesh::LocalMesh;

#[test]
fn the_dashboard_shows_live_workloads_and_their_edges() {
    let browser = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: scripts/install-test-deps.sh runs `npm ci` in {}",
        browser.display()
    );
    assert!(
        Path::new("/usr/bin/chromium").is_file() || std::env::var_os("CHROMIUM").is_some(),
        "Chromium is not installed: scripts/install-test-deps.sh installs Debian's package (as root), or set CHROMIUM"
    );
    let mesh = LocalMesh::bookinfo("dash");
    // A profile naming reviews' route, for the workload view's routes.
    let profile = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dash-reviews-profile.yaml");
    std::fs::write(
        &profile,
        "apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: { name: reviews.default.svc.cluster.local, namespace: default }
spec:
  routes:
  - name: GET /reviews/{id}
    condition: { method: GET, pathRegex: '/reviews/[^/]+' }
",
    )
    .unwrap();
    mesh.apply(&profile);
    // Product pages through the gateway: productpage calls details and
    // reviews, reviews v2 and v3 call ratings.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while mesh.page(None).status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "bookinfo never answered"
        );
    }
    for _ in 0..30 {
        assert_eq!(mesh.page(None).status, 200);
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&shots).unwrap();
    let token = weft_local::state::dir_for(&mesh.name).join("tap-token");
    let node = Command::new("node")
        .arg(browser.join("dashboard.mjs"))
        .arg(format!("http://{}/", mesh.api()))
        .arg(&shots)
        .args([
            "default/productpage-v1",
            "default/details-v1",
            "default/reviews-v1",
        ])
        .args(["--edge", "default/productpage-v1=default/details-v1"])
        .args(["--edge", "default/productpage-v1=default/reviews-v2"])
        .arg("--tap")
        .arg(format!("default/reviews-v1={}", token.display()))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node runs the browser test");
    // Traffic while the browser looks (its live tap needs requests).
    let waiter = std::thread::spawn(move || node.wait_with_output().unwrap());
    while !waiter.is_finished() {
        mesh.page(None);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = waiter.join().unwrap();
    assert!(
        out.status.success(),
        "the dashboard check failed:\n{}{}\nweft check says:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        mesh.weft(&["check"])
    );
    for view in ["overview", "graph", "config", "workload"] {
        let png = shots.join(format!("{view}.png"));
        assert!(
            std::fs::metadata(&png)
                .map(|m| m.len() > 1000)
                .unwrap_or(false),
            "no screenshot at {}",
            png.display()
        );
    }
    eprintln!("dashboard screenshots: {}", shots.display());
}
