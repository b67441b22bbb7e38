//! A serde [`Deserializer`](serde::Deserializer) over the span tree, for imagegate's own
//! configuration files.
//!
//! [`from_str`] loads a text with the same bounded loader as everything else ([`crate::load`],
//! so anchors, aliases, merge keys, repeated keys and the [`Limits`] behave exactly as for values
//! files and manifests) and then deserializes the [`Node`] tree; [`from_node`] deserializes a tree
//! already loaded. Every [`Error`] carries the line and column of the node where deserialization
//! failed and its path (`components[2].chart`), and [`Spanned<T>`] gives any field its position.
//!
//! # How scalars are typed
//!
//! The configuration is imagegate's own format, not a Kubernetes object, so its scalars are typed
//! by what the field asks for, with the rules the configuration has always been read with (those
//! of YAML 1.2's core schema), not by go-yaml's YAML 1.1 resolution that [`Scalar::resolve`]
//! applies to manifests:
//!
//! - a **string** field takes any scalar as written: `name: 1` is the string `"1"`, `tag: 1.10` is
//!   `"1.10"`;
//! - a **number** or **boolean** field takes only an unquoted scalar: `version: "1"` is an error,
//!   never the number 1;
//! - a boolean is `true` or `false` (also `True`, `TRUE`, `False`, `FALSE`); `yes`, `no`, `on`,
//!   `off`, `y` and `n` are strings, so they are an error for a boolean field;
//! - an integer is decimal (an optional sign, no leading zero: `010` is a string), or `0x`, `0o`,
//!   `0b` followed by digits of that base; a float is a decimal number, `.inf` or `.nan`;
//! - `~`, `null`, `Null`, `NULL` and the empty scalar are null when unquoted (an absent
//!   `Option`); a string field reads them as their text;
//! - where the type is open (an untagged enum, [`serde::de::IgnoredAny`]), an unquoted scalar is
//!   null, a boolean, an integer or a float by the rules above, else a string, and a quoted or
//!   block scalar is always a string.
//!
//! Map keys are read as their text (`on:` is the key `on`, not `true`). A repeated key is no
//! error: as in the loader, the last one wins.

use std::fmt;

use serde::de::{
    self, value::BorrowedStrDeserializer, DeserializeSeed, Deserializer as _, IntoDeserializer,
    Unexpected, Visitor,
};
use serde::Deserialize;

use crate::load::{Limits, Node, Scalar, ScalarStyle, Value, YamlError};

/// Why a document could not be deserialized, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    /// Line and column of the node, once known.
    position: Option<(u32, u32)>,
    /// Path of the node, once known (empty for the root).
    path: Option<String>,
}

impl Error {
    /// What went wrong, without the path or position.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The path of the node where it went wrong (`components[2].chart`); empty for the document
    /// itself and for errors of the YAML text.
    pub fn path(&self) -> &str {
        self.path.as_deref().unwrap_or("")
    }

    /// 1-based line of the node where it went wrong.
    pub fn line(&self) -> u32 {
        self.position.map_or(1, |p| p.0)
    }

    /// 1-based column of the node where it went wrong.
    pub fn col(&self) -> u32 {
        self.position.map_or(1, |p| p.1)
    }

    /// The message with its path in front (`naming: unknown field `x``), without the position.
    pub fn describe(&self) -> String {
        match self.path() {
            "" => self.message.clone(),
            path => format!("{path}: {}", self.message),
        }
    }

    /// Gives the error the position of `node` and its path, unless a deeper node already did.
    fn locate(mut self, node: &Node, path: &Path<'_>) -> Self {
        if self.position.is_none() {
            self.position = Some((node.line, node.col));
            self.path = Some(path.to_string());
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (line {}, column {})",
            self.describe(),
            self.line(),
            self.col()
        )
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            message: msg.to_string(),
            position: None,
            path: None,
        }
    }
}

