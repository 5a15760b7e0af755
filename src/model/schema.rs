//! The TOML model file format, exactly as written by users (see docs/MODEL_FORMAT.md).
//!
//! Every table denies unknown fields, so a typo (`ouflows`) is an error, not silently ignored.
//! Keys and values keep their byte spans so that later errors can point at them.

use std::fmt;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

pub type Name = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub model: Option<ModelMeta>,
    pub time: Option<Spanned<TimeSpec>>,
    #[serde(default)]
    pub dimensions: IndexMap<Name, Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub inputs: IndexMap<Name, Spanned<InputDecl>>,
    #[serde(default)]
    pub constants: IndexMap<Name, Spanned<ConstantDecl>>,
    #[serde(default)]
    pub stocks: IndexMap<Name, Spanned<StockDecl>>,
    #[serde(default)]
    pub flows: IndexMap<Name, Spanned<VariableDecl>>,
    #[serde(default, alias = "aux")]
    pub auxiliaries: IndexMap<Name, Spanned<VariableDecl>>,
    #[serde(default)]
    pub lookups: IndexMap<Name, Spanned<LookupDecl>>,
    #[serde(default)]
    pub modules: IndexMap<Name, Spanned<ModuleDecl>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelMeta {
    pub name: Option<String>,
    pub doc: Option<String>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    pub start: Spanned<f64>,
    pub stop: Spanned<f64>,
    pub dt: Spanned<f64>,
    pub save_step: Option<Spanned<f64>>,
    pub units: Spanned<String>,
    pub method: Option<Spanned<String>>,
    pub rtol: Option<Spanned<f64>>,
    pub atol: Option<Spanned<f64>>,
}

/// A number written as a TOML number or an equation written as a string.
#[derive(Debug, Clone)]
pub enum NumberOrEquation {
    Number(f64),
    Equation(String),
}

/// One value per element (`[1, 2, 3]`) or a single value for all.
#[derive(Debug, Clone)]
pub enum ConstantValue {
    One(f64),
    Many(Vec<f64>),
}

// Hand-written rather than `#[serde(untagged)]`, whose error ("data did not match any variant
// of untagged enum ...") names Rust types instead of saying what to write.
impl<'de> Deserialize<'de> for NumberOrEquation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NumberOrEquation;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or an equation in quotes")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(NumberOrEquation::Number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(NumberOrEquation::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(NumberOrEquation::Number(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(NumberOrEquation::Equation(v.to_string()))
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for ConstantValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ConstantValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number or a list of numbers (one per element)")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ConstantValue::One(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ConstantValue::One(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ConstantValue::One(v as f64))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::new();
                while let Some(v) = seq.next_element::<f64>()? {
                    values.push(v);
                }
                Ok(ConstantValue::Many(values))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstantDecl {
    pub value: Option<Spanned<ConstantValue>>,
    pub equation: Option<Spanned<String>>,
    pub elements: Option<IndexMap<Name, Spanned<NumberOrEquation>>>,
    pub units: Option<Spanned<String>>,
    #[serde(default)]
    pub dims: Vec<Spanned<String>>,
    pub doc: Option<String>,
    pub source: Option<String>,
    pub range: Option<Spanned<Vec<f64>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockDecl {
    pub initial: Option<Spanned<NumberOrEquation>>,
    pub elements: Option<IndexMap<Name, Spanned<NumberOrEquation>>>,
    #[serde(default)]
    pub inflows: Vec<Spanned<String>>,
    #[serde(default)]
    pub outflows: Vec<Spanned<String>>,
    #[serde(default)]
    pub non_negative: bool,
    pub units: Option<Spanned<String>>,
    #[serde(default)]
    pub dims: Vec<Spanned<String>>,
    pub doc: Option<String>,
    pub source: Option<String>,
}

/// A flow or an auxiliary.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariableDecl {
    pub equation: Option<Spanned<NumberOrEquation>>,
    pub elements: Option<IndexMap<Name, Spanned<NumberOrEquation>>>,
    pub units: Option<Spanned<String>>,
    #[serde(default)]
    pub dims: Vec<Spanned<String>>,
    pub doc: Option<String>,
    pub source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupDecl {
    pub x: Spanned<Vec<f64>>,
    pub y: Spanned<Vec<f64>>,
    /// Outside the x range: hold the end value (false, default) or extend the end segments.
    #[serde(default)]
    pub extrapolate: bool,
    pub x_units: Option<Spanned<String>>,
    pub units: Option<Spanned<String>>,
    pub doc: Option<String>,
    pub source: Option<String>,
}

/// A placeholder a module exposes for its parent to fill in.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputDecl {
    pub units: Option<Spanned<String>>,
    #[serde(default)]
    pub dims: Vec<Spanned<String>>,
    pub doc: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModuleDecl {
    /// Path of the module file, relative to the including file.
    pub file: Spanned<String>,
    /// Input name → equation in the including model's names.
    #[serde(default)]
    pub inputs: IndexMap<Name, Spanned<NumberOrEquation>>,
    /// Constant name (inside the module) → value that replaces the module's default.
    #[serde(default)]
    pub parameters: IndexMap<Name, Spanned<f64>>,
    pub doc: Option<String>,
}
