//! A patch's `value`: a `google.protobuf.Struct`, any YAML at all, kept as
//! `weft_yaml`'s tree. Read from the already parsed document, so the
//! positions are not kept here; findings take them from the document.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use weft_yaml::{Entry, Node, NodeKind, Pos, Scalar};

/// Any YAML value.
#[derive(Debug, Clone, PartialEq)]
pub struct FreeForm(pub NodeKind);

impl<'de> Deserialize<'de> for FreeForm {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FreeFormVisitor).map(FreeForm)
    }
}

struct FreeFormVisitor;

fn node(kind: NodeKind) -> Node {
    Node {
        pos: Pos::default(),
        kind,
    }
}

impl<'de> Visitor<'de> for FreeFormVisitor {
    type Value = NodeKind;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
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
        FreeForm::deserialize(d).map(|v| v.0)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeKind, A::Error> {
        let mut items = Vec::new();
        while let Some(FreeForm(item)) = seq.next_element()? {
            items.push(node(item));
        }
        Ok(NodeKind::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeKind, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, FreeForm(value))) = map.next_entry::<String, FreeForm>()? {
            entries.push(Entry {
                key,
                key_pos: Pos::default(),
                value: node(value),
            });
        }
        Ok(NodeKind::Map(entries))
    }
}
