//! XML for AWS's ec2/query protocols: [`parse`] reads a document into a tree of
//! [`Element`]s, which `wire::parse_response` reads by the service model; [`escape`]
//! writes text. The text search by element name ([`texts`], [`first`], [`section`],
//! [`sections`]) is the older way of reading answers, kept until its last callers move to
//! `wire::parse_response`. Namespaces and attributes are ignored.

/// An element: its local name (namespace prefix removed), its child elements, and its
/// character data (entities and CDATA decoded, the text between and around the
/// children joined, not trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// The local name, without its namespace prefix.
    pub name: String,
    /// The child elements, in document order.
    pub children: Vec<Element>,
    /// The character data, decoded and untrimmed.
    pub text: String,
}

impl Element {
    /// The first child named `name` (exactly).
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Why a document could not be read, and the byte offset where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("XML at byte {offset}: {reason}")]
pub struct XmlError {
    /// The byte offset where reading stopped.
    pub offset: usize,
    /// What was wrong there.
    pub reason: String,
}

/// How deep elements may nest: AWS answers stay far below; deeper input is refused
/// rather than followed.
pub const MAX_DEPTH: usize = 256;

/// Reads a whole document: an optional declaration, comments and processing
/// instructions, one root element. Refused: a document type declaration (entity
/// definitions are never needed here and are a known expansion hazard), undefined
/// entities, mismatched or unclosed tags, content after the root, nesting deeper than
/// [`MAX_DEPTH`].
pub fn parse(body: &str) -> Result<Element, XmlError> {
    let b = body.as_bytes();
    let err = |offset: usize, reason: &str| XmlError { offset, reason: reason.to_string() };
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut pos = 0;
    while pos < b.len() {
        if b[pos] != b'<' {
            let end = body[pos..].find('<').map_or(b.len(), |i| pos + i);
            let raw = &body[pos..end];
            match stack.last_mut() {
                Some(open) => open.text.push_str(&decode(raw).map_err(|r| err(pos, &r))?),
                None if raw.trim().is_empty() => {}
                None => return Err(err(pos, "text outside the root element")),
            }
            pos = end;
            continue;
        }
        let rest = &body[pos..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or_else(|| err(pos, "unclosed comment"))?;
            pos += 4 + end + 3;
        } else if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>").ok_or_else(|| err(pos, "unclosed CDATA section"))?;
            let open = stack.last_mut().ok_or_else(|| err(pos, "CDATA outside the root element"))?;
            open.text.push_str(&after[..end]);
            pos += 9 + end + 3;
        } else if rest.starts_with("<?") {
            let end = rest.find("?>").ok_or_else(|| err(pos, "unclosed processing instruction"))?;
            pos += end + 2;
        } else if rest.starts_with("<!") {
            return Err(err(pos, "document type declarations are not read"));
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').ok_or_else(|| err(pos, "unclosed end tag"))?;
            let name = after[..end].trim_end();
            let open = stack.pop().ok_or_else(|| err(pos, "an end tag without a start tag"))?;
            if local(name) != open.name {
                return Err(err(pos, &format!("</{name}> closes <{}>", open.name)));
            }
            pos += 2 + end + 1;
            close(open, &mut stack, &mut root).map_err(|r| err(pos, r))?;
        } else {
            let (end, self_closing) = tag_end(b, pos + 1).ok_or_else(|| err(pos, "unclosed start tag"))?;
            let inner = &body[pos + 1..if self_closing { end - 1 } else { end }];
            let name = inner.split(|c: char| c.is_ascii_whitespace()).next().unwrap_or_default();
            if name.is_empty() {
                return Err(err(pos, "a start tag without a name"));
            }
            if stack.len() >= MAX_DEPTH {
                return Err(err(pos, &format!("elements nest deeper than {MAX_DEPTH}")));
            }
            let element = Element { name: local(name).to_string(), ..Element::default() };
            pos = end + 1;
            if self_closing {
                close(element, &mut stack, &mut root).map_err(|r| err(pos, r))?;
            } else {
                stack.push(element);
            }
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(b.len(), &format!("<{}> is not closed", open.name)));
    }
    root.ok_or_else(|| err(b.len(), "no root element"))
}

/// The name without its namespace prefix.
fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

/// The `>` ending the start tag opened before `from`, skipping quoted attribute values;
/// and whether the tag closes itself (`/>`).
fn tag_end(b: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut quote = None;
    for (i, &c) in b.iter().enumerate().skip(from) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'>') => return Some((i, i > from && b[i - 1] == b'/')),
            (None, b'<') => return None,
            _ => {}
        }
    }
    None
}

fn close(element: Element, stack: &mut [Element], root: &mut Option<Element>) -> Result<(), &'static str> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None if root.is_none() => *root = Some(element),
        None => return Err("more than one root element"),
    }
    Ok(())
}

