//! CloudFormation YAML reader: YAML events into located [`Node`]s, with the short
//! intrinsic tags (`!Ref`, `!Sub`, …) rewritten into their long JSON forms.
//!
//! Scalars follow the YAML 1.2 core schema, so `Version: 2012-10-17` stays the string
//! it was written as (YAML 1.1 readers turn it into a date, which breaks policies).

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::{MAX_DEPTH, TemplateError};
use crate::loc::Loc;
use crate::tree::{Entry, Node, Value};

/// Short tags CloudFormation accepts, with the long form each becomes.
const SHORT_TAGS: &[(&str, &str)] = &[
    ("Ref", "Ref"),
    ("Condition", "Condition"),
    ("Sub", "Fn::Sub"),
    ("GetAtt", "Fn::GetAtt"),
    ("Join", "Fn::Join"),
    ("Select", "Fn::Select"),
    ("Split", "Fn::Split"),
    ("If", "Fn::If"),
    ("Equals", "Fn::Equals"),
    ("Not", "Fn::Not"),
    ("And", "Fn::And"),
    ("Or", "Fn::Or"),
    ("FindInMap", "Fn::FindInMap"),
    ("ImportValue", "Fn::ImportValue"),
    ("Base64", "Fn::Base64"),
    ("Cidr", "Fn::Cidr"),
    ("GetAZs", "Fn::GetAZs"),
    ("Transform", "Fn::Transform"),
    ("ToJsonString", "Fn::ToJsonString"),
    ("Length", "Fn::Length"),
];

/// Nodes the expanded tree may hold once an alias is expanded: what the largest template CloudFormation takes ([`super::MAX_TEMPLATE_BYTES`]) can spell out without aliases, at two bytes a node.
pub const MAX_NODES: usize = super::MAX_TEMPLATE_BYTES / 2;

/// Bytes of scalar and key text the expanded tree may hold once an alias is expanded: no more than the largest template CloudFormation takes.
pub const MAX_TEXT_BYTES: usize = super::MAX_TEMPLATE_BYTES;

/// Aliases one document may use: CloudFormation refuses them ("YAML aliases are not allowed in CloudFormation templates"; aws/aws-cli#3827), so real use (tools that unroll them first) is a handful.
pub const MAX_ALIASES: usize = 1_000;

/// Parses one YAML document into a located tree.
///
/// Aliases copy their anchor's tree, so a few lines can stand for 10^9 nodes (the
/// "billion laughs"): every alias is charged what it copies against [`MAX_NODES`] and
/// [`MAX_TEXT_BYTES`], and refused at its own line once the expanded document would
/// exceed them. Nesting, written or copied, stops at [`super::MAX_DEPTH`].
pub fn parse(text: &str, file: &Arc<str>) -> Result<Node, TemplateError> {
    let mut reader = Reader {
        parser: Parser::new_from_str(text),
        file: Arc::clone(file),
        anchors: HashMap::new(),
        nodes: 0,
        text: 0,
        aliases: 0,
    };
    let mut root = None;
    loop {
        let (event, span) = reader.next()?;
        match event {
            Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd => {}
            Event::StreamEnd => break,
            other => {
                if root.is_some() {
                    return Err(TemplateError::Syntax {
                        loc: reader.loc(&span),
                        message: "more than one YAML document; a template is one document".into(),
                    });
                }
                root = Some(reader.node(other, span, 0)?.0);
            }
        }
    }
    root.ok_or_else(|| TemplateError::Syntax { loc: Loc::new(file, 1, 1), message: "the file is empty".into() })
}

/// What a subtree costs: its nodes (mapping keys included), the bytes of its scalars and
/// keys, and how many levels it nests below its root.
#[derive(Clone, Copy, Debug, Default)]
struct Size {
    nodes: usize,
    text: usize,
    height: usize,
}

impl Size {
    fn leaf(text: usize) -> Self {
        Size { nodes: 1, text, height: 0 }
    }

