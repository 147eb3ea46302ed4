//! Maps a field path (`service[2].service_time.p99_ms`) to a line of the source.

use std::path::Path;

use toml_edit::{ImDocument, Item, Value};

use crate::Error;

/// One step of a field path.
#[derive(Debug, Clone)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A path to a field, printed as `a[1].b.c`.
#[derive(Debug, Clone, Default)]
pub(crate) struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub fn key(&self, k: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }
    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// The path `a[1].b.c` as printed by `Display`.
    pub fn parse(text: &str) -> FieldPath {
        let mut p = FieldPath::default();
        for part in text.split('.') {
            let mut rest = part;
            if let Some(k) = rest.find('[') {
                if k > 0 {
                    p = p.key(&rest[..k]);
                }
                rest = &rest[k..];
                while let Some(inner) = rest.strip_prefix('[') {
                    let Some(end) = inner.find(']') else { break };
                    match inner[..end].parse::<usize>() {
                        Ok(i) => p = p.index(i),
                        Err(_) => p = p.key(&inner[..end]),
                    }
                    rest = &inner[end + 1..];
                }
            } else if !rest.is_empty() {
                p = p.key(rest);
            }
        }
        p
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        if self.0.is_empty() {
            write!(f, "(top level)")?;
        }
        Ok(())
    }
}

