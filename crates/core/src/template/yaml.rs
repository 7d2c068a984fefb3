//! CloudFormation YAML reader: YAML events into located [`Node`]s, with the short
//! intrinsic tags (`!Ref`, `!Sub`, …) rewritten into their long JSON forms.
//!
//! Scalars follow the YAML 1.2 core schema, so `Version: 2012-10-17` stays the string
//! it was written as (YAML 1.1 readers turn it into a date, which breaks policies).

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::TemplateError;
use super::node::{Entry, Node, Value};
use crate::loc::Loc;

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

/// Parses one YAML document into a located tree.
pub fn parse(text: &str, file: &Arc<str>) -> Result<Node, TemplateError> {
    let mut reader = Reader { parser: Parser::new_from_str(text), file: Arc::clone(file), anchors: HashMap::new() };
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
                root = Some(reader.node(other, span)?);
            }
        }
    }
    root.ok_or_else(|| TemplateError::Syntax { loc: Loc::new(file, 1, 1), message: "the file is empty".into() })
}

struct Reader<'a> {
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    file: Arc<str>,
    anchors: HashMap<usize, Node>,
}

impl<'a> Reader<'a> {
    fn next(&mut self) -> Result<(Event<'a>, Span), TemplateError> {
        match self.parser.next_event() {
            Some(Ok(pair)) => Ok(pair),
            Some(Err(e)) => Err(TemplateError::Syntax {
                loc: Loc::new(&self.file, e.marker().line(), e.marker().col() + 1),
                message: e.info().to_string(),
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

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Node, TemplateError> {
        let loc = self.loc(&span);
        let (node, anchor, tag) = match event {
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| TemplateError::Syntax {
                    loc: loc.clone(),
                    message: "alias to an unknown anchor".into(),
                })?;
                return Ok(Node::new(node.value, loc));
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = scalar(&text, style, tag.as_deref(), &loc)?;
                // Tags on scalars other than core-schema ones are intrinsics.
                let tag = tag.filter(|t| t.handle == "!").map(|t| t.into_owned());
                (Node::new(value, loc.clone()), anchor, tag)
            }
            Event::SequenceStart(anchor, tag) => {
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.node(event, span)?);
                }
                let tag = tag.filter(|t| t.handle == "!").map(|t| t.into_owned());
                (Node::new(Value::Seq(items), loc.clone()), anchor, tag)
            }
            Event::MappingStart(anchor, tag) => {
                let mut entries: Vec<Entry> = Vec::new();
                loop {
                    let (event, span) = self.next()?;
                    if matches!(event, Event::MappingEnd) {
                        break;
                    }
                    let key_loc = self.loc(&span);
                    let key = match self.node(event, span)?.value {
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
                    if let Some(first) = entries.iter().find(|e| e.key == key) {
                        return Err(TemplateError::Syntax {
                            loc: key_loc,
                            message: format!("duplicate key `{key}` (first at line {})", first.key_loc.line),
                        });
                    }
                    let (event, span) = self.next()?;
                    let value = self.node(event, span)?;
                    entries.push(Entry { key, key_loc, value });
                }
                let tag = tag.filter(|t| t.handle == "!").map(|t| t.into_owned());
                (Node::new(Value::Map(entries), loc.clone()), anchor, tag)
            }
            other => {
                return Err(TemplateError::Syntax { loc, message: format!("unexpected YAML event {other:?}") });
            }
        };
        let node = match tag {
            Some(tag) => expand_short_tag(&tag, node)?,
            None => node,
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
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
}