impl From<YamlError> for Error {
    fn from(e: YamlError) -> Self {
        Self {
            message: e.message,
            position: Some((e.line, e.col)),
            path: Some(String::new()),
        }
    }
}

/// Loads `text` (bounded by `limits`) and deserializes its single document. An empty or
/// comment-only text is an empty mapping at line 1, so a struct reports its first missing field.
///
/// # Errors
/// The loader's error (invalid YAML, a second document, a limit hit: billion laughs fail here,
/// before any deserialization) or the first deserialization error, each with its position.
pub fn from_str<T: de::DeserializeOwned>(text: &str, limits: &Limits) -> Result<T, Error> {
    let root = load_document(text, limits)?.unwrap_or(Node {
        value: Value::Map(Vec::new()),
        line: 1,
        col: 1,
    });
    from_node(&root)
}

/// Loads a configuration document as [`from_str`] does: [`crate::load`], after refusing the
/// control characters YAML does not allow in a document (everything below U+0020 but tab, line
/// feed and carriage return; DEL; U+FFFE and U+FFFF). The loader's parser refuses them too, but
/// inside a quoted scalar it reports a NUL as "unexpected end of stream", which points the
/// reader at the wrong thing; this names the character and where it is.
///
/// # Errors
/// A [`YamlError`] at the first such character (1-based line and column, in characters), or the
/// loader's error.
pub fn load_document(text: &str, limits: &Limits) -> Result<Option<Node>, YamlError> {
    if let Some((line, col)) = first_control_character(text) {
        return Err(YamlError {
            message: "control characters are not allowed".into(),
            line,
            col,
        });
    }
    crate::load(text, limits)
}

/// Where the first character is that a YAML stream may not hold, if there is one.
fn first_control_character(text: &str) -> Option<(u32, u32)> {
    let bad = |c: char| matches!(c, '\0'..='\x08' | '\x0b' | '\x0c' | '\x0e'..='\x1f' | '\x7f' | '\u{fffe}' | '\u{ffff}');
    let offset = text.find(bad)?;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    Some((
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    ))
}

/// Deserializes a loaded tree.
///
/// # Errors
/// The first deserialization error, with the position and path of the node it happened at.
pub fn from_node<'de, T: Deserialize<'de>>(node: &'de Node) -> Result<T, Error> {
    let path = Path::Root;
    T::deserialize(NodeDeserializer { node, path: &path }).map_err(|e| e.locate(node, &path))
}

/// Where a node sits in the document, as a chain of parents. Kept by hand rather than with
/// `serde_path_to_error`, which would name [`Spanned`]'s inner fields in every path.
#[derive(Debug, Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// The scalar's text when it is unquoted (only those can be null, numbers or booleans).
fn plain(s: &Scalar) -> Option<&str> {
    (s.style == ScalarStyle::Plain).then_some(s.text.as_str())
}

