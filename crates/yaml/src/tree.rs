//! YAML documents as trees whose every key and value knows its line and
//! column.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use crate::path::{FieldPath, Segment};

/// Where a node starts: 1-based line and column.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u64,
    pub column: u64,
}

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub kind: NodeKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Map(Vec<Entry>),
    Seq(Vec<Node>),
    Scalar(Scalar),
}

/// A mapping entry: the key (always kept as text) and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// A scalar as YAML 1.2's core schema resolved it: quoted scalars are
/// strings, plain ones may be numbers, booleans or null.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
}

/// One document of a multi-document file.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based position among the file's non-empty documents.
    pub index: usize,
    pub root: Node,
}

/// The text is not YAML.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    pub pos: Option<Pos>,
    /// What the parser said, without a source snippet.
    pub message: String,
}

/// Parses every document of a YAML stream. Empty documents (a stray `---`
/// at the end, say) are skipped, as `kubectl apply` does.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, SyntaxError> {
    let roots: Vec<Spanned<NodeKind>> =
        serde_saphyr::from_multiple(text).map_err(|e| SyntaxError {
            pos: e.location().map(|l| Pos {
                line: l.line(),
                column: l.column(),
            }),
            message: e.without_snippet().to_string(),
        })?;
    Ok(roots
        .into_iter()
        .map(Node::from)
        .filter(|n| !matches!(n.kind, NodeKind::Scalar(Scalar::Null)))
        .enumerate()
        .map(|(index, root)| Document { index, root })
        .collect())
}

/// The text of each document of a YAML stream, with the 1-based line it
/// starts on: what is between `---` (or `...`) lines at column 0, empty
/// documents skipped. For storing or echoing one document of many as the
/// user wrote it.
pub fn document_texts(text: &str) -> Vec<(u64, &str)> {
    let mut out = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1u64;
    let mut offset = 0usize;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") || trimmed == "..." {
            push_document(text, start, offset, start_line, &mut out);
            start = offset + line.len();
            start_line = i as u64 + 2;
        }
        offset += line.len();
    }
    push_document(text, start, text.len(), start_line, &mut out);
    out
}

fn push_document<'a>(
    text: &'a str,
    from: usize,
    to: usize,
    line: u64,
    out: &mut Vec<(u64, &'a str)>,
) {
    let doc = &text[from..to];
    let has_content = doc
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    if has_content {
        out.push((line, doc));
    }
}

// === impl Node ===

impl Node {
    /// The node at `path`, if every step exists.
    pub fn get(&self, path: &FieldPath) -> Option<&Node> {
        let mut node = self;
        for seg in path.segments() {
            node = node.step(seg)?;
        }
        Some(node)
    }

    /// The line of the deepest node along `path` that exists (a missing
    /// field is reported where its parent is). For a mapping entry this is
    /// the key's line, where a reader looks.
    pub fn line_of(&self, path: &FieldPath) -> u64 {
        let mut node = self;
        let mut line = self.pos.line;
        for seg in path.segments() {
            match (&node.kind, seg) {
                (NodeKind::Map(entries), Segment::Key(k)) => {
                    match entries.iter().find(|e| &e.key == k) {
                        Some(e) => {
                            line = e.key_pos.line;
                            node = &e.value;
                        }
                        None => break,
                    }
                }
                (NodeKind::Seq(items), Segment::Index(i)) => match items.get(*i) {
                    Some(n) => {
                        line = n.pos.line;
                        node = n;
                    }
                    None => break,
                },
                _ => break,
            }
        }
        line
    }

    fn step(&self, seg: &Segment) -> Option<&Node> {
        match (&self.kind, seg) {
            (NodeKind::Map(_), Segment::Key(k)) => self.entry(k).map(|e| &e.value),
            (NodeKind::Seq(items), Segment::Index(i)) => items.get(*i),
            _ => None,
        }
    }

    /// The entry for `key` when this is a mapping that has one.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.entries().iter().find(|e| e.key == key)
    }

    /// The entries of a mapping; empty for anything else.
    pub fn entries(&self) -> &[Entry] {
        match &self.kind {
            NodeKind::Map(entries) => entries,
            _ => &[],
        }
    }

    /// The string value of a scalar `key` of this mapping.
    pub fn str_at(&self, key: &str) -> Option<&str> {
        match &self.entry(key)?.value.kind {
            NodeKind::Scalar(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, NodeKind::Scalar(Scalar::Null))
    }

    /// Calls `visit` for every mapping entry, depth first, with its path.
    /// `visit` returns whether to descend into the entry's value.
    pub fn walk(&self, visit: &mut dyn FnMut(&FieldPath, &Entry) -> bool) {
        self.walk_from(&FieldPath::root(), visit);
    }

    fn walk_from(&self, at: &FieldPath, visit: &mut dyn FnMut(&FieldPath, &Entry) -> bool) {
        match &self.kind {
            NodeKind::Map(entries) => {
                for e in entries {
                    let path = at.key(&e.key);
                    if visit(&path, e) {
                        e.value.walk_from(&path, visit);
                    }
                }
            }
            NodeKind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    item.walk_from(&at.index(i), visit);
                }
            }
            NodeKind::Scalar(_) => {}
        }
    }
}

