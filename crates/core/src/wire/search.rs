//! The part of JMESPath botocore's waiters use, over parsed answers: member names and
//! `[]` (flatten, then project) joined by dots, optionally inside `length(...)`,
//! optionally compared with a literal — `Stacks[].StackStatus`,
//! `Reservations[].Instances[].State.Name`, ``length(Reservations[]) > `0` ``.
//! Anything else is refused when the expression is parsed, so a waiter the subset cannot
//! read fails when the model loads, not while waiting.

use serde_json::Value;

use super::WireError;

/// A parsed expression; [`Expression::search`] evaluates it.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    text: String,
    term: Term,
    compare: Option<(Comparator, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Term {
    Path(Vec<Step>),
    Length(Vec<Step>),
}

/// `Name` or `Name[]`.
#[derive(Debug, Clone, PartialEq)]
struct Step {
    field: String,
    flatten: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparator {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Evaluates `expression` over `value` (see [`Expression::search`]).
pub fn search(expression: &str, value: &Value) -> Result<Value, WireError> {
    Ok(Expression::parse(expression)?.search(value))
}

impl Expression {
    /// Parses an expression of the subset; anything outside it is an error naming it.
    pub fn parse(text: &str) -> Result<Expression, WireError> {
        let bad = |why: &str| WireError::Malformed(format!("JMESPath `{text}`: {why} (outside the subset read here)"));
        let (left, compare) = match text.find('`') {
            None => (text.trim(), None),
            Some(tick) => {
                let (left, literal) = text.split_at(tick);
                let literal = literal
                    .strip_prefix('`')
                    .and_then(|l| l.strip_suffix('`'))
                    .filter(|l| !l.contains('`'))
                    .ok_or_else(|| bad("a literal must be one `...` at the end"))?;
                let literal: Value = serde_json::from_str(literal).map_err(|_| bad("the literal is not JSON"))?;
                let left = left.trim_end();
                let (left, op) = [
                    ("==", Comparator::Eq),
                    ("!=", Comparator::Ne),
                    ("<=", Comparator::Le),
                    (">=", Comparator::Ge),
                    ("<", Comparator::Lt),
                    (">", Comparator::Gt),
                ]
                .into_iter()
                .find_map(|(sym, op)| left.strip_suffix(sym).map(|l| (l.trim_end(), op)))
                .ok_or_else(|| bad("a literal must follow a comparator"))?;
                (left, Some((op, literal)))
            }
        };
        let term = match left.strip_prefix("length(").and_then(|rest| rest.strip_suffix(')')) {
            Some(inner) => Term::Length(parse_path(inner.trim()).ok_or_else(|| bad("length() takes a path"))?),
            None => Term::Path(parse_path(left).ok_or_else(|| bad("expected Name, Name[] and dots"))?),
        };
        Ok(Expression { text: text.to_string(), term, compare })
    }

    /// The expression's text, as written.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Evaluates the expression as JMESPath does: a member of a non-object is null;
    /// `[]` flattens a list one level and projects what follows over its elements,
    /// leaving out those that give null; `length` of a list, string or object is its
    /// size (null for anything else, where JMESPath would raise); `==`/`!=` compare any
    /// two values (numbers by value), `<`, `<=`, `>`, `>=` only numbers (else null).
    pub fn search(&self, value: &Value) -> Value {
        let left = match &self.term {
            Term::Path(steps) => walk(steps, value),
            Term::Length(steps) => match walk(steps, value) {
                Value::Array(a) => Value::from(a.len()),
                Value::Object(o) => Value::from(o.len()),
                Value::String(s) => Value::from(s.chars().count()),
                _ => Value::Null,
            },
        };
        let Some((op, literal)) = &self.compare else { return left };
        match op {
            Comparator::Eq => Value::Bool(json_eq(&left, literal)),
            Comparator::Ne => Value::Bool(!json_eq(&left, literal)),
            _ => match (left.as_f64(), literal.as_f64()) {
                (Some(l), Some(r)) => Value::Bool(match op {
                    Comparator::Lt => l < r,
                    Comparator::Le => l <= r,
                    Comparator::Gt => l > r,
                    _ => l >= r,
                }),
                _ => Value::Null,
            },
        }
    }
}

fn parse_path(text: &str) -> Option<Vec<Step>> {
    text.split('.')
        .map(|seg| {
            let (field, flatten) = match seg.strip_suffix("[]") {
                Some(f) => (f, true),
                None => (seg, false),
            };
            let mut chars = field.chars();
            let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            ok.then(|| Step { field: field.to_string(), flatten })
        })
        .collect()
}

fn walk(steps: &[Step], value: &Value) -> Value {
    // `None`: not projecting (one value); `Some(list)`: the projection's elements.
    let mut single = value.clone();
    let mut projected: Option<Vec<Value>> = None;
    for step in steps {
        match &mut projected {
            None => single = single.get(&step.field).cloned().unwrap_or(Value::Null),
            Some(list) => {
                *list = list.iter().filter_map(|e| e.get(&step.field)).filter(|v| !v.is_null()).cloned().collect();
            }
        }
        if step.flatten {
            let items = match projected.take() {
                Some(list) => list,
                None => match std::mem::take(&mut single) {
                    Value::Array(a) => a,
                    // Flattening what is not a list gives null, and so does all that follows.
                    _ => return Value::Null,
                },
            };
            let mut flat = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::Array(inner) => flat.extend(inner),
                    other => flat.push(other),
                }
            }
            flat.retain(|v| !v.is_null());
            projected = Some(flat);
        }
    }
    match projected {
        Some(list) => Value::Array(list),
        None => single,
    }
}

/// JSON equality with numbers compared by value (`1 == 1.0`), as Python compares them.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_project_and_flatten_as_jmespath_does() {
        let v = json!({"Reservations": [
            {"Instances": [{"State": {"Name": "running"}}, {"State": {"Name": "terminated"}}]},
            {"Instances": []},
            {"Instances": [{"State": {}}, {"State": {"Name": "stopped"}}]},
            {"Other": 1}
        ], "Stacks": [{"StackStatus": "A"}, {"StackName": "x"}], "One": {"Two": 2}});
        let s = |e: &str| search(e, &v).unwrap();
        assert_eq!(s("Reservations[].Instances[].State.Name"), json!(["running", "terminated", "stopped"]));
        assert_eq!(s("Stacks[].StackStatus"), json!(["A"]));
        assert_eq!(s("One.Two"), json!(2));
        assert_eq!(s("One.Three"), Value::Null);
        assert_eq!(s("Missing[].X"), Value::Null);
        assert_eq!(s("One[].Two"), Value::Null, "flattening an object gives null");
        assert_eq!(s("length(Reservations[]) > `0`"), json!(true));
        assert_eq!(s("length(Reservations[].Instances[]) == `4`"), json!(true));
        assert_eq!(s("length(Missing[]) > `0`"), Value::Null, "length of null is null, so the comparison is");
        assert_eq!(s("length(Stacks[].StackStatus) >= `2`"), json!(false));
        assert_eq!(s("One.Two == `2.0`"), json!(true));
        assert_eq!(s("One.Two != `2`"), json!(false));
        assert_eq!(s("Stacks[].StackStatus < `1`"), Value::Null, "only numbers are ordered");
        assert_eq!(search("Stacks[]", &json!({"Stacks": [[1, 2], null, 3]})).unwrap(), json!([1, 2, 3]));
    }

    #[test]
    fn outside_the_subset_is_refused() {
        for bad in ["Stacks[0]", "Stacks[?x]", "a || b", "length(a", "a > 0", "a.`1`", "`1`", "a..b", "", "1a", "f(a)"]
        {
            assert!(Expression::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Expression::parse("a.b[] == `\"x\"`").unwrap().text(), "a.b[] == `\"x\"`");
    }
}
