//! The located document tree: what the YAML and JSON readers of `template` produce and
//! what templates, policies and scenarios are read from. Its own module so that `policy`
//! and `template` both use it without using each other.

use crate::loc::Loc;

/// One value of a template with the place it was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it is written.
    pub loc: Loc,
}

/// The value of a [`Node`]. Mapping entries keep their order and their key locations.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A null (`null`, `~`, or an empty YAML value).
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// The number as written, already checked to be a valid JSON number.
    Number(String),
    /// A string, after YAML's or JSON's unescaping.
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Vec<Entry>),
}

/// One `key: value` pair of a mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The key.
    pub key: String,
    /// Where the key is written, for errors about the entry itself.
    pub key_loc: Loc,
    /// The value.
    pub value: Node,
}

impl Node {
    /// A node of `value` written at `loc`.
    pub fn new(value: Value, loc: Loc) -> Self {
        Node { value, loc }
    }

    /// The string, when the node is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, when the node is a mapping.
    pub fn as_map(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items, when the node is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.iter().find(|e| e.key == key).map(|e| &e.value)
    }

    /// A short description of the node's kind, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(entries) => match entries.as_slice() {
                [e] if e.key == "Ref" || e.key.starts_with("Fn::") => "an intrinsic function",
                _ => "a mapping",
            },
        }
    }

    /// When this node is a single-key intrinsic (`{"Ref": …}`, `{"Fn::Sub": …}`), its name and argument.
    pub fn intrinsic(&self) -> Option<(&str, &Node)> {
        match self.as_map()? {
            [e] if e.key == "Ref" || e.key == "Condition" || e.key.starts_with("Fn::") => {
                Some((e.key.as_str(), &e.value))
            }
            _ => None,
        }
    }

    /// Converts to JSON, dropping locations. Numbers keep their written form.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => n.parse::<serde_json::Number>().map(J::Number).unwrap_or_else(|_| J::String(n.clone())),
            Value::String(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(entries.iter().map(|e| (e.key.clone(), e.value.to_json())).collect()),
        }
    }
}
