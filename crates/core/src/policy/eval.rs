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

fn action_matches(element: &Element, action: &str) -> bool {
    element.items.iter().any(|i| i.pattern.matches(action)) != element.negated
}

fn resource_matches(element: &Element, request: &Request<'_>) -> bool {
    let lookup = |k: &str| request.context.single(k);
    // A pattern whose variable the request cannot supply matches nothing.
    let any = element.items.iter().any(|i| i.pattern.bind(&lookup).is_some_and(|p| p.matches(request.resource)));
    any != element.negated
}
