//! IAM wildcard patterns: `*` (any run of characters) and `?` (one character), with
//! policy variables `${key}` bound at evaluation time.
//!
//! Four flavours share one matcher:
//! - actions: case-insensitive, `*` spans anything;
//! - strings (StringLike): case-sensitive, `*` spans anything;
//! - resource ARNs (`Resource`, `NotResource`): case-sensitive, and a `*` or `?` stays
//!   inside its colon-separated segment unless the `*` is the segment's last character,
//!   which may expand across colons (IAM User Guide, "IAM JSON policy elements: Resource",
//!   "Using wildcards in resource ARNs");
//! - ARN condition values (`ArnEquals`, `ArnLike`, `ArnNotEquals`, `ArnNotLike`): the IAM
//!   User Guide, "IAM JSON policy elements: Condition operators" (ARN condition operators):
//!   "Case-sensitive matching of the ARN. Each of the six colon-delimited components of the
//!   ARN is checked separately and each can include multi-character match wildcards (*) or
//!   single-character match wildcards (?)." So pattern and value are each split at their
//!   first five colons; component i of the pattern matches component i of the value alone,
//!   and a `*` never crosses a colon of the first five. The sixth component (the resource,
//!   after the fifth colon) runs to the end, colons included. The same page's example: with
//!   `arn:aws:someservice:*:111122223333:finance/*`, "With an `ArnLike` condition, which
//!   matches elements between colons, the match fails" for a value whose region component
//!   is followed by another account. A pattern or a value without six components matches
//!   nothing (it has no components to check against each other).

use std::borrow::Cow;

/// How a pattern treats case and colons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// `Action` entries: case-insensitive, `*` spans anything.
    Action,
    /// StringLike condition values: case-sensitive, `*` spans anything.
    String,
    /// The `Resource` element's ARNs.
    Arn,
    /// The values of the ARN condition operators, matched component by component.
    ArnComponents,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `?`: one character (not a colon when `in_segment`).
    One {
        in_segment: bool,
    },
    /// `*`: any run (no colon when `in_segment`).
    Many {
        in_segment: bool,
    },
    /// `${key}` or `${key, 'default'}`.
    Variable {
        key: String,
        default: Option<String>,
    },
}

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    text: String,
    flavour: Flavour,
    tokens: Vec<Token>,
    has_wildcard: bool,
    has_variable: bool,
}

