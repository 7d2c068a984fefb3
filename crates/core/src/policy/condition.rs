//! Condition operators and their evaluation against a request context.
//!
//! Semantics from the IAM User Guide ("IAM JSON policy elements: Condition operators"
//! and "Conditions with multiple context keys or values"): operators, keys and
//! clauses are ANDed; the values of one key are ORed, or NORed for negated operators;
//! a key missing from the request makes a clause false, except that negated operators
//! are then true and `…IfExists` is true; `Null` tests presence; `ForAllValues:` is
//! true for a missing key and `ForAnyValue:` false. A policy value whose variable has no
//! value in the request is null: positive operators do not match it, negated ones do
//! ("IAM policy elements: Variables and tags", "Policy variables with no value"). ARN
//! operators compare the six colon-delimited components one by one; date values are the
//! W3C forms of ISO 8601 or epoch seconds (both: "IAM JSON policy elements: Condition
//! operators"). See [`clause_holds`], [`super::wildcard`] and [`parse_date`].

use std::collections::HashMap;
use std::net::IpAddr;

use super::wildcard::{Flavour, Pattern};

/// The base comparison an operator makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpKind {
    /// Exact, case-sensitive string match.
    StringEquals,
    /// Negated [`OpKind::StringEquals`].
    StringNotEquals,
    /// String match ignoring case.
    StringEqualsIgnoreCase,
    /// Negated [`OpKind::StringEqualsIgnoreCase`].
    StringNotEqualsIgnoreCase,
    /// String match with `*` and `?` wildcards.
    StringLike,
    /// Negated [`OpKind::StringLike`].
    StringNotLike,
    /// Numeric equality.
    NumericEquals,
    /// Negated [`OpKind::NumericEquals`].
    NumericNotEquals,
    /// The request's number is below the policy's.
    NumericLessThan,
    /// The request's number is at most the policy's.
    NumericLessThanEquals,
    /// The request's number is above the policy's.
    NumericGreaterThan,
    /// The request's number is at least the policy's.
    NumericGreaterThanEquals,
    /// The same instant.
    DateEquals,
    /// Negated [`OpKind::DateEquals`].
    DateNotEquals,
    /// The request's date is before the policy's.
    DateLessThan,
    /// The request's date is at or before the policy's.
    DateLessThanEquals,
    /// The request's date is after the policy's.
    DateGreaterThan,
    /// The request's date is at or after the policy's.
    DateGreaterThanEquals,
    /// `true` or `false`, ignoring case.
    Bool,
    /// A base64 value, compared byte for byte as text.
    BinaryEquals,
    /// The request's address is in the policy's CIDR range.
    IpAddress,
    /// Negated [`OpKind::IpAddress`].
    NotIpAddress,
    /// ARN match, component by component (wildcards allowed, as in ArnLike).
    ArnEquals,
    /// ARN match with wildcards, component by component.
    ArnLike,
    /// Negated [`OpKind::ArnEquals`].
    ArnNotEquals,
    /// Negated [`OpKind::ArnLike`].
    ArnNotLike,
    /// Tests whether the key is present (`false`) or absent (`true`).
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
    /// The operator's name as policies write it.
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

    /// Whether the operator inverts a positive one, which changes how missing keys are treated.
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
            // "Each of the six colon-delimited components of the ARN is checked separately"
            // (IAM User Guide, "IAM JSON policy elements: Condition operators").
            OpKind::ArnEquals | OpKind::ArnLike | OpKind::ArnNotEquals | OpKind::ArnNotLike => {
                Some(Flavour::ArnComponents)
            }
            _ => None,
        }
    }
}

/// A set qualifier for multivalued keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// The key is single-valued.
    None,
    /// At least one request value must match.
    ForAnyValue,
    /// Every request value must match (true when there are none).
    ForAllValues,
}

/// A full operator as written: qualifier, base comparison, `IfExists`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operator {
    /// The set qualifier, for multivalued keys.
    pub set: SetQualifier,
    /// The base comparison.
    pub kind: OpKind,
    /// `…IfExists`: true when the key is missing.
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

    /// The operator as policies write it, qualifier and `IfExists` included.
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
            "a W3C ISO 8601 date or date-time (2026, 2026-01, 2026-01-31, 2026-01-31T12:00Z, \
             2026-01-31T12:00:00.5+01:00) or epoch seconds"
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

