//! Scenario profiles: the contract a policy is checked against. A profile names its
//! template, the role under test and its scenario files; each scenario is one AWS API
//! call with the authorization checks it implies and the decision it must get.
//!
//! Files are TOML, read strictly: unknown keys, wrong types and semantic mistakes are
//! errors naming the file and line. Parsing here is pure; the caller reads the files.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::catalog::Catalog;
use crate::loc::Loc;
use crate::policy::Context;
use crate::template::render::Target;

/// The services a scenario may call.
pub const SERVICES: &[&str] = &["ec2", "elasticloadbalancing", "autoscaling", "iam", "secretsmanager", "tag", "sts"];

/// The only `${…}` variables scenario files may use.
pub const VARIABLES: &[&str] = &["AWS::Partition", "AWS::Region", "AWS::AccountId"];

/// The provenance of a call with no known upstream caller.
pub const NO_KNOWN_CALLER: &str = "no known caller";

/// What a scenario (or one of its checks) must get from IAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The call must be authorized.
    Allow,
    /// The call must be refused.
    Deny,
}

impl Expect {
    /// The word scenario files and reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Allow => "allow",
            Expect::Deny => "deny",
        }
    }
}

/// A scenario file or profile that is not what the schema says.
#[derive(Debug, thiserror::Error)]
#[error("{loc}: {message}")]
pub struct ScenarioError {
    /// The place to fix.
    pub loc: Loc,
    /// What is wrong and what the schema expects.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    name: String,
    description: String,
    template: Spanned<String>,
    role: Spanned<String>,
    scenario_files: Vec<Spanned<String>>,
    #[serde(default)]
    equivalent_mutant: Vec<EquivalentMutantRaw>,
    #[serde(default)]
    upstream_missing: Vec<UpstreamMissing>,
    #[serde(default)]
    fixture: Vec<FixtureRaw>,
    #[serde(default)]
    request_context: Option<RequestContextRaw>,
    #[serde(default)]
    scope: Vec<ScopeRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScopeRaw {
    actions: Vec<Spanned<String>>,
    resources: Vec<Spanned<String>>,
    source: String,
}

/// What the contract needs some actions on (`[[scope]]`): every resource its users may
/// ask about, as IAM Resource patterns. A grant of those actions beyond it is a widened
/// scope, decided by the exact procedure (docs/exact.md). Actions no scope names are
/// needed on whatever they are granted on.
#[derive(Clone, Debug)]
pub struct Scope {
    /// The actions (IAM action patterns, each matching some catalog action).
    pub actions: Vec<crate::policy::wildcard::Pattern>,
    /// The resources they are needed on.
    pub resources: Vec<crate::policy::wildcard::Pattern>,
    /// Where the scope comes from (the caller's code naming its resources).
    pub source: String,
    /// Where the scope is written.
    pub loc: Loc,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestContextRaw {
    #[serde(default)]
    source_ip: Option<Spanned<String>>,
}

/// What a profile says about the request context of its runs (`[request_context]`); the
/// rest is `crate::context`'s model.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct RequestContextSettings {
    /// The address runs call from (`aws:SourceIp`), when not the model's default.
    pub source_ip: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FixtureRaw {
    id: Spanned<String>,
    service: Spanned<String>,
    operation: String,
    #[serde(default)]
    input: Option<toml::Table>,
    #[serde(default)]
    produces: BTreeMap<String, String>,
}

/// A prerequisite that is not under test, created with the administrator's credentials
/// before a live run (an instance profile a scenario passes, a key pair…).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Fixture {
    /// The fixture's id, which scenarios name in `needs`.
    pub id: String,
    /// The service called.
    pub service: String,
    /// The operation called.
    pub operation: String,
    /// The call's input, as the service's API names its members.
    pub input: serde_json::Value,
    /// Example ids that stand for what the call creates → the response field holding the real id.
    pub produces: BTreeMap<String, String>,
    /// Where the fixture is written.
    #[serde(skip)]
    pub loc: Loc,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EquivalentMutantRaw {
    id: Spanned<String>,
    reason: String,
}

/// A mutant the profile declares indistinguishable from the original, with why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EquivalentMutant {
    /// The mutant's id, as the proof names it.
    pub id: String,
    /// Why no scenario can tell it from the policy, for a reviewer to judge.
    pub reason: String,
    /// Where the entry is written, so a stale one can be removed.
    pub loc: Loc,
}

/// An upstream call the policy is known to lack (informational drift).
#[derive(Clone, Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamMissing {
    /// The action upstream calls.
    pub action: String,
    /// Where the call was seen.
    pub source: String,
    /// What the profile says about it.
    #[serde(default)]
    pub note: String,
}

