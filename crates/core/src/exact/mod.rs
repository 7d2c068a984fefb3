//! Exact minimality: questions about *every* request a policy set allows, decided with
//! automata instead of samples (docs/exact.md).
//!
//! For one action, a request is a resource ARN and the values of the condition keys the
//! policies read. Each policy's decision depends on a request only through which patterns
//! its resource matches and which condition values each key's values match. So for each
//! of those variables the procedure computes the *cells*: every combination of matches
//! that some value realizes (a product walk of DFAs: [`lang::cells`]), with one witness
//! value each. Every combination of cells across variables is realizable (the variables
//! are independent, except keys AWS derives from the resource, which are folded into it:
//! [`facts::Link`]), so evaluating the project's own evaluator on one representative per
//! combination decides the question exactly, and every "no" comes with a concrete request
//! that the evaluator itself confirms.
//!
//! The space quantified over is what AWS can ask: the resource is one of the catalog's ARN
//! formats for the action (placeholders as `catalog/request-space.toml` allows, any
//! non-empty string where it says nothing); a service key the catalog does not list for
//! the action is absent; a global key is present or absent as the IAM User Guide says, and
//! otherwise any value of its type. Where the procedure cannot be exact (a policy variable,
//! a key compared both as a string and as a number, a budget exceeded), it says so and why
//! ([`Undecided`]) — never a guess.

pub mod facts;
pub(crate) mod lang;
mod unmodelled;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::catalog::{ActionRef, Catalog};
use crate::policy::condition::{OpKind, SetQualifier};
use crate::policy::wildcard::Pattern;
use crate::policy::{Context, Policy, Request, Statement, decide};
use crate::template::render::Target;
use facts::{Facts, KeyType, Presence};
use lang::{Cache, Lang};
pub use unmodelled::Unmodelled;

/// A concrete request, the proof of a "no": the evaluator decides it one way for one
/// policy set and the other way for the other (or allows it where nothing is needed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// The action, as the catalog spells it.
    pub action: String,
    /// The resource ARN (or `*`).
    pub resource: String,
    /// The condition keys the request carries (keys the policies read; absent ones left out).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, Vec<String>>,
}

impl Witness {
    /// The request as the evaluator takes it.
    pub fn context(&self) -> Context {
        let mut ctx = Context::new();
        for (k, v) in &self.context {
            ctx.insert(k, v.clone());
        }
        ctx
    }

    /// The request in one line, for messages: `ec2:RunInstances on arn:… with k=v`.
    pub fn describe(&self) -> String {
        let mut out = format!("`{}` on `{}`", self.action, self.resource);
        if !self.context.is_empty() {
            let keys: Vec<String> = self.context.iter().map(|(k, v)| format!("{k}={}", v.join(","))).collect();
            out.push_str(&format!(" with {}", keys.join(", ")));
        }
        out
    }
}

/// Why a question could not be decided exactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undecided {
    /// The action being decided.
    pub action: String,
    /// What stopped the procedure.
    pub reason: String,
}

/// What was compared to show two policy sets equal for one action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compared {
    /// The action.
    pub action: String,
    /// Classes of resource (sets of ARNs every pattern treats alike).
    pub resource_cells: usize,
    /// Per condition key read, its classes of value (absence included).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub key_cells: BTreeMap<String, usize>,
    /// Representative requests evaluated (the product of the above).
    pub requests: usize,
}

/// The answer to "do these decide every request alike?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Comparison {
    /// Equal on every request of every action compared.
    Equal(Vec<Compared>),
    /// A request decided differently; `first_allows` says which set allows it.
    Differs {
        /// The request.
        witness: Witness,
        /// Whether the first set allows it (and the second does not).
        first_allows: bool,
    },
    /// Not decidable here.
    Undecided(Undecided),
}

/// The procedure, with its compiled languages cached across questions.
pub struct Exact<'a> {
    catalog: &'a Catalog,
    facts: &'static Facts,
    target: &'a Target,
    cache: Cache,
    /// Product states one walk may visit.
    walk_budget: usize,
    /// Representative requests one question may evaluate.
    request_budget: usize,
}

/// One variable's values, one per cell; `None` is the key absent.
struct Var {
    key: String,
    values: Vec<Option<Vec<String>>>,
}