impl Pattern {
    /// Compiles `text`. Policy variables are recognised only when `variables` is true
    /// (policy version 2012-10-17); otherwise `${…}` is literal text.
    pub fn new(text: &str, flavour: Flavour, variables: bool) -> Pattern {
        let chars: Vec<char> = text.chars().collect();
        let mut tokens = Vec::with_capacity(chars.len());
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if variables
                && c == '$'
                && chars.get(i + 1) == Some(&'{')
                && let Some(len) = chars[i + 2..].iter().position(|&c| c == '}')
            {
                let inner: String = chars[i + 2..i + 2 + len].iter().collect();
                tokens.extend(variable_tokens(&inner));
                i += len + 3;
                continue;
            }
            let next_is_boundary = matches!(chars.get(i + 1), None | Some(':'));
            tokens.push(match (c, flavour) {
                ('*', Flavour::Arn) => Token::Many { in_segment: !next_is_boundary },
                ('*', _) => Token::Many { in_segment: false },
                ('?', Flavour::Arn) => Token::One { in_segment: true },
                ('?', _) => Token::One { in_segment: false },
                (c, _) => Token::Literal(c),
            });
            i += 1;
        }
        let has_wildcard = tokens.iter().any(|t| matches!(t, Token::One { .. } | Token::Many { .. }));
        let has_variable = tokens.iter().any(|t| matches!(t, Token::Variable { .. }));
        Pattern { text: text.to_string(), flavour, tokens, has_wildcard, has_variable }
    }

    /// The pattern as written, for messages and mutant ids.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether it holds policy variables, which need a request to bind before matching.
    pub fn has_variable(&self) -> bool {
        self.has_variable
    }

    /// The keys of the policy variables the pattern holds, in order.
    pub fn variables(&self) -> Vec<&str> {
        self.tokens
            .iter()
            .filter_map(|t| match t {
                Token::Variable { key, .. } => Some(key.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Replaces policy variables by the request's values. `None` when a variable has
    /// neither a value nor a default: AWS then treats the element as not matching.
    pub fn bind<'a>(&'a self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<Cow<'a, Pattern>> {
        if !self.has_variable {
            return Some(Cow::Borrowed(self));
        }
        let mut tokens = Vec::with_capacity(self.tokens.len());
        for t in &self.tokens {
            match t {
                Token::Variable { key, default } => {
                    let value = lookup(key).or_else(|| default.clone())?;
                    tokens.extend(value.chars().map(Token::Literal));
                }
                other => tokens.push(other.clone()),
            }
        }
        let has_wildcard = tokens.iter().any(|t| matches!(t, Token::One { .. } | Token::Many { .. }));
        Some(Cow::Owned(Pattern {
            text: self.text.clone(),
            flavour: self.flavour,
            tokens,
            has_wildcard,
            has_variable: false,
        }))
    }

    /// Whether `text` matches. Unbound variables never match (call [`Pattern::bind`] first).
    pub fn matches(&self, text: &str) -> bool {
        if self.has_variable {
            return false;
        }
        if self.flavour == Flavour::ArnComponents {
            return arn_components_match(&self.tokens, text);
        }
        let fold = self.flavour == Flavour::Action;
        if !self.has_wildcard {
            if fold && self.text.is_ascii() && text.is_ascii() {
                return self.text.eq_ignore_ascii_case(text);
            }
            return lit_eq(&self.tokens, text, fold);
        }
        if self.tokens.len() == 1 && self.tokens[0] == (Token::Many { in_segment: false }) {
            return true;
        }
        let text: Vec<char> = text.chars().collect();
        tokens_match(&self.tokens, &text, fold)
    }
}

impl Pattern {
    /// The pattern as a regular expression (regex crate syntax) of exactly the strings
    /// [`Pattern::matches`] accepts, for the exact minimality procedure (docs/exact.md).
    /// `None` while it holds a policy variable (its language depends on the request).
    /// Action patterns fold case, as the matcher does.
    pub fn regex(&self) -> Option<String> {
        if self.has_variable {
            return None;
        }
        let piece = |tokens: &[Token], colon_free: bool| -> String {
            let mut out = String::new();
            for t in tokens {
                match t {
                    Token::Literal(c) => out.push_str(&regex_syntax_escape(*c)),
                    Token::One { in_segment } if *in_segment || colon_free => out.push_str("[^:]"),
                    Token::One { .. } => out.push('.'),
                    Token::Many { in_segment } if *in_segment || colon_free => out.push_str("[^:]*"),
                    Token::Many { .. } => out.push_str(".*"),
                    Token::Variable { .. } => unreachable!("checked above"),
                }
            }
            out
        };
        let body = if self.flavour == Flavour::ArnComponents {
            // Split at the first five literal colons, as `arn_components_match` does: the
            // first five components hold no colon, the sixth runs to the end.
            let mut pieces: Vec<&[Token]> = Vec::with_capacity(6);
            let mut start = 0;
            for (i, t) in self.tokens.iter().enumerate() {
                if pieces.len() < 5 && *t == Token::Literal(':') {
                    pieces.push(&self.tokens[start..i]);
                    start = i + 1;
                }
            }
            if pieces.len() < 5 {
                // Fewer than six components: matches nothing.
                return Some(NOTHING.into());
            }
            pieces.push(&self.tokens[start..]);
            let mut parts: Vec<String> = pieces[..5].iter().map(|p| piece(p, true)).collect();
            parts.push(piece(pieces[5], false));
            parts.join(":")
        } else {
            piece(&self.tokens, false)
        };
        Some(if self.flavour == Flavour::Action { format!("(?i:{body})") } else { body })
    }
}

/// A regular expression no string matches (an empty class).
pub const NOTHING: &str = "[a&&b]";

/// One character as a regex literal.
fn regex_syntax_escape(c: char) -> String {
    let mut buf = [0u8; 4];
    regex::escape(c.encode_utf8(&mut buf))
}

/// The six colon-delimited components of an ARN: split at the first five colons, the sixth
/// (the resource) keeping any further colons. `None` when there are fewer than six.
pub fn arn_components(text: &str) -> Option<[&str; 6]> {
    let mut parts = text.splitn(6, ':');
    let mut out = [""; 6];
    for slot in &mut out {
        *slot = parts.next()?;
    }
    Some(out)
}

/// `ArnLike`/`ArnEquals`: each of the six components of `tokens` (split at its first five
/// literal colons, after binding) against the same component of `text`
/// (IAM User Guide, "IAM JSON policy elements: Condition operators", ARN section).
fn arn_components_match(tokens: &[Token], text: &str) -> bool {
    let Some(parts) = arn_components(text) else { return false };
    let mut pieces: Vec<&[Token]> = Vec::with_capacity(6);
    let mut start = 0;
    for (i, t) in tokens.iter().enumerate() {
        if pieces.len() < 5 && *t == Token::Literal(':') {
            pieces.push(&tokens[start..i]);
            start = i + 1;
        }
    }
    if pieces.len() < 5 {
        return false;
    }
    pieces.push(&tokens[start..]);
    pieces.iter().zip(parts).all(|(p, part)| {
        let chars: Vec<char> = part.chars().collect();
        tokens_match(p, &chars, false)
    })
}

/// The matcher shared by every flavour: whether `tokens` match exactly `text`.
fn tokens_match(tokens: &[Token], text: &[char], fold: bool) -> bool {
    // reach[j]: the tokens seen so far can match exactly text[..j].
    let mut reach = vec![false; text.len() + 1];
    let mut next = vec![false; text.len() + 1];
    reach[0] = true;
    for token in tokens {
        next.iter_mut().for_each(|x| *x = false);
        match token {
            Token::Literal(c) => {
                for j in 0..text.len() {
                    if reach[j] && chars_eq(text[j], *c, fold) {
                        next[j + 1] = true;
                    }
                }
            }
            Token::One { in_segment } => {
                for j in 0..text.len() {
                    if reach[j] && !(*in_segment && text[j] == ':') {
                        next[j + 1] = true;
                    }
                }
            }
            Token::Many { in_segment } => {
                next[0] = reach[0];
                for j in 1..=text.len() {
                    next[j] = reach[j] || (next[j - 1] && !(*in_segment && text[j - 1] == ':'));
                }
            }
            Token::Variable { .. } => return false,
        }
        std::mem::swap(&mut reach, &mut next);
        if !reach.iter().any(|x| *x) {
            return false;
        }
    }
    reach[text.len()]
}

fn lit_eq(tokens: &[Token], text: &str, fold: bool) -> bool {
    let mut chars = text.chars();
    for t in tokens {
        match (t, chars.next()) {
            (Token::Literal(a), Some(b)) if chars_eq(b, *a, fold) => {}
            _ => return false,
        }
    }
    chars.next().is_none()
}

fn chars_eq(a: char, b: char, fold: bool) -> bool {
    a == b || (fold && a.to_lowercase().eq(b.to_lowercase()))
}

/// `${*}`, `${?}` and `${$}` stand for the literal characters; anything else is a key,
/// optionally with a default: `${aws:username, 'nobody'}`.
fn variable_tokens(inner: &str) -> Vec<Token> {
    match inner.trim() {
        "*" => vec![Token::Literal('*')],
        "?" => vec![Token::Literal('?')],
        "$" => vec![Token::Literal('$')],
        other => {
            let (key, default) = match other.split_once(',') {
                Some((key, default)) => {
                    let d = default.trim().trim_matches('\'').to_string();
                    (key.trim(), Some(d))
                }
                None => (other, None),
            };
            vec![Token::Variable { key: key.to_string(), default }]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn action(p: &str, t: &str) -> bool {
        Pattern::new(p, Flavour::Action, false).matches(t)
    }
    fn arn(p: &str, t: &str) -> bool {
        Pattern::new(p, Flavour::Arn, true).matches(t)
    }

    #[test]
    fn action_table() {
        let cases = [
            ("ec2:RunInstances", "ec2:RunInstances", true),
            ("ec2:RunInstances", "EC2:runinstances", true),
            ("ec2:*", "ec2:CreateVpc", true),
            ("ec2:Describe*", "ec2:DescribeVpcs", true),
            ("ec2:Describe*", "ec2:CreateVpc", false),
            ("ec2:Describe?pcs", "ec2:DescribeVpcs", true),
            ("ec2:Describe?pcs", "ec2:DescribeVVpcs", false),
            ("*", "iam:PassRole", true),
            ("iam:PassRole", "iam:PassRoles", false),
            ("*:Get*", "s3:GetObject", true),
        ];
        for (p, t, want) in cases {
            assert_eq!(action(p, t), want, "{p} vs {t}");
        }
    }

    #[test]
    fn arn_table() {
        let role = "arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io";
        let secret = "arn:*:secretsmanager:*:*:secret:aws.cluster.x-k8s.io/*";
        let asg = "arn:*:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*";
        let cases = [
            (role, "arn:aws:iam::123456789012:role/nodes.cluster-api-provider-aws.sigs.k8s.io", true),
            (role, "arn:aws:iam::123456789012:role/team/nodes.cluster-api-provider-aws.sigs.k8s.io", true),
            (role, "arn:aws:iam::123456789012:role/cluster-api-provider-aws.sigs.k8s.io", false),
            (role, "arn:aws:iam::123456789012:role/nodes.cluster-api-provider-aws.sigs.k8s.io-copy", false),
            (role, "arn:aws:iam::123456789012:role/dkp-bootstrapper-role", false),
            (secret, "arn:aws:secretsmanager:us-west-2:1:secret:aws.cluster.x-k8s.io/abc-AbCdEf", true),
            (secret, "arn:aws:secretsmanager:us-west-2:1:secret:aws.cluster.x-k8s.io-evil/abc", false),
            (secret, "arn:aws:secretsmanager:us-west-2:1:secret:aws.cluster.x-k8s.io", false),
            (asg, "arn:aws:autoscaling:us-west-2:1:autoScalingGroup:6d4f:autoScalingGroupName/md-0", true),
            (asg, "arn:aws:autoscaling:us-west-2:1:launchConfiguration:6d4f:launchConfigurationName/x", false),
            ("*", "arn:aws:ec2:us-west-2:1:vpc/vpc-1", true),
            // A segment-final `*` expands across colons; a mid-segment one does not.
            ("arn:aws:ec2:*", "arn:aws:ec2:us-west-2:1:vpc/vpc-1", true),
            ("arn:aws:ec2:us-*-2:1:vpc/*", "arn:aws:ec2:us-west-2:1:vpc/x", true),
            ("arn:aws:ec2:us*2:1:vpc/*", "arn:aws:ec2:us:x:2:1:vpc/x", false),
            ("arn:aws:ec2:us-west-?:1:vpc/x", "arn:aws:ec2:us-west-2:1:vpc/x", true),
            ("arn:aws:iam::1:role/Bob", "arn:aws:iam::1:role/bob", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(arn(p, t), want, "{p} vs {t}");
        }
    }

    /// The same text read as a `Resource` ARN and as an `ArnLike` value.
    /// `Resource`: IAM User Guide, "IAM JSON policy elements: Resource", "Using wildcards in
    /// resource ARNs": "If the `*` wildcard is the last character of a resource ARN segment,
    /// it can expand to match beyond the colon boundaries."
    /// `ArnLike`: IAM User Guide, "IAM JSON policy elements: Condition operators": "Each of
    /// the six colon-delimited components of the ARN is checked separately".
    #[test]
    fn resource_arns_and_arn_condition_values_differ_at_colons() {
        let resource = |p: &str, t: &str| Pattern::new(p, Flavour::Arn, true).matches(t);
        let condition = |p: &str, t: &str| Pattern::new(p, Flavour::ArnComponents, true).matches(t);
        let vpc = "arn:aws:ec2:us-west-2:1:vpc/vpc-1";
        let doc = "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt";
        // (pattern, text, as a Resource, as an ArnLike value)
        let rows = [
            ("arn:aws:ec2:*", vpc, true, false),
            ("arn:aws:ec2:*:*:*", vpc, true, true),
            ("arn:aws:someservice:*:111122223333:finance/*", doc, true, false),
            ("arn:aws:ec2:us*2:1:vpc/*", "arn:aws:ec2:us:x:2:1:vpc/x", false, false),
            ("arn:aws:ec2:us-west-?:1:vpc/*", vpc, true, true),
            ("*", vpc, true, false),
            (vpc, vpc, true, true),
            (
                "arn:aws:autoscaling:*:*:autoScalingGroup:*:autoScalingGroupName/*",
                "arn:aws:autoscaling:r:1:autoScalingGroup:u:autoScalingGroupName/n",
                true,
                true,
            ),
        ];
        for (p, t, as_resource, as_condition) in rows {
            assert_eq!(resource(p, t), as_resource, "Resource {p} vs {t}");
            assert_eq!(condition(p, t), as_condition, "ArnLike {p} vs {t}");
        }
        assert_eq!(arn_components("arn:aws:iam::1:role/a:b"), Some(["arn", "aws", "iam", "", "1", "role/a:b"]));
        assert_eq!(arn_components("arn:aws:iam"), None);
    }

    #[test]
    fn variables_bind_or_fail_closed() {
        let p = Pattern::new("arn:aws:iam::1:user/${aws:username}", Flavour::Arn, true);
        assert!(!p.matches("arn:aws:iam::1:user/bob"));
        let bound = p.bind(&|k| (k == "aws:username").then(|| "bob".to_string())).unwrap();
        assert!(bound.matches("arn:aws:iam::1:user/bob"));
        assert!(!bound.matches("arn:aws:iam::1:user/alice"));
        assert!(p.bind(&|_| None).is_none());
        let with_default = Pattern::new("x/${aws:username, 'nobody'}", Flavour::String, true);
        assert!(with_default.bind(&|_| None).unwrap().matches("x/nobody"));
        // ${*} is a literal star, not a wildcard.
        let literal = Pattern::new("a${*}b", Flavour::String, true);
        assert!(literal.matches("a*b"));
        assert!(!literal.matches("axb"));
        // Version 2008-10-17 has no variables.
        assert!(Pattern::new("${x}", Flavour::String, false).matches("${x}"));
    }

    /// A plain recursive matcher used as the oracle for the property tests.
    fn oracle(p: &[char], t: &[char], fold: bool, arn: bool) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => {
                let spans = !arn || matches!(rest.first(), None | Some(':'));
                (0..=t.len())
                    .take_while(|&k| k == 0 || spans || t[k - 1] != ':')
                    .any(|k| oracle(rest, &t[k..], fold, arn))
            }
            Some(('?', rest)) => t.first().is_some_and(|c| !(arn && *c == ':')) && oracle(rest, &t[1..], fold, arn),
            Some((c, rest)) => t.first().is_some_and(|d| chars_eq(*d, *c, fold)) && oracle(rest, &t[1..], fold, arn),
        }
    }

    proptest! {
        #[test]
        fn matcher_agrees_with_oracle(p in "[ab:*?/]{0,8}", t in "[abAB:/]{0,10}") {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(Pattern::new(&p, Flavour::Action, false).matches(&t), oracle(&pc, &tc, true, false));
            prop_assert_eq!(Pattern::new(&p, Flavour::String, false).matches(&t), oracle(&pc, &tc, false, false));
            prop_assert_eq!(Pattern::new(&p, Flavour::Arn, false).matches(&t), oracle(&pc, &tc, false, true));
        }

        #[test]
        fn a_literal_matches_itself(t in "[a-zA-Z0-9:/._-]{0,30}") {
            prop_assert!(Pattern::new(&t, Flavour::Arn, false).matches(&t));
            prop_assert!(Pattern::new(&t, Flavour::Action, false).matches(&t.to_uppercase()));
        }

        #[test]
        fn star_matches_everything(t in ".{0,30}") {
            prop_assert!(Pattern::new("*", Flavour::Arn, false).matches(&t));
        }
    }
}
