//! A YAML tree that remembers where every key and value came from (file, line, column), built
//! from saphyr-parser's events: anchors and aliases are resolved, `<<` merge keys applied,
//! duplicate keys refused, and the tags Compose gives a meaning (`!reset`, `!override`) kept.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, SpannedEventReceiver};

/// Where a key or value starts: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    pub file: Arc<str>,
    pub line: usize,
    pub col: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

impl Loc {
    pub fn file_start(file: &Arc<str>) -> Loc {
        Loc {
            file: file.clone(),
            line: 1,
            col: 1,
        }
    }
}

/// A problem in the input, at a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub loc: Loc,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc, self.message)
    }
}

pub fn err(loc: &Loc, message: impl Into<String>) -> Error {
    Error {
        loc: loc.clone(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Null,
    /// A scalar; `plain` is false when it was quoted or a block scalar (then it is a string
    /// even if it reads `true` or `8080`).
    Str {
        s: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub loc: Loc,
    /// A local tag such as `!reset` or `!override` (without the `!`).
    pub tag: Option<String>,
}

impl Node {
    pub fn null(loc: Loc) -> Node {
        Node {
            kind: Kind::Null,
            loc,
            tag: None,
        }
    }
    pub fn string(s: impl Into<String>, loc: Loc) -> Node {
        Node {
            kind: Kind::Str {
                s: s.into(),
                plain: false,
            },
            loc,
            tag: None,
        }
    }
    pub fn map(entries: Vec<(Node, Node)>, loc: Loc) -> Node {
        Node {
            kind: Kind::Map(entries),
            loc,
            tag: None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str { s, .. } => Some(s),
            _ => None,
        }
    }
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }
    /// The value of `key` in a mapping, with the key's node.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(k, v)| (k, v))
    }
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }
    /// A YAML boolean in the forms Compose accepts.
    pub fn as_bool(&self) -> Option<bool> {
        match self.as_str()?.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            _ => None,
        }
    }
    /// A scalar's text, whatever its type (numbers and booleans as written).
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str { s, .. } => Some(s.clone()),
            _ => None,
        }
    }
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Str { .. } => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

enum Frame {
    Seq(Vec<Node>, Loc, usize, Option<String>),
    Map(Vec<(Node, Node)>, Option<Node>, Loc, usize, Option<String>),
}

struct Builder {
    file: Arc<str>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    error: Option<Error>,
}

impl Builder {
    fn loc(&self, span: &Span) -> Loc {
        Loc {
            file: self.file.clone(),
            line: span.start.line(),
            col: span.start.col() + 1,
        }
    }

    fn push(&mut self, node: Node) {
        if self.error.is_some() {
            return;
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(entries, pending, ..)) => match pending.take() {
                None => *pending = Some(node),
                Some(key) => {
                    let dup = key.as_str().is_some()
                        && key.as_str() != Some("<<")
                        && entries.iter().any(|(k, _)| k.as_str() == key.as_str());
                    if dup {
                        self.error = Some(err(
                            &key.loc,
                            format!(
                                "duplicate key `{}` in this mapping",
                                key.as_str().unwrap_or_default()
                            ),
                        ));
                        return;
                    }
                    entries.push((key, node));
                }
            },
        }
    }
}

fn local_tag(tag: &Option<std::borrow::Cow<'_, saphyr_parser::Tag>>) -> Option<String> {
    tag.as_ref()
        .filter(|t| t.handle == "!")
        .map(|t| t.suffix.clone())
}

/// Apply `<<` merge keys: entries of the merged mapping(s) not already present.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, Error> {
    if !entries.iter().any(|(k, _)| k.as_str() == Some("<<")) {
        return Ok(entries);
    }
    let mut own = Vec::new();
    let mut merged: Vec<Node> = Vec::new();
    for (k, v) in entries {
        if k.as_str() == Some("<<") {
            match &v.kind {
                Kind::Map(_) => merged.push(v),
                Kind::Seq(items) => {
                    for i in items {
                        if i.as_map().is_none() {
                            return Err(err(&i.loc, "`<<` merges mappings only"));
                        }
                        merged.push(i.clone());
                    }
                }
                _ => return Err(err(&v.loc, "`<<` merges a mapping or a list of mappings")),
            }
        } else {
            own.push((k, v));
        }
    }
    for m in merged {
        for (k, v) in m.as_map().unwrap_or_default() {
            if !own.iter().any(|(o, _)| o.as_str() == k.as_str()) {
                own.push((k.clone(), v.clone()));
            }
        }
    }
    Ok(own)
}

