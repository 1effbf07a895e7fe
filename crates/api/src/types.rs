//! Value types that several kinds share: durations, int-or-string ports,
//! Kubernetes quantities and Istio percentages.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Visitor};

/// A duration as Istio and Gateway API users write it: `10s`, `0.5s`,
/// `1m30s`, `250ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

/// Kubernetes `IntOrString`, as in a Service's `targetPort`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntOrString {
    Int(i64),
    Str(String),
}

/// A Kubernetes resource quantity (`500m`, `1`, `2k`), as SMI v1alpha1
/// writes TrafficSplit weights. Kept in thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    pub milli: i64,
}

/// Istio's `Percent` message: `{ value: 50.0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Percent {
    #[serde(default)]
    pub value: f64,
}

// === impl Duration ===

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        weft_proto::duration::parse(&text)
            .map(Duration)
            .map_err(de::Error::custom)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

// === impl IntOrString ===

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a name")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IntOrString, E> {
                Ok(IntOrString::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IntOrString, E> {
                i64::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom("the number is too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IntOrString, E> {
                Ok(IntOrString::Str(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::Str(s) => f.write_str(s),
        }
    }
}

// === impl Quantity ===

impl Quantity {
    /// Parses `500m`, `1`, `0.5`, `2k`, `1Ki`. Cost: one pass.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
            .unwrap_or(t.len());
        let (num, suffix) = t.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("{text:?} is not a quantity; write it like 500m, 1 or 0.5"))?;
        let scale = match suffix {
            "m" => 1e-3,
            "" => 1.0,
            "k" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            "Ki" => 1024.0,
            "Mi" => 1024.0 * 1024.0,
            _ => {
                return Err(format!(
                    "{text:?} has an unknown suffix {suffix:?}; use m, k, M or G"
                ));
            }
        };
        Ok(Quantity {
            milli: (value * scale * 1000.0).round() as i64,
        })
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity such as 500m or 1")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity {
                    milli: v.saturating_mul(1000),
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity {
                    milli: (v * 1000.0).round() as i64,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Quantity::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_in_thousandths() {
        for (text, milli) in [("500m", 500), ("1", 1000), ("0.5", 500), ("2k", 2_000_000)] {
            assert_eq!(Quantity::parse(text).unwrap().milli, milli, "{text}");
        }
        assert!(Quantity::parse("5x").is_err());
        assert!(Quantity::parse("abc").is_err());
    }
}
