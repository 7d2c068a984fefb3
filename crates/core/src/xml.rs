//! Just enough XML reading for AWS query-protocol responses: the text of elements by
//! name. Namespaces and attributes are ignored; names compare case-insensitively (the
//! element names of EC2 are camelCase, those of other query services PascalCase).

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