fn is_null(text: &str) -> bool {
    matches!(text, "" | "~" | "null" | "Null" | "NULL")
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// An optional sign, then `0x`/`0o`/`0b` and digits of that base, or decimal digits without a
/// leading zero. Returns whether it is negative and its magnitude.
fn parse_magnitude(text: &str) -> Option<(bool, u64)> {
    let (negative, rest) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (radix, digits) = match rest.get(..2) {
        Some("0x") => (16, &rest[2..]),
        Some("0o") => (8, &rest[2..]),
        Some("0b") => (2, &rest[2..]),
        _ if rest.len() > 1 && rest.starts_with('0') => return None,
        _ => (10, rest),
    };
    if digits.is_empty() || !digits.bytes().all(|b| char::from(b).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix)
        .ok()
        .map(|m| (negative, m))
}

fn parse_u64(text: &str) -> Option<u64> {
    match parse_magnitude(text)? {
        (false, m) => Some(m),
        (true, 0) => Some(0),
        (true, _) => None,
    }
}

fn parse_i64(text: &str) -> Option<i64> {
    match parse_magnitude(text)? {
        (false, m) => i64::try_from(m).ok(),
        (true, m) => 0i64.checked_sub_unsigned(m),
    }
}

/// A decimal float (Rust's grammar, which is YAML 1.2's with `inf` and `nan` words that are
/// refused here), `.inf`, `-.inf` or `.nan`.
fn parse_f64(text: &str) -> Option<f64> {
    match text {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    let digits = text.trim_start_matches(['-', '+']);
    if !digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        || text.len() - digits.len() > 1
    {
        return None;
    }
    // A leading zero before more digits is a string in YAML 1.2 (`010`), not 10.0.
    if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// What a node is, for "invalid type" errors, by the typing rules of this module.
fn unexpected(node: &Node) -> Unexpected<'_> {
    match &node.value {
        Value::Seq(_) => Unexpected::Seq,
        Value::Map(_) => Unexpected::Map,
        Value::Scalar(s) => match plain(s) {
            Some(t) if is_null(t) => Unexpected::Unit,
            Some(t) => {
                if let Some(b) = parse_bool(t) {
                    Unexpected::Bool(b)
                } else if let Some(u) = parse_u64(t) {
                    Unexpected::Unsigned(u)
                } else if let Some(i) = parse_i64(t) {
                    Unexpected::Signed(i)
                } else if let Some(f) = parse_f64(t) {
                    Unexpected::Float(f)
                } else {
                    Unexpected::Str(t)
                }
            }
            None => Unexpected::Str(&s.text),
        },
    }
}

/// Deserializes one node. `'de` is the tree's lifetime, `'p` the path's.
struct NodeDeserializer<'de, 'p> {
    node: &'de Node,
    path: &'p Path<'p>,
}

impl<'de> NodeDeserializer<'de, '_> {
    fn invalid<V: Visitor<'de>>(&self, visitor: &V) -> Error {
        de::Error::invalid_type(unexpected(self.node), visitor)
    }

    fn plain(&self) -> Option<&'de str> {
        self.node.as_scalar().and_then(plain)
    }

    fn visit_collection<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Seq(items) => visitor.visit_seq(SeqAccess {
                items: items.iter(),
                index: 0,
                path: self.path,
            }),
            Value::Map(entries) => visitor.visit_map(MapAccess {
                entries: entries.iter(),
                value: None,
                path: self.path,
            }),
            Value::Scalar(_) => Err(self.invalid(&visitor)),
        }
    }
}

/// Runs `seed` on `node` at `path`, giving any error that position.
fn deserialize_at<'de, S: DeserializeSeed<'de>>(
    seed: S,
    node: &'de Node,
    path: &Path<'_>,
) -> Result<S::Value, Error> {
    seed.deserialize(NodeDeserializer { node, path })
        .map_err(|e| e.locate(node, path))
}

macro_rules! signed {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.plain().and_then(parse_i64) {
                Some(i) => visitor.visit_i64(i),
                None => Err(self.invalid(&visitor)),
            }
        }
    )*};
}

