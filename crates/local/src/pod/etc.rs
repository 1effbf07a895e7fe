//! A pod's `/etc/hosts` and `/etc/resolv.conf`. `ip netns exec <ns>`
//! bind-mounts every file in `/etc/netns/<ns>/` over its namesake in `/etc`
//! for the program it starts, so these are what the pod's processes resolve
//! names with (glibc reads both afresh on every lookup).

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

/// Where `ip netns exec` finds a namespace's files.
pub const ETC_NETNS: &str = "/etc/netns";

/// The directory of namespace `netns`'s files.
pub fn dir(netns: &str) -> PathBuf {
    Path::new(ETC_NETNS).join(netns)
}

/// The pod's `resolv.conf`: a name server on the pod's own loopback, where
/// nothing listens. A pod has no way to a real DNS server (its only way out
/// is the host, which neither forwards nor NATs for it), and a lookup the
/// hosts file cannot answer (an unknown name; `getent hosts` asking for an
/// IPv6 address first) would otherwise wait out the resolver's timeouts,
/// five seconds a try. With this it fails at once: UDP to a closed port is
/// refused, and the capture rules take TCP only. A DNS proxy in the pod can
/// later listen right there.
pub const RESOLV_CONF: &str = "# Written by weft: names come from /etc/hosts; nothing answers here, so\n\
     # other lookups fail at once instead of waiting for DNS the pod cannot reach.\n\
     nameserver 127.0.0.1\n";

/// The hosts file of pod `pod` at `ip` with `entries` after its own lines.
/// A name that would break the file's syntax is an error.
pub fn render(pod: &str, ip: Ipv4Addr, entries: &[(IpAddr, Vec<String>)]) -> io::Result<String> {
    let mut out = String::from(
        "# Written by weft for this pod: its own name and the mesh's services.\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n",
    );
    let _ = writeln!(out, "{ip}\t{pod}");
    for (addr, names) in entries {
        if names.is_empty() {
            continue;
        }
        if let Some(bad) = names.iter().find(|n| !is_host_name(n)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{bad:?} cannot be a name in a hosts file (use letters, digits, '-', '_' and '.')"
                ),
            ));
        }
        let _ = writeln!(out, "{addr}\t{}", names.join(" "));
    }
    Ok(out)
}

/// Replaces the contents of `path` in place: the same inode, truncated and
/// written with one `write`. Never by renaming a new file over it: the bind
/// mount over each running process's `/etc/hosts` holds the old inode and
/// would go on showing the old contents. A lookup racing the rewrite may
/// find the file empty for a moment (a name not found, never a wrong
/// address); the rewrite takes microseconds.
pub fn write_in_place(path: &Path, contents: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

fn is_host_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_localhost_self_and_entries() {
        let vip: IpAddr = "198.19.0.7".parse().unwrap();
        let text = render(
            "reviews-v1-0",
            Ipv4Addr::new(198, 18, 0, 2),
            &[
                (
                    vip,
                    vec!["reviews".into(), "reviews.default.svc.cluster.local".into()],
                ),
                (vip, vec![]),
            ],
        )
        .unwrap();
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "127.0.0.1\tlocalhost",
                "::1\tlocalhost ip6-localhost ip6-loopback",
                "198.18.0.2\treviews-v1-0",
                "198.19.0.7\treviews reviews.default.svc.cluster.local",
            ]
        );
    }

    #[test]
    fn refuses_names_that_break_the_syntax() {
        let vip: IpAddr = "198.19.0.7".parse().unwrap();
        for bad in ["a b", "a#b", "", "a\nb"] {
            let err = render(
                "p",
                Ipv4Addr::new(198, 18, 0, 2),
                &[(vip, vec![bad.into()])],
            )
            .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
    }

    #[test]
    fn rewrites_keep_the_inode() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        write_in_place(&path, "a much longer first version\n").unwrap();
        let inode = std::fs::metadata(&path).unwrap().ino();
        write_in_place(&path, "short\n").unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short\n");
    }
}