impl From<Spanned<NodeKind>> for Node {
    fn from(s: Spanned<NodeKind>) -> Self {
        Node {
            pos: Pos::from(&s.referenced),
            kind: s.value,
        }
    }
}

impl From<&serde_saphyr::Location> for Pos {
    fn from(l: &serde_saphyr::Location) -> Self {
        Pos {
            line: l.line(),
            column: l.column(),
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Null => f.write_str("null"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::UInt(u) => write!(f, "{u}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

// === Deserialize from serde-saphyr ===

impl<'de> Deserialize<'de> for NodeKind {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E>(self, v: bool) -> Result<NodeKind, E> {
        Ok(NodeKind::Scalar(Scalar::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<NodeKind, E> {
        Ok(NodeKind::Scalar(Scalar::Int(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<NodeKind, E> {
        Ok(NodeKind::Scalar(Scalar::UInt(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<NodeKind, E> {
        Ok(NodeKind::Scalar(Scalar::Float(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<NodeKind, E> {
        Ok(NodeKind::Scalar(Scalar::Str(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<NodeKind, E> {
        Ok(NodeKind::Scalar(Scalar::Str(v)))
    }
    fn visit_unit<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Scalar(Scalar::Null))
    }
    fn visit_none<E>(self) -> Result<NodeKind, E> {
        Ok(NodeKind::Scalar(Scalar::Null))
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<NodeKind, D::Error> {
        NodeKind::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<NodeKind>>()? {
            items.push(Node::from(item));
        }
        Ok(NodeKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<Spanned<NodeKind>, Spanned<NodeKind>>()? {
            let key_pos = Pos::from(&key.referenced);
            let key = match key.value {
                NodeKind::Scalar(s) => s.to_string(),
                _ => return Err(de::Error::custom("a mapping key must be a scalar")),
            };
            entries.push(Entry {
                key,
                key_pos,
                value: Node::from(value),
            });
        }
        Ok(NodeKind::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  ports:
    - port: 9080
      name: http
---
---
kind: Second
spec: { a: 'quoted', b: 1.5, c: ~, d: true }
";

    #[test]
    fn documents_keep_their_lines_and_columns() {
        let docs = parse_documents(YAML).unwrap();
        assert_eq!(docs.len(), 2, "the empty document is skipped");
        let first = &docs[0].root;
        let port = FieldPath::parse("spec.ports[0].port");
        assert_eq!(first.line_of(&port), 7);
        let name = first.get(&FieldPath::parse("spec.ports[0]")).unwrap();
        let e = name.entry("name").unwrap();
        assert_eq!(e.key_pos, Pos { line: 8, column: 7 });
        assert_eq!(docs[1].root.line_of(&FieldPath::parse("kind")), 11);
        assert_eq!(docs[1].index, 1);
    }

    #[test]
    fn scalars_resolve_by_the_core_schema() {
        let docs = parse_documents(YAML).unwrap();
        let spec = docs[1].root.get(&FieldPath::parse("spec")).unwrap();
        let kinds: Vec<_> = spec.entries().iter().map(|e| &e.value.kind).collect();
        assert_eq!(
            kinds,
            [
                &NodeKind::Scalar(Scalar::Str("quoted".into())),
                &NodeKind::Scalar(Scalar::Float(1.5)),
                &NodeKind::Scalar(Scalar::Null),
                &NodeKind::Scalar(Scalar::Bool(true)),
            ]
        );
    }

    #[test]
    fn missing_fields_fall_back_to_the_deepest_line() {
        let docs = parse_documents(YAML).unwrap();
        let line = docs[0]
            .root
            .line_of(&FieldPath::parse("spec.ports[0].nope"));
        assert_eq!(line, 7);
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let err = parse_documents("a: [1,\nb: 2\n").unwrap_err();
        assert!(err.pos.is_some(), "{err:?}");
    }

    #[test]
    fn document_texts_split_on_markers_and_skip_empty_ones() {
        let docs = document_texts(YAML);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].0, 1);
        assert!(docs[0].1.starts_with("apiVersion: v1\nkind: Service"));
        assert_eq!(
            docs[1],
            (
                11,
                "kind: Second\nspec: { a: 'quoted', b: 1.5, c: ~, d: true }\n"
            )
        );
        assert!(document_texts("# only a comment\n---\n").is_empty());
    }

    #[test]
    fn walk_visits_every_entry_with_its_path() {
        let docs = parse_documents(YAML).unwrap();
        let mut seen = Vec::new();
        docs[0].root.walk(&mut |p, _| {
            seen.push(p.to_string());
            true
        });
        assert!(seen.contains(&"spec.ports[0].name".to_string()), "{seen:?}");
    }
}