/// The representatives of one action's request space.
struct Space {
    action: String,
    resources: Vec<String>,
    /// A key AWS derives from the resource, and how to read it back.
    link: Option<(String, regex::Regex)>,
    keys: Vec<Var>,
}

impl Space {
    fn size(&self) -> usize {
        self.keys.iter().fold(self.resources.len(), |n, k| n.saturating_mul(k.values.len()))
    }

    fn compared(&self) -> Compared {
        Compared {
            action: self.action.clone(),
            resource_cells: self.resources.len(),
            key_cells: self.keys.iter().map(|k| (k.key.clone(), k.values.len())).collect(),
            requests: self.size(),
        }
    }

    /// The first representative request `wanted` accepts, in a stable order.
    fn find(&self, wanted: &mut dyn FnMut(&Request<'_>) -> bool) -> Option<Witness> {
        let mut choice = vec![0usize; self.keys.len()];
        for resource in &self.resources {
            let mut base = BTreeMap::new();
            if let Some((key, re)) = &self.link
                && let Some(m) = re.captures(resource).and_then(|c| c.name("linked"))
            {
                base.insert(key.clone(), vec![m.as_str().to_string()]);
            }
            choice.iter_mut().for_each(|c| *c = 0);
            loop {
                let mut context = base.clone();
                for (var, &c) in self.keys.iter().zip(&choice) {
                    if let Some(v) = &var.values[c] {
                        context.insert(var.key.clone(), v.clone());
                    }
                }
                let w = Witness { action: self.action.clone(), resource: resource.clone(), context };
                let ctx = w.context();
                if wanted(&Request { action: &self.action, resource: &w.resource, context: &ctx }) {
                    return Some(w);
                }
                // Next combination (odometer).
                let mut i = 0;
                loop {
                    if i == choice.len() {
                        break;
                    }
                    choice[i] += 1;
                    if choice[i] < self.keys[i].values.len() {
                        break;
                    }
                    choice[i] = 0;
                    i += 1;
                }
                if i == choice.len() {
                    break;
                }
            }
        }
        None
    }
}

/// Whether a statement's Action element names `action`.
pub fn names_action(statement: &Statement, action: &str) -> bool {
    statement.action.items.iter().any(|i| i.pattern.matches(action)) != statement.action.negated
}

impl<'a> Exact<'a> {
    /// The procedure over `catalog`'s actions; witnesses prefer the target's partition,
    /// region and account where those make no difference.
    pub fn new(catalog: &'a Catalog, target: &'a Target) -> Exact<'a> {
        Exact {
            catalog,
            facts: Facts::embedded(),
            target,
            cache: Cache::default(),
            walk_budget: 200_000,
            request_budget: 2_000_000,
        }
    }