    /// Adds a child to a collection's size.
    fn add_child(&mut self, child: Size) {
        self.nodes += child.nodes;
        self.text += child.text;
        self.height = self.height.max(child.height + 1);
    }
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    file: Arc<str>,
    anchors: HashMap<usize, (Node, Size)>,
    /// Nodes and text of the tree built so far, alias copies included.
    nodes: usize,
    text: usize,
    aliases: usize,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), TemplateError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => Err(TemplateError::Syntax {
                loc: Loc::new(&self.file, e.marker().line(), e.marker().col() + 1),
                // The scanner reads a run of `[`/`{` ahead of the events and stops at 255.
                message: if e.info() == "recursion limit exceeded" {
                    format!("nesting deeper than {MAX_DEPTH} levels: flow collections nest 256 deep here")
                } else {
                    e.info().to_string()
                },
            }),
            None => Err(TemplateError::Syntax {
                loc: Loc::new(&self.file, 0, 0),
                message: "unexpected end of input".into(),
            }),
        }
    }

    fn loc(&self, span: &Span) -> Loc {
        Loc::new(&self.file, span.start.line(), span.start.col() + 1)
    }

    /// Charges an alias's copy against the document's budgets.
    fn expand(&mut self, size: Size, depth: usize, loc: &Loc) -> Result<(), TemplateError> {
        let refuse = |message: String| Err(TemplateError::Syntax { loc: loc.clone(), message });
        self.aliases += 1;
        if self.aliases > MAX_ALIASES {
            return refuse(format!("more than {MAX_ALIASES} aliases in one document"));
        }
        if self.nodes + size.nodes > MAX_NODES {
            return refuse(format!(
                "alias expansion exceeds {MAX_NODES} nodes (this alias copies {} nodes into a document of {} so far)",
                size.nodes, self.nodes
            ));
        }
        if self.text + size.text > MAX_TEXT_BYTES {
            return refuse(format!(
                "alias expansion exceeds {MAX_TEXT_BYTES} bytes of text (this alias copies {} bytes into a document of {} so far)",
                size.text, self.text
            ));
        }
        if depth + size.height > MAX_DEPTH {
            return refuse(format!(
                "nesting deeper than {MAX_DEPTH} levels (this alias copies {} levels to a depth of {depth})",
                size.height
            ));
        }
        self.nodes += size.nodes;
        self.text += size.text;
        Ok(())
    }

    /// Reads the node that `event` starts, `depth` collections deep.
    fn node(&mut self, event: Event<'a>, span: Span, depth: usize) -> Result<(Node, Size), TemplateError> {
        let loc = self.loc(&span);
        if depth > MAX_DEPTH {
            return Err(TemplateError::Syntax {
                loc,
                message: format!("nesting deeper than {MAX_DEPTH} levels; a template nests a few levels"),
            });
        }
        let (node, size, anchor, tag) = match event {
            Event::Alias(id) => {
                let Some(size) = self.anchors.get(&id).map(|(_, size)| *size) else {
                    return Err(TemplateError::Syntax { loc, message: "alias to an unknown anchor".into() });
                };
                // Charged before anything is copied: a refused alias allocates nothing.
                self.expand(size, depth, &loc)?;
                let value = self.anchors[&id].0.value.clone();
                return Ok((Node::new(value, loc), size));
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref(), &loc)?;
                // Tags on scalars other than core-schema ones are intrinsics.
                let tag = tag.filter(|t| t.handle == "!").map(|t| t.into_owned());
                self.nodes += 1;
                self.text += text.len();
                (Node::new(value, loc.clone()), Size::leaf(text.len()), anchor, tag)
            }
            Event::SequenceStart(anchor, tag) => {
                self.nodes += 1;
                let mut size = Size::leaf(0);
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    let (item, item_size) = self.node(event, span, depth + 1)?;
                    size.add_child(item_size);
                    items.push(item);
                }
                let tag = tag.filter(|t| t.handle == "!").map(|t| t.into_owned());
                (Node::new(Value::Seq(items), loc.clone()), size, anchor, tag)
            }
            Event::MappingStart(anchor, tag) => {
                self.nodes += 1;
                let mut size = Size::leaf(0);
                let mut entries: Vec<Entry> = Vec::new();
                // Key -> index in `entries`, so that duplicates are found without a scan.
                let mut seen: HashMap<String, usize> = HashMap::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key_loc = self.loc(&span);
                    let (key_node, key_size) = self.node(event, span, depth + 1)?;
                    let key = match key_node.value {
                        Value::String(s) | Value::Number(s) => s,
                        Value::Bool(b) => b.to_string(),
                        Value::Null => "null".into(),
                        _ => {
                            return Err(TemplateError::Syntax {
                                loc: key_loc,
                                message: "mapping keys must be plain scalars".into(),
                            });
                        }
                    };
                    if let Some(&first) = seen.get(&key) {
                        return Err(TemplateError::Syntax {
                            loc: key_loc,
                            message: format!("duplicate key `{key}` (first at line {})", entries[first].key_loc.line),
                        });
                    }
                    let (event, span) = self.next()?;
                    let (value, value_size) = self.node(event, span, depth + 1)?;
                    size.add_child(key_size);
                    size.add_child(value_size);
                    seen.insert(key.clone(), entries.len());
                    entries.push(Entry { key, key_loc, value });
                }
                let tag = tag.filter(|t| t.handle == "!").map(|t| t.into_owned());
                (Node::new(Value::Map(entries), loc.clone()), size, anchor, tag)
            }
            other => {
                return Err(TemplateError::Syntax { loc, message: format!("unexpected YAML event {other:?}") });
            }
        };
        let (node, size) = match tag {
            // The long form wraps the value in a one-entry mapping (a mapping and its key);
            // `!GetAtt A.B` also becomes a list of two strings.
            Some(tag) => {
                let split = matches!(node.value, Value::String(_));
                let node = expand_short_tag(&tag, node)?;
                let (key, arg) = node.intrinsic().map(|(k, a)| (k.len(), a.as_seq().is_some())).unwrap_or((0, false));
                let (nodes, height) =
                    if split && arg { (size.nodes + 4, 2) } else { (size.nodes + 2, size.height + 1) };
                (node, Size { nodes, text: size.text + key, height })
            }
            None => (node, size),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        Ok((node, size))
    }
}