macro_rules! unsigned {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.plain().and_then(parse_u64) {
                Some(u) => visitor.visit_u64(u),
                None => Err(self.invalid(&visitor)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDeserializer<'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let Value::Scalar(s) = &self.node.value else {
            return self.visit_collection(visitor);
        };
        let Some(text) = plain(s) else {
            return visitor.visit_borrowed_str(&s.text);
        };
        if is_null(text) {
            visitor.visit_unit()
        } else if let Some(b) = parse_bool(text) {
            visitor.visit_bool(b)
        } else if let Some(u) = parse_u64(text) {
            visitor.visit_u64(u)
        } else if let Some(i) = parse_i64(text) {
            visitor.visit_i64(i)
        } else if let Some(f) = parse_f64(text) {
            visitor.visit_f64(f)
        } else {
            visitor.visit_borrowed_str(text)
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.plain().and_then(parse_bool) {
            Some(b) => visitor.visit_bool(b),
            None => Err(self.invalid(&visitor)),
        }
    }

    signed!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128);
    unsigned!(deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.plain().and_then(parse_f64) {
            Some(f) => visitor.visit_f64(f),
            None => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Scalar(s) => visitor.visit_borrowed_str(&s.text),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        Err(self.invalid(&visitor))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        Err(self.invalid(&visitor))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.plain() {
            Some(text) if is_null(text) => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.plain() {
            Some(text) if is_null(text) => visitor.visit_unit(),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.node.value {
            Value::Seq(_) => self.visit_collection(visitor),
            _ => Err(self.invalid(&visitor)),
        }
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
        match self.node.value {
            Value::Map(_) => self.visit_collection(visitor),
            _ => Err(self.invalid(&visitor)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        if name == SPANNED && fields == SPANNED_FIELDS {
            return visitor.visit_map(SpannedAccess {
                node: self.node,
                path: self.path,
                field: 0,
            });
        }
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Scalar(_) => visitor.visit_enum(EnumAccess {
                variant: self.node,
                value: None,
                path: self.path,
            }),
            Value::Map(entries) if entries.len() == 1 => visitor.visit_enum(EnumAccess {
                variant: &entries[0].0,
                value: Some(&entries[0].1),
                path: self.path,
            }),
            _ => Err(de::Error::invalid_type(
                unexpected(self.node),
                &"a variant name, or a mapping of one variant name to its value",
            )),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }
}

struct SeqAccess<'de, 'p> {
    items: std::slice::Iter<'de, Node>,
    index: usize,
    path: &'p Path<'p>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess<'de, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let path = Path::Index(self.path, self.index);
        self.index += 1;
        deserialize_at(seed, item, &path).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapAccess<'de, 'p> {
    entries: std::slice::Iter<'de, (Node, Node)>,
    /// The entry whose key was just read.
    value: Option<&'de (Node, Node)>,
    path: &'p Path<'p>,
}

impl<'de> de::MapAccess<'de> for MapAccess<'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(entry) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(entry);
        // A key's error (an unknown field) is at the key, under the mapping's path.
        deserialize_at(seed, &entry.0, self.path).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom(
                "a map value was asked for before its key",
            ));
        };
        let name = key.as_str().unwrap_or("?");
        deserialize_at(seed, value, &Path::Key(self.path, name))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum written as a bare variant name (`scope: cluster`) or as a one-entry mapping
/// (`{level: error}`, serde's externally tagged form).
struct EnumAccess<'de, 'p> {
    variant: &'de Node,
    value: Option<&'de Node>,
    path: &'p Path<'p>,
}

impl<'de, 'p> de::EnumAccess<'de> for EnumAccess<'de, 'p> {
    type Error = Error;
    type Variant = VariantAccess<'de, 'p>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), Error> {
        let variant = deserialize_at(seed, self.variant, self.path)?;
        let name = self.variant.as_str().unwrap_or("?");
        Ok((
            variant,
            VariantAccess {
                value: self.value,
                at: self.variant,
                name,
                path: self.path,
            },
        ))
    }
}

struct VariantAccess<'de, 'p> {
    value: Option<&'de Node>,
    /// The variant's name node, where a missing value is reported.
    at: &'de Node,
    name: &'de str,
    path: &'p Path<'p>,
}

impl<'de> VariantAccess<'de, '_> {
    fn value(&self, what: &str) -> Result<&'de Node, Error> {
        self.value.ok_or_else(|| {
            <Error as de::Error>::invalid_type(Unexpected::UnitVariant, &what)
                .locate(self.at, self.path)
        })
    }
}