/// `profile.toml`, parsed; scenario files are parsed separately and added.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// What the profile is about, for reports.
    pub description: String,
    /// The template file, relative to the profile.
    pub template: String,
    /// Where `template` is written.
    pub template_loc: Loc,
    /// The logical id of the role under test.
    pub role: String,
    /// Where `role` is written, for errors about it.
    pub role_loc: Loc,
    /// The scenario files, relative to the profile.
    pub scenario_files: Vec<String>,
    /// Where each scenario file is named.
    pub scenario_file_locs: Vec<Loc>,
    /// Mutants accepted as unnoticeable, with why.
    pub equivalent_mutants: Vec<EquivalentMutant>,
    /// Calls upstream makes that the policy is known to lack.
    pub upstream_missing: Vec<UpstreamMissing>,
    /// What a live run creates first, outside the test.
    pub fixtures: Vec<Fixture>,
    /// The request context's settings (`[request_context]`).
    pub request_context: RequestContextSettings,
    /// The resources the contract needs its actions on, where it says (`[[scope]]`).
    pub scopes: Vec<Scope>,
    /// Every scenario of every scenario file.
    pub scenarios: Vec<Scenario>,
    /// The profile file, as locations name it.
    pub file: Arc<str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default)]
    scenario: Vec<ScenarioRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioRaw {
    id: Spanned<String>,
    service: Spanned<String>,
    operation: Spanned<String>,
    expect: Expect,
    provenance: String,
    #[serde(default)]
    boundary: Option<String>,
    #[serde(default)]
    needs: Vec<Spanned<String>>,
    #[serde(default)]
    input: Option<Spanned<toml::Table>>,
    #[serde(default)]
    produces: BTreeMap<String, String>,
    #[serde(default)]
    synthetic: Option<String>,
    #[serde(default)]
    authorized_when: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    check: Vec<CheckRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckRaw {
    action: Spanned<String>,
    resource: Spanned<String>,
    #[serde(default)]
    context: Option<Spanned<BTreeMap<String, OneOrMany>>>,
    #[serde(default)]
    implicit: bool,
    #[serde(default)]
    expect: Option<Expect>,
}

/// A context key's value: one string or a list of strings. Read by hand so a wrong type
/// says what was expected (serde's untagged enums only say "did not match any variant").
#[derive(Debug)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a list of strings (context values are strings, as in a request)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<String>()? {
                    out.push(v);
                }
                Ok(OneOrMany::Many(out))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// One authorization check a call implies.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Check {
    /// Canonical `service:Action` as the catalog spells it.
    pub action: String,
    /// The resource ARN, still with `${AWS::…}` variables.
    pub resource: String,
    /// The condition keys the call supplies, still with `${AWS::…}` variables.
    pub context: BTreeMap<String, Vec<String>>,
    /// Whether AWS makes the check on top of the operation's own action.
    pub implicit: bool,
    /// The decision the check must get (a deny scenario may hold allowed checks).
    pub expect: Expect,
    /// Where the check is written.
    #[serde(skip)]
    pub loc: Loc,
}

impl Check {
    /// The resource and condition context for a target.
    pub fn rendered(&self, target: &Target) -> (String, Context) {
        let mut ctx = Context::new();
        for (k, vs) in &self.context {
            ctx.insert(k, vs.iter().map(|v| substitute(v, target)).collect());
        }
        (substitute(&self.resource, target), ctx)
    }
}

