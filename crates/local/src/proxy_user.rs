//! What a sidecar running as the proxy user (uid 1337, so that the capture
//! rules recognise its own connections) needs to reach: its binary, its
//! config, token and trust bundle, and a directory to write its bound
//! addresses in.

use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};

use crate::pod::PROXY_UID;

/// Hands a pod's directory to the proxy user, with a copy of the trust
/// bundle in it (the CA's directory holds its key and stays closed).
/// Returns the copy's path.
pub fn share_pod_dir(dir: &Path, bundle: &Path) -> std::io::Result<PathBuf> {
    let copy = dir.join("ca.pem");
    std::fs::copy(bundle, &copy)?;
    for entry in std::fs::read_dir(dir)? {
        chown(entry?.path(), Some(PROXY_UID), Some(PROXY_UID))?;
    }
    chown(dir, Some(PROXY_UID), Some(PROXY_UID))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    // Every directory above must let the proxy user pass.
    for parent in dir
        .ancestors()
        .skip(1)
        .take_while(|p| !p.as_os_str().is_empty())
    {
        let meta = std::fs::metadata(parent)?;
        if meta.permissions().mode() & 0o001 == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} is closed to other users, so the proxy user (uid {PROXY_UID}) cannot reach {}",
                    parent.display(),
                    dir.display()
                ),
            ));
        }
    }
    Ok(copy)
}

/// `bin`, or a copy of it in `dir` when the proxy user cannot execute it
/// where it is (a build under a 0700 home directory, say).
pub fn proxy_binary(bin: &Path, dir: &Path) -> std::io::Result<PathBuf> {
    let reachable = bin.ancestors().all(|p| {
        p.as_os_str().is_empty()
            || p.metadata()
                .is_ok_and(|m| m.permissions().mode() & 0o001 != 0)
    });
    if reachable {
        return Ok(bin.to_path_buf());
    }
    std::fs::create_dir_all(dir)?;
    let copy = dir.join("weft-proxy");
    std::fs::copy(bin, &copy)?;
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    Ok(copy)
}