impl<'de> de::VariantAccess<'de> for VariantAccess<'de, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            None => Ok(()),
            Some(node) => {
                let path = Path::Key(self.path, self.name);
                deserialize_at(std::marker::PhantomData::<()>, node, &path)
            }
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let node = self.value("a newtype variant")?;
        deserialize_at(seed, node, &Path::Key(self.path, self.name))
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        let node = self.value("a tuple variant")?;
        let path = Path::Key(self.path, self.name);
        NodeDeserializer { node, path: &path }
            .deserialize_seq(visitor)
            .map_err(|e| e.locate(node, &path))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let node = self.value("a struct variant")?;
        let path = Path::Key(self.path, self.name);
        NodeDeserializer { node, path: &path }
            .deserialize_map(visitor)
            .map_err(|e| e.locate(node, &path))
    }
}

/// The struct name [`Spanned`] asks for; [`NodeDeserializer`] answers it with the node's line,
/// column and value (the same handshake `toml`'s `Spanned` uses).
const SPANNED: &str = "$__imagegate_yaml_private_Spanned";
const SPANNED_FIELDS: &[&str] = &[
    "$__imagegate_yaml_private_line",
    "$__imagegate_yaml_private_col",
    "$__imagegate_yaml_private_value",
];

/// Hands [`Spanned`]'s visitor the three fields of the handshake.
struct SpannedAccess<'de, 'p> {
    node: &'de Node,
    path: &'p Path<'p>,
    field: usize,
}

impl<'de> de::MapAccess<'de> for SpannedAccess<'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(name) = SPANNED_FIELDS.get(self.field) else {
            return Ok(None);
        };
        seed.deserialize(BorrowedStrDeserializer::new(name))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let field = self.field;
        self.field += 1;
        match field {
            0 => seed.deserialize(self.node.line.into_deserializer()),
            1 => seed.deserialize(self.node.col.into_deserializer()),
            // The value keeps the node's path: `Spanned` adds no segment.
            _ => deserialize_at(seed, self.node, self.path),
        }
    }
}

/// A value with the 1-based line and column of the YAML node it was read from.
///
/// Use it as the type of any field (`name: Spanned<String>`) so a later check can point at that
/// line. Only this module's deserializer knows positions: reading a `Spanned` with another
/// deserializer is an error. Its JSON schema is `T`'s, so a configuration's schema does not
/// change when a field becomes `Spanned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// 1-based line of its node.
    pub line: u32,
    /// 1-based column of its node.
    pub col: u32,
}

impl<T> Spanned<T> {
    /// The value, without its position.
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The value.
    pub fn get_ref(&self) -> &T {
        &self.value
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SpannedVisitor<T>(std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for SpannedVisitor<T> {
            type Value = Spanned<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a value read by imagegate-yaml's deserializer, which knows its position",
                )
            }

            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Spanned<T>, A::Error> {
                fn field<'de, A: de::MapAccess<'de>>(
                    map: &mut A,
                    want: &str,
                ) -> Result<(), A::Error> {
                    match map.next_key::<&str>()? {
                        Some(key) if key == want => Ok(()),
                        _ => Err(de::Error::custom(
                            "a Spanned value can only be read by imagegate-yaml's deserializer",
                        )),
                    }
                }
                field(&mut map, SPANNED_FIELDS[0])?;
                let line = map.next_value()?;
                field(&mut map, SPANNED_FIELDS[1])?;
                let col = map.next_value()?;
                field(&mut map, SPANNED_FIELDS[2])?;
                let value = map.next_value()?;
                Ok(Spanned { value, line, col })
            }
        }

        deserializer.deserialize_struct(
            SPANNED,
            SPANNED_FIELDS,
            SpannedVisitor(std::marker::PhantomData),
        )
    }
}