/// Rewrites `!Name arg` into `{"Fn::Name": arg}` (or `Ref`/`Condition`).
fn expand_short_tag(tag: &Tag, node: Node) -> Result<Node, TemplateError> {
    let Some((_, long)) = SHORT_TAGS.iter().find(|(short, _)| *short == tag.suffix) else {
        return Err(TemplateError::Syntax {
            loc: node.loc,
            message: format!(
                "unknown tag `!{}`; CloudFormation knows {}",
                tag.suffix,
                SHORT_TAGS.iter().map(|(s, _)| format!("!{s}")).collect::<Vec<_>>().join(", ")
            ),
        });
    };
    let loc = node.loc.clone();
    // `!GetAtt Resource.Attribute` is shorthand for the two-element list form.
    let arg = match (&node.value, *long) {
        (Value::String(s), "Fn::GetAtt") => {
            let Some((resource, attribute)) = s.split_once('.') else {
                return Err(TemplateError::Syntax {
                    loc,
                    message: format!("`!GetAtt {s}` needs the form Resource.Attribute"),
                });
            };
            Node::new(
                Value::Seq(vec![
                    Node::new(Value::String(resource.into()), loc.clone()),
                    Node::new(Value::String(attribute.into()), loc.clone()),
                ]),
                loc.clone(),
            )
        }
        _ => node,
    };
    Ok(Node::new(Value::Map(vec![Entry { key: (*long).to_string(), key_loc: loc.clone(), value: arg }]), loc))
}

/// Resolves a scalar by the YAML 1.2 core schema (quoted scalars are always strings).
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>, loc: &Loc) -> Result<Value, TemplateError> {
    if let Some(tag) = tag.filter(|t| t.handle == "tag:yaml.org,2002:" || t.handle == "!!") {
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.into())),
            "null" => Ok(Value::Null),
            "bool" | "int" | "float" => Ok(plain_scalar(text)),
            other => Err(TemplateError::Syntax {
                loc: loc.clone(),
                message: format!("unsupported YAML tag `!!{other}` on a scalar"),
            }),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.into()));
    }
    Ok(plain_scalar(text))
}