/// One API call of the contract.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Scenario {
    /// The scenario's id, unique in the profile.
    pub id: String,
    /// The service called.
    pub service: String,
    /// The operation called.
    pub operation: String,
    /// Whether the call must be allowed or denied.
    pub expect: Expect,
    /// Who makes this call upstream (or `no known caller`), so each grant is traced to a user.
    pub provenance: String,
    /// For a deny scenario, the edge of the policy it probes.
    pub boundary: Option<String>,
    /// Scenarios or fixtures that must run first (they create what this one uses).
    pub needs: Vec<String>,
    /// Where each `needs` entry was written.
    #[serde(skip)]
    pub needs_locs: Vec<Loc>,
    /// The call's input, as the service's API names its members.
    pub input: serde_json::Value,
    /// Example ids in this profile that stand for what this call creates: example id →
    /// the response field holding the real id (a live run substitutes it later on).
    pub produces: BTreeMap<String, String>,
    /// Set for a probe of the static model that no real request can make; a live run
    /// reports it as skipped with this reason.
    pub synthetic: Option<String>,
    /// Error codes that, answered by AWS itself, mean the call was authorized and the
    /// operation then refused (a service-linked role that already exists), each with why.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub authorized_when: BTreeMap<String, String>,
    /// The authorization checks the call implies.
    pub checks: Vec<Check>,
    /// Where the scenario is written.
    #[serde(skip)]
    pub loc: Loc,
}

/// Replaces the three allowed `${AWS::…}` variables.
pub fn substitute(text: &str, target: &Target) -> String {
    text.replace("${AWS::Partition}", &target.partition)
        .replace("${AWS::Region}", &target.region)
        .replace("${AWS::AccountId}", &target.account_id)
}

/// Maps byte offsets of a file to 1-based lines and columns.
struct Lines<'a> {
    text: &'a str,
    file: Arc<str>,
}

impl Lines<'_> {
    fn loc(&self, span: Range<usize>) -> Loc {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Loc::new(&self.file, line, column)
    }

    fn error(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        ScenarioError { loc: self.loc(span), message: message.into() }
    }

    fn toml_error(&self, e: toml::de::Error) -> ScenarioError {
        let loc = match e.span() {
            Some(span) => self.loc(span),
            None => Loc::new(&self.file, 1, 1),
        };
        ScenarioError { loc, message: e.message().trim().to_string() }
    }
}

/// Parses `profile.toml`.
pub fn parse_profile(text: &str, file: &str) -> Result<Profile, ScenarioError> {
    let lines = Lines { text, file: Arc::from(file) };
    let raw: ProfileFile = toml::from_str(text).map_err(|e| lines.toml_error(e))?;
    let mut seen = HashSet::new();
    for f in &raw.scenario_files {
        if !seen.insert(f.get_ref().clone()) {
            return Err(lines.error(f.span(), format!("scenario file `{}` is listed twice", f.get_ref())));
        }
        if f.get_ref().contains("..") || f.get_ref().starts_with('/') {
            return Err(lines.error(f.span(), "scenario files are named relative to the profile directory, inside it"));
        }
    }
    let mut request_context = RequestContextSettings::default();
    if let Some(ip) = raw.request_context.and_then(|rc| rc.source_ip) {
        if ip.get_ref().parse::<std::net::IpAddr>().is_err() {
            return Err(lines.error(
                ip.span(),
                format!("source_ip `{}` is not an IP address (such as 203.0.113.10)", ip.get_ref()),
            ));
        }
        request_context.source_ip = Some(ip.into_inner());
    }
    let mut scopes = Vec::new();
    for raw_scope in raw.scope {
        let loc = raw_scope.actions.first().map(|a| lines.loc(a.span())).unwrap_or_else(|| lines.loc(0..0));
        let mut actions = Vec::new();
        for a in &raw_scope.actions {
            let pattern =
                crate::policy::wildcard::Pattern::new(a.get_ref(), crate::policy::wildcard::Flavour::Action, false);
            if !Catalog::embedded().actions().any(|c| pattern.matches(&c.full_name())) {
                return Err(
                    lines.error(a.span(), format!("scope action `{}` names no action of the catalog", a.get_ref()))
                );
            }
            actions.push(pattern);
        }
        let mut resources = Vec::new();
        for r in &raw_scope.resources {
            let text = r.get_ref();
            if !text.starts_with("arn:") || text.contains("${") {
                return Err(lines.error(
                    r.span(),
                    format!("scope resource `{text}` must be an ARN pattern (`arn:…`, with `*` and `?`, no variables)"),
                ));
            }
            resources.push(crate::policy::wildcard::Pattern::new(text, crate::policy::wildcard::Flavour::Arn, false));
        }
        if actions.is_empty() || resources.is_empty() {
            return Err(lines.error(0..0, "a [[scope]] needs at least one action and one resource".to_string()));
        }
        scopes.push(Scope { actions, resources, source: raw_scope.source, loc });
    }
    Ok(Profile {
        scopes,
        request_context,
        name: raw.name,
        description: raw.description,
        template_loc: lines.loc(raw.template.span()),
        template: raw.template.into_inner(),
        role_loc: lines.loc(raw.role.span()),
        role: raw.role.into_inner(),
        scenario_file_locs: raw.scenario_files.iter().map(|f| lines.loc(f.span())).collect(),
        scenario_files: raw.scenario_files.into_iter().map(Spanned::into_inner).collect(),
        equivalent_mutants: raw
            .equivalent_mutant
            .into_iter()
            .map(|m| EquivalentMutant { loc: lines.loc(m.id.span()), id: m.id.into_inner(), reason: m.reason })
            .collect(),
        upstream_missing: raw.upstream_missing,
        fixtures: raw
            .fixture
            .into_iter()
            .map(|f| {
                if !SERVICES.contains(&f.service.get_ref().as_str()) {
                    return Err(lines.error(
                        f.service.span(),
                        format!("unknown service `{}` (expected one of {})", f.service.get_ref(), SERVICES.join(", ")),
                    ));
                }
                Ok(Fixture {
                    loc: lines.loc(f.id.span()),
                    id: f.id.into_inner(),
                    service: f.service.into_inner(),
                    operation: f.operation,
                    input: f
                        .input
                        .map(|t| serde_json::to_value(t).unwrap_or_default())
                        .unwrap_or_else(|| serde_json::json!({})),
                    produces: f.produces,
                })
            })
            .collect::<Result<_, _>>()?,
        scenarios: Vec::new(),
        file: Arc::from(file),
    })
}

