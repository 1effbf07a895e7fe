//! Explicit mode's app ports: free loopback ports the apps bind themselves.
//!
//! `weft up` holds each one until its app starts, but between the release
//! and the app's `bind` another socket could take it. Sockets that bind
//! port 0, and every outgoing connection, get their port from the
//! kernel's ephemeral range (`ip_local_port_range`), so app ports are
//! picked below it: there, only a program naming the port explicitly can
//! take it in that moment.

use std::net::{Ipv4Addr, TcpListener};

use super::UpError;

/// Where app ports are looked for when the ephemeral range allows.
const APP_PORTS_FROM: u16 = 20_000;

/// A free loopback port for an app, held (bound) until the app starts.
pub(super) fn reserve_app_port() -> Result<TcpListener, UpError> {
    let ephemeral_low = ephemeral_range_start().unwrap_or(32_768);
    if ephemeral_low > APP_PORTS_FROM {
        let span = u32::from(ephemeral_low - APP_PORTS_FROM);
        // Start somewhere of this process's own, so meshes started side
        // by side rarely probe the same ports.
        let start = std::process::id().wrapping_mul(2_654_435_761) % span;
        for i in 0..span {
            let port = APP_PORTS_FROM + ((start + i) % span) as u16;
            if let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
                return Ok(l);
            }
        }
    }
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| UpError::Start(format!("cannot find a free local port: {e}")))
}

/// The first port of the kernel's ephemeral range.
fn ephemeral_range_start() -> Option<u16> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ports_are_held_and_below_the_ephemeral_range() {
        let a = reserve_app_port().unwrap();
        let b = reserve_app_port().unwrap();
        let (pa, pb) = (
            a.local_addr().unwrap().port(),
            b.local_addr().unwrap().port(),
        );
        assert_ne!(pa, pb, "a held port is not handed out twice");
        if let Some(low) = ephemeral_range_start().filter(|l| *l > APP_PORTS_FROM) {
            assert!(pa < low && pb < low, "{pa} {pb} within the ephemeral range");
            assert!(pa >= APP_PORTS_FROM && pb >= APP_PORTS_FROM);
        }
    }
}