/// A date or date-time in one of the W3C forms of ISO 8601 with its fields in range
/// (`2026-02-31` is not). See [`parse_date`] for the forms and their meaning.
fn is_calendar_date(text: &str) -> bool {
    w3c_datetime(text).is_some()
}

/// Every operator name the parser accepts, for error messages.
pub fn operator_names() -> impl Iterator<Item = &'static str> {
    KINDS.iter().map(|(n, _)| *n)
}

/// The condition keys a request supplies. Keys compare case-insensitively.
///
/// Besides the keys present, a context can name keys whose presence and value are *not
/// modelled* ([`Context::mark_unknown`]): the plain evaluator reads them as absent, and
/// [`super::decision::decide_traced`] reports a decision that depends on one as undecided
/// instead of guessing (see `crate::context`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    values: HashMap<String, Vec<String>>,
    unknown: Vec<String>,
}

impl Context {
    /// An empty context: a request that supplies no keys.
    pub fn new() -> Self {
        Context::default()
    }

    /// Sets `key`'s values (replacing any); the key is then known.
    pub fn insert(&mut self, key: &str, values: Vec<String>) {
        let key = key.to_ascii_lowercase();
        self.unknown.retain(|k| *k != key);
        self.values.insert(key, values);
    }

    /// Removes `key`: the request then lacks it (absent, not unknown).
    pub fn remove(&mut self, key: &str) {
        let key = key.to_ascii_lowercase();
        self.values.remove(&key);
        self.unknown.retain(|k| *k != key);
    }

    /// Marks `key` as not modelled: neither present nor known to be absent. The plain
    /// evaluator reads it as absent; the traced one reports what depends on it.
    pub fn mark_unknown(&mut self, key: &str) {
        let key = key.to_ascii_lowercase();
        self.values.remove(&key);
        if !self.unknown.contains(&key) {
            self.unknown.push(key);
        }
    }

    /// Whether `key` is marked as not modelled.
    pub fn is_unknown(&self, key: &str) -> bool {
        !self.unknown.is_empty() && self.unknown.iter().any(|k| k.eq_ignore_ascii_case(key))
    }

    /// The keys marked as not modelled (lowercased).
    pub fn unknown_keys(&self) -> &[String] {
        &self.unknown
    }

    /// The context with `key` set to one value, for building contexts in one expression.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.insert(key, vec![value.to_string()]);
        self
    }

    /// The values of `key`, compared case-insensitively as IAM does.
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

    /// Whether the request supplies no keys (and marks none as not modelled).
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.unknown.is_empty()
    }

    /// Every key (lowercased) with its values.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<String>)> {
        self.values.iter()
    }
}

/// One compiled value of a condition clause.
#[derive(Clone, Debug, PartialEq)]
pub struct ConditionValue {
    /// The value as the policy writes it.
    pub text: String,
    /// For the wildcard operators (StringLike, Arn*): the compiled pattern.
    pattern: Option<Pattern>,
    /// Whether `${…}` in `text` are policy variables (version 2012-10-17).
    variables: bool,
}

impl ConditionValue {
    /// Compiles a policy value for `kind`; `variables` says whether the policy's version has policy variables.
    pub fn new(text: &str, kind: OpKind, variables: bool) -> Self {
        let pattern = kind.positive().unwrap_or(kind).uses_pattern().map(|f| Pattern::new(text, f, variables));
        ConditionValue { text: text.to_string(), pattern, variables: variables && text.contains("${") }
    }

    /// The policy variables the value reads (`${aws:username}`; not `${*}`, `${?}`, `${$}`).
    pub fn variables(&self) -> Vec<String> {
        if !self.variables {
            return Vec::new();
        }
        variable_names(&self.text)
    }

