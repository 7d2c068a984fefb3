//! Condition operators and their evaluation against a request context.
//!
//! Semantics from the IAM User Guide ("IAM JSON policy elements: Condition operators"
//! and "Conditions with multiple context keys or values"): operators, keys and
//! clauses are ANDed; the values of one key are ORed, or NORed for negated operators;
//! a key missing from the request makes a clause false, except that negated operators
//! are then true and `…IfExists` is true; `Null` tests presence; `ForAllValues:` is
//! true for a missing key and `ForAnyValue:` false.

use std::collections::HashMap;
use std::net::IpAddr;

use super::wildcard::{Flavour, Pattern};

/// The base comparison an operator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
    Bool,
    BinaryEquals,
    IpAddress,
    NotIpAddress,
    ArnEquals,
    ArnLike,
    ArnNotEquals,
    ArnNotLike,
    Null,
}

const KINDS: &[(&str, OpKind)] = &[
    ("StringEquals", OpKind::StringEquals),
    ("StringNotEquals", OpKind::StringNotEquals),
    ("StringEqualsIgnoreCase", OpKind::StringEqualsIgnoreCase),
    ("StringNotEqualsIgnoreCase", OpKind::StringNotEqualsIgnoreCase),
    ("StringLike", OpKind::StringLike),
    ("StringNotLike", OpKind::StringNotLike),
    ("NumericEquals", OpKind::NumericEquals),
    ("NumericNotEquals", OpKind::NumericNotEquals),
    ("NumericLessThan", OpKind::NumericLessThan),
    ("NumericLessThanEquals", OpKind::NumericLessThanEquals),
    ("NumericGreaterThan", OpKind::NumericGreaterThan),
    ("NumericGreaterThanEquals", OpKind::NumericGreaterThanEquals),
    ("DateEquals", OpKind::DateEquals),
    ("DateNotEquals", OpKind::DateNotEquals),
    ("DateLessThan", OpKind::DateLessThan),
    ("DateLessThanEquals", OpKind::DateLessThanEquals),
    ("DateGreaterThan", OpKind::DateGreaterThan),
    ("DateGreaterThanEquals", OpKind::DateGreaterThanEquals),
    ("Bool", OpKind::Bool),
    ("BinaryEquals", OpKind::BinaryEquals),
    ("IpAddress", OpKind::IpAddress),
    ("NotIpAddress", OpKind::NotIpAddress),
    ("ArnEquals", OpKind::ArnEquals),
    ("ArnLike", OpKind::ArnLike),
    ("ArnNotEquals", OpKind::ArnNotEquals),
    ("ArnNotLike", OpKind::ArnNotLike),
    ("Null", OpKind::Null),
];

impl OpKind {
    pub fn name(self) -> &'static str {
        KINDS.iter().find(|(_, k)| *k == self).map(|(n, _)| *n).unwrap_or("?")
    }

    /// For a negated operator, the positive one whose result it inverts.
    fn positive(self) -> Option<OpKind> {
        use OpKind::*;
        Some(match self {
            StringNotEquals => StringEquals,
            StringNotEqualsIgnoreCase => StringEqualsIgnoreCase,
            StringNotLike => StringLike,
            NumericNotEquals => NumericEquals,
            DateNotEquals => DateEquals,
            NotIpAddress => IpAddress,
            ArnNotEquals => ArnEquals,
            ArnNotLike => ArnLike,
            _ => return None,
        })
    }

    pub fn is_negated(self) -> bool {
        self.positive().is_some()
    }

    /// The operator that answers the opposite question, where there is one. Used by
    /// mutation analysis ("negate each condition operator").
    pub fn opposite(self) -> Option<OpKind> {
        use OpKind::*;
        if let Some(p) = self.positive() {
            return Some(p);
        }
        Some(match self {
            StringEquals => StringNotEquals,
            StringEqualsIgnoreCase => StringNotEqualsIgnoreCase,
            StringLike => StringNotLike,
            NumericEquals => NumericNotEquals,
            NumericLessThan => NumericGreaterThanEquals,
            NumericGreaterThanEquals => NumericLessThan,
            NumericGreaterThan => NumericLessThanEquals,
            NumericLessThanEquals => NumericGreaterThan,
            DateEquals => DateNotEquals,
            DateLessThan => DateGreaterThanEquals,
            DateGreaterThanEquals => DateLessThan,
            DateGreaterThan => DateLessThanEquals,
            DateLessThanEquals => DateGreaterThan,
            IpAddress => NotIpAddress,
            ArnEquals => ArnNotEquals,
            ArnLike => ArnNotLike,
            Bool | BinaryEquals | Null => return None,
            _ => return None,
        })
    }

    fn uses_pattern(self) -> Option<Flavour> {
        match self {
            OpKind::StringLike | OpKind::StringNotLike => Some(Flavour::String),
            OpKind::ArnEquals | OpKind::ArnLike | OpKind::ArnNotEquals | OpKind::ArnNotLike => Some(Flavour::Arn),
            _ => None,
        }
    }
}