/// Character data with its entity and character references decoded; an undefined
/// entity is an error.
fn decode(raw: &str) -> Result<String, String> {
    if !raw.contains('&') {
        return Ok(raw.to_string());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').ok_or_else(|| format!("unterminated reference in {raw:?}"))? + i;
        let entity = &rest[i + 1..end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            e => e
                .strip_prefix("#x")
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| e.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32)
                .ok_or_else(|| format!("undefined entity &{entity};"))?,
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The text of every element named `name`, in document order (only elements whose
/// content is text; nested elements are skipped).
pub fn texts(body: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let Some(end) = rest.find('>') else { break };
        let tag = &rest[..end];
        rest = &rest[end + 1..];
        if tag.starts_with(['/', '?', '!']) || tag.ends_with('/') {
            continue;
        }
        let tag_name = tag.split_whitespace().next().unwrap_or_default();
        let local = tag_name.rsplit(':').next().unwrap_or(tag_name);
        if !local.eq_ignore_ascii_case(name) {
            continue;
        }
        if let Some(close) = rest.find('<') {
            let text = &rest[..close];
            if rest[close..].starts_with("</") {
                out.push(unescape(text.trim()));
            }
        }
    }
    out
}

/// The text of the first element named `name`.
pub fn first(body: &str, name: &str) -> Option<String> {
    texts(body, name).into_iter().next()
}

/// Replaces the five predefined entities and numeric character references.
pub fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escapes text for an XML element.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_texts_by_name() {
        let body = r#"<?xml version="1.0"?><CreateVpcResponse xmlns="x"><vpc><vpcId>vpc-1</vpcId><tagSet><item><key>a&amp;b</key></item></tagSet></vpc><VpcId>vpc-2</VpcId><empty/></CreateVpcResponse>"#;
        assert_eq!(texts(body, "vpcid"), ["vpc-1", "vpc-2"]);
        assert_eq!(first(body, "key").as_deref(), Some("a&b"));
        assert_eq!(first(body, "vpc"), None, "an element with children has no text");
        assert_eq!(first(body, "nothing"), None);
    }

    #[test]
    fn parses_a_tree() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><a:R xmlns:a=\"x\" k='v>w'>\n <vpc><vpcId>vpc-1</vpcId>\
                    <empty/><e x=\"1\" /></vpc><t> a&amp;b&#65;&#x42; <![CDATA[<raw>&amp;]]></t></a:R>\n";
        let root = parse(body).unwrap();
        assert_eq!(root.name, "R");
        let vpc = root.child("vpc").unwrap();
        assert_eq!(vpc.children.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["vpcId", "empty", "e"]);
        assert_eq!(vpc.child("vpcId").unwrap().text, "vpc-1");
        assert_eq!(vpc.child("empty").unwrap(), &Element { name: "empty".into(), ..Element::default() });
        assert_eq!(root.child("t").unwrap().text, " a&bAB <raw>&amp;");
        assert_eq!(root.child("nothing"), None);
    }

    #[test]
    fn refuses_what_is_not_one_well_formed_document() {
        for bad in [
            "",
            "text",
            "<a>",
            "<a></b>",
            "</a>",
            "<a/><b/>",
            "<a>&bogus;</a>",
            "<a>&amp</a>",
            "<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "<a><!-- x </a>",
            "<a x=\"1></a>",
            "<a/>tail",
            "< a/>",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{}{}", "<a>".repeat(MAX_DEPTH + 1), "</a>".repeat(MAX_DEPTH + 1));
        assert!(parse(&deep).unwrap_err().reason.contains("deeper"));
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn entities_round_trip() {
        let s = "a<b>&\"c'";
        assert_eq!(unescape(&escape(s)), s);
        assert_eq!(unescape("&#65;&#x42;&bogus;"), "AB&bogus;");
    }
}

/// The inner text of every element named `name` that is not inside another one of the
/// same name (the items of a set, in order).
pub fn sections<'a>(body: &'a str, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(inner) = section(rest, name) {
        out.push(inner);
        // Continue after this element's inner text (which is a slice of `rest`).
        let offset = inner.as_ptr() as usize - rest.as_ptr() as usize + inner.len();
        rest = &rest[offset..];
        match rest.find('>') {
            Some(close) => rest = &rest[close + 1..],
            None => break,
        }
    }
    out
}

/// The inner text (markup included) of the first element named `name`.
pub fn section<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let mut offset = 0;
    while let Some(start) = body[offset..].find('<') {
        let open = offset + start + 1;
        let end = open + body[open..].find('>')?;
        let tag = &body[open..end];
        offset = end + 1;
        if tag.starts_with(['/', '?', '!']) || tag.ends_with('/') {
            continue;
        }
        let tag_name = tag.split_whitespace().next().unwrap_or_default();
        if !tag_name.rsplit(':').next().unwrap_or(tag_name).eq_ignore_ascii_case(name) {
            continue;
        }
        // Find the matching close tag, counting nested elements of the same name.
        let mut depth = 1;
        let mut pos = offset;
        while let Some(next) = body[pos..].find('<') {
            let at = pos + next + 1;
            let close = at + body[at..].find('>')?;
            let t = &body[at..close];
            let n = t.trim_start_matches('/').split_whitespace().next().unwrap_or_default();
            if n.rsplit(':').next().unwrap_or(n).eq_ignore_ascii_case(name) && !t.ends_with('/') {
                if t.starts_with('/') {
                    depth -= 1;
                    if depth == 0 {
                        return Some(&body[offset..at - 1]);
                    }
                } else {
                    depth += 1;
                }
            }
            pos = close + 1;
        }
        return None;
    }
    None
}

#[cfg(test)]
mod section_tests {
    use super::*;

    #[test]
    fn finds_nested_sections() {
        let body = "<a><set><item>1</item><item><set><item>x</item></set></item></set><item>2</item></a>";
        let s = section(body, "set").unwrap();
        assert_eq!(s, "<item>1</item><item><set><item>x</item></set></item>");
        assert_eq!(texts(s, "item"), ["1", "x"]);
        assert_eq!(section(body, "none"), None);
        let set = section(body, "set").unwrap();
        assert_eq!(sections(set, "item"), ["1", "<set><item>x</item></set>"]);
        assert_eq!(sections(body, "item").len(), 3, "two in the set and one after it");
    }
}