    /// Whether `a` and `b` decide every request of every action in `actions` alike.
    pub fn compare(&mut self, actions: &[ActionRef<'_>], a: &[Policy], b: &[Policy]) -> Comparison {
        let mut compared = Vec::new();
        for action in actions {
            let space = match self.space(action, &[a, b], &[]) {
                Ok(s) => s,
                Err(why) => {
                    return Comparison::Undecided(Undecided { action: action.full_name(), reason: why.to_string() });
                }
            };
            let found = space.find(&mut |r| decide(a, r).outcome.is_allowed() != decide(b, r).outcome.is_allowed());
            if let Some(witness) = found {
                let first_allows = decide(
                    a,
                    &Request { action: &witness.action, resource: &witness.resource, context: &witness.context() },
                )
                .outcome
                .is_allowed();
                return Comparison::Differs { witness, first_allows };
            }
            compared.push(space.compared());
        }
        Comparison::Equal(compared)
    }

    /// A request `policies` allow for `action` whose resource no pattern of `needed` covers
    /// (with `needed` empty: any request they allow).
    pub fn allowed_outside(
        &mut self,
        action: &ActionRef<'_>,
        policies: &[Policy],
        needed: &[Pattern],
    ) -> Result<Option<Witness>, Undecided> {
        let space = self
            .space(action, &[policies], needed)
            .map_err(|why| Undecided { action: action.full_name(), reason: why.to_string() })?;
        Ok(space
            .find(&mut |r| decide(policies, r).outcome.is_allowed() && !needed.iter().any(|p| p.matches(r.resource))))
    }

    /// For `diff`: a request `new` allows and `old` does not, and one the other way round.
    pub fn differences(
        &mut self,
        action: &ActionRef<'_>,
        old: &[Policy],
        new: &[Policy],
    ) -> Result<(Option<Witness>, Option<Witness>), Undecided> {
        let space = self
            .space(action, &[old, new], &[])
            .map_err(|why| Undecided { action: action.full_name(), reason: why.to_string() })?;
        let added = space.find(&mut |r| decide(new, r).outcome.is_allowed() && !decide(old, r).outcome.is_allowed());
        let removed = space.find(&mut |r| decide(old, r).outcome.is_allowed() && !decide(new, r).outcome.is_allowed());
        Ok((added, removed))
    }

    /// The representatives of `action`'s requests for the statements of `sets` (plus the
    /// resource patterns `extra`).
    fn space(&mut self, action: &ActionRef<'_>, sets: &[&[Policy]], extra: &[Pattern]) -> Result<Space, Unmodelled> {
        let full = action.full_name();
        let statements: Vec<&Statement> =
            sets.iter().flat_map(|s| s.iter()).flat_map(|p| &p.statements).filter(|s| names_action(s, &full)).collect();
        let link = self.facts.link(&full);

        // Clauses per key (lowercase), and the resource patterns.
        let mut clauses: BTreeMap<String, Vec<&crate::policy::document::Clause>> = BTreeMap::new();
        let mut resource_atoms: Vec<String> = Vec::new();
        for s in &statements {
            if let Some(r) = &s.resource {
                for item in &r.items {
                    let regex = item.pattern.regex().ok_or_else(|| Unmodelled::ResourceVariable {
                        what: "Resource",
                        text: item.text().to_string(),
                    })?;
                    resource_atoms.push(regex);
                }
            }
            for c in &s.conditions {
                clauses.entry(c.key.to_ascii_lowercase()).or_default().push(c);
            }
        }
        for p in extra {
            resource_atoms.push(
                p.regex().ok_or_else(|| Unmodelled::ResourceVariable { what: "scope", text: p.text().to_string() })?,
            );
        }
        check_ascii(resource_atoms.iter())?;

        // The resource's universe: the link's format, the action's ARN formats, or `*`.
        let (universe, link_key) = match link {
            Some(l) => {
                let key = l.key.to_ascii_lowercase();
                let regex = self.format_regex(
                    action.service,
                    &l.resource,
                    Some((&key, &format!("(?P<linked>{})", l.key_pattern))),
                );
                // The key's string conditions become conditions on the resource.
                for c in clauses.get(&key).into_iter().flatten() {
                    for v in &c.values {
                        let lang = v.regex(c.operator.kind).ok_or_else(|| Unmodelled::LinkNotString {
                            operator: c.operator.name().to_string(),
                            key: l.key.clone(),
                        })?;
                        let inner =
                            self.format_regex(action.service, &l.resource, Some((&key, &format!("(?:{lang})"))));
                        resource_atoms.push(inner);
                    }
                }
                let extract = regex::Regex::new(&format!("^{regex}$")).map_err(|e| Unmodelled::Pattern {
                    stage: "compile",
                    regex: regex.clone(),
                    message: e.to_string(),
                })?;
                clauses.remove(&key);
                (regex, Some((key, extract)))
            }
            None => (String::new(), None),
        };
        // One walk per ARN format (each format's DFA is shared by every action with that
        // type); cells with the same memberships are one cell whatever their format.
        let universes = if link_key.is_some() { vec![universe] } else { self.universes(action) };
        let mut resources: Vec<String> = Vec::new();
        let mut members: BTreeSet<Vec<bool>> = BTreeSet::new();
        for u in &universes {
            for (member, witness) in self.resource_cells(u, &resource_atoms)? {
                if members.insert(member) {
                    resources.push(witness);
                }
            }
        }

        let mut keys = Vec::new();
        for (key, cs) in &clauses {
            keys.push(Var { key: key.clone(), values: self.key_values(action, key, cs)? });
        }
        let space = Space { action: full.clone(), resources, link: link_key, keys };
        if space.size() > self.request_budget {
            return Err(Unmodelled::RequestBudget { size: space.size(), budget: self.request_budget });
        }
        Ok(space)
    }

    /// Every ARN the action can be asked about, one regex per format: its resource types'
    /// formats, and `*` for an action without resource types or none of them required.
    fn universes(&self, action: &ActionRef<'_>) -> Vec<String> {
        let mut out: Vec<String> = action
            .action
            .resources
            .iter()
            .filter_map(|r| self.catalog.resource_type(action.service, &r.resource_type))
            .map(|t| self.format_regex(action.service, &t.arn, None))
            .collect();
        if !action.action.resources.iter().any(|r| r.required) {
            out.push(regex::escape("*"));
        }
        out.sort();
        out.dedup();
        out
    }

    /// An ARN format as a regex: literals escaped, each placeholder its grammar (any
    /// non-empty string where the facts give none), `key` (when linked) its own group.
    fn format_regex(&self, service: &str, format: &str, key: Option<(&str, &str)>) -> String {
        let mut out = String::new();
        let mut rest = format;
        while let Some(start) = rest.find("${") {
            out.push_str(&regex::escape(&rest[..start]));
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&regex::escape(&rest[start..]));
                return out;
            };
            let name = &after[..end];
            match key {
                Some((k, group)) if name.eq_ignore_ascii_case(k) => out.push_str(group),
                _ => match self.facts.placeholder(service, name) {
                    Some(p) => out.push_str(&format!("(?:{})", p.pattern)),
                    None => out.push_str(".+"),
                },
            }
            rest = &after[end + 1..];
        }
        out.push_str(&regex::escape(rest));
        out
    }

    /// One representative resource per cell, preferring the target's partition, region and
    /// account where the cell allows them.
    fn resource_cells(&mut self, universe: &str, atoms: &[String]) -> Result<Vec<(Vec<bool>, String)>, Unmodelled> {
        let universe = self.cache.get(universe)?;
        let atoms: Vec<Rc<Lang>> = atoms.iter().map(|a| self.cache.get(a)).collect::<Result<_, _>>()?;
        let cells = lang::cells(&universe, &atoms, self.walk_budget)?;
        Ok(cells
            .into_iter()
            .map(|cell| {
                let nicer =
                    self.with_target(&cell.witness).into_iter().find(|n| lang::same_cell(&universe, &atoms, &cell, n));
                let witness = nicer.unwrap_or_else(|| cell.witness.clone());
                (cell.member, witness)
            })
            .collect())
    }

    /// The witness with as many of the target's partition, region and account as can
    /// replace its own, most first (a cell may need another partition, or no region).
    fn with_target(&self, arn: &str) -> Vec<String> {
        let Some(parts) = crate::policy::wildcard::arn_components(arn) else { return Vec::new() };
        let t = self.target;
        let mut out: Vec<(u32, String)> = (0..8u32)
            .map(|mask| {
                let pick = |bit: u32, mine: &str, theirs: &str| {
                    if mask & bit != 0 { mine.to_string() } else { theirs.to_string() }
                };
                let text = format!(
                    "arn:{}:{}:{}:{}:{}",
                    pick(1, &t.partition, parts[1]),
                    parts[2],
                    pick(2, &t.region, parts[3]),
                    pick(4, &t.account_id, parts[4]),
                    parts[5]
                );
                (mask.count_ones(), text)
            })
            .collect();
        out.sort_by_key(|t| std::cmp::Reverse(t.0));
        out.into_iter().map(|(_, t)| t).filter(|t| t != arn).collect()
    }

    /// The values one key takes, one per cell, absence included where AWS allows it.
    fn key_values(
        &mut self,
        action: &ActionRef<'_>,
        key: &str,
        clauses: &[&crate::policy::document::Clause],
    ) -> Result<Vec<Option<Vec<String>>>, Unmodelled> {
        let (presence, key_type) = self.presence(action, key);
        if presence == Present::Never {
            return Ok(vec![None]);
        }
        let multivalued =
            key_type.is_some_and(KeyType::multivalued) || clauses.iter().any(|c| c.operator.set != SetQualifier::None);
        let cells = self.value_cells(key, key_type, clauses)?;
        let mut values: Vec<Option<Vec<String>>> = Vec::new();
        if presence == Present::Sometimes {
            values.push(None);
        }
        if multivalued {
            if cells.len() > 10 {
                return Err(Unmodelled::TooManyClasses { key: key.to_string(), classes: cells.len() });
            }
            for mask in 1u32..(1 << cells.len()) {
                let set: Vec<String> =
                    cells.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, v)| v.clone()).collect();
                values.push(Some(set));
            }
        } else {
            values.extend(cells.into_iter().map(|v| Some(vec![v])));
        }
        Ok(values)
    }

    /// Whether a request of `action` carries `key`, and the key's type when known.
    fn presence(&self, action: &ActionRef<'_>, key: &str) -> (Present, Option<KeyType>) {
        if !key.starts_with("aws:") {
            // A service key: present only if the catalog lists it for the action.
            let listed = catalog_keys(self.catalog, *action).find(|(template, _)| key_matches(template, key));
            return match listed {
                Some((_, t)) => (Present::Sometimes, Some(t)),
                None => (Present::Never, None),
            };
        }
        match self.facts.global(key) {
            Some(g) if g.presence == Presence::Always => (Present::Always, Some(g.key_type)),
            Some(g) => (Present::Sometimes, Some(g.key_type)),
            None => (Present::Sometimes, None),
        }
    }

    /// One value per class of the key's values: string comparisons by a product walk, the
    /// numeric, date and IP operators by the points around each bound.
    fn value_cells(
        &mut self,
        key: &str,
        key_type: Option<KeyType>,
        clauses: &[&crate::policy::document::Clause],
    ) -> Result<Vec<String>, Unmodelled> {
        let mut families = BTreeSet::new();
        for c in clauses.iter().filter(|c| c.operator.kind != OpKind::Null) {
            families.insert(family(c.operator.kind));
        }
        if families.len() > 1 {
            let families = format!("{:?}", families.iter().collect::<Vec<_>>());
            return Err(Unmodelled::MixedFamilies { key: key.to_string(), families });
        }
        let constants = || clauses.iter().flat_map(|c| c.values.iter().map(|v| v.text.clone())).collect::<Vec<_>>();
        for c in clauses {
            if let Some(v) = c.values.iter().find(|v| !v.variables().is_empty()) {
                return Err(Unmodelled::ValueVariable { key: key.to_string(), value: v.text.clone() });
            }
        }
        let typed = |t: KeyType| key_type == Some(t);
        match families.into_iter().next() {
            None => Ok(vec!["x".to_string()]),
            Some(Family::String) => {
                let mut atoms = Vec::new();
                for c in clauses.iter().filter(|c| c.operator.kind != OpKind::Null) {
                    for v in &c.values {
                        atoms.push(v.regex(c.operator.kind).expect("string operators have a language"));
                    }
                }
                check_ascii(atoms.iter())?;
                let universe = if typed(KeyType::Bool) { "true|false" } else { ".*" };
                let universe = self.cache.get(universe)?;
                let langs: Vec<Rc<Lang>> = atoms.iter().map(|a| self.cache.get(a)).collect::<Result<_, _>>()?;
                let cells = lang::cells(&universe, &langs, self.walk_budget)?;
                Ok(cells
                    .into_iter()
                    .map(|cell| {
                        if cell.witness.is_empty() && lang::same_cell(&universe, &langs, &cell, "x") {
                            "x".to_string()
                        } else {
                            cell.witness
                        }
                    })
                    .collect())
            }
            Some(Family::Numeric) => {
                let points: Vec<f64> = constants().iter().filter_map(|t| t.trim().parse::<f64>().ok()).collect();
                let mut out: Vec<String> = around(&points).into_iter().map(|n| format!("{n}")).collect();
                if !typed(KeyType::Numeric) {
                    out.push("x".into());
                }
                Ok(out)
            }
            Some(Family::Date) => {
                let points: Vec<f64> =
                    constants().iter().filter_map(|t| crate::policy::condition::parse_date(t)).collect();
                let mut out = Vec::new();
                for n in around(&points) {
                    // Epoch seconds with a fraction, so that no value reads as a W3C year.
                    let text = format!("{n:.3}");
                    if crate::policy::condition::parse_date(&text) != Some(n) {
                        return Err(Unmodelled::UnwritableDate { key: key.to_string(), instant: n });
                    }
                    out.push(text);
                }
                if !typed(KeyType::Date) {
                    out.push("x".into());
                }
                Ok(out)
            }
            Some(Family::Ip) => {
                let mut out = ip_points(&constants());
                if !typed(KeyType::IPAddress) {
                    out.push("x".into());
                }
                Ok(out)
            }
        }
    }
}