/// A set qualifier for multivalued keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    None,
    ForAnyValue,
    ForAllValues,
}

/// A full operator as written: qualifier, base comparison, `IfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operator {
    pub set: SetQualifier,
    pub kind: OpKind,
    pub if_exists: bool,
}

impl Operator {
    /// Parses an operator name; `None` for anything AWS does not define.
    pub fn parse(text: &str) -> Option<Operator> {
        let (set, rest) = if let Some(r) = text.strip_prefix("ForAnyValue:") {
            (SetQualifier::ForAnyValue, r)
        } else if let Some(r) = text.strip_prefix("ForAllValues:") {
            (SetQualifier::ForAllValues, r)
        } else {
            (SetQualifier::None, text)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (rest, false),
        };
        let kind = KINDS.iter().find(|(n, _)| *n == base)?.1;
        if if_exists && kind == OpKind::Null {
            return None;
        }
        Some(Operator { set, kind, if_exists })
    }

    pub fn name(&self) -> String {
        let set = match self.set {
            SetQualifier::None => "",
            SetQualifier::ForAnyValue => "ForAnyValue:",
            SetQualifier::ForAllValues => "ForAllValues:",
        };
        format!("{set}{}{}", self.kind.name(), if self.if_exists { "IfExists" } else { "" })
    }
}

/// Checks a policy value is of the operator's type; `Err` says what was expected. Values
/// with policy variables are checked once bound, at evaluation.
pub fn validate_value(kind: OpKind, text: &str, variables: bool) -> Result<(), &'static str> {
    use OpKind::*;
    if variables && text.contains("${") {
        return Ok(());
    }
    let ok = match kind {
        NumericEquals
        | NumericNotEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => is_decimal(text.trim()),
        DateEquals | DateNotEquals | DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals => {
            is_decimal(text.trim()) || is_calendar_date(text.trim())
        }
        Bool | Null => text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false"),
        IpAddress | NotIpAddress => {
            let (net, bits) = match text.split_once('/') {
                Some((n, b)) => (n, Some(b)),
                None => (text, None),
            };
            match net.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => bits.is_none_or(|b| b.parse::<u32>().is_ok_and(|b| b <= 32)),
                Ok(IpAddr::V6(_)) => bits.is_none_or(|b| b.parse::<u32>().is_ok_and(|b| b <= 128)),
                Err(_) => false,
            }
        }
        _ => true,
    };
    if ok {
        return Ok(());
    }
    Err(match kind {
        Bool | Null => "`true` or `false`",
        IpAddress | NotIpAddress => "an IP address or CIDR block (such as 203.0.113.0/24)",
        DateEquals | DateNotEquals | DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals => {
            "an ISO 8601 date (such as 2026-01-31T12:00:00Z) or epoch seconds"
        }
        _ => "a number",
    })
}

/// A plain decimal number (`-12`, `3.5`): no exponent, infinity or NaN.
fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// An ISO 8601 date or date-time whose fields are in range (`2026-02-31` is not).
fn is_calendar_date(text: &str) -> bool {
    let (date, time) = match text.split_once(['T', 't']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return false };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>()) else { return false };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if !(1..=12).contains(&m) || d == 0 || d > days[(m - 1) as usize] {
        return false;
    }
    let Some(time) = time else { return true };
    let clock = time.trim_end_matches(['Z', 'z']);
    let clock = clock.split(['+']).next().unwrap_or(clock);
    let clock = if clock.len() > 8 && clock.as_bytes()[8] == b'-' { &clock[..8] } else { clock };
    let hms: Vec<&str> = clock.split(':').collect();
    let field = |i: usize, max: f64| hms.get(i).is_none_or(|v| v.parse::<f64>().is_ok_and(|n| (0.0..max).contains(&n)));
    !hms.is_empty() && field(0, 24.0) && field(1, 60.0) && field(2, 61.0) && parse_date(text).is_some()
}