    /// The request values this value matches under `kind` (the positive operator of a
    /// negated one), as a regular expression, for the string-like operators: equality,
    /// case-insensitive equality, `Bool`, `BinaryEquals`, and the wildcard operators.
    /// `None` for the numeric, date and IP operators and for a value with a policy variable.
    pub fn regex(&self, kind: OpKind) -> Option<String> {
        if self.variables {
            return None;
        }
        if let Some(p) = &self.pattern {
            return p.regex();
        }
        let literal = regex::escape(&self.text);
        match kind.positive().unwrap_or(kind) {
            OpKind::StringEquals | OpKind::BinaryEquals => Some(literal),
            // `to_lowercase` on both sides, and `eq_ignore_ascii_case` for Bool (base_match).
            OpKind::StringEqualsIgnoreCase | OpKind::Bool => Some(format!("(?i:{literal})")),
            _ => None,
        }
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

/// The keys of the policy variables in `text` (`${key}` or `${key, 'default'}`), in order;
/// the special `${*}`, `${?}` and `${$}` are characters, not keys.
pub fn variable_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let inner = after[..end].trim();
        if !matches!(inner, "*" | "?" | "$") {
            let key = inner.split_once(',').map_or(inner, |(k, _)| k).trim();
            out.push(key.to_string());
        }
        rest = &after[end + 1..];
    }
    out
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
    // A policy value whose variable the request cannot supply is "effectively null": it
    // equals and is like no request value (`base_match` is false for it), so it never makes
    // a positive operator match and never stops a negated one from matching. IAM User Guide,
    // "IAM policy elements: Variables and tags", "Policy variables with no value": "When you
    // use a variable with no value in the condition element of an IAM policy, [...] Condition
    // operators like `StringEquals` or `StringLike` do not match, and the policy statement
    // does not take effect. Inverted condition operators like `StringNotEquals` or
    // `StringNotLike` do match against a null value, as the value of the condition key they
    // are testing against is not equal to or like the effectively null value."
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

/// Seconds since the epoch of a date condition value (or of a request's date value).
///
/// IAM User Guide, "IAM JSON policy elements: Condition operators", Date condition
/// operators: "You must specify date/time values with one of the W3C implementations of the
/// ISO 8601 date formats or in epoch (UNIX) time." The W3C profile (W3C Note "Date and Time
/// Formats", https://www.w3.org/TR/NOTE-datetime) has six forms, "Exactly the components
/// shown here must be present, with exactly this punctuation":
/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, `YYYY-MM-DDThh:mmTZD`, `YYYY-MM-DDThh:mm:ssTZD` and
/// `YYYY-MM-DDThh:mm:ss.sTZD`, where TZD is `Z` or `+hh:mm` / `-hh:mm`, and `s` "one or
/// more digits representing a decimal fraction of a second".
///
/// Reduced precision. The same Note: "If a given standard allows more than one granularity,
/// it should specify the meaning of the dates and times with reduced precision, for
/// example, the result of comparing two dates with different precisions." The User Guide
/// does not, so this project defines it: a value of reduced precision is the **first
/// instant of the period it names, in UTC** — `2020` is 2020-01-01T00:00:00Z, `2020-02` is
/// 2020-02-01T00:00:00Z, `2020-02-01` is 2020-02-01T00:00:00Z, `2020-02-01T12:00Z` is
/// 12:00:00.000. Every comparison is then between instants: `DateLessThan 2021` is "before
/// 2021", `DateGreaterThanEquals 2020-02` is "from February 2020 on", and `DateEquals
/// 2020-02` holds only at 2020-02-01T00:00:00Z, not for the whole month.
///
/// Epoch seconds: a plain decimal (`1700000000`, `1700000000.5`, no exponent). Four digits
/// alone are the W3C year form, not epoch seconds (`2020` is the year 2020); any other
/// plain number is epoch seconds.
///
/// Beyond the W3C forms, and as this parser always accepted: `t`/`z` in lower case, a time
/// without TZD (read as UTC), hours alone (`T12Z`), and the ISO 8601 offsets `±hh` and
/// `±hhmm`.
pub fn parse_date(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Some(seconds) = w3c_datetime(text) {
        return Some(seconds);
    }
    if is_decimal(text) {
        return text.parse::<f64>().ok();
    }
    None
}

/// Seconds since the epoch of a W3C ISO 8601 date or date-time (see [`parse_date`]), with
/// every field range-checked; `None` for anything else.
fn w3c_datetime(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    let mut at = 0;
    // `n` ASCII digits at `at`, as a number.
    let digits = |at: &mut usize, n: usize| -> Option<u32> {
        let field = b.get(*at..*at + n)?;
        if !field.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *at += n;
        Some(field.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
    };
    let eat = |at: &mut usize, c: &[u8]| -> bool {
        if b.get(*at).is_some_and(|x| c.contains(x)) {
            *at += 1;
            true
        } else {
            false
        }
    };
    let year = i64::from(digits(&mut at, 4)?);
    let (mut month, mut day) = (1, 1);
    let mut clock = 0.0;
    let mut offset = 0.0;
    if at < b.len() {
        if !eat(&mut at, b"-") {
            return None;
        }
        month = digits(&mut at, 2)?;
        if !(1..=12).contains(&month) {
            return None;
        }
    }
    if at < b.len() {
        if !eat(&mut at, b"-") {
            return None;
        }
        day = digits(&mut at, 2)?;
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        if day == 0 || day > days[(month - 1) as usize] {
            return None;
        }
    }
    if at < b.len() {
        if !eat(&mut at, b"Tt") {
            return None;
        }
        let hour = digits(&mut at, 2)?;
        let (mut minute, mut second) = (0, 0.0);
        if eat(&mut at, b":") {
            minute = digits(&mut at, 2)?;
            if eat(&mut at, b":") {
                second = f64::from(digits(&mut at, 2)?);
                if eat(&mut at, b".") {
                    let from = at;
                    while b.get(at).is_some_and(u8::is_ascii_digit) {
                        at += 1;
                    }
                    if at == from {
                        return None;
                    }
                    let fraction: f64 = std::str::from_utf8(&b[from - 1..at]).ok()?.parse().ok()?;
                    second += fraction;
                }
            }
        }
        if hour > 23 || minute > 59 || second >= 61.0 {
            return None;
        }
        clock = f64::from(hour) * 3600.0 + f64::from(minute) * 60.0 + second;
        if !eat(&mut at, b"Zz")
            && let Some(&sign) = b.get(at).filter(|c| **c == b'+' || **c == b'-')
        {
            at += 1;
            let h = digits(&mut at, 2)?;
            let colon = eat(&mut at, b":");
            let m = if colon || at < b.len() { digits(&mut at, 2)? } else { 0 };
            if h > 23 || m > 59 {
                return None;
            }
            let sign = if sign == b'-' { -1.0 } else { 1.0 };
            offset = sign * (f64::from(h) * 3600.0 + f64::from(m) * 60.0);
        }
    }
    if at != b.len() {
        return None;
    }
    Some(days_from_civil(year, i64::from(month), i64::from(day)) as f64 * 86_400.0 + clock - offset)
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
        // A variable with no value is null: a negated operator matches it (the table
        // `variables_with_no_value` has the rest, with the guide's sentence).
        assert!(holds("StringNotEquals", "owner", &["${missing}"], &c), "a negated operator matches a null value");
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

    /// The documented cases in `guide_cases.toml`, each naming its page: the ARN operators
    /// component by component ("IAM JSON policy elements: Condition operators": "Each of the
    /// six colon-delimited components of the ARN is checked separately"), policy variables
    /// with no value ("IAM policy elements: Variables and tags": "Inverted condition
    /// operators like `StringNotEquals` or `StringNotLike` do match against a null value"),
    /// and date values in every W3C form of ISO 8601 or epoch time ("IAM JSON policy
    /// elements: Condition operators": "You must specify date/time values with one of the
    /// W3C implementations of the ISO 8601 date formats or in epoch (UNIX) time."), with the
    /// cases that worked before.
    #[test]
    fn guide_corpus() {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Corpus {
            pages: HashMap<String, String>,
            condition: Vec<Case>,
            date: Vec<DateCase>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Case {
            page: String,
            #[serde(default)]
            why: String,
            operator: String,
            key: String,
            values: Vec<String>,
            context: HashMap<String, Vec<String>>,
            expect: bool,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct DateCase {
            page: String,
            #[serde(default)]
            why: String,
            text: String,
            seconds: Option<f64>,
        }
        let corpus: Corpus = toml::from_str(include_str!("guide_cases.toml")).expect("guide_cases.toml parses");
        let page = |key: &str| corpus.pages.get(key).unwrap_or_else(|| panic!("no page `{key}`")).as_str();
        assert!(corpus.condition.len() >= 70 && corpus.date.len() >= 50);
        for case in &corpus.condition {
            let mut c = Context::new();
            for (k, v) in &case.context {
                c.insert(k, v.clone());
            }
            let values: Vec<&str> = case.values.iter().map(String::as_str).collect();
            assert_eq!(
                holds(&case.operator, &case.key, &values, &c),
                case.expect,
                "{} {} {:?} in {:?}: {} — {}",
                case.operator,
                case.key,
                case.values,
                case.context,
                case.why,
                page(&case.page)
            );
        }
        let kinds = [OpKind::DateEquals, OpKind::DateNotEquals, OpKind::DateLessThan, OpKind::DateGreaterThanEquals];
        for case in &corpus.date {
            let where_ = || format!("{:?} {} — {}", case.text, case.why, page(&case.page));
            match (parse_date(&case.text), case.seconds) {
                (Some(got), Some(want)) => assert!((got - want).abs() < 1e-6, "{got} != {want}: {}", where_()),
                (got, want) => assert_eq!(got, want, "{}", where_()),
            }
            for kind in kinds {
                assert_eq!(
                    validate_value(kind, &case.text, true).is_ok(),
                    case.seconds.is_some(),
                    "{kind:?} {}",
                    where_()
                );
            }
        }
    }

    proptest::proptest! {
        /// Every W3C precision of one instant parses to the start of its period: dropping
        /// trailing fields never moves the instant later, and the full form is exact.
        #[test]
        fn reduced_precision_is_the_start_of_the_period(
            y in 1970i64..2200, m in 1i64..=12, d in 1i64..=28, h in 0i64..24, mi in 0i64..60, s in 0i64..60,
        ) {
            let day = days_from_civil(y, m, d) as f64 * 86_400.0;
            let full = day + (h * 3600 + mi * 60 + s) as f64;
            let forms = [
                (format!("{y:04}"), days_from_civil(y, 1, 1) as f64 * 86_400.0),
                (format!("{y:04}-{m:02}"), days_from_civil(y, m, 1) as f64 * 86_400.0),
                (format!("{y:04}-{m:02}-{d:02}"), day),
                (format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}Z"), day + (h * 3600 + mi * 60) as f64),
                (format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z"), full),
                (format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.5Z"), full + 0.5),
            ];
            let mut previous = f64::MIN;
            for (text, want) in forms {
                let got = parse_date(&text);
                proptest::prop_assert_eq!(got, Some(want), "{}", text);
                proptest::prop_assert!(want >= previous, "{}", text);
                previous = want;
            }
            // An offset moves the instant by exactly its amount.
            let east = parse_date(&format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}+05:30")).unwrap();
            proptest::prop_assert_eq!(east, full - 19_800.0);
        }

        /// Epoch seconds round-trip, except four digits alone, which are a W3C year.
        #[test]
        fn epoch_seconds_round_trip(n in 0u64..10_000_000_000) {
            let text = n.to_string();
            let want = if text.len() == 4 { days_from_civil(n as i64, 1, 1) as f64 * 86_400.0 } else { n as f64 };
            proptest::prop_assert_eq!(parse_date(&text), Some(want));
        }

        /// ArnLike is StringLike restricted to component boundaries: whenever it matches, the
        /// same pattern matches as a string, and it matches exactly when each component does.
        #[test]
        fn arn_like_is_component_wise(p in "[ab:*?/]{0,14}", t in "[ab:/]{0,16}") {
            let arn = Pattern::new(&p, Flavour::ArnComponents, false).matches(&t);
            let string = Pattern::new(&p, Flavour::String, false).matches(&t);
            proptest::prop_assert!(!arn || string, "{} vs {}", p, t);
            let pieces: Vec<&str> = p.splitn(6, ':').collect();
            let parts: Vec<&str> = t.splitn(6, ':').collect();
            let want = pieces.len() == 6
                && parts.len() == 6
                && pieces.iter().zip(&parts).all(|(a, b)| Pattern::new(a, Flavour::String, false).matches(b));
            proptest::prop_assert_eq!(arn, want, "{} vs {}", p, t);
        }
    }
}
