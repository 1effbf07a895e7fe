//! `weft demo` end to end: bookinfo, its ingress gateway and the traffic
//! generator, as real processes; the product page through the gateway,
//! every generated request answered, and nothing left after it stops.
//! Explicit mode as any user; transparent mode (the default as root) in a
//! network namespace of the test's own, as root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

const WEFT: &str = env!("CARGO_BIN_EXE_weft");

fn require_bins() {
    let dir = Path::new(WEFT).parent().unwrap();
    for bin in ["weft-proxy", "weft-sample"] {
        assert!(
            dir.join(bin).is_file(),
            "{bin} is not built in {}; run `cargo build --workspace --bins` first (scripts/test.sh does)",
            dir.display()
        );
    }
}

/// What a demo run printed, and how it ended.
struct Run {
    stdout: String,
    stderr: String,
    success: bool,
    /// The product page as fetched (with `fetch`) while the demo ran.
    page: String,
}

/// Runs `cmd` (a `weft demo --seconds ...`) to its end; once it prints
/// the product page URL, fetches it with `fetch` (URL → body).
fn run_demo(mut cmd: Command, fetch: impl Fn(&str) -> String) -> Run {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr_pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        use std::io::Read;
        let _ = BufReader::new(stderr_pipe).read_to_string(&mut s);
        s
    });
    let mut stdout = String::new();
    let mut page = String::new();
    for line in BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if let Some(url) = line
            .trim()
            .strip_prefix("product page (through the ingress gateway)")
        {
            page = fetch(url.trim());
        }
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let status = child.wait().unwrap();
    Run {
        stdout,
        stderr: stderr.join().unwrap(),
        success: status.success(),
        page,
    }
}

fn check(run: &Run, mode: &str) {
    let all = format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.success, "demo failed\n{all}");
    assert!(
        run.stdout.contains(&format!(
            "bookinfo in 6 pods, an ingress gateway and a traffic generator (20 requests/s, a mix of users), in {mode} mode; up in"
        )),
        "{all}"
    );
    let up_in = run
        .stdout
        .split("; up in ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap();
    eprintln!("weft demo ({mode}) was up in {up_in} s");
    assert!(
        run.page.contains("Book Details") && !run.page.contains("Error fetching product reviews"),
        "the product page through the gateway:\n{}\n{all}",
        run.page
    );
    for next in ["weft apply", "weft exec", "weft get services"] {
        assert!(run.stdout.contains(next), "no `{next}` to try: {all}");
    }
    // Every request answered, and enough of them to mean something.
    let totals = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("traffic in total: "))
        .unwrap_or_else(|| panic!("no totals\n{all}"));
    let sent: u64 = totals.split(' ').next().unwrap().parse().unwrap();
    assert!(totals.ends_with(" 0 failed"), "{totals}\n{all}");
    assert!(sent >= 40, "{totals}");
}

fn own_name(tag: &str) -> String {
    format!("{tag}{}", std::process::id() % 10_000)
}

#[test]
fn the_demo_serves_bookinfo_through_its_gateway_in_explicit_mode() {
    require_bins();
    let mesh = own_name("dx");
    let pid = std::process::id();
    let ingress = format!("127.77.{}.{}", (pid / 250) % 250, 1 + pid % 250);
    let mut cmd = Command::new(WEFT);
    cmd.args([
        "demo",
        "--seconds",
        "3",
        "--rate",
        "20",
        "--mode",
        "explicit",
    ])
    .args(["--mesh", &mesh, "--ingress-address", &ingress])
    .args([
        "--http-address",
        "127.0.0.1:0",
        "--grpc-address",
        "127.0.0.1:0",
    ]);
    let run = run_demo(cmd, |url| {
        let out = Command::new("curl")
            .args(["-s", "-m", "5", url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    check(&run, "explicit");
    assert!(
        run.stdout
            .contains(&format!("http://{ingress}:8080/productpage")),
        "{}",
        run.stdout
    );
    let state = weft_local::state::dir_for(&mesh);
    assert!(!state.exists(), "{} left behind", state.display());
    assert!(!state.with_extension("demo").exists());
}

#[test]
fn the_demo_as_root_runs_transparent_pods_with_default_addresses() {
    weft_testkit::netns::require();
    require_bins();
    // Its own network namespace: the defaults (15014, 8080, 198.18.0.1)
    // are then the demo's alone.
    let host = weft_testkit::netns::Netns::new("demo");
    let mesh = own_name("dt");
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net={}", host.path().display()))
        .arg(WEFT)
        .args(["demo", "--seconds", "3", "--rate", "20", "--mesh", &mesh]);
    let ns = host.path().to_path_buf();
    let run = run_demo(cmd, |url| {
        let out = Command::new("nsenter")
            .arg(format!("--net={}", ns.display()))
            .args(["curl", "-s", "-m", "5", url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    });
    check(&run, "transparent");
    assert!(
        run.stdout.contains("http://127.0.0.1:8080/productpage"),
        "{}",
        run.stdout
    );
    let netns: Vec<String> = std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !netns.iter().any(|n| n.starts_with(&mesh)),
        "namespaces left: {netns:?}"
    );
    assert!(!Path::new("/run/weft").join(&mesh).exists());
}
