//! Maps a field path such as `services[0].ports[1].cluster` back to the line
//! of the YAML it came from, so semantic errors (found after parsing) can
//! still say `proxy.yaml:14:`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Line numbers of every node of one YAML document.
#[derive(Debug, Default)]
pub struct LineIndex {
    root: Option<Spanned<Node>>,
}

#[derive(Debug)]
enum Node {
    Map(Vec<(String, Spanned<Node>)>),
    Seq(Vec<Spanned<Node>>),
    Scalar,
}

/// A mapping key in any scalar form, kept as text.
struct Key(String);

// === impl LineIndex ===

impl LineIndex {
    /// Indexes one YAML document. Input that does not parse gives an empty
    /// index: the parse error itself already carries a line.
    pub fn parse(yaml: &str) -> Self {
        Self {
            root: serde_saphyr::from_str::<Spanned<Node>>(yaml).ok(),
        }
    }

    /// The 1-based line of the deepest node along `path` that exists.
    ///
    /// `path` uses `.field` and `[index]` segments: `a.b[2].c`.
    pub fn line_of(&self, path: &str) -> Option<u64> {
        let mut node = self.root.as_ref()?;
        let mut line = node.referenced.line();
        for segment in segments(path) {
            let next = match (&node.value, segment) {
                (Node::Map(entries), Segment::Field(name)) => {
                    entries.iter().find(|(k, _)| k == name).map(|(_, v)| v)
                }
                (Node::Seq(items), Segment::Index(i)) => items.get(i),
                _ => None,
            };
            match next {
                Some(n) => {
                    node = n;
                    line = n.referenced.line();
                }
                None => break,
            }
        }
        (line > 0).then_some(line)
    }
}

enum Segment<'a> {
    Field(&'a str),
    Index(usize),
}

fn segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.').flat_map(|part| {
        let (field, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let field = (!field.is_empty()).then_some(Segment::Field(field));
        let indexes = rest
            .split(['[', ']'])
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.parse().ok().map(Segment::Index));
        field.into_iter().chain(indexes)
    })
}

// === impl Node ===

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML node")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((Key(k), v)) = map.next_entry::<Key, Spanned<Node>>()? {
            entries.push((k, v));
        }
        Ok(Node::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key("null".to_string()))
            }
        }
        d.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "\
listeners:
  - name: out
    address: 127.0.0.1:15001
  - name: in
    address: 0.0.0.0:15006
services:
  - name: reviews
    ports:
      - port: 9080
        cluster: reviews
";

    #[test]
    fn finds_lines_of_nested_fields() {
        let idx = LineIndex::parse(YAML);
        assert_eq!(idx.line_of("listeners[1].address"), Some(5));
        assert_eq!(idx.line_of("listeners[0].name"), Some(2));
        assert_eq!(idx.line_of("services[0].ports[0].cluster"), Some(10));
    }

    #[test]
    fn falls_back_to_the_deepest_existing_node() {
        let idx = LineIndex::parse(YAML);
        assert_eq!(idx.line_of("services[0].ports[0].routes[3]"), Some(9));
        assert_eq!(idx.line_of("nothing"), Some(1));
    }

    #[test]
    fn unparsable_yaml_has_no_lines() {
        assert_eq!(LineIndex::parse("a: [").line_of("a"), None);
    }
}