/// How a request carries a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Present {
    Always,
    Sometimes,
    Never,
}

/// The kinds of comparison a key's values can be put to; one key, one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Family {
    String,
    Numeric,
    Date,
    Ip,
}

fn family(kind: OpKind) -> Family {
    use OpKind::*;
    match kind {
        NumericEquals
        | NumericNotEquals
        | NumericLessThan
        | NumericLessThanEquals
        | NumericGreaterThan
        | NumericGreaterThanEquals => Family::Numeric,
        DateEquals | DateNotEquals | DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals => {
            Family::Date
        }
        IpAddress | NotIpAddress => Family::Ip,
        _ => Family::String,
    }
}

/// Each bound, a point between each two, and one beyond each end: one per interval the
/// bounds cut the line into (every comparison with a bound is constant on each).
fn around(points: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = points.iter().copied().filter(|p| p.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let Some((&first, &last)) = sorted.first().zip(sorted.last()) else { return vec![0.0] };
    let mut out = vec![first - 1.0];
    for w in sorted.windows(2) {
        out.push(w[0]);
        out.push(w[0] + (w[1] - w[0]) / 2.0);
    }
    out.push(last);
    out.push(last + 1.0);
    out
}

/// For each CIDR, its first and last address and the addresses just outside it, plus one
/// address of the other family: every comparison with a CIDR is constant between these.
fn ip_points(cidrs: &[String]) -> Vec<String> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let mut out: BTreeSet<String> = BTreeSet::new();
    for c in cidrs {
        let (net, bits) = c.split_once('/').map_or((c.as_str(), None), |(n, b)| (n, b.trim().parse::<u32>().ok()));
        match net.trim().parse::<IpAddr>() {
            Ok(IpAddr::V4(n)) => {
                let bits = bits.unwrap_or(32).min(32);
                let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                let lo = u32::from(n) & mask;
                let hi = lo | !mask;
                for v in [lo.checked_sub(1), Some(lo), Some(hi), hi.checked_add(1)].into_iter().flatten() {
                    out.insert(Ipv4Addr::from(v).to_string());
                }
            }
            Ok(IpAddr::V6(n)) => {
                let bits = bits.unwrap_or(128).min(128);
                let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
                let lo = u128::from(n) & mask;
                let hi = lo | !mask;
                for v in [lo.checked_sub(1), Some(lo), Some(hi), hi.checked_add(1)].into_iter().flatten() {
                    out.insert(Ipv6Addr::from(v).to_string());
                }
            }
            Err(_) => {}
        }
    }
    out.insert("192.0.2.1".into());
    out.insert("2001:db8::1".into());
    out.into_iter().collect()
}