/// Parses one scenario file. Cross-file rules (unique ids, `needs`) are checked by
/// [`validate_profile`] once every file is in.
pub fn parse_scenarios(text: &str, file: &str, catalog: &Catalog) -> Result<Vec<Scenario>, ScenarioError> {
    let lines = Lines { text, file: Arc::from(file) };
    let raw: ScenarioFile = toml::from_str(text).map_err(|e| lines.toml_error(e))?;
    let mut out = Vec::new();
    for s in raw.scenario {
        let id_loc = lines.loc(s.id.span());
        let id = s.id.get_ref();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-') {
            return Err(
                lines.error(s.id.span(), format!("scenario id `{id}` must be lowercase letters, digits, `.` and `-`"))
            );
        }
        if !SERVICES.contains(&s.service.get_ref().as_str()) {
            return Err(lines.error(
                s.service.span(),
                format!("unknown service `{}` (expected one of {})", s.service.get_ref(), SERVICES.join(", ")),
            ));
        }
        let op = s.operation.get_ref();
        if op.is_empty()
            || !op.starts_with(|c: char| c.is_ascii_uppercase())
            || !op.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(
                lines.error(s.operation.span(), format!("operation `{op}` must be an API name such as CreateVpc"))
            );
        }
        if s.provenance.trim().is_empty() {
            return Err(
                lines.error(s.id.span(), format!("scenario `{id}` needs a provenance (or \"{NO_KNOWN_CALLER}\")"))
            );
        }
        match (s.expect, &s.boundary) {
            (Expect::Deny, None) => {
                return Err(lines.error(
                    s.id.span(),
                    format!("deny scenario `{id}` needs a `boundary` saying what edge it probes"),
                ));
            }
            (Expect::Allow, Some(_)) => {
                return Err(
                    lines.error(s.id.span(), format!("`boundary` is only for deny scenarios (`{id}` expects allow)"))
                );
            }
            _ => {}
        }
        if s.check.is_empty() {
            return Err(lines.error(s.id.span(), format!("scenario `{id}` has no `[[scenario.check]]`")));
        }
        let mut checks = Vec::new();
        for c in &s.check {
            let action = c.action.get_ref();
            if action.contains(['*', '?']) {
                return Err(lines.error(
                    c.action.span(),
                    format!("check action `{action}` has a wildcard; a check names one action"),
                ));
            }
            let Some(found) = catalog.action(action) else {
                return Err(lines.error(c.action.span(), format!("action `{action}` is not in the action catalog")));
            };
            let resource = c.resource.get_ref();
            check_variables(resource, &lines, c.resource.span())?;
            if resource != "*" && (!resource.starts_with("arn:") || resource.splitn(6, ':').count() < 6) {
                return Err(lines.error(c.resource.span(), format!("resource `{resource}` is neither `*` nor an ARN")));
            }
            let mut context = BTreeMap::new();
            if let Some(ctx) = &c.context {
                for (k, v) in ctx.get_ref() {
                    let values = match v {
                        OneOrMany::One(s) => vec![s.clone()],
                        OneOrMany::Many(list) => list.clone(),
                    };
                    for v in &values {
                        check_variables(v, &lines, ctx.span())?;
                    }
                    context.insert(k.clone(), values);
                }
            }
            let expect = c.expect.unwrap_or(s.expect);
            if s.expect == Expect::Allow && expect == Expect::Deny {
                return Err(lines
                    .error(c.action.span(), format!("allow scenario `{id}` cannot have a check that expects deny")));
            }
            checks.push(Check {
                action: found.full_name(),
                resource: resource.clone(),
                context,
                implicit: c.implicit,
                expect,
                loc: lines.loc(c.action.span()),
            });
        }
        if s.expect == Expect::Deny && !checks.iter().any(|c| c.expect == Expect::Deny) {
            return Err(lines.error(s.id.span(), format!("deny scenario `{id}` has no check that expects deny")));
        }
        let input = match &s.input {
            Some(table) => {
                let text = serde_json::to_string(table.get_ref()).unwrap_or_default();
                check_variables(&text, &lines, table.span())?;
                serde_json::to_value(table.get_ref()).unwrap_or(serde_json::Value::Null)
            }
            None => serde_json::Value::Object(Default::default()),
        };
        let mut authorized_when = BTreeMap::new();
        for (code, why) in &s.authorized_when {
            if crate::errors::is_denial_code(code) {
                return Err(lines.error(
                    why.span(),
                    format!("authorized_when `{code}`: a denial code cannot mean the call was authorized"),
                ));
            }
            if why.get_ref().trim().is_empty() {
                return Err(
                    lines.error(why.span(), format!("authorized_when `{code}` needs a reason (and its source)"))
                );
            }
            authorized_when.insert(code.clone(), why.get_ref().clone());
        }
        out.push(Scenario {
            id: id.clone(),
            service: s.service.into_inner(),
            operation: s.operation.into_inner(),
            expect: s.expect,
            provenance: s.provenance,
            boundary: s.boundary,
            needs: s.needs.iter().map(|n| n.get_ref().clone()).collect(),
            needs_locs: s.needs.iter().map(|n| lines.loc(n.span())).collect(),
            input,
            produces: s.produces,
            synthetic: s.synthetic,
            authorized_when,
            checks,
            loc: id_loc,
        });
    }
    Ok(out)
}

