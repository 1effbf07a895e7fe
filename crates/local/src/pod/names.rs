//! What a mesh's namespaces and links are called. Every name a mesh owns
//! is derived from the mesh's name, so a later run can find what a crashed
//! one left behind by name alone, and never mistake another mesh's for its
//! own.
//!
//! | what                      | where        | name                       |
//! |---------------------------|--------------|----------------------------|
//! | the switch namespace      | `/run/netns` | `<mesh>`                   |
//! | a pod's namespace         | `/run/netns` | `<mesh>.<pod>`             |
//! | a pod's `/etc` overrides  | `/etc/netns` | `<mesh>.<pod>`             |
//! | the gateway link          | caller's ns  | `<mesh>0`                  |
//! | its peer (a bridge port)  | switch       | [`UPLINK`]                 |
//! | the bridge                | switch       | [`BRIDGE`]                 |
//! | a pod's bridge port       | switch       | `pod-<c>-<d>` (its address `198.18.c.d`) |
//! | the pod's end             | pod          | `eth0`                     |
//!
//! The separator between mesh and pod is a `.` because mesh names may
//! contain `-`: with `<mesh>-<pod>`, the namespaces of mesh `a-b` would also
//! be named with mesh `a`'s prefix, and cleaning up after `a` would remove
//! them. Mesh names never contain a `.`, so `<mesh>.` names one mesh only.

use std::net::Ipv4Addr;

use super::PodError;

/// The longest mesh name: `<mesh>0` must fit Linux's 15-byte limit on
/// interface names with room to spare.
pub const MESH_NAME_MAX: usize = 10;
/// The bridge, inside the switch namespace.
pub const BRIDGE: &str = "br0";
/// The switch's end of the gateway link, a port of the bridge.
pub const UPLINK: &str = "host";
/// A pod's interface, inside the pod, as Kubernetes names it.
pub const POD_LINK: &str = "eth0";

/// Longest file name on Linux (`NAME_MAX`): namespace names are files in
/// `/run/netns` and directories in `/etc/netns`.
const FILE_NAME_MAX: usize = 255;

/// Checks a mesh name: 1 to 10 of `[a-z0-9-]`, not starting with `-`.
pub fn check_mesh(mesh: &str) -> Result<(), PodError> {
    let why = if mesh.is_empty() || mesh.len() > MESH_NAME_MAX {
        Some("use 1 to 10 characters (it prefixes interface names, which Linux limits to 15)")
    } else if !mesh
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        Some("use lower-case letters, digits and '-'")
    } else if mesh.starts_with('-') {
        Some("start with a letter or digit (`ip` would read a leading '-' as an option)")
    } else {
        None
    };
    match why {
        Some(why) => Err(PodError::Invalid {
            what: "mesh name",
            value: mesh.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

/// Checks a pod name: letters, digits, `-`, `_` and `.`, starting with a
/// letter or digit (it becomes part of a file name and of `ip` arguments).
pub fn check_pod(mesh: &str, pod: &str) -> Result<(), PodError> {
    let why = if pod.is_empty() || mesh.len() + 1 + pod.len() > FILE_NAME_MAX {
        Some("use a shorter name (`<mesh>.<pod>` must fit a 255-byte file name)")
    } else if !pod
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        Some("use letters, digits, '-', '_' and '.'")
    } else if !pod.as_bytes()[0].is_ascii_alphanumeric() {
        Some("start with a letter or digit")
    } else {
        None
    };
    match why {
        Some(why) => Err(PodError::Invalid {
            what: "pod name",
            value: pod.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

/// The namespace holding the mesh's bridge.
pub fn switch_netns(mesh: &str) -> String {
    mesh.to_string()
}

/// The namespace of pod `pod`.
pub fn pod_netns(mesh: &str, pod: &str) -> String {
    format!("{mesh}.{pod}")
}

/// Whether `netns` is one of `mesh`'s namespaces (its switch or a pod).
pub fn is_owned(mesh: &str, netns: &str) -> bool {
    netns == mesh
        || netns
            .strip_prefix(mesh)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// The gateway link in the namespace that created the network.
pub fn gateway_link(mesh: &str) -> String {
    format!("{mesh}0")
}

/// A pod's bridge port: named from the pod's address, which is unique in
/// the mesh, so the kernel itself refuses a second pod on one address.
pub fn pod_port(ip: Ipv4Addr) -> String {
    let [_, _, c, d] = ip.octets();
    format!("pod-{c}-{d}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mesh_names() {
        for ok in ["weft", "a", "a-b", "mesh-12345", "0"] {
            assert!(check_mesh(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "A", "a.b", "a_b", "abcdefghijk", "a b"] {
            assert!(check_mesh(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pod_names() {
        for ok in ["reviews-v1-0", "a", "x.y", "A_1"] {
            assert!(check_pod("weft", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", ".a", "a/b", "a b", "ä"] {
            assert!(check_pod("weft", bad).is_err(), "{bad}");
        }
        assert!(check_pod("weft", &"a".repeat(251)).is_err());
    }

    #[test]
    fn ownership_is_by_exact_mesh_name() {
        assert!(is_owned("a", "a"));
        assert!(is_owned("a", "a.reviews-0"));
        // Mesh `a-b`'s namespaces are not mesh `a`'s.
        assert!(!is_owned("a", "a-b"));
        assert!(!is_owned("a", "a-b.reviews-0"));
        assert!(!is_owned("a", "ab.x"));
        assert!(!is_owned("a-b", "a.b"));
    }

    #[test]
    fn link_names_fit_linux() {
        let mesh = "a".repeat(MESH_NAME_MAX);
        assert!(gateway_link(&mesh).len() <= 15);
        assert!(pod_port(Ipv4Addr::new(198, 18, 255, 254)).len() <= 15);
        assert_eq!(pod_port(Ipv4Addr::new(198, 18, 0, 2)), "pod-0-2");
    }
}
