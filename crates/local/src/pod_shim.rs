//! TEMPORARY: the pod layer's interface while it is being written; every
//! call fails, so transparent mode is refused and `auto` picks explicit.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

pub const PROXY_UID: u32 = 1337;

#[derive(Debug, thiserror::Error)]
#[error("transparent mode is not available in this build; use --mode explicit")]
pub struct PodError;

#[derive(Debug, Default)]
pub struct Capture {
    pub proxy_uid: u32,
}

#[derive(Debug)]
pub struct Network;

#[derive(Debug, Clone)]
pub struct Pod;

pub fn check_prerequisites() -> Result<(), PodError> {
    Err(PodError)
}

pub fn cleanup_leftovers(_mesh: &str) -> Result<Vec<String>, PodError> {
    Ok(Vec::new())
}

impl Network {
    pub fn create(_mesh: &str) -> Result<Self, PodError> {
        Err(PodError)
    }
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::UNSPECIFIED
    }
    pub fn add_pod(&self, _pod: &str, _ip: Ipv4Addr, _c: &Capture) -> Result<Pod, PodError> {
        Err(PodError)
    }
    pub fn destroy(self) -> Result<(), PodError> {
        Ok(())
    }
}

impl Pod {
    pub fn name(&self) -> &str {
        ""
    }
    pub fn netns(&self) -> &str {
        ""
    }
    pub fn set_hosts(&self, _e: &[(IpAddr, Vec<String>)]) -> std::io::Result<()> {
        Ok(())
    }
    pub fn command(
        &self,
        program: &Path,
        args: &[String],
        _u: Option<(u32, u32)>,
    ) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(program);
        c.args(args);
        c
    }
}
