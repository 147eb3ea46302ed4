//! Maps a field path (`service[2].service_time.p99_ms`) to a line of the source.

use toml_edit::{ImDocument, Item, Value};

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
        let Some(n) = next else { break };
        if let Some(sp) = n.span() {
            best = Some(sp);
        }
        cur = n;
    }
    best.map(|r| line_of_offset(src, r.start)).unwrap_or(1)
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
