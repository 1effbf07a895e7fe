//! Running the real `weft control` as a child process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `weft control` child; killed (SIGKILL) when dropped.
pub struct ControlProcess {
    child: Child,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub log: PathBuf,
    state_dir: PathBuf,
    /// The root proxies start out trusting.
    bundle: PathBuf,
    tokens: std::sync::atomic::AtomicUsize,
}

impl ControlProcess {
    /// Starts `weft control` on `files`, keeping applied resources in
    /// `state_dir`, with the config stream on `grpc` (port 0 for any) and
    /// the API on any port. Returns once both are bound.
    pub fn spawn(weft: &Path, files: &[&Path], state_dir: &Path, grpc: SocketAddr) -> Self {
        Self::spawn_with(weft, files, state_dir, grpc, None)
    }

    /// As [`Self::spawn`], with the CA plugged in from `cacerts` (Istio's
    /// layout) instead of the self-signed root.
    pub fn spawn_with(
        weft: &Path,
        files: &[&Path],
        state_dir: &Path,
        grpc: SocketAddr,
        cacerts: Option<&Path>,
    ) -> Self {
        let bound = state_dir.join(format!("bound-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&bound);
        std::fs::create_dir_all(state_dir).unwrap();
        let log = state_dir.join("control.log");
        let mut cmd = Command::new(weft);
        cmd.arg("control");
        for f in files {
            cmd.arg("-f").arg(f);
        }
        cmd.arg("--state-dir")
            .arg(state_dir)
            .arg("--grpc-address")
            .arg(grpc.to_string())
            .arg("--http-address")
            .arg("127.0.0.1:0")
            .arg("--bound-addresses-file")
            .arg(&bound)
            .args(cacerts.iter().flat_map(|c| [Path::new("--cacerts"), c]))
            .env("WEFT_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", weft.display()));
        let deadline = Instant::now() + crate::PATIENCE;
        let addrs: serde_json::Value = loop {
            if let Ok(text) = std::fs::read_to_string(&bound) {
                break serde_json::from_str(&text).unwrap();
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "weft control exited early with {status}:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "weft control did not start listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let addr = |k: &str| addrs[k].as_str().unwrap().parse().unwrap();
        Self {
            child,
            grpc: addr("grpc"),
            http: addr("http"),
            log,
            state_dir: state_dir.to_path_buf(),
            bundle: match cacerts {
                Some(dir) => dir.join("root-cert.pem"),
                None => state_dir.join("ca/root-cert.pem"),
            },
            tokens: Default::default(),
        }
    }

    /// The root proxies must trust (`control_plane.ca_bundle`).
    pub fn trust_bundle(&self) -> PathBuf {
        self.bundle.clone()
    }

    /// `ca_bundle: ..., token_file: ...` for a proxy file's `control_plane`
    /// block: a fresh single-use token for `ns`/`sa`, from the API.
    pub fn bootstrap(&self, ns: &str, sa: &str) -> String {
        let body = format!(r#"{{"namespace":"{ns}","serviceAccount":"{sa}"}}"#);
        let answer = http_post(self.http, "/api/v1/tokens", &body);
        let json: serde_json::Value = serde_json::from_str(&answer)
            .unwrap_or_else(|e| panic!("token answer {answer:?}: {e}"));
        let token = json["token"].as_str().expect("a token").to_string();
        let n = self
            .tokens
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self.state_dir.join(format!("token-{n}"));
        std::fs::write(&path, token).unwrap();
        format!(
            "ca_bundle: \"{}\", token_file: \"{}\"",
            self.trust_bundle().display(),
            path.display()
        )
    }

    /// SIGKILL: no drain, no goodbye; sockets are reset by the kernel.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ControlProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A POST on a fresh connection; returns the body of a 200.
fn http_post(addr: SocketAddr, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(head.starts_with("HTTP/1.1 200"), "POST {path}: {answer}");
    body.to_string()
}