fn check_variables(text: &str, lines: &Lines<'_>, span: Range<usize>) -> Result<(), ScenarioError> {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let end = after.find('}').unwrap_or(after.len());
        let name = &after[..end];
        if !VARIABLES.contains(&name) {
            return Err(lines.error(
                span,
                format!(
                    "unknown variable `${{{name}}}` (only {} are allowed)",
                    VARIABLES.map(|v| format!("${{{v}}}")).join(", ")
                ),
            ));
        }
        rest = &after[end.min(after.len())..];
    }
    Ok(())
}

trait MapJoin {
    fn map(&self, f: impl Fn(&&str) -> String) -> Vec<String>;
}
impl MapJoin for &[&str] {
    fn map(&self, f: impl Fn(&&str) -> String) -> Vec<String> {
        self.iter().map(f).collect()
    }
}

/// Every allowed check of a scoped action must lie inside its scope: a scope that leaves
/// out a call the contract needs contradicts the contract.
fn check_scopes(profile: &Profile) -> Result<(), ScenarioError> {
    let target = Target::default();
    for s in profile.scenarios.iter().filter(|s| s.expect == Expect::Allow) {
        for c in s.checks.iter().filter(|c| c.expect == Expect::Allow) {
            let scopes: Vec<&Scope> =
                profile.scopes.iter().filter(|sc| sc.actions.iter().any(|a| a.matches(&c.action))).collect();
            let (resource, _) = c.rendered(&target);
            if !scopes.is_empty() && !scopes.iter().flat_map(|sc| &sc.resources).any(|r| r.matches(&resource)) {
                return Err(ScenarioError {
                    loc: c.loc.clone(),
                    message: format!(
                        "`{}` on `{resource}` is needed by scenario `{}` but lies outside the [[scope]] declared for it at {}",
                        c.action, s.id, scopes[0].loc
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Cross-file rules: ids unique, `needs` name existing scenarios, no dependency cycle,
/// scopes that hold every needed call.
pub fn validate_profile(profile: &Profile) -> Result<(), ScenarioError> {
    let mut by_id: HashMap<&str, &Scenario> = HashMap::new();
    for s in &profile.scenarios {
        if let Some(first) = by_id.insert(&s.id, s) {
            return Err(ScenarioError {
                loc: s.loc.clone(),
                message: format!("duplicate scenario id `{}` (first at {})", s.id, first.loc),
            });
        }
    }
    for s in &profile.scenarios {
        for (i, n) in s.needs.iter().enumerate() {
            if !by_id.contains_key(n.as_str()) {
                let loc = s.needs_locs.get(i).cloned().unwrap_or_else(|| s.loc.clone());
                return Err(ScenarioError {
                    loc,
                    message: format!("scenario `{}` needs `{n}`, which is no scenario of this profile", s.id),
                });
            }
        }
    }
    // Depth-first search for a cycle in `needs`.
    let mut state: HashMap<&str, u8> = HashMap::new();
    fn visit<'a>(
        id: &'a str,
        by_id: &HashMap<&'a str, &'a Scenario>,
        state: &mut HashMap<&'a str, u8>,
    ) -> Option<&'a Scenario> {
        match state.get(id) {
            Some(1) => return by_id.get(id).copied(),
            Some(2) => return None,
            _ => {}
        }
        state.insert(id, 1);
        for n in &by_id[id].needs {
            if let Some(s) = visit(n, by_id, state) {
                return Some(s);
            }
        }
        state.insert(id, 2);
        None
    }
    for s in &profile.scenarios {
        if let Some(cyclic) = visit(&s.id, &by_id, &mut state) {
            return Err(ScenarioError {
                loc: cyclic.loc.clone(),
                message: format!("scenario `{}` is part of a `needs` cycle", cyclic.id),
            });
        }
    }
    check_scopes(profile)?;
    let declared: HashSet<&str> = profile.equivalent_mutants.iter().map(|m| m.id.as_str()).collect();
    if declared.len() != profile.equivalent_mutants.len() {
        let dup = profile
            .equivalent_mutants
            .iter()
            .find(|m| profile.equivalent_mutants.iter().filter(|o| o.id == m.id).count() > 1);
        if let Some(m) = dup {
            return Err(ScenarioError {
                loc: m.loc.clone(),
                message: format!("equivalent mutant `{}` is listed twice", m.id),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Scenario>, ScenarioError> {
        parse_scenarios(text, "s.toml", Catalog::embedded())
    }

    const OK: &str = r#"
[[scenario]]
id = "ec2.create-vpc"
service = "ec2"
operation = "CreateVpc"
expect = "allow"
provenance = "CAPA v1.4.1 pkg/cloud/services/network/vpc.go"
input = { CidrBlock = "10.0.0.0/16" }

[[scenario.check]]
action = "ec2:createvpc"
resource = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc/*"
context = { "ec2:CreateAction" = "CreateVpc", "aws:TagKeys" = ["Name", "env"] }
"#;

    #[test]
    fn parses_a_scenario() {
        let s = parse(OK).unwrap();
        assert_eq!(s[0].checks[0].action, "ec2:CreateVpc");
        assert_eq!(s[0].checks[0].expect, Expect::Allow);
        let (resource, ctx) = s[0].checks[0].rendered(&Target::default());
        assert_eq!(resource, "arn:aws:ec2:us-west-2:000000000000:vpc/*");
        assert_eq!(ctx.get("aws:tagkeys").unwrap(), ["Name", "env"]);
        assert_eq!(s[0].input["CidrBlock"], "10.0.0.0/16");
        assert!(s[0].authorized_when.is_empty());
        let with = parse(
            &OK.replace("\n[[scenario.check]]", "authorized_when = { InvalidInput = \"exists\" }\n[[scenario.check]]"),
        )
        .unwrap();
        assert_eq!(with[0].authorized_when.get("InvalidInput").map(String::as_str), Some("exists"));
    }

    #[test]
    fn malformed_scenarios_name_file_and_line() {
        let cases: Vec<(String, u32, &str)> = vec![
            (OK.replace("provenance =", "provenanse ="), 7, "unknown field"),
            (OK.replace("expect = \"allow\"", "expect = \"maybe\""), 6, "unknown variant"),
            (OK.replace("ec2:createvpc", "ec2:CreateVPCs"), 11, "not in the action catalog"),
            (OK.replace("${AWS::Region}", "${Region}"), 12, "unknown variable"),
            (OK.replace("service = \"ec2\"", "service = \"s3\""), 4, "unknown service"),
            (OK.replace("id = \"ec2.create-vpc\"", "id = \"EC2 vpc\""), 3, "lowercase"),
            (OK.replace("expect = \"allow\"", "expect = \"deny\""), 3, "boundary"),
            (OK.replace("vpc/*\"", "vpc/*\"\nexpect = \"deny\""), 11, "cannot have a check"),
            (OK.replace("resource = \"arn:", "resource = \"urn:"), 12, "neither"),
            (OK.replace("[[scenario.check]]", "[[scenario.chek]]"), 10, "unknown field"),
            (
                OK.replace("\n[[scenario.check]]", "authorized_when = { AccessDenied = \"x\" }\n[[scenario.check]]"),
                9,
                "a denial code cannot mean",
            ),
            (
                OK.replace("\n[[scenario.check]]", "authorized_when = { InvalidInput = \" \" }\n[[scenario.check]]"),
                9,
                "needs a reason",
            ),
            // A context value of the wrong type says what was expected.
            (
                OK.replace("\"ec2:CreateAction\" = \"CreateVpc\"", "\"ec2:CreateAction\" = 5"),
                13,
                "a string or a list of strings",
            ),
            (OK.replace("[\"Name\", \"env\"]", "[\"Name\", 7]"), 13, "expected a string"),
        ];
        for (text, line, needle) in cases {
            let e = parse(&text).unwrap_err();
            assert_eq!(e.loc.line, line, "{e}");
            assert!(e.to_string().starts_with("s.toml:"), "{e}");
            assert!(e.message.contains(needle), "{e}");
        }
    }

    #[test]
    fn profile_rules() {
        let p = parse_profile(
            "name = \"p\"\ndescription = \"d\"\ntemplate = \"t.yaml\"\nrole = \"R\"\nscenario_files = [\"a.toml\"]\n[[equivalent_mutant]]\nid = \"x\"\nreason = \"r\"\n",
            "profile.toml",
        )
        .unwrap();
        assert_eq!(p.equivalent_mutants[0].loc.line, 7);
        let e = parse_profile("name = \"p\"\n", "profile.toml").unwrap_err();
        assert!(e.message.contains("missing field"), "{e}");
        let e = parse_profile(
            "name = \"p\"\ndescription = \"d\"\ntemplate = \"t\"\nrole = \"R\"\nscenario_files = [\"../x.toml\"]\n",
            "profile.toml",
        )
        .unwrap_err();
        assert_eq!(e.loc.line, 5);
    }

    #[test]
    fn the_request_context_settings_are_read_strictly() {
        let base = "name = \"p\"\ndescription = \"d\"\ntemplate = \"t.yaml\"\nrole = \"R\"\nscenario_files = []\n";
        let p =
            parse_profile(&format!("{base}[request_context]\nsource_ip = \"203.0.113.10\"\n"), "profile.toml").unwrap();
        assert_eq!(p.request_context.source_ip.as_deref(), Some("203.0.113.10"));
        assert!(parse_profile(base, "profile.toml").unwrap().request_context.source_ip.is_none());
        let e = parse_profile(&format!("{base}[request_context]\nsource_ip = \"here\"\n"), "profile.toml").unwrap_err();
        assert_eq!(e.loc.line, 7, "{e}");
        assert!(e.message.contains("not an IP address"), "{e}");
        let e = parse_profile(&format!("{base}[request_context]\nregion = \"x\"\n"), "profile.toml").unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
    }

    #[test]
    fn cross_file_rules() {
        let mut profile = parse_profile(
            "name = \"p\"\ndescription = \"d\"\ntemplate = \"t\"\nrole = \"R\"\nscenario_files = []\n",
            "profile.toml",
        )
        .unwrap();
        let mut s = parse(&OK.replace("provenance", "needs = [\"ghost\"]\nprovenance")).unwrap();
        profile.scenarios.append(&mut s);
        let e = validate_profile(&profile).unwrap_err();
        assert!(e.message.contains("ghost"), "{e}");
        assert_eq!(e.loc.line, 7);
        profile.scenarios[0].needs = vec!["ec2.create-vpc".into()];
        let e = validate_profile(&profile).unwrap_err();
        assert!(e.message.contains("cycle"), "{e}");
    }
}
