//! Does one statement apply to one request? Matching only; combining the answers of
//! many statements into a decision is [`super::decision`]'s job.

use super::condition::{Context, clause_holds};
use super::document::{Element, Statement};

/// One authorization check: an action on a resource with the request's condition keys.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The action checked, `service:Operation`.
    pub action: &'a str,
    /// The ARN (or `*`) it is checked on.
    pub resource: &'a str,
    /// The condition keys the request supplies.
    pub context: &'a Context,
}

/// Whether the statement's Action, Resource and Condition all match the request.
pub fn statement_applies(statement: &Statement, request: &Request<'_>) -> bool {
    action_matches(&statement.action, request.action)
        && statement.resource.as_ref().is_none_or(|r| resource_matches(r, request))
        && statement.conditions.iter().all(|c| clause_holds(&c.operator, &c.key, &c.values, request.context))
}

/// Whether a statement applies, when the request may hold keys that are not modelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applies {
    /// Action, Resource and every condition match.
    Yes,
    /// Something that does not depend on a not-modelled key fails to match.
    No,
    /// Everything known matches; whether the statement applies depends on a key the
    /// request context does not model.
    Unknown,
}

/// [`statement_applies`] for a context that may mark keys as not modelled
/// ([`Context::mark_unknown`]). For a statement whose Action and Resource match, every
/// condition key it reads (and every policy variable its conditions use) goes into
/// `read`; the not-modelled ones a clause depends on go into `unknown`. A clause on a
/// not-modelled key is neither true nor false: the statement is [`Applies::No`] as soon as
/// a clause on known keys fails, else [`Applies::Unknown`] if one depends on an unknown key.
pub fn statement_applies_traced(
    statement: &Statement,
    request: &Request<'_>,
    read: &mut std::collections::BTreeSet<String>,
    unknown: &mut std::collections::BTreeSet<String>,
) -> Applies {
    if !action_matches(&statement.action, request.action) {
        return Applies::No;
    }
    let ctx = request.context;
    let mut open = false;
    if let Some(r) = &statement.resource {
        let variables: Vec<&str> = r.items.iter().flat_map(|i| i.pattern.variables()).collect();
        let unknown_here: Vec<&str> = variables.iter().copied().filter(|k| ctx.is_unknown(k)).collect();
        if unknown_here.is_empty() {
            if !resource_matches(r, request) {
                return Applies::No;
            }
        } else {
            // Without the variable's value, the Resource may or may not match.
            for k in &variables {
                read.insert(k.to_ascii_lowercase());
            }
            for k in unknown_here {
                unknown.insert(k.to_ascii_lowercase());
            }
            open = true;
        }
    }
    let mut depends = Vec::new();
    let mut holds = true;
    for c in &statement.conditions {
        let mut keys = vec![c.key.to_ascii_lowercase()];
        keys.extend(c.values.iter().flat_map(|v| v.variables()).map(|k| k.to_ascii_lowercase()));
        let unknown_keys: Vec<String> = keys.iter().filter(|k| ctx.is_unknown(k)).cloned().collect();
        read.extend(keys);
        if unknown_keys.is_empty() {
            holds &= clause_holds(&c.operator, &c.key, &c.values, ctx);
        } else {
            depends.extend(unknown_keys);
        }
    }
    if !holds {
        return Applies::No;
    }
    if open || !depends.is_empty() {
        unknown.extend(depends);
        return Applies::Unknown;
    }
    Applies::Yes
}

fn action_matches(element: &Element, action: &str) -> bool {
    element.items.iter().any(|i| i.pattern.matches(action)) != element.negated
}

fn resource_matches(element: &Element, request: &Request<'_>) -> bool {
    let lookup = |k: &str| request.context.single(k);
    // A pattern whose variable the request cannot supply matches nothing.
    let any = element.items.iter().any(|i| i.pattern.bind(&lookup).is_some_and(|p| p.matches(request.resource)));
    any != element.negated
}