/// Every operator name the parser accepts, for error messages.
pub fn operator_names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(n, _)| *n)
}

/// The condition keys a request supplies. Keys compare case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
}

impl Context {
    pub fn new() -> Self {
        Context::default()
    }

    pub fn insert(&mut self, key: &str, values: Vec<String>) {
        self.values.insert(key.to_ascii_lowercase(), values);
    }

    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.insert(key, vec![value.to_string()]);
        self
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(&key.to_ascii_lowercase()).map(Vec::as_slice)
    }

    /// A single value for policy-variable substitution; multivalued keys do not bind.
    pub fn single(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.values.iter()
    }
}

/// One compiled value of a condition clause.
#[derive(Clone, Debug, PartialEq)]
pub struct ConditionValue {
    pub text: String,
    /// For the wildcard operators (StringLike, Arn*): the compiled pattern.
    pattern: Option<Pattern>,
    /// Whether `${…}` in `text` are policy variables (version 2012-10-17).
    variables: bool,
}

impl ConditionValue {
    pub fn new(text: &str, kind: OpKind, variables: bool) -> Self {
        let pattern = kind.positive().unwrap_or(kind).uses_pattern().map(|f| Pattern::new(text, f, variables));
        ConditionValue { text: text.to_string(), pattern, variables: variables && text.contains("${") }
    }

    /// The value with its policy variables replaced by the request's; `None` when one has
    /// neither a value nor a default (the value then matches nothing).
    fn bound(&self, ctx: &Context) -> Option<std::borrow::Cow<'_, str>> {
        if !self.variables {
            return Some(std::borrow::Cow::Borrowed(&self.text));
        }
        let mut out = String::new();
        let mut rest = self.text.as_str();
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Some(std::borrow::Cow::Owned(out));
            };
            let inner = after[..end].trim();
            match inner {
                "*" | "?" | "$" => out.push_str(inner),
                _ => {
                    let (key, default) = match inner.split_once(',') {
                        Some((k, d)) => (k.trim(), Some(d.trim().trim_matches('\'').to_string())),
                        None => (inner, None),
                    };
                    out.push_str(&ctx.single(key).or(default)?);
                }
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Some(std::borrow::Cow::Owned(out))
    }
}

/// Evaluates one clause: `operator: { key: values }`.
pub fn clause_holds(op: &Operator, key: &str, values: &[ConditionValue], ctx: &Context) -> bool {
    let present = ctx.get(key).filter(|v| !v.is_empty());
    if op.kind == OpKind::Null {
        // `"Null": {"k": "true"}` holds when k is absent.
        return values.iter().any(|v| v.text.eq_ignore_ascii_case("true") == present.is_none());
    }
    let Some(request_values) = present else {
        if op.if_exists {
            return true;
        }
        return match op.set {
            SetQualifier::ForAllValues => true,
            SetQualifier::ForAnyValue => false,
            SetQualifier::None => op.kind.is_negated(),
        };
    };
    // A policy variable the request cannot supply makes the clause fail, negated or not
    // (AWS: an unresolvable variable leaves the statement not applying).
    let unbound = |v: &ConditionValue| match &v.pattern {
        Some(p) => p.has_variable() && p.bind(&|k: &str| ctx.single(k)).is_none(),
        None => v.bound(ctx).is_none(),
    };
    if values.iter().any(unbound) {
        return false;
    }
    let base = op.kind.positive().unwrap_or(op.kind);
    let negated = op.kind.is_negated();
    // One request value passes when it matches some policy value (or, negated, none).
    let passes = |r: &String| values.iter().any(|v| base_match(base, r, v, ctx)) != negated;
    match op.set {
        SetQualifier::ForAllValues => request_values.iter().all(passes),
        SetQualifier::ForAnyValue => request_values.iter().any(passes),
        SetQualifier::None if negated => request_values.iter().all(passes),
        SetQualifier::None => request_values.iter().any(passes),
    }
}