fn plain_scalar(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ if text.parse::<serde_json::Number>().is_ok() => Value::Number(text.into()),
        _ => Value::String(text.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Node, TemplateError> {
        parse(text, &Arc::from("t.yaml"))
    }

    #[test]
    fn dates_and_versions_stay_strings() {
        let node = parse_str("Version: 2012-10-17\nAWSTemplateFormatVersion: 2010-09-09\n").unwrap();
        assert_eq!(node.get("Version").unwrap().as_str(), Some("2012-10-17"));
        assert_eq!(node.get("AWSTemplateFormatVersion").unwrap().as_str(), Some("2010-09-09"));
    }

    #[test]
    fn short_tags_become_long_forms() {
        let node =
            parse_str("a: !Ref Role\nb: !GetAtt Role.Arn\nc: !Sub 'arn:${AWS::Partition}:x'\nd: !Join [':', [a, b]]\n")
                .unwrap();
        assert_eq!(node.get("a").unwrap().to_json(), serde_json::json!({"Ref": "Role"}));
        assert_eq!(node.get("b").unwrap().to_json(), serde_json::json!({"Fn::GetAtt": ["Role", "Arn"]}));
        assert_eq!(node.get("c").unwrap().to_json(), serde_json::json!({"Fn::Sub": "arn:${AWS::Partition}:x"}));
        assert_eq!(node.get("d").unwrap().to_json(), serde_json::json!({"Fn::Join": [":", ["a", "b"]]}));
    }

    #[test]
    fn every_short_tag_is_known() {
        for (short, long) in SHORT_TAGS {
            let node = parse_str(&format!("x: !{short} arg.x\n")).unwrap();
            let (name, _) = node.get("x").unwrap().intrinsic().unwrap();
            assert_eq!(name, *long);
        }
    }

    #[test]
    fn locations_are_one_based() {
        let node = parse_str("A:\n  B: [x, 'y']\n").unwrap();
        let b = node.get("A").unwrap().get("B").unwrap();
        assert_eq!((b.loc.line, b.loc.column), (2, 6));
        let y = &b.as_seq().unwrap()[1];
        assert_eq!((y.loc.line, y.loc.column), (2, 10));
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let node = parse_str("a: 5\nb: true\nc: ~\nd: '5'\ne: 007\nf: 1.5e3\n").unwrap();
        assert_eq!(node.get("a").unwrap().value, Value::Number("5".into()));
        assert_eq!(node.get("b").unwrap().value, Value::Bool(true));
        assert_eq!(node.get("c").unwrap().value, Value::Null);
        assert_eq!(node.get("d").unwrap().value, Value::String("5".into()));
        assert_eq!(node.get("e").unwrap().value, Value::String("007".into()));
        assert_eq!(node.get("f").unwrap().value, Value::Number("1.5e3".into()));
    }

    #[test]
    fn errors_name_the_line() {
        let err = parse_str("a: 1\na: 2\n").unwrap_err();
        assert!(err.to_string().contains("t.yaml:2:1"), "{err}");
        let err = parse_str("a: !Bogus x\n").unwrap_err();
        assert!(err.to_string().contains("unknown tag `!Bogus`"), "{err}");
        let err = parse_str("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.to_string().starts_with("t.yaml:"), "{err}");
    }

    #[test]
    fn anchors_and_aliases_copy_the_value() {
        let node = parse_str("a: &x [1, 2]\nb: *x\n").unwrap();
        assert_eq!(node.get("b").unwrap().to_json(), serde_json::json!([1, 2]));
    }

    fn refusal(err: &TemplateError) -> (u32, String) {
        let TemplateError::Syntax { loc, message } = err else { panic!("{err}") };
        (loc.line, message.clone())
    }

    /// A billion laughs: nine levels of nine aliases each, 9^9 copies of `leaf`.
    fn billion_laughs(leaf: &str) -> String {
        let mut text = format!("a0: &a0 [{}]\n", [leaf; 9].join(", "));
        for i in 1..=9 {
            let refs = vec![format!("*a{}", i - 1); 9].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn alias_bomb_is_refused_at_the_alias_that_crosses_the_budget() {
        // One-byte strings: the node budget runs out first. a4 holds 66,430 nodes; a5 (line 6)
        // aliases it nine times, and its eighth alias takes the document past 524,288.
        let err = parse_str(&billion_laughs("a")).unwrap_err();
        let (line, message) = refusal(&err);
        assert_eq!(line, 6, "{err}");
        assert!(message.starts_with(&format!("alias expansion exceeds {MAX_NODES} nodes")), "{err}");
        assert!(err.to_string().starts_with("t.yaml:6:40:"), "the eighth `*a4` is at column 40: {err}");
        // Three-byte strings: the text budget runs out first, at the fifth alias of a4 (line 6).
        let err = parse_str(&billion_laughs("lol")).unwrap_err();
        let (line, message) = refusal(&err);
        assert_eq!(line, 6, "{err}");
        assert!(message.starts_with(&format!("alias expansion exceeds {MAX_TEXT_BYTES} bytes of text")), "{err}");
    }

    #[test]
    fn aliases_of_long_scalars_are_charged_their_text() {
        let long = "x".repeat(100_000);
        let refs = vec!["*s"; 20].join(", ");
        let err = parse_str(&format!("s: &s {long}\nl: [{refs}]\n")).unwrap_err();
        let (line, message) = refusal(&err);
        assert_eq!(line, 2, "{err}");
        assert!(message.starts_with(&format!("alias expansion exceeds {MAX_TEXT_BYTES} bytes of text")), "{err}");
    }

    #[test]
    fn too_many_aliases_are_refused() {
        let refs = vec!["*s"; MAX_ALIASES + 1].join(", ");
        let err = parse_str(&format!("s: &s x\nl: [{refs}]\n")).unwrap_err();
        let (line, message) = refusal(&err);
        assert_eq!(line, 2, "{err}");
        assert!(message.starts_with(&format!("more than {MAX_ALIASES} aliases")), "{err}");
        let refs = vec!["*s"; MAX_ALIASES].join(", ");
        assert!(parse_str(&format!("s: &s x\nl: [{refs}]\n")).is_ok(), "exactly the limit is allowed");
    }

    /// `levels` block sequences, one per line, the innermost holding `x`.
    fn nested_block(levels: usize) -> String {
        (0..levels).map(|i| format!("{}-\n", " ".repeat(i))).collect::<String>() + &" ".repeat(levels) + "x\n"
    }

    #[test]
    fn deep_block_nesting_is_refused_where_the_limit_is_crossed() {
        let err = parse_str(&nested_block(1_000)).unwrap_err();
        let (line, message) = refusal(&err);
        // The sequence on line k is k-1 collections deep: line MAX_DEPTH + 2 is one too deep.
        assert_eq!(line as usize, MAX_DEPTH + 2, "{err}");
        assert!(message.starts_with(&format!("nesting deeper than {MAX_DEPTH} levels")), "{err}");
        // As deep as allowed: MAX_DEPTH sequences around a scalar.
        assert!(parse_str(&nested_block(MAX_DEPTH)).is_ok());
        // Compact block sequences (`- - - x`) on one line, 10^4 and 10^5 deep.
        for levels in [10_000, 100_000] {
            let err = parse_str(&format!("{}x\n", "- ".repeat(levels))).unwrap_err();
            let TemplateError::Syntax { loc, message } = &err else { panic!("{err}") };
            assert_eq!((loc.line as usize, loc.column as usize), (1, 2 * (MAX_DEPTH + 1) + 1), "{err}");
            assert!(message.starts_with(&format!("nesting deeper than {MAX_DEPTH} levels")), "{err}");
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused() {
        for levels in [10_000, 100_000] {
            let text = format!("a: {}{}\n", "[".repeat(levels), "]".repeat(levels));
            let (line, message) = refusal(&parse_str(&text).unwrap_err());
            assert_eq!(line, 1);
            assert!(message.starts_with(&format!("nesting deeper than {MAX_DEPTH} levels")), "{message}");
            let text = format!("a: {}{}\n", "{c: ".repeat(levels), "}".repeat(levels));
            let (line, message) = refusal(&parse_str(&text).unwrap_err());
            assert_eq!(line, 1);
            assert!(message.starts_with(&format!("nesting deeper than {MAX_DEPTH} levels")), "{message}");
        }
        // Flow nesting the scanner accepts but the tree does not: refused at the first value too deep.
        let text = format!("a: {}x{}\n", "[".repeat(200), "]".repeat(200));
        let err = parse_str(&text).unwrap_err();
        let TemplateError::Syntax { loc, message } = &err else { panic!("{err}") };
        assert_eq!((loc.line as usize, loc.column as usize), (1, 4 + MAX_DEPTH), "{err}");
        assert!(message.starts_with(&format!("nesting deeper than {MAX_DEPTH} levels;")), "{err}");
    }

    #[test]
    fn aliases_cannot_nest_deeper_than_written_nesting_allows() {
        // Each anchor nests 100 levels inside the one before: two copies reach 200.
        let a = format!("{}x{}", "[".repeat(100), "]".repeat(100));
        let err = parse_str(&format!("a: &a {a}\nb: &b {}*a{}\n", "[".repeat(100), "]".repeat(100))).unwrap_err();
        let (line, message) = refusal(&err);
        assert_eq!(line, 2, "{err}");
        assert!(message.starts_with(&format!("nesting deeper than {MAX_DEPTH} levels (this alias")), "{err}");
    }

    #[test]
    fn many_keys_are_read_and_a_late_duplicate_is_named() {
        // About as many keys as a 1 MiB file holds.
        let text: String = (0..100_000).map(|i| format!("k{i}: {i}\n")).collect();
        let node = parse_str(&text).unwrap();
        assert_eq!(node.as_map().unwrap().len(), 100_000);
        let err = parse_str(&format!("{text}k7: again\n")).unwrap_err();
        assert_eq!(refusal(&err).1, "duplicate key `k7` (first at line 8)");
    }
}
