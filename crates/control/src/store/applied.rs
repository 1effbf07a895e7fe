//! Resources sent with `weft apply`, one file each in the state directory
//! (`<state>/applied/<kind>.<namespace>.<name>.yaml`), so a restart keeps
//! them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use weft_api::{ResourceKey, ResourceSet};

use super::Refused;

/// One applied resource, as the user wrote it.
#[derive(Debug, Clone)]
pub(super) struct Doc {
    pub key: ResourceKey,
    /// The line of its `metadata.name` in the text it was sent in.
    pub line: u64,
    /// Where it is kept (or a name for it, without a state directory).
    pub file: String,
    pub text: String,
}

pub(super) struct Applied {
    dir: Option<PathBuf>,
    docs: BTreeMap<ResourceKey, Doc>,
}

/// Splits `text` into one document per resource. A text that does not
/// load on its own is refused with its findings (file and line as sent).
pub(super) fn documents(name: &str, text: &str) -> Result<Vec<Doc>, Refused> {
    let whole = ResourceSet::from_text(name, text);
    if whole.has_errors() {
        return Err(Refused {
            findings: whole.findings,
        });
    }
    let mut docs = Vec::new();
    for (start, doc) in weft_yaml::document_texts(text) {
        // Documents of kinds weft ignores carry no resource.
        for r in ResourceSet::from_text(name, doc).resources {
            docs.push(Doc {
                key: r.key(),
                line: start + r.line_of("metadata.name") - 1,
                file: String::new(),
                text: doc.to_string(),
            });
        }
    }
    Ok(docs)
}

// === impl Applied ===

impl Applied {
    /// Reads what earlier runs applied. Without a state directory,
    /// applied resources last as long as the process.
    pub(super) fn open(state_dir: Option<&Path>) -> std::io::Result<Self> {
        let Some(state) = state_dir else {
            return Ok(Self {
                dir: None,
                docs: BTreeMap::new(),
            });
        };
        let dir = state.join("applied");
        std::fs::create_dir_all(&dir)?;
        let mut docs = BTreeMap::new();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        for path in files {
            let file = path.display().to_string();
            let text = std::fs::read_to_string(&path)?;
            let set = ResourceSet::from_text(&file, &text);
            match set.resources.as_slice() {
                [r] => {
                    let line = r.line_of("metadata.name");
                    docs.insert(
                        r.key(),
                        Doc {
                            key: r.key(),
                            line,
                            file,
                            text,
                        },
                    );
                }
                // Validated when applied; a file that no longer loads is
                // left in place for the operator and reported, not served.
                _ => tracing::error!(
                    file,
                    "applied resource does not load; it is not served: {:?}",
                    set.findings
                ),
            }
        }
        Ok(Self {
            dir: Some(dir),
            docs,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.docs.len()
    }

    pub(super) fn contains(&self, key: &ResourceKey) -> bool {
        self.docs.contains_key(key)
    }

    /// Every applied text except those of `except`.
    pub(super) fn texts(&self, except: &[ResourceKey]) -> Vec<(String, String)> {
        self.docs
            .values()
            .filter(|d| !except.contains(&d.key))
            .map(|d| (d.file.clone(), d.text.clone()))
            .collect()
    }

    /// Keeps `docs`, replacing earlier versions.
    pub(super) fn put(&mut self, docs: Vec<Doc>) -> std::io::Result<()> {
        for mut doc in docs {
            doc.file = match &self.dir {
                Some(dir) => {
                    let path = dir.join(file_name(&doc.key));
                    write_atomically(&path, &doc.text)?;
                    path.display().to_string()
                }
                None => format!("applied:{}", doc.key),
            };
            self.docs.insert(doc.key.clone(), doc);
        }
        Ok(())
    }

    pub(super) fn remove(&mut self, keys: &[ResourceKey]) -> std::io::Result<()> {
        for key in keys {
            if let Some(doc) = self.docs.remove(key)
                && self.dir.is_some()
            {
                std::fs::remove_file(&doc.file)?;
            }
        }
        Ok(())
    }
}

/// `virtualservice.default.reviews.yaml`: Kubernetes names are DNS labels,
/// so they are safe in file names; anything else is replaced.
fn file_name(key: &ResourceKey) -> String {
    let safe = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    let kind = safe(&format!("{:?}", key.kind).to_ascii_lowercase());
    format!("{kind}.{}.{}.yaml", safe(&key.namespace), safe(&key.name))
}

fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
