//! The map, sequence and enum accessors [`NodeDe`] hands to serde's
//! visitors. The map accessor is where unknown fields are skipped and
//! recorded.

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeSeed, Visitor};

use super::{Error, MapDe, NodeDe, Problem, ProblemKind, SeqDe, VariantDe};
use crate::path::Chain;

// === impl MapDe ===

impl<'de> de::MapAccess<'de> for MapDe<'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        for entry in self.entries.by_ref() {
            if let Some(fields) = self.fields
                && !fields.contains(&entry.key.as_str())
            {
                self.ctx.problems.borrow_mut().push(Problem {
                    path: Chain::Key(self.chain, &entry.key).to_path(),
                    pos: entry.key_pos,
                    kind: ProblemKind::UnknownField {
                        field: entry.key.clone(),
                        expected: fields,
                    },
                });
                continue;
            }
            self.value = Some(entry);
            return seed
                .deserialize(BorrowedStrDeserializer::<Error>::new(&entry.key))
                .map(Some)
                .map_err(|e| e.locate(&Chain::Key(self.chain, &entry.key), entry.key_pos));
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some(entry) = self.value.take() else {
            return Err(de::Error::custom(
                "a map value was asked for before its key",
            ));
        };
        let chain = Chain::Key(self.chain, &entry.key);
        seed.deserialize(NodeDe {
            node: &entry.value,
            chain: &chain,
            ctx: self.ctx,
        })
    }
}

// === impl SeqDe ===

impl<'de> de::SeqAccess<'de> for SeqDe<'de, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let chain = Chain::Index(self.chain, i);
        seed.deserialize(NodeDe {
            node,
            chain: &chain,
            ctx: self.ctx,
        })
        .map(Some)
    }
}

// === impl VariantDe ===

impl<'de, 'c> de::EnumAccess<'de> for VariantDe<'de, 'c> {
    type Error = Error;
    type Variant = NodeDe<'de, 'c>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), Error> {
        let key = BorrowedStrDeserializer::<Error>::new(&self.entry.key);
        let tag = seed.deserialize(key)?;
        // The variant's path is the parent's: the tag names the field.
        Ok((
            tag,
            NodeDe {
                node: &self.entry.value,
                chain: self.chain,
                ctx: self.ctx,
            },
        ))
    }
}

impl<'de> de::VariantAccess<'de> for NodeDe<'de, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}