/// The condition keys the catalog lists for an action (on the action or its resource
/// types), each with its type.
fn catalog_keys<'c>(catalog: &'c Catalog, action: ActionRef<'c>) -> impl Iterator<Item = (&'c str, KeyType)> + 'c {
    let service = catalog.services.get(action.service);
    let types = move |k: &str| {
        service.and_then(|s| s.condition_keys.get(k)).map(|t| KeyType::parse(t)).unwrap_or(KeyType::String)
    };
    let on_types = action.action.resources.iter().flat_map(move |r| {
        let own = r.condition_keys.iter();
        let of_type = catalog
            .resource_type(action.service, &r.resource_type)
            .map(|t| t.condition_keys.iter())
            .into_iter()
            .flatten();
        own.chain(of_type)
    });
    action.action.condition_keys.iter().chain(on_types).map(move |k| (k.as_str(), types(k)))
}

/// Whether a key matches a catalog template (`ec2:ResourceTag/${TagKey}`).
fn key_matches(template: &str, key: &str) -> bool {
    match template.split_once("${") {
        Some((prefix, _)) => key.len() > prefix.len() && key[..prefix.len()].eq_ignore_ascii_case(prefix),
        None => template.eq_ignore_ascii_case(key),
    }
}

fn check_ascii<'s>(regexes: impl Iterator<Item = &'s String>) -> Result<(), Unmodelled> {
    for r in regexes {
        if !r.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(Unmodelled::NonAscii(r.clone()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
