//! Finding a workload's program, and Kubernetes' `$(VAR)` expansion of its
//! arguments.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Finds `program`: a path (it has a `/`) as written, else a name in
/// `bin_dir` (weft's own binaries, `weft-sample` among them), then `PATH`.
pub fn find_program(program: &str, bin_dir: &Path) -> Result<PathBuf, String> {
    if program.contains('/') {
        let path = PathBuf::from(program);
        return if is_executable(&path) {
            Ok(path)
        } else if path.exists() {
            Err(format!(
                "`{program}` is not executable; `chmod +x` it or name another program"
            ))
        } else {
            Err(format!(
                "the command `{program}` does not exist; fix the path (relative paths start where `weft up` runs)"
            ))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::iter::once(bin_dir.to_path_buf())
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
        .ok_or_else(|| {
            format!(
                "the command `{program}` was not found in {} or on PATH; install it, or give its full path",
                bin_dir.display()
            )
        })
}

fn is_executable(p: &Path) -> bool {
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Variables for `$(NAME)` references, as Kubernetes expands them in a
/// container's `command`, `args` and `env`: a defined name is replaced,
/// `$$` is a literal `$`, and an undefined reference is left as written.
#[derive(Debug, Clone, Default)]
pub struct Expand {
    vars: Vec<(String, String)>,
}

impl Expand {
    /// Defines `name` (a later definition wins); its value may refer to
    /// earlier ones.
    pub fn set(&mut self, name: &str, value: &str) {
        let value = self.expand(value);
        self.vars.retain(|(k, _)| k != name);
        self.vars.push((name.to_string(), value));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    pub fn expand(&self, s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
            } else if let Some(body) = after.strip_prefix('(')
                && let Some(end) = body.find(')')
                && let Some(value) = self.get(&body[..end])
            {
                out.push_str(value);
                rest = &body[end + 1..];
            } else {
                out.push('$');
                rest = after;
            }
        }
        out.push_str(rest);
        out
    }
}