impl<T: serde::Serialize> serde::Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }

    fn _schemars_private_non_optional_json_schema(
        generator: &mut schemars::SchemaGenerator,
    ) -> schemars::Schema {
        T::_schemars_private_non_optional_json_schema(generator)
    }

    fn _schemars_private_is_option() -> bool {
        T::_schemars_private_is_option()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct File {
        version: u32,
        #[serde(default)]
        components: Vec<Component>,
        #[serde(default)]
        vars: BTreeMap<String, String>,
        #[serde(default)]
        scope: Scope,
        #[serde(default)]
        entries: Vec<Entry>,
        #[serde(default)]
        level: Option<Level>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Component {
        name: String,
        chart: String,
        #[serde(default)]
        skip_crds: bool,
        #[serde(default)]
        namespace: Option<String>,
    }

    #[derive(Debug, Deserialize, PartialEq, Default)]
    #[serde(rename_all = "camelCase")]
    enum Scope {
        #[default]
        Environment,
        Cluster,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(untagged)]
    enum Entry {
        From { from: String },
        Name { name: String },
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Level {
        Fixed(u32),
        Range { low: i64, high: i64 },
        Off,
    }

    fn read<T: de::DeserializeOwned>(text: &str) -> Result<T, Error> {
        from_str(text, &Limits::default())
    }

    #[track_caller]
    fn fails<T: de::DeserializeOwned + fmt::Debug>(text: &str) -> Error {
        match read::<T>(text) {
            Ok(v) => panic!("should fail, read {v:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn reads_structs_enums_maps_and_options() {
        let f: File = read(
            "version: 1\ncomponents:\n  - {name: web, chart: charts/web, skipCrds: true}\n  - name: api\n    chart: charts/api\n    namespace: ~\nvars: {a: x, b: 2}\nscope: cluster\nentries: [{from: a/*.yaml}, {name: dev}]\nlevel: {range: {low: -3, high: 0x10}}\n",
        )
        .unwrap();
        assert_eq!(f.version, 1);
        assert_eq!(f.components.len(), 2);
        assert!(f.components[0].skip_crds);
        assert_eq!(f.components[1].namespace, None);
        assert_eq!(f.vars["b"], "2");
        assert_eq!(f.scope, Scope::Cluster);
        assert_eq!(
            f.entries,
            [
                Entry::From {
                    from: "a/*.yaml".into()
                },
                Entry::Name { name: "dev".into() }
            ]
        );
        assert_eq!(f.level, Some(Level::Range { low: -3, high: 16 }));
        let f: File = read("version: 1\nlevel: {fixed: 3}\n").unwrap();
        assert_eq!(f.level, Some(Level::Fixed(3)));
        let f: File = read("version: 1\nlevel: off\n").unwrap();
        assert_eq!(f.level, Some(Level::Off));
    }

    #[test]
    fn errors_name_the_path_line_and_column() {
        let e = fails::<File>(
            "version: 1\ncomponents:\n  - {name: web, chart: charts/web}\n  - name: api\n    chart: [charts/api]\n",
        );
        assert_eq!(e.path(), "components[1].chart");
        assert_eq!((e.line(), e.col()), (5, 12));
        assert_eq!(
            e.to_string(),
            "components[1].chart: invalid type: sequence, expected a string (line 5, column 12)"
        );

        let e =
            fails::<File>("version: 1\ncomponents:\n  - {name: web, chart: c, skipCrd: true}\n");
        assert_eq!(e.path(), "components[0]");
        assert_eq!((e.line(), e.col()), (3, 27));
        assert!(e.message().starts_with("unknown field `skipCrd`"), "{e}");

        let e = fails::<File>("version: 1\ncomponents:\n  - {name: web}\n");
        assert_eq!(e.describe(), "components[0]: missing field `chart`");
        assert_eq!((e.line(), e.col()), (3, 5));

        let e = fails::<File>("version: 1\nscope: clustr\n");
        assert_eq!((e.path(), e.line(), e.col()), ("scope", 2, 8));
        assert!(e.message().starts_with("unknown variant `clustr`"), "{e}");

        let e = fails::<File>("version: 1\nentries:\n  - {form: x}\n");
        assert_eq!((e.path(), e.line(), e.col()), ("entries[0]", 3, 5));
        assert!(e.message().contains("untagged enum Entry"), "{e}");
    }

    #[test]
    fn scalars_are_typed_by_the_field_and_quotes_stay_strings() {
        let e = fails::<File>("version: \"1\"\n");
        assert_eq!(
            e.describe(),
            "version: invalid type: string \"1\", expected u32"
        );
        assert_eq!((e.line(), e.col()), (1, 10));
        let e = fails::<File>("version: 1\ncomponents: [{name: a, chart: b, skipCrds: yes}]\n");
        assert!(
            e.message()
                .starts_with("invalid type: string \"yes\", expected a boolean"),
            "{e}"
        );
        assert!(fails::<File>(
            "version: 1\ncomponents: [{name: a, chart: b, skipCrds: \"true\"}]\n"
        )
        .message()
        .contains("expected a boolean"));
        // `010` is no YAML 1.2 integer; `-1` is no u32.
        assert!(fails::<File>("version: 010\n")
            .message()
            .contains("string \"010\""));
        assert!(fails::<File>("version: -1\n")
            .message()
            .contains("integer `-1`"));
        assert!(fails::<File>("version: 5000000000\n")
            .message()
            .contains("expected u32"));
        // A string field takes any scalar as written.
        let f: File = read(
            "version: 0x1\ncomponents: [{name: 1.10, chart: true, namespace: \"null\"}]\nvars: {on: yes, n: 010}\n",
        )
        .unwrap();
        assert_eq!(f.version, 1);
        assert_eq!(f.components[0].name, "1.10");
        assert_eq!(f.components[0].chart, "true");
        assert_eq!(f.components[0].namespace.as_deref(), Some("null"));
        assert_eq!(f.vars["on"], "yes");
        assert_eq!(f.vars["n"], "010");
        // Open types: unquoted scalars are typed, quoted ones are strings.
        let any: Vec<serde_json::Value> =
            read("[~, true, 'true', 7, -7, 1.5, '1.5', yes, .inf]").unwrap();
        assert_eq!(
            serde_json::Value::from(any[..8].to_vec()),
            serde_json::json!([null, true, "true", 7, -7, 1.5, "1.5", "yes"])
        );
        assert!(read::<f64>(".inf").unwrap().is_infinite());
        assert_eq!(read::<f64>("1e3").unwrap(), 1000.0);
        assert!(read::<f64>("infinity").is_err());
    }

    #[test]
    fn aliases_merge_keys_and_repeated_keys_are_read_as_the_tree_resolves_them() {
        let f: File = read(
            "version: 1\nbase: &b {name: web, chart: charts/web}\ncomponents:\n  - *b\n  - <<: *b\n    name: api\n",
        )
        .map(|_: File| unreachable!())
        .unwrap_or_else(|e: Error| {
            // `base` is no field of `File`.
            assert_eq!((e.line(), e.col()), (2, 1));
            read(
                "version: 1\ncomponents:\n  - &b {name: web, chart: charts/web}\n  - *b\n  - <<: *b\n    name: api\n",
            )
            .unwrap()
        });
        assert_eq!(f.components[1], f.components[0]);
        assert_eq!(f.components[2].name, "api");
        assert_eq!(f.components[2].chart, "charts/web");
        // A repeated key: the last one wins, as the loader builds the mapping.
        let f: File = read("version: 1\nversion: 2\nvars: {a: x, a: y}\n").unwrap();
        assert_eq!(f.version, 2);
        assert_eq!(f.vars.len(), 1);
        assert_eq!(f.vars["a"], "y");
    }

    #[test]
    fn limits_fail_closed_before_deserializing() {
        let mut bomb = String::from("version: 1\nvars:\n  a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (i, (name, prev)) in ["b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["a", "b", "c", "d", "e", "f", "g", "h"])
            .enumerate()
        {
            let refs = vec![format!("*{prev}"); 9].join(", ");
            bomb.push_str(&format!("  l{i}: &{name} [{refs}]\n"));
        }
        let started = std::time::Instant::now();
        let e = fails::<File>(&bomb);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(e.message().contains("limit"), "{e}");
        assert_eq!(e.path(), "");

        let deep = format!("version: 1\nvars: {}{}\n", "[".repeat(500), "]".repeat(500));
        assert!(fails::<File>(&deep).message().contains("limit"));
        let small = Limits {
            max_bytes: 8,
            ..Limits::default()
        };
        assert!(from_str::<File>("version: 1\n", &small).is_err());
        // Invalid YAML keeps the loader's position.
        let e = fails::<File>("version: 1\ncomponents: [{name: a}\nvars: {}\n");
        assert!(e.line() >= 2, "{e}");
    }

    #[test]
    fn control_characters_are_refused_where_they_are() {
        for (text, at) in [
            ("version: 1\nvars: {a: \"x\0y\"}\n", (2, 13)),
            ("version: 1\n\0\nvars: {a: b}\n", (2, 1)),
            ("\u{7f}", (1, 1)),
            ("a: é\x1b", (1, 5)),
        ] {
            let e = fails::<BTreeMap<String, String>>(text);
            assert_eq!(e.message(), "control characters are not allowed");
            assert_eq!((e.line(), e.col()), at, "{text:?}");
        }
        assert!(read::<File>("version: 1\r\nvars:\t{a: b}\r\n").is_ok());
    }

    #[test]
    fn an_empty_document_is_an_empty_mapping_at_line_one() {
        let e = fails::<File>("# nothing\n");
        assert_eq!(e.to_string(), "missing field `version` (line 1, column 1)");
    }

    #[test]
    fn spanned_gives_a_field_its_position() {
        #[derive(Debug, Deserialize)]
        struct Doc {
            name: Spanned<String>,
            list: Vec<Spanned<Component>>,
            opt: Option<Spanned<u32>>,
        }
        let d: Doc = read(
            "name: web\nlist:\n  - {name: a, chart: b}\n  -   name: c\n      chart: d\nopt: 3\n",
        )
        .unwrap();
        assert_eq!((d.name.as_str(), d.name.line, d.name.col), ("web", 1, 7));
        assert_eq!((d.list[0].line, d.list[0].col), (3, 5));
        assert_eq!(
            (d.list[1].line, d.list[1].col, d.list[1].name.as_str()),
            (4, 7, "c")
        );
        assert_eq!(d.opt.map(|o| (o.value, o.line)), Some((3, 6)));
        // An error inside a Spanned value keeps the value's path.
        let e = fails::<Doc>("name: web\nlist:\n  - {name: a, chart: [b]}\nopt: 3\n");
        assert_eq!((e.path(), e.line(), e.col()), ("list[0].chart", 3, 22));
        // Other deserializers know no positions: refused, not a silent line 0.
        assert!(serde_json::from_str::<Spanned<String>>("\"x\"").is_err());
    }

    #[test]
    fn spanned_has_the_schema_of_its_value() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Plain {
            /// A name.
            name: String,
            list: Vec<Level2>,
            opt: Option<u32>,
        }
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Level2 {
            low: i64,
        }
        #[derive(schemars::JsonSchema)]
        #[schemars(rename = "Plain")]
        #[allow(dead_code)]
        struct WithSpans {
            /// A name.
            name: Spanned<String>,
            list: Vec<Spanned<Level2>>,
            opt: Option<Spanned<u32>>,
        }
        assert_eq!(
            serde_json::to_value(schemars::schema_for!(Plain)).unwrap(),
            serde_json::to_value(schemars::schema_for!(WithSpans)).unwrap()
        );
    }
}
