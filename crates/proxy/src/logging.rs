//! Logging to stderr with a filter that can change at run time
//! (`POST /logging?level=debug` on the admin port).

use parking_lot::Mutex;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

/// Changes the process's log filter.
pub struct LogHandle {
    reload: reload::Handle<EnvFilter, Registry>,
    current: Mutex<String>,
}

// === impl LogHandle ===

impl LogHandle {
    /// Installs the global subscriber. `directives` uses `RUST_LOG` syntax:
    /// `info`, or `warn,weft_proxy=debug`.
    pub fn init(directives: &str) -> Result<Self, String> {
        let filter = parse(directives)?;
        let (layer, reload) = reload::Layer::new(filter);
        tracing_subscriber::registry()
            .with(layer)
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
            .try_init()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            reload,
            current: Mutex::new(directives.to_string()),
        })
    }

    pub fn set(&self, directives: &str) -> Result<(), String> {
        let filter = parse(directives)?;
        self.reload.reload(filter).map_err(|e| e.to_string())?;
        *self.current.lock() = directives.to_string();
        Ok(())
    }

    pub fn current(&self) -> String {
        self.current.lock().clone()
    }
}

fn parse(directives: &str) -> Result<EnvFilter, String> {
    EnvFilter::builder().parse(directives).map_err(|e| {
        format!(
            "invalid log level {directives:?}: {e}; use e.g. info, debug or warn,weft_proxy=debug"
        )
    })
}