impl<'input> SpannedEventReceiver<'input> for Builder {
    fn on_event(&mut self, ev: Event<'input>, span: Span) {
        if self.error.is_some() {
            return;
        }
        let loc = self.loc(&span);
        match ev {
            Event::Scalar(value, style, anchor, tag) => {
                let plain = style == ScalarStyle::Plain;
                let t = local_tag(&tag);
                let core_str = tag
                    .as_ref()
                    .is_some_and(|t| t.handle == "tag:yaml.org,2002:" && t.suffix == "str");
                let kind =
                    if plain && !core_str && matches!(&*value, "" | "~" | "null" | "Null" | "NULL")
                    {
                        Kind::Null
                    } else {
                        Kind::Str {
                            s: value.into_owned(),
                            plain: plain && !core_str,
                        }
                    };
                let node = Node { kind, loc, tag: t };
                if anchor > 0 {
                    self.anchors.insert(anchor, node.clone());
                }
                self.push(node);
            }
            Event::SequenceStart(anchor, tag) => {
                self.stack
                    .push(Frame::Seq(Vec::new(), loc, anchor, local_tag(&tag)))
            }
            Event::MappingStart(anchor, tag) => {
                self.stack
                    .push(Frame::Map(Vec::new(), None, loc, anchor, local_tag(&tag)))
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(items, loc, anchor, tag)) = self.stack.pop() {
                    let node = Node {
                        kind: Kind::Seq(items),
                        loc,
                        tag,
                    };
                    if anchor > 0 {
                        self.anchors.insert(anchor, node.clone());
                    }
                    self.push(node);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(entries, _, loc, anchor, tag)) = self.stack.pop() {
                    match apply_merge_keys(entries) {
                        Ok(entries) => {
                            let node = Node {
                                kind: Kind::Map(entries),
                                loc,
                                tag,
                            };
                            if anchor > 0 {
                                self.anchors.insert(anchor, node.clone());
                            }
                            self.push(node);
                        }
                        Err(e) => self.error = Some(e),
                    }
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(n) => {
                    let n = n.clone();
                    self.push(n)
                }
                None => self.error = Some(err(&loc, "alias to an unknown anchor")),
            },
            _ => {}
        }
    }
}

/// Parse one YAML document. An empty document is `Null`.
pub fn parse(text: &str, file: &Arc<str>) -> Result<Node, Error> {
    let mut b = Builder {
        file: file.clone(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        root: None,
        error: None,
    };
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut b, false) {
        let m = e.marker();
        return Err(Error {
            loc: Loc {
                file: file.clone(),
                line: m.line(),
                col: m.col() + 1,
            },
            message: format!("invalid YAML: {}", e.info()),
        });
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.root.unwrap_or_else(|| Node::null(Loc::file_start(file))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: &str) -> Result<Node, Error> {
        parse(t, &Arc::from("t.yml"))
    }

    #[test]
    fn positions_of_keys_and_values() {
        let n = p("a:\n  b: 1\n  c: [x, 'y']\n").unwrap();
        let (k, v) = n.get("a").unwrap().entry("c").unwrap();
        assert_eq!((k.loc.line, k.loc.col), (3, 3));
        let items = v.as_seq().unwrap();
        assert_eq!((items[1].loc.line, items[1].loc.col), (3, 10));
        assert_eq!(
            items[1].kind,
            Kind::Str {
                s: "y".into(),
                plain: false
            }
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = p("x: &d\n  a: 1\n  b: 2\ny:\n  <<: *d\n  b: 3\n").unwrap();
        let y = n.get("y").unwrap();
        assert_eq!(y.get("a").unwrap().as_str(), Some("1"));
        assert_eq!(y.get("b").unwrap().as_str(), Some("3"));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_have_a_place() {
        let e = p("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!((e.loc.line, e.loc.col), (3, 1));
        let e = p("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(e.message.starts_with("invalid YAML"), "{e}");
        assert_eq!(e.loc.file.as_ref(), "t.yml");
    }

    #[test]
    fn tags_and_nulls() {
        let n = p("a: !reset []\nb: ~\nc: !!str 5\n").unwrap();
        assert_eq!(n.get("a").unwrap().tag.as_deref(), Some("reset"));
        assert!(n.get("b").unwrap().is_null());
        assert_eq!(
            n.get("c").unwrap().kind,
            Kind::Str {
                s: "5".into(),
                plain: false
            }
        );
    }
}