fn base_match(kind: OpKind, request: &str, policy: &ConditionValue, ctx: &Context) -> bool {
    if let Some(pattern) = &policy.pattern {
        return match pattern.bind(&|k: &str| ctx.single(k)) {
            Some(bound) => bound.matches(request),
            None => false,
        };
    }
    // Every other operator compares the value with its variables bound, by its own rule.
    let Some(bound) = policy.bound(ctx) else { return false };
    let policy_text: &str = &bound;
    match kind {
        OpKind::StringEquals | OpKind::BinaryEquals => request == policy_text,
        OpKind::StringEqualsIgnoreCase => request.to_lowercase() == policy_text.to_lowercase(),
        OpKind::Bool => request.eq_ignore_ascii_case(policy_text),
        OpKind::NumericEquals
        | OpKind::NumericLessThan
        | OpKind::NumericLessThanEquals
        | OpKind::NumericGreaterThan
        | OpKind::NumericGreaterThanEquals => {
            match (request.trim().parse::<f64>(), policy_text.trim().parse::<f64>()) {
                (Ok(r), Ok(p)) => compare(kind, r.partial_cmp(&p)),
                _ => false,
            }
        }
        OpKind::DateEquals
        | OpKind::DateLessThan
        | OpKind::DateLessThanEquals
        | OpKind::DateGreaterThan
        | OpKind::DateGreaterThanEquals => match (parse_date(request), parse_date(policy_text)) {
            (Some(r), Some(p)) => compare(kind, r.partial_cmp(&p)),
            _ => false,
        },
        OpKind::IpAddress => ip_in_cidr(request, policy_text),
        _ => false,
    }
}

fn compare(kind: OpKind, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    let Some(ord) = ord else { return false };
    match kind {
        OpKind::NumericEquals | OpKind::DateEquals => ord == Equal,
        OpKind::NumericLessThan | OpKind::DateLessThan => ord == Less,
        OpKind::NumericLessThanEquals | OpKind::DateLessThanEquals => ord != Greater,
        OpKind::NumericGreaterThan | OpKind::DateGreaterThan => ord == Greater,
        OpKind::NumericGreaterThanEquals | OpKind::DateGreaterThanEquals => ord != Less,
        _ => false,
    }
}

