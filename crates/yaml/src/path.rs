//! Field paths such as `spec.http[0].route[1].weight`: how errors name the
//! place in a document, and how callers look nodes up.

use std::fmt;

/// A path from a document's root to one of its nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(Vec<Segment>);

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path under construction while deserializing: a borrowed chain from
/// the node being read back to the root, so descending costs nothing and a
/// [`FieldPath`] is only built when something goes wrong.
#[derive(Clone, Copy)]
pub(crate) enum Chain<'a> {
    Root,
    Key(&'a Chain<'a>, &'a str),
    Index(&'a Chain<'a>, usize),
}

// === impl FieldPath ===

impl FieldPath {
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// Parses `a.b[2].c` (the form `Display` writes).
    pub fn parse(path: &str) -> Self {
        let mut segs = Vec::new();
        for part in path.split('.').filter(|p| !p.is_empty()) {
            let (field, rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !field.is_empty() {
                segs.push(Segment::Key(field.to_string()));
            }
            segs.extend(
                rest.split(['[', ']'])
                    .filter_map(|s| s.parse().ok())
                    .map(Segment::Index),
            );
        }
        Self(segs)
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Key(key.to_string()));
        p
    }

    pub fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }

    /// The path without its last segment; the root's parent is the root.
    pub fn parent(&self) -> Self {
        let mut p = self.clone();
        p.0.pop();
        p
    }

    /// The last key along the path (`weight` for `route[1].weight`).
    pub fn last_key(&self) -> Option<&str> {
        self.0.iter().rev().find_map(|s| match s {
            Segment::Key(k) => Some(k.as_str()),
            Segment::Index(_) => None,
        })
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The path with every index replaced by `[]`: `spec.http[].route[]`,
    /// the form schema patterns are written in.
    pub fn pattern(&self) -> String {
        let mut out = String::new();
        for s in &self.0 {
            match s {
                Segment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Segment::Index(_) => out.push_str("[]"),
            }
        }
        out
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Segment::Key(k) if i == 0 => f.write_str(k)?,
                Segment::Key(k) => write!(f, ".{k}")?,
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

// === impl Chain ===

impl Chain<'_> {
    pub(crate) fn to_path(self) -> FieldPath {
        let mut segs = Vec::new();
        let mut at = self;
        loop {
            match at {
                Chain::Root => break,
                Chain::Key(parent, k) => {
                    segs.push(Segment::Key(k.to_string()));
                    at = *parent;
                }
                Chain::Index(parent, i) => {
                    segs.push(Segment::Index(i));
                    at = *parent;
                }
            }
        }
        segs.reverse();
        FieldPath(segs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_round_trip() {
        for p in ["spec.http[0].route[1].weight", "a", "a[1][2].b", ""] {
            assert_eq!(FieldPath::parse(p).to_string(), p);
        }
    }

    #[test]
    fn pattern_drops_indexes() {
        let p = FieldPath::parse("spec.http[3].match[0].uri");
        assert_eq!(p.pattern(), "spec.http[].match[].uri");
        assert_eq!(p.last_key(), Some("uri"));
        assert_eq!(p.parent().to_string(), "spec.http[3].match[0]");
    }

    #[test]
    fn chain_builds_the_same_path() {
        let root = Chain::Root;
        let spec = Chain::Key(&root, "spec");
        let http = Chain::Key(&spec, "http");
        let first = Chain::Index(&http, 0);
        assert_eq!(first.to_path().to_string(), "spec.http[0]");
    }
}