/// 1-based line of a byte offset.
pub(crate) fn line_of_offset(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The line of the deepest item of `path` that exists in `src` (1 if none does).
pub(crate) fn line_of_path(src: &str, path: &FieldPath) -> usize {
    let Ok(doc) = ImDocument::parse(src) else {
        return 1;
    };
    walk(&doc, path, |_| ())
        .0
        .map(|r| line_of_offset(src, r.start))
        .unwrap_or(1)
}

/// Walks `path` down `doc`: the span of the deepest item found, and what
/// `at` says of the item at the end of the path if the whole path exists.
fn walk<T>(
    doc: &ImDocument<&str>,
    path: &FieldPath,
    at: impl FnOnce(&Node<'_>) -> T,
) -> (Option<std::ops::Range<usize>>, Option<T>) {
    let mut best: Option<std::ops::Range<usize>> = None;
    let mut cur = Node::Table(doc.as_table());
    for seg in &path.0 {
        let next = match (&cur, seg) {
            (Node::Table(t), Seg::Key(k)) => {
                if let Some(sp) = t.key(k).and_then(|key| key.span()) {
                    best = Some(sp);
                }
                t.get(k).and_then(Node::of_item)
            }
            (Node::Tables(a), Seg::Index(i)) => a.get(*i).map(Node::Table),
            (Node::Value(v), s) => value_child(v, s),
            _ => None,
        };
        let Some(n) = next else {
            return (best, None);
        };
        if let Some(sp) = n.span() {
            best = Some(sp);
        }
        cur = n;
    }
    (best, Some(at(&cur)))
}

/// The value at `path` in words (`the string "three"`, `the number 3.5`,
/// `a table`), if the path exists in `src`.
fn found_at(src: &str, path: &FieldPath) -> Option<String> {
    let doc = ImDocument::parse(src).ok()?;
    walk(&doc, path, |n| match n {
        Node::Table(_) => "a table".to_string(),
        Node::Tables(_) => "a list of tables".to_string(),
        Node::Value(v) => match v {
            Value::String(s) => format!("the string {}", quoted(s.value())),
            Value::Integer(i) => format!("the number {}", i.value()),
            Value::Float(f) => format!("the number {}", f.value()),
            Value::Boolean(b) => format!("{}", b.value()),
            Value::Datetime(d) => format!("the date-time {}", d.value()),
            Value::Array(_) => "a list".to_string(),
            Value::InlineTable(_) => "a table".to_string(),
        },
    })
    .1
}

/// `s` in double quotes, shortened to 40 characters.
fn quoted(s: &str) -> String {
    if s.chars().count() > 40 {
        let short: String = s.chars().take(37).collect();
        format!("{:?}", short + "...")
    } else {
        format!("{s:?}")
    }
}

/// Deserializes TOML text into `T`, turning serde's errors into errors that
/// name the field (`service[0].workers`), its line and, in words, what was
/// expected and what was found. `variants` gives the accepted names of an
/// enum-valued field (by path), for errors where serde does not list them.
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(
    src: &str,
    path: &Path,
    variants: &dyn Fn(&FieldPath) -> Option<&'static [&'static str]>,
) -> Result<T, Error> {
    serde_path_to_error::deserialize(toml::Deserializer::new(src))
        .map_err(|e| shape_error(src, path, e, variants))
}

fn shape_error(
    src: &str,
    path: &Path,
    e: serde_path_to_error::Error<toml::de::Error>,
    variants: &dyn Fn(&FieldPath) -> Option<&'static [&'static str]>,
) -> Error {
    use serde_path_to_error::Segment;
    let mut field = FieldPath::default();
    for seg in e.path().iter() {
        match seg {
            Segment::Map { key } => field.0.push(Seg::Key(key.clone())),
            Segment::Seq { index } => field.0.push(Seg::Index(*index)),
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    let inner = e.into_inner();
    let message = inner.message().trim().to_string();
    let syntax = || Error::Syntax {
        path: path.to_path_buf(),
        line: inner
            .span()
            .map(|s| line_of_offset(src, s.start))
            .unwrap_or(1),
        message: syntax_message(src, &message, inner.span()),
    };
    let invalid = |field: &FieldPath, message: String| Error::Invalid {
        path: path.to_path_buf(),
        line: line_of_path(src, field),
        field: field.to_string(),
        message,
    };
    let mistyped = |expected: String, found: String| Error::Type {
        path: path.to_path_buf(),
        line: line_of_path(src, &field),
        field: field.to_string(),
        expected,
        found,
    };
    let found = || found_at(src, &field);
    match SerdeMessage::of(&message) {
        SerdeMessage::Type {
            unexpected,
            expected,
        }
        | SerdeMessage::Value {
            unexpected,
            expected,
        } => {
            let found = found().unwrap_or_else(|| found_words(unexpected));
            mistyped(
                expected_words(expected, unexpected, &field, variants),
                found,
            )
        }
        SerdeMessage::UnknownVariant { names } => {
            let found = found().unwrap_or_else(|| "another name".into());
            mistyped(one_of(&names), found)
        }
        SerdeMessage::WrongEnumType => match variants(&field) {
            Some(v) => mistyped(one_of(v), found().unwrap_or_else(|| "another value".into())),
            None => mistyped(
                "a string".into(),
                found().unwrap_or_else(|| "another value".into()),
            ),
        },
        SerdeMessage::UnknownField => invalid(&field, message.clone()),
        SerdeMessage::MissingField(name) => {
            invalid(&field.key(name), "is required but missing".into())
        }
        SerdeMessage::Other if !field.0.is_empty() && inner.span().is_none() => {
            invalid(&field, message.clone())
        }
        SerdeMessage::Other => syntax(),
    }
}

/// toml's parse error on one line. Where a value is missing (`key =` at the
/// end of a line or of the file) toml says nothing, or that a string is
/// malformed: say that a value is expected.
fn syntax_message(src: &str, message: &str, span: Option<std::ops::Range<usize>>) -> String {
    // The text of the line before the error.
    let before = span
        .and_then(|s| src.get(..s.start.min(src.len())))
        .map(|b| b.rsplit('\n').next().unwrap_or("").trim_end())
        .unwrap_or("");
    if before.ends_with('=') {
        return "expected a value after `=` (a string, number, true or false, list or table)"
            .into();
    }
    let one_line: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if one_line.is_empty() {
        "not valid TOML here".into()
    } else {
        one_line.join(": ")
    }
}

/// The shapes of serde's own error messages (`serde::de::Error`'s
/// provided constructors), which toml passes through as text.
enum SerdeMessage<'a> {
    /// `invalid type: UNEXPECTED, expected EXPECTED`.
    Type {
        unexpected: &'a str,
        expected: &'a str,
    },
    /// `invalid value: UNEXPECTED, expected EXPECTED`.
    Value {
        unexpected: &'a str,
        expected: &'a str,
    },
    /// `unknown variant `X`, expected one of `A`, `B``.
    UnknownVariant { names: Vec<&'a str> },
    /// toml's `wanted string or table` for an enum given another type.
    WrongEnumType,
    /// `unknown field `X`, expected ...` (kept as it is: it lists the fields).
    UnknownField,
    /// `missing field `X``.
    MissingField(&'a str),
    /// Anything else: a TOML syntax error or a custom message.
    Other,
}

impl<'a> SerdeMessage<'a> {
    fn of(m: &'a str) -> SerdeMessage<'a> {
        let split = |rest: &'a str| rest.rsplit_once(", expected ");
        if let Some((u, x)) = m.strip_prefix("invalid type: ").and_then(split) {
            return SerdeMessage::Type {
                unexpected: u,
                expected: x,
            };
        }
        if let Some((u, x)) = m.strip_prefix("invalid value: ").and_then(split) {
            return SerdeMessage::Value {
                unexpected: u,
                expected: x,
            };
        }
        if let Some(rest) = m.strip_prefix("unknown variant `") {
            if let Some((_, x)) = rest.split_once("`, expected ") {
                return SerdeMessage::UnknownVariant {
                    names: x.split('`').skip(1).step_by(2).collect(),
                };
            }
        }
        if m.starts_with("unknown field `") {
            return SerdeMessage::UnknownField;
        }
        if let Some(name) = m
            .strip_prefix("missing field `")
            .and_then(|r| r.strip_suffix('`'))
        {
            return SerdeMessage::MissingField(name);
        }
        if m == "wanted string or table" {
            return SerdeMessage::WrongEnumType;
        }
        SerdeMessage::Other
    }
}

/// `one of "a", "b" or "c"`.
fn one_of(names: &[&str]) -> String {
    let q: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match q.as_slice() {
        [] => "nothing (no value is accepted)".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("one of {} or {last}", init.join(", ")),
    }
}

/// serde's name of the expected type, in words.
fn expected_words(
    expected: &str,
    unexpected: &str,
    field: &FieldPath,
    variants: &dyn Fn(&FieldPath) -> Option<&'static [&'static str]>,
) -> String {
    let max = match expected {
        "u8" => Some(u8::MAX as u64),
        "u16" => Some(u16::MAX as u64),
        "u32" => Some(u32::MAX as u64),
        "u64" | "usize" => Some(u64::MAX),
        _ => None,
    };
    if let Some(max) = max {
        // Out of range above: say the range.
        let too_big = unexpected
            .strip_prefix("integer `")
            .and_then(|r| r.strip_suffix('`'))
            .and_then(|n| n.parse::<i128>().ok())
            .is_some_and(|n| n > max as i128);
        return if too_big {
            format!("a whole number from 0 to {max}")
        } else {
            "a whole number ≥ 0".into()
        };
    }
    match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a string" | "a borrowed string" | "a character" | "a string or bytes" => "a string".into(),
        "a sequence" => "a list".into(),
        "a map" => "a table".into(),
        x if x.starts_with("struct ") || x.starts_with("map ") => "a table".into(),
        x if x.starts_with("enum ") => match variants(field) {
            Some(v) => one_of(v),
            None => "a string".into(),
        },
        x => x.to_string(),
    }
}

/// serde's description of an unexpected value, in words (used only when
/// the value cannot be found in the document).
fn found_words(unexpected: &str) -> String {
    let inner = |p: &str| {
        unexpected
            .strip_prefix(p)
            .and_then(|r| r.strip_suffix('`'))
            .map(str::to_string)
    };
    if let Some(s) = unexpected.strip_prefix("string ") {
        return format!("the string {s}");
    }
    for p in ["integer `", "floating point `"] {
        if let Some(n) = inner(p) {
            return format!("the number {n}");
        }
    }
    if let Some(b) = inner("boolean `") {
        return b;
    }
    match unexpected {
        "map" => "a table".into(),
        "sequence" => "a list".into(),
        other => other.to_string(),
    }
}

/// The names a unit-only enum accepts, as serde sees them (after renames).
pub(crate) fn variants<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    struct Probe;
    #[derive(Debug)]
    struct Found(&'static [&'static str]);
    impl std::fmt::Display for Found {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "variants")
        }
    }
    impl std::error::Error for Found {}
    impl serde::de::Error for Found {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Found(&[])
        }
    }
    impl<'de> serde::Deserializer<'de> for Probe {
        type Error = Found;
        fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
            Err(Found(&[]))
        }
        fn deserialize_enum<V: serde::de::Visitor<'de>>(
            self,
            _: &'static str,
            variants: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Found> {
            Err(Found(variants))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }
    match T::deserialize(Probe) {
        Err(Found(v)) => v,
        Ok(_) => &[],
    }
}

enum Node<'a> {
    Table(&'a toml_edit::Table),
    Tables(&'a toml_edit::ArrayOfTables),
    Value(&'a Value),
}

impl<'a> Node<'a> {
    fn of_item(item: &'a Item) -> Option<Node<'a>> {
        match item {
            Item::Table(t) => Some(Node::Table(t)),
            Item::ArrayOfTables(a) => Some(Node::Tables(a)),
            Item::Value(v) => Some(Node::Value(v)),
            Item::None => None,
        }
    }
    fn span(&self) -> Option<std::ops::Range<usize>> {
        match self {
            Node::Table(t) => t.span(),
            Node::Tables(_) => None,
            Node::Value(v) => v.span(),
        }
    }
}

fn value_child<'a>(v: &'a Value, seg: &Seg) -> Option<Node<'a>> {
    match (v, seg) {
        (Value::InlineTable(t), Seg::Key(k)) => t.get(k).map(Node::Value),
        (Value::Array(a), Seg::Index(i)) => a.get(*i).map(Node::Value),
        _ => None,
    }
}
