//! A proxy's config has two sources: its file (reloaded on SIGHUP) and the
//! control plane. Either changing recomposes and recompiles the whole.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use weft_proto::config::ProxyConfig;
use weft_proto::resources::{self, ConflictError, Typed};

use crate::state::{BuildError, ProxyState};

/// What the control plane has pushed and the proxy applied.
#[derive(Debug, Clone, Default)]
pub struct Pushed {
    /// By (type URL, name): the version and the resource.
    pub resources: BTreeMap<(String, String), (String, Typed)>,
    /// The control plane's config generation these came with.
    pub system_version: String,
}

/// Why a config could not be applied; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Conflict(#[from] ConflictError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("weft.dev/TrustRoots: {0}")]
    TrustRoots(String),
}

/// The file and the pushed resources, and the state they compile into.
#[derive(Debug)]
pub struct Sources {
    state: Arc<ProxyState>,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    file: ProxyConfig,
    pushed: Arc<Pushed>,
}

// === impl Sources ===

impl Sources {
    pub fn new(state: Arc<ProxyState>, file: ProxyConfig) -> Self {
        Self {
            state,
            inner: Mutex::new(Inner {
                file,
                pushed: Arc::default(),
            }),
        }
    }

    /// A new config file, composed with what was pushed.
    pub fn apply_file(&self, file: ProxyConfig) -> Result<(), ApplyError> {
        // Held while composing and compiling (no awaits), so a push and a
        // reload never interleave and lose one another.
        let mut inner = self.inner.lock();
        self.compile(&file, &inner.pushed)?;
        inner.file = file;
        Ok(())
    }

    /// A new set of pushed resources, composed with the file.
    pub fn apply_pushed(&self, pushed: Pushed) -> Result<(), ApplyError> {
        let mut inner = self.inner.lock();
        self.compile(&inner.file, &pushed)?;
        inner.pushed = Arc::new(pushed);
        Ok(())
    }

    pub fn pushed(&self) -> Arc<Pushed> {
        self.inner.lock().pushed.clone()
    }

    fn compile(&self, file: &ProxyConfig, pushed: &Pushed) -> Result<(), ApplyError> {
        let config = resources::compose(file, pushed.resources.values().map(|(_, t)| t))?;
        // Checked before anything is applied, so a bad bundle changes
        // nothing.
        let roots = pushed
            .resources
            .values()
            .find_map(|(_, t)| match t {
                Typed::TrustRoots(r) => Some(r),
                _ => None,
            })
            .map(|r| weft_identity::TrustBundle::from_pem(&r.pem))
            .transpose()
            .map_err(ApplyError::TrustRoots)?;
        self.state.update(config)?;
        if let (Some(roots), Some(creds)) = (roots, &self.state.creds) {
            // New handshakes (with peers and with the control plane)
            // verify against it; established connections stay up.
            creds.set_bundle(roots);
        }
        Ok(())
    }
}
