//! A serde deserializer over [`Node`] trees that keeps going past unknown
//! fields, recording each with its path and position.
//!
//! Unknown fields: serde's derive hands `deserialize_struct` the list of
//! names the struct accepts (aliases included), so the map access skips
//! and records every key outside that list instead of failing on the first.
//! A struct that flattens a catch-all map is read through `deserialize_map`
//! and accepts anything: that is how a type says it is lenient.
//!
//! Scalars are read as protobuf JSON reads them (Istio's resources are
//! protobuf): a quoted number is accepted where a number is expected, and a
//! number where a string is. YAML null reads as Go's zero value for lists,
//! maps and strings, and as `None` for an `Option`.

use std::cell::RefCell;
use std::fmt;

use serde::Deserialize;
use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, Unexpected, Visitor};

use crate::path::{Chain, FieldPath};
use crate::tree::{Entry, Node, NodeKind, Pos, Scalar};

/// Something wrong in a document, where it is and what it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: FieldPath,
    pub pos: Pos,
    pub kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ProblemKind {
    /// A key the schema has no field for; `expected` lists the names it
    /// does accept at that place.
    UnknownField {
        field: String,
        expected: &'static [&'static str],
    },
    UnknownVariant {
        variant: String,
        expected: &'static [&'static str],
    },
    MissingField(&'static str),
    /// A value of the wrong type or form.
    Invalid(String),
}

/// Reads `T` from `node`. On success, also returns every unknown field
/// that was skipped (the caller decides that these are errors). On
/// failure, returns those and the problem that stopped it, last.
pub fn from_node<'de, T: Deserialize<'de>>(
    node: &'de Node,
) -> Result<(T, Vec<Problem>), Vec<Problem>> {
    let ctx = Ctx::default();
    let root = Chain::Root;
    let result = T::deserialize(NodeDe {
        node,
        chain: &root,
        ctx: &ctx,
    });
    let mut problems = ctx.problems.into_inner();
    match result {
        Ok(v) => Ok((v, problems)),
        Err(e) => {
            let (path, pos) = e.at.unwrap_or((FieldPath::root(), node.pos));
            problems.push(Problem {
                path,
                pos,
                kind: e.kind,
            });
            Err(problems)
        }
    }
}

/// Every place in `node` that `T` reads as a struct, with the field names
/// the struct accepts there (aliases included). Hints use it to tell where
/// a misplaced field belongs. Reading stops where `from_node` would stop.
pub fn struct_fields<'de, T: Deserialize<'de>>(node: &'de Node) -> Vec<StructFields> {
    let ctx = Ctx {
        structs: Some(RefCell::default()),
        ..Ctx::default()
    };
    let root = Chain::Root;
    // Only the trace is wanted; the problems were reported by `from_node`.
    let _ = T::deserialize(NodeDe {
        node,
        chain: &root,
        ctx: &ctx,
    });
    ctx.structs.map(RefCell::into_inner).unwrap_or_default()
}

/// The error serde's visitors build, located on its way up.
#[derive(Debug)]
pub struct Error {
    kind: ProblemKind,
    at: Option<(FieldPath, Pos)>,
}

/// Where a struct was read, and the field names it accepts there.
pub type StructFields = (FieldPath, &'static [&'static str]);

#[derive(Default)]
struct Ctx {
    problems: RefCell<Vec<Problem>>,
    /// When tracing: every struct read, with the names it accepts.
    structs: Option<RefCell<Vec<StructFields>>>,
}

struct NodeDe<'de, 'c> {
    node: &'de Node,
    chain: &'c Chain<'c>,
    ctx: &'c Ctx,
}

struct MapDe<'de, 'c> {
    entries: std::slice::Iter<'de, Entry>,
    /// The struct's field names, when reading a struct.
    fields: Option<&'static [&'static str]>,
    value: Option<&'de Entry>,
    chain: &'c Chain<'c>,
    ctx: &'c Ctx,
}

struct SeqDe<'de, 'c> {
    items: std::iter::Enumerate<std::slice::Iter<'de, Node>>,
    chain: &'c Chain<'c>,
    ctx: &'c Ctx,
}

/// An externally tagged enum variant written as a one-entry mapping.
struct VariantDe<'de, 'c> {
    entry: &'de Entry,
    chain: &'c Chain<'c>,
    ctx: &'c Ctx,
}

// === impl Error ===

impl Error {
    fn locate(mut self, chain: &Chain<'_>, pos: Pos) -> Self {
        if self.at.is_none() {
            self.at = Some((chain.to_path(), pos));
        }
        self
    }
}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error {
            kind: ProblemKind::Invalid(msg.to_string()),
            at: None,
        }
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error {
            kind: ProblemKind::UnknownField {
                field: field.to_string(),
                expected,
            },
            at: None,
        }
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error {
            kind: ProblemKind::UnknownVariant {
                variant: variant.to_string(),
                expected,
            },
            at: None,
        }
    }
    fn missing_field(field: &'static str) -> Self {
        Error {
            kind: ProblemKind::MissingField(field),
            at: None,
        }
    }
}

