//! The capture rules: what Istio's init container (`istio-iptables`)
//! writes into a pod's nat table, so that all TCP into and out of the pod
//! passes through its sidecar, rendered as `iptables-restore` input so a
//! pod gets them all with one program run instead of twenty.

use std::fmt::Write as _;

/// The uid and gid the sidecar runs as, Istio's `istio-proxy` user: the
/// capture rules recognise the sidecar's own connections by this owner.
pub const PROXY_UID: u32 = 1337;

/// How a pod's traffic is captured: the arguments of
/// `istio-iptables -p 15001 -z 15006 -u 1337 -g 1337 -d 15090,15021,15020`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// Connections owned by this uid leave the pod uncaptured (`-u`).
    pub proxy_uid: u32,
    /// ... and so do those owned by this gid (`-g`).
    pub proxy_gid: u32,
    /// Where outbound TCP is redirected: the sidecar's outbound listener (`-p`).
    pub outbound_port: u16,
    /// Where inbound TCP is redirected: the sidecar's inbound listener (`-z`).
    pub inbound_port: u16,
    /// Inbound ports left alone: the sidecar's own (15008 HBONE, 15090
    /// metrics, 15021 health, 15020 merged metrics), which the outside
    /// reaches directly (`-d`).
    pub exclude_inbound_ports: Vec<u16>,
}

// === impl Capture ===

impl Default for Capture {
    /// Istio's values.
    fn default() -> Self {
        Self {
            proxy_uid: PROXY_UID,
            proxy_gid: PROXY_UID,
            outbound_port: 15001,
            inbound_port: 15006,
            exclude_inbound_ports: vec![15008, 15090, 15021, 15020],
        }
    }
}

impl Capture {
    /// The nat table as `iptables-restore` reads it. Restoring it replaces
    /// the whole nat table, so applying it twice is harmless.
    pub fn restore_input(&self) -> String {
        let mut out = String::from("*nat\n");
        for chain in ["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"] {
            let _ = writeln!(out, ":{chain} ACCEPT [0:0]");
        }
        for chain in [
            "ISTIO_INBOUND",
            "ISTIO_REDIRECT",
            "ISTIO_IN_REDIRECT",
            "ISTIO_OUTPUT",
        ] {
            let _ = writeln!(out, ":{chain} - [0:0]");
        }
        for rule in self.rules() {
            let _ = writeln!(out, "{rule}");
        }
        out.push_str("COMMIT\n");
        out
    }

    /// The rules in `iptables-save` form, in istio-iptables' order.
    fn rules(&self) -> Vec<String> {
        let (uid, gid) = (self.proxy_uid, self.proxy_gid);
        let mut rules = vec![
            format!(
                "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports {}",
                self.outbound_port
            ),
            format!(
                "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports {}",
                self.inbound_port
            ),
            // Inbound: everything but the sidecar's own ports goes to the
            // inbound listener.
            "-A PREROUTING -p tcp -j ISTIO_INBOUND".to_string(),
        ];
        for port in &self.exclude_inbound_ports {
            rules.push(format!("-A ISTIO_INBOUND -p tcp --dport {port} -j RETURN"));
        }
        rules.push("-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT".to_string());
        // Outbound: the sidecar's own connections (matched by owner, uid or
        // gid) and apps' loopback traffic are left alone; everything else
        // goes to the outbound listener. Two twists, both Istio's: the
        // sidecar reaching its own pod's address (which leaves over `lo`)
        // is sent to the inbound listener, so a pod calling a service it
        // serves itself still passes inbound policy; and the sidecar's
        // connections to its app come from 127.0.0.6 (Istio's
        // InboundPassthroughClusterIpv4) and pass untouched.
        rules.push("-A OUTPUT -p tcp -j ISTIO_OUTPUT".to_string());
        rules.push("-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN".to_string());
        for (flag, id) in [("--uid-owner", uid), ("--gid-owner", gid)] {
            rules.push(format!(
                "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner {flag} {id} -j ISTIO_IN_REDIRECT"
            ));
            rules.push(format!(
                "-A ISTIO_OUTPUT -o lo -m owner ! {flag} {id} -j RETURN"
            ));
            rules.push(format!("-A ISTIO_OUTPUT -m owner {flag} {id} -j RETURN"));
        }
        rules.push("-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN".to_string());
        rules.push("-A ISTIO_OUTPUT -j ISTIO_REDIRECT".to_string());
        rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `istio-iptables -p 15001 -z 15006 -u 1337 -g 1337 -i '*' -b '*'`, as
    /// `crates/proxy/tests/netns/pod.rs` keeps it (there as `-N` and `-A`
    /// commands; here the chains are declared in the restore header).
    const ISTIO: &[&str] = &[
        "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
        "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006",
        "-A PREROUTING -p tcp -j ISTIO_INBOUND",
        "-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN",
        "-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN",
        "-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN",
        "-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN",
        "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
        "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
        "-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN",
        "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT",
        "-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN",
        "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN",
        "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT",
        "-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN",
        "-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN",
        "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN",
        "-A ISTIO_OUTPUT -j ISTIO_REDIRECT",
    ];

    #[test]
    fn default_rules_are_istios() {
        assert_eq!(Capture::default().rules(), ISTIO);
    }

    #[test]
    fn restore_input_declares_chains_and_commits() {
        let input = Capture::default().restore_input();
        let lines: Vec<&str> = input.lines().collect();
        assert_eq!(lines.first(), Some(&"*nat"));
        assert_eq!(lines.last(), Some(&"COMMIT"));
        for chain in [
            "ISTIO_INBOUND",
            "ISTIO_REDIRECT",
            "ISTIO_IN_REDIRECT",
            "ISTIO_OUTPUT",
        ] {
            assert!(
                lines.contains(&format!(":{chain} - [0:0]").as_str()),
                "{chain}"
            );
        }
        let rules: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.starts_with("-A"))
            .collect();
        assert_eq!(rules, ISTIO);
    }

    #[test]
    fn ports_and_owner_follow_the_settings() {
        let c = Capture {
            proxy_uid: 2000,
            proxy_gid: 2001,
            outbound_port: 1,
            inbound_port: 2,
            exclude_inbound_ports: vec![22],
        };
        let input = c.restore_input();
        assert!(input.contains("--to-ports 1\n"));
        assert!(input.contains("--to-ports 2\n"));
        assert!(input.contains("--dport 22 -j RETURN"));
        assert!(!input.contains("15090"));
        assert!(input.contains("--uid-owner 2000 -j RETURN"));
        assert!(input.contains("--gid-owner 2001 -j RETURN"));
    }
}