/// Seconds since the epoch from ISO 8601 (`2026-01-31`, `2026-01-31T12:00:00Z`,
/// with optional fraction and `±hh:mm` offset) or from epoch seconds.
pub fn parse_date(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(epoch) = text.parse::<f64>() {
        return Some(epoch);
    }
    let (date, time) = match text.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: i64 = parts.next()?.parse().ok()?;
    let day: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut seconds = days_from_civil(year, month, day) as f64 * 86_400.0;
    if let Some(time) = time {
        let (clock, offset) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
            (c, 0.0)
        } else if let Some(i) = time.rfind(['+', '-']) {
            let (c, o) = time.split_at(i);
            let sign = if o.starts_with('-') { -1.0 } else { 1.0 };
            let (h, m) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
            (c, sign * (h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0))
        } else {
            (time, 0.0)
        };
        let mut hms = clock.split(':');
        let h: f64 = hms.next()?.parse().ok()?;
        let m: f64 = hms.next().unwrap_or("0").parse().ok()?;
        let s: f64 = hms.next().unwrap_or("0").parse().ok()?;
        seconds += h * 3600.0 + m * 60.0 + s - offset;
    }
    Some(seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn ip_in_cidr(ip: &str, cidr: &str) -> bool {
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    match (ip.parse::<IpAddr>(), net.parse::<IpAddr>()) {
        (Ok(IpAddr::V4(a)), Ok(IpAddr::V4(n))) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (Ok(IpAddr::V6(a)), Ok(IpAddr::V6(n))) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(op: &str, key: &str, values: &[&str], ctx: &Context) -> bool {
        let op = Operator::parse(op).unwrap();
        let values: Vec<ConditionValue> = values.iter().map(|v| ConditionValue::new(v, op.kind, true)).collect();
        clause_holds(&op, key, &values, ctx)
    }

    fn ctx(pairs: &[(&str, &[&str])]) -> Context {
        let mut c = Context::new();
        for (k, v) in pairs {
            c.insert(k, v.iter().map(|s| s.to_string()).collect());
        }
        c
    }

    /// Each row: operator, key, policy values, request context, expected.
    #[test]
    fn documented_semantics_table() {
        let svc = ctx(&[("iam:AWSServiceName", &["autoscaling.amazonaws.com"])]);
        let none = Context::new();
        let tags = ctx(&[("aws:TagKeys", &["Name", "env"])]);
        let rows: Vec<(&str, &str, Vec<&str>, &Context, bool)> = vec![
            ("StringLike", "iam:AWSServiceName", vec!["autoscaling.amazonaws.com"], &svc, true),
            ("StringLike", "IAM:awsservicename", vec!["autoscaling.*"], &svc, true),
            ("StringLike", "iam:AWSServiceName", vec!["elasticloadbalancing.amazonaws.com"], &svc, false),
            ("StringLike", "iam:AWSServiceName", vec!["x", "autoscaling.amazonaws.com"], &svc, true),
            ("StringEquals", "iam:AWSServiceName", vec!["AutoScaling.amazonaws.com"], &svc, false),
            ("StringEqualsIgnoreCase", "iam:AWSServiceName", vec!["AutoScaling.amazonaws.com"], &svc, true),
            ("StringNotEquals", "iam:AWSServiceName", vec!["x", "autoscaling.amazonaws.com"], &svc, false),
            ("StringNotEquals", "iam:AWSServiceName", vec!["x", "y"], &svc, true),
            // A missing key: false, true for negated operators and IfExists.
            ("StringLike", "iam:AWSServiceName", vec!["*"], &none, false),
            ("StringNotLike", "iam:AWSServiceName", vec!["*"], &none, true),
            ("StringLikeIfExists", "iam:AWSServiceName", vec!["nope"], &none, true),
            ("StringLikeIfExists", "iam:AWSServiceName", vec!["nope"], &svc, false),
            ("Null", "iam:AWSServiceName", vec!["true"], &none, true),
            ("Null", "iam:AWSServiceName", vec!["false"], &none, false),
            ("Null", "iam:AWSServiceName", vec!["false"], &svc, true),
            // Set qualifiers.
            ("ForAllValues:StringEquals", "aws:TagKeys", vec!["Name", "env", "team"], &tags, true),
            ("ForAllValues:StringEquals", "aws:TagKeys", vec!["Name"], &tags, false),
            ("ForAllValues:StringEquals", "aws:TagKeys", vec!["Name"], &none, true),
            ("ForAnyValue:StringEquals", "aws:TagKeys", vec!["env"], &tags, true),
            ("ForAnyValue:StringEquals", "aws:TagKeys", vec!["team"], &tags, false),
            ("ForAnyValue:StringEquals", "aws:TagKeys", vec!["env"], &none, false),
            ("ForAnyValue:StringNotEquals", "aws:TagKeys", vec!["Name"], &tags, true),
            ("ForAllValues:StringNotEquals", "aws:TagKeys", vec!["team"], &tags, true),
            ("ForAllValues:StringNotEquals", "aws:TagKeys", vec!["env"], &tags, false),
        ];
        for (op, key, values, c, want) in rows {
            assert_eq!(holds(op, key, &values, c), want, "{op} {key} {values:?}");
        }
    }

    #[test]
    fn numeric_date_bool_ip_arn() {
        let c = ctx(&[
            ("n", &["5"]),
            ("d", &["2026-11-28T12:00:00Z"]),
            ("b", &["true"]),
            ("ip", &["10.1.2.3"]),
            ("ip6", &["2001:db8::1"]),
            ("arn", &["arn:aws:iam::1:role/x"]),
        ]);
        assert!(holds("NumericLessThan", "n", &["6"], &c));
        assert!(!holds("NumericLessThan", "n", &["5"], &c));
        assert!(holds("NumericLessThanEquals", "n", &["5"], &c));
        assert!(holds("NumericGreaterThanEquals", "n", &["5.0"], &c));
        assert!(holds("NumericNotEquals", "n", &["4"], &c));
        assert!(!holds("NumericEquals", "n", &["abc"], &c));
        assert!(holds("DateGreaterThan", "d", &["2026-11-28"], &c));
        assert!(holds("DateLessThan", "d", &["2026-11-28T13:00:00+00:30"], &c));
        assert!(holds("DateEquals", "d", &["2026-11-28T13:00:00+01:00"], &c));
        assert!(holds("Bool", "b", &["TRUE"], &c));
        assert!(!holds("Bool", "b", &["false"], &c));
        assert!(holds("IpAddress", "ip", &["10.0.0.0/8"], &c));
        assert!(!holds("IpAddress", "ip", &["10.2.0.0/16"], &c));
        assert!(holds("NotIpAddress", "ip", &["192.168.0.0/16"], &c));
        assert!(holds("IpAddress", "ip6", &["2001:db8::/32"], &c));
        assert!(holds("ArnLike", "arn", &["arn:aws:iam::*:role/*"], &c));
        assert!(holds("ArnEquals", "arn", &["arn:aws:iam::1:role/?"], &c));
        assert!(holds("ArnNotLike", "arn", &["arn:aws:iam::*:user/*"], &c));
    }

    #[test]
    fn variables_in_condition_values() {
        let c = ctx(&[("aws:username", &["bob"]), ("s3:prefix", &["home/bob/x"]), ("owner", &["bob"])]);
        assert!(holds("StringLike", "s3:prefix", &["home/${aws:username}/*"], &c));
        assert!(!holds("StringLike", "s3:prefix", &["home/${aws:userid}/*"], &c));
        assert!(holds("StringEquals", "owner", &["${aws:username}"], &c));
        assert!(!holds("StringEquals", "owner", &["${aws:username}x"], &c));
        // An equality value keeps `*` literal even when it has variables.
        assert!(!holds("StringEquals", "owner", &["${aws:username}*"], &c));
        // Bound values keep their operator's own comparison.
        assert!(holds(
            "StringEqualsIgnoreCase",
            "owner",
            &["${aws:username, 'x'}"],
            &ctx(&[("owner", &["BOB"]), ("aws:username", &["bob"])])
        ));
        let n = ctx(&[("n", &["5"]), ("limit", &["10"])]);
        assert!(holds("NumericLessThan", "n", &["${limit}"], &n));
        assert!(!holds("NumericGreaterThan", "n", &["${limit}"], &n));
        assert!(!holds("NumericLessThan", "n", &["${missing}"], &n), "an unbound variable matches nothing");
        assert!(!holds("StringNotEquals", "owner", &["${missing}"], &c), "not even under a negated operator");
    }

    #[test]
    fn operator_parsing() {
        for name in operator_names() {
            assert_eq!(Operator::parse(name).unwrap().name(), name);
        }
        assert_eq!(Operator::parse("ForAnyValue:StringLikeIfExists").unwrap().name(), "ForAnyValue:StringLikeIfExists");
        assert!(Operator::parse("StringLikes").is_none());
        assert!(Operator::parse("NullIfExists").is_none());
        assert!(Operator::parse("stringlike").is_none());
        for (kind, bad) in [
            (OpKind::NumericLessThan, "inf"),
            (OpKind::NumericEquals, "NaN"),
            (OpKind::NumericEquals, "1e3"),
            (OpKind::DateLessThan, "2026-02-31T00:00:00Z"),
            (OpKind::DateLessThan, "2026-01-01T99:00:00Z"),
        ] {
            assert!(validate_value(kind, bad, true).is_err(), "{bad}");
        }
        for (kind, good) in [
            (OpKind::NumericLessThan, "-3.5"),
            (OpKind::DateLessThan, "2024-02-29T23:59:59Z"),
            (OpKind::DateLessThan, "1700000000"),
            (OpKind::DateEquals, "2026-01-31"),
        ] {
            assert!(validate_value(kind, good, true).is_ok(), "{good}");
        }
    }

    #[test]
    fn every_opposite_is_an_involution() {
        for (_, kind) in KINDS {
            if let Some(o) = kind.opposite() {
                assert_eq!(o.opposite(), Some(*kind), "{kind:?}");
            }
        }
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0.0));
        assert_eq!(parse_date("1970-01-02T00:00:01Z"), Some(86_401.0));
        assert_eq!(parse_date("2000-03-01"), Some(951_868_800.0));
        assert_eq!(parse_date("not a date"), None);
    }
}