impl std::error::Error for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::UnknownField { field, .. } => write!(f, "unknown field `{field}`"),
            ProblemKind::UnknownVariant { variant, expected } => write!(
                f,
                "unknown value `{variant}`; use one of {}",
                backticked(expected)
            ),
            ProblemKind::MissingField(field) => write!(f, "missing field `{field}`"),
            ProblemKind::Invalid(msg) => f.write_str(msg),
        }
    }
}

/// `a`, `b` or `c`, each in backticks.
pub fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

// === impl NodeDe ===

impl<'de> NodeDe<'de, '_> {
    fn scalar(&self) -> Option<&'de Scalar> {
        match &self.node.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    fn locate(&self, e: Error) -> Error {
        e.locate(self.chain, self.node.pos)
    }

    fn map<V: Visitor<'de>>(
        &self,
        fields: Option<&'static [&'static str]>,
        entries: &'de [Entry],
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_map(MapDe {
            entries: entries.iter(),
            fields,
            value: None,
            chain: self.chain,
            ctx: self.ctx,
        })
    }

    fn seq<V: Visitor<'de>>(&self, items: &'de [Node], visitor: V) -> Result<V::Value, Error> {
        visitor.visit_seq(SeqDe {
            items: items.iter().enumerate(),
            chain: self.chain,
            ctx: self.ctx,
        })
    }

    fn any<V: Visitor<'de>>(&self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            NodeKind::Map(entries) => self.map(None, entries, visitor),
            NodeKind::Seq(items) => self.seq(items, visitor),
            NodeKind::Scalar(s) => match s {
                Scalar::Null => visitor.visit_unit(),
                Scalar::Bool(b) => visitor.visit_bool(*b),
                Scalar::Int(i) => visitor.visit_i64(*i),
                Scalar::UInt(u) => visitor.visit_u64(*u),
                Scalar::Float(x) => visitor.visit_f64(*x),
                Scalar::Str(s) => visitor.visit_borrowed_str(s),
            },
        }
    }

    /// A number, also from a quoted string (protobuf JSON's int64 form).
    fn number<V: Visitor<'de>>(&self, visitor: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some(Scalar::Str(s)) => {
                let t = s.trim();
                if let Ok(u) = t.parse::<u64>() {
                    visitor.visit_u64(u)
                } else if let Ok(i) = t.parse::<i64>() {
                    visitor.visit_i64(i)
                } else if let Ok(x) = t.parse::<f64>() {
                    visitor.visit_f64(x)
                } else {
                    Err(de::Error::invalid_type(Unexpected::Str(s), &visitor))
                }
            }
            _ => self.any(visitor),
        }
    }
}

macro_rules! numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            self.number(visitor).map_err(|e| self.locate(e))
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.any(visitor).map_err(|e| self.locate(e))
    }

    numbers!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
             deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
             deserialize_f32 deserialize_f64);

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let r = match self.scalar() {
            Some(Scalar::Str(s)) if s == "true" => visitor.visit_bool(true),
            Some(Scalar::Str(s)) if s == "false" => visitor.visit_bool(false),
            _ => self.any(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let r = match self.scalar() {
            Some(Scalar::Str(s)) => visitor.visit_borrowed_str(s),
            // Go's zero value for a string field left empty.
            Some(Scalar::Null) => visitor.visit_borrowed_str(""),
            Some(other) => visitor.visit_string(other.to_string()),
            None => self.any(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let r = match self.scalar() {
            Some(Scalar::Null) => visitor.visit_none(),
            _ => visitor.visit_some(NodeDe { ..self }),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor
            .visit_newtype_struct(NodeDe { ..self })
            .map_err(|e| self.locate(e))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let r = match &self.node.kind {
            NodeKind::Seq(items) => self.seq(items, visitor),
            // Go's nil slice.
            NodeKind::Scalar(Scalar::Null) => self.seq(&[], visitor),
            _ => self.any(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let r = match &self.node.kind {
            NodeKind::Map(entries) => self.map(None, entries, visitor),
            NodeKind::Scalar(Scalar::Null) => self.map(None, &[], visitor),
            _ => self.any(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if let Some(trace) = &self.ctx.structs {
            trace.borrow_mut().push((self.chain.to_path(), fields));
        }
        let r = match &self.node.kind {
            NodeKind::Map(entries) => self.map(Some(fields), entries, visitor),
            NodeKind::Scalar(Scalar::Null) => self.map(Some(fields), &[], visitor),
            _ => self.any(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let r = match &self.node.kind {
            NodeKind::Scalar(Scalar::Str(s)) => {
                visitor.visit_enum(BorrowedStrDeserializer::<Error>::new(s))
            }
            NodeKind::Map(entries) if entries.len() == 1 => visitor.visit_enum(VariantDe {
                entry: &entries[0],
                chain: self.chain,
                ctx: self.ctx,
            }),
            _ => self.any(visitor),
        };
        r.map_err(|e| self.locate(e))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

mod access;

#[cfg(test)]
mod tests;
