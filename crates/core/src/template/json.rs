//! A small JSON reader that keeps the line and column of every value, so that JSON
//! templates get the same located errors and findings as YAML ones.

use std::collections::HashMap;
use std::sync::Arc;

use super::{MAX_DEPTH, TemplateError};
use crate::loc::Loc;
use crate::tree::{Entry, Node, Value};

/// Parses one JSON document (RFC 8259) into a located tree. Duplicate keys are errors, and
/// values inside more than [`MAX_DEPTH`] arrays or objects are refused where they start.
pub fn parse(text: &str, file: &Arc<str>) -> Result<Node, TemplateError> {
    let mut reader = Reader { chars: text.chars().collect(), pos: 0, line: 1, column: 1, file: Arc::clone(file) };
    reader.skip_whitespace();
    let node = reader.value(0)?;
    reader.skip_whitespace();
    if reader.pos < reader.chars.len() {
        return Err(reader.error("unexpected text after the JSON document"));
    }
    Ok(node)
}

struct Reader {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    column: usize,
    file: Arc<str>,
}

impl Reader {
    fn loc(&self) -> Loc {
        Loc::new(&self.file, self.line, self.column)
    }

    fn error(&self, message: impl Into<String>) -> TemplateError {
        TemplateError::Syntax { loc: self.loc(), message: message.into() }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.bump();
        }
    }

    fn expect(&mut self, wanted: char) -> Result<(), TemplateError> {
        match self.peek() {
            Some(c) if c == wanted => {
                self.bump();
                Ok(())
            }
            Some(c) => Err(self.error(format!("expected `{wanted}`, found `{c}`"))),
            None => Err(self.error(format!("expected `{wanted}`, found the end of the file"))),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, TemplateError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels; a template nests a few levels")));
        }
        let loc = self.loc();
        let value = match self.peek() {
            Some('{') => self.object(depth)?,
            Some('[') => self.array(depth)?,
            Some('"') => Value::String(self.string()?),
            Some('t') => self.word("true", Value::Bool(true))?,
            Some('f') => self.word("false", Value::Bool(false))?,
            Some('n') => self.word("null", Value::Null)?,
            Some(c) if c == '-' || c.is_ascii_digit() => self.number()?,
            Some(c) => return Err(self.error(format!("expected a JSON value, found `{c}`"))),
            None => return Err(self.error("expected a JSON value, found the end of the file")),
        };
        Ok(Node::new(value, loc))
    }

    fn word(&mut self, word: &str, value: Value) -> Result<Value, TemplateError> {
        for wanted in word.chars() {
            if self.peek() != Some(wanted) {
                return Err(self.error(format!("expected `{word}`")));
            }
            self.bump();
        }
        Ok(value)
    }

    fn number(&mut self) -> Result<Value, TemplateError> {
        let start = self.pos;
        while matches!(self.peek(), Some(c) if c.is_ascii_digit() || "+-.eE".contains(c)) {
            self.bump();
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if text.parse::<serde_json::Number>().is_err() {
            return Err(self.error(format!("`{text}` is not a valid JSON number")));
        }
        Ok(Value::Number(text))
    }

    fn string(&mut self) -> Result<String, TemplateError> {
        self.expect('"')?;
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error("unterminated string")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('"') => out.push('"'),
                    Some('\\') => out.push('\\'),
                    Some('/') => out.push('/'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some('u') => {
                        let high = self.hex4()?;
                        let c = if (0xD800..0xDC00).contains(&high) {
                            // A surrogate pair: the low half must follow as another \u escape.
                            if self.bump() != Some('\\') || self.bump() != Some('u') {
                                return Err(self.error("unpaired surrogate in \\u escape"));
                            }
                            let low = self.hex4()?;
                            if !(0xDC00..0xE000).contains(&low) {
                                return Err(self.error("invalid low surrogate in \\u escape"));
                            }
                            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
                        } else {
                            char::from_u32(high)
                        };
                        out.push(c.ok_or_else(|| self.error("invalid \\u escape"))?);
                    }
                    _ => return Err(self.error("invalid escape in string")),
                },
                Some(c) if (c as u32) < 0x20 => {
                    return Err(self.error("control character in string; escape it"));
                }
                Some(c) => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, TemplateError> {
        let mut value = 0;
        for _ in 0..4 {
            let digit = self
                .bump()
                .and_then(|c| c.to_digit(16))
                .ok_or_else(|| self.error("expected four hex digits after \\u"))?;
            value = value * 16 + digit;
        }
        Ok(value)
    }

    fn array(&mut self, depth: usize) -> Result<Value, TemplateError> {
        self.expect('[')?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(']') {
            self.bump();
            return Ok(Value::Seq(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value(depth + 1)?);
            self.skip_whitespace();
            match self.bump() {
                Some(',') => {}
                Some(']') => return Ok(Value::Seq(items)),
                _ => return Err(self.error("expected `,` or `]` in a list")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, TemplateError> {
        self.expect('{')?;
        let mut entries: Vec<Entry> = Vec::new();
        // Key -> index in `entries`, so that duplicates are found without a scan.
        let mut seen: HashMap<String, usize> = HashMap::new();
        self.skip_whitespace();
        if self.peek() == Some('}') {
            self.bump();
            return Ok(Value::Map(entries));
        }
        loop {
            self.skip_whitespace();
            let key_loc = self.loc();
            if self.peek() != Some('"') {
                return Err(self.error("expected a quoted key"));
            }
            let key = self.string()?;
            if let Some(&first) = seen.get(&key) {
                return Err(TemplateError::Syntax {
                    loc: key_loc,
                    message: format!("duplicate key `{key}` (first at line {})", entries[first].key_loc.line),
                });
            }
            self.skip_whitespace();
            self.expect(':')?;
            self.skip_whitespace();
            let value = self.value(depth + 1)?;
            seen.insert(key.clone(), entries.len());
            entries.push(Entry { key, key_loc, value });
            self.skip_whitespace();
            match self.bump() {
                Some(',') => {}
                Some('}') => return Ok(Value::Map(entries)),
                _ => return Err(self.error("expected `,` or `}` in an object")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Node, TemplateError> {
        parse(text, &Arc::from("t.json"))
    }

    #[test]
    fn round_trips_through_serde_json() {
        let text = r#"{"a": [1, -2.5e3, true, false, null, "x\"y\u00e9\ud83d\ude00"], "b": {}}"#;
        let node = parse_str(text).unwrap();
        let expected: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(node.to_json(), expected);
    }

    #[test]
    fn keeps_locations() {
        let node = parse_str("{\n  \"a\": {\n    \"b\": \"c\"\n  }\n}").unwrap();
        let b = node.get("a").unwrap().get("b").unwrap();
        assert_eq!((b.loc.line, b.loc.column), (3, 10));
    }

    #[test]
    fn rejects_bad_json_with_location() {
        for (text, line) in [
            ("{\"a\": 1,\n}", 2),
            ("{\"a\": 1, \"a\": 2}", 1),
            ("[1, 2", 1),
            ("{\"a\": tru}", 1),
            ("{\"a\": 01}", 1),
            ("{} x", 1),
        ] {
            let err = parse_str(text).unwrap_err();
            let TemplateError::Syntax { loc, .. } = &err else { panic!("{err}") };
            assert_eq!(loc.line, line, "{text}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_where_the_limit_is_crossed() {
        for levels in [10_000, 100_000] {
            // One array per line: the array on line k is k-1 levels deep.
            let text = format!("{}{}", "[\n".repeat(levels), "]".repeat(levels));
            let err = parse_str(&text).unwrap_err();
            let TemplateError::Syntax { loc, message } = &err else { panic!("{err}") };
            assert_eq!(loc.line as usize, MAX_DEPTH + 2, "{err}");
            assert!(message.starts_with(&format!("nesting deeper than {MAX_DEPTH} levels")), "{err}");
            let text = format!("{}1{}", "{\"a\":".repeat(levels), "}".repeat(levels));
            let err = parse_str(&text).unwrap_err();
            assert!(err.to_string().contains(&format!("nesting deeper than {MAX_DEPTH} levels")), "{err}");
        }
        let allowed = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_str(&allowed).is_ok(), "MAX_DEPTH arrays around a value are allowed");
    }

    #[test]
    fn many_keys_are_read_and_a_late_duplicate_is_named() {
        let body: Vec<String> = (0..100_000).map(|i| format!("\"k{i}\": {i}")).collect();
        let node = parse_str(&format!("{{{}}}", body.join(",\n"))).unwrap();
        assert_eq!(node.as_map().unwrap().len(), 100_000);
        let err = parse_str(&format!("{{{},\n\"k7\": 0}}", body.join(",\n"))).unwrap_err();
        assert!(err.to_string().starts_with("t.json:100001:1: duplicate key `k7` (first at line 8)"), "{err}");
    }
}
