//! Suggested scenarios: each witness request the exact procedure found (a surviving
//! mutant's, an unexpected grant's, a widened scope's) written as a scenario in the
//! profile's schema (scenarios/README.md), for a reviewer to complete and add.
//!
//! The text is meant to load as it is: the call's input cannot be derived from an
//! authorization request, so every suggestion is marked `synthetic` (live runs skip it,
//! the static proof decides it) until a reviewer writes its `[scenario.input]` and
//! removes that line. A witness the loader could not accept at all (a service scenarios
//! may not call, a `${…}` in a value) is written commented out, with why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::analysis::exhaustive::UnexpectedGrant;
use crate::analysis::{Finding, FindingKind, MutantResult, MutantStatus, Proof};
use crate::exact::Witness;
use crate::policy::{Policy, Request, decide};
use crate::scenario::{Expect, NO_KNOWN_CALLER, SERVICES};
use crate::template::render::Target;

/// The longest slug an id gets, so ids stay readable in reports.
const MAX_SLUG: usize = 48;

/// What in the proof a suggestion answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A mutant no scenario kills, not proven equivalent.
    Mutant {
        /// The mutant's stable id.
        id: String,
        /// The edit, in words.
        description: String,
        /// Where the edited element is written.
        loc: String,
    },
    /// An action the catalog probe found granted beyond the contract.
    UnexpectedGrant {
        /// The action granted.
        action: String,
        /// The Action entry that grants it.
        loc: String,
    },
    /// A contract action granted outside its declared scope.
    WidenedScope {
        /// The finding, in words.
        message: String,
        /// Where the finding points (empty when nowhere).
        loc: String,
    },
}

impl Origin {
    /// The origin in a few words, for the header comment and the terminal.
    pub fn describe(&self) -> String {
        match self {
            Origin::Mutant { id, loc, .. } => format!("surviving mutant `{id}` ({loc})"),
            Origin::UnexpectedGrant { action, loc } => format!("unexpected grant of `{action}` ({loc})"),
            Origin::WidenedScope { message, loc } => format!("widened scope ({loc}): {message}"),
        }
    }

    /// The sentence the scenario's `boundary` says.
    fn boundary(&self, witness: &Witness) -> String {
        match self {
            Origin::Mutant { description, .. } => {
                format!("The policy must not behave as its mutant does: {}.", description.trim_end_matches('.'))
            }
            Origin::UnexpectedGrant { action, .. } => {
                format!("`{action}` is granted but no scenario of the contract needs it; it must be denied.")
            }
            Origin::WidenedScope { .. } => {
                format!(
                    "`{}` on `{}` lies outside the declared scope and must be denied.",
                    witness.action, witness.resource
                )
            }
        }
    }

    /// The text the id's slug is made from: the mutant's kind and the action (a mutant
    /// id's statement part is the same for every mutant of one policy).
    fn slug_source(&self, witness: &Witness) -> String {
        match self {
            Origin::Mutant { id, .. } => format!("{}:{}", id.split(':').next().unwrap_or(id), witness.action),
            _ => witness.action.clone(),
        }
    }
}

/// One witness, the things in the proof it answers, and the decision a scenario must expect.
#[derive(Clone, Debug)]
pub struct Seed {
    /// The request to make.
    pub witness: Witness,
    /// What it answers (the first names the scenario; one witness may answer several).
    pub origins: Vec<Origin>,
    /// Whether the policy (rather than a mutant) allows the request, when the proof says.
    pub policy_allows: Option<bool>,
}

/// One suggested scenario, ready to review.
#[derive(Clone, Debug)]
pub struct Suggestion {
    /// The scenario's id, unique in the profile.
    pub id: String,
    /// The decision the scenario expects.
    pub expect: Expect,
    /// The request it makes.
    pub witness: Witness,
    /// What it answers.
    pub origins: Vec<Origin>,
    /// Why the loader could not take it, when it is written commented out.
    pub unloadable: Option<String>,
    /// The scenario as TOML, header comment included.
    pub toml: String,
}

/// Every witness the proof carries that a new scenario would answer: surviving mutants,
/// unexpected grants and widened-scope findings (one seed per distinct witness).
pub fn seeds(mutants: &[MutantResult], unexpected: &[UnexpectedGrant], findings: &[Finding]) -> Vec<Seed> {
    let mut out: Vec<Seed> = Vec::new();
    let found = mutants
        .iter()
        .filter(|m| m.status == MutantStatus::Survived)
        .filter_map(|m| Some((m.witness.clone()?, mutant_origin(m), m.policy_allows_witness)))
        .chain(unexpected.iter().filter_map(|g| Some((g.witness.clone()?, grant_origin(g), Some(true)))))
        .chain(
            findings
                .iter()
                .filter(|f| f.kind == FindingKind::WidenedScope)
                .filter_map(|f| Some((f.witness.clone()?, scope_origin(f), Some(true)))),
        );
    for (witness, origin, policy_allows) in found {
        match out.iter_mut().find(|s| s.witness == witness) {
            Some(seed) => seed.origins.push(origin),
            None => out.push(Seed { witness, origins: vec![origin], policy_allows }),
        }
    }
    out
}

/// [`seeds`] of a finished proof.
pub fn seeds_of(proof: &Proof) -> Vec<Seed> {
    seeds(&proof.mutants, &proof.catalog.unexpected, &proof.findings)
}

fn mutant_origin(m: &MutantResult) -> Origin {
    Origin::Mutant { id: m.id.clone(), description: m.description.clone(), loc: m.loc.to_string() }
}

fn grant_origin(g: &UnexpectedGrant) -> Origin {
    Origin::UnexpectedGrant { action: g.action.clone(), loc: g.loc.to_string() }
}

fn scope_origin(f: &Finding) -> Origin {
    let loc = f.loc.as_ref().map(ToString::to_string).unwrap_or_default();
    Origin::WidenedScope { message: f.message.clone(), loc }
}

/// The decision a scenario making `seed`'s request must expect: deny, unless the seed
/// answers only mutants and the policy itself allows the request (a mutant that narrows
/// the policy is killed by an allow scenario, not a deny one). The proof's word on who
/// allows it is taken when given; else the evaluator decides the witness.
pub fn expectation(seed: &Seed, policies: &[Policy]) -> Expect {
    let only_mutants = seed.origins.iter().all(|o| matches!(o, Origin::Mutant { .. }));
    let allowed = seed.policy_allows.unwrap_or_else(|| {
        let ctx = seed.witness.context();
        let request = Request { action: &seed.witness.action, resource: &seed.witness.resource, context: &ctx };
        decide(policies, &request).outcome.is_allowed()
    });
    if only_mutants && allowed { Expect::Allow } else { Expect::Deny }
}

/// The suggested scenarios for `seeds`, with ids unique among themselves and `taken`.
pub fn suggest(seeds: &[Seed], policies: &[Policy], target: &Target, taken: &BTreeSet<String>) -> Vec<Suggestion> {
    let mut used = taken.clone();
    seeds
        .iter()
        .map(|seed| {
            let expect = expectation(seed, policies);
            let id = unique_id(&seed.origins[0].slug_source(&seed.witness), expect, &mut used);
            scenario(seed, id, expect, target)
        })
        .collect()
}

/// A scenario file holding `suggestions`, with a header saying how to review it.
pub fn document(suggestions: &[Suggestion]) -> String {
    let mut out = String::from(
        "# Scenarios suggested by `iam-conformance suggest` from the exact procedure's witness\n\
         # requests. Review each before adding this file to the profile's `scenario_files`:\n\
         # write the call's [scenario.input], remove the `synthetic` line, check the\n\
         # boundary sentence and the provenance.\n",
    );
    for s in suggestions {
        out.push('\n');
        out.push_str(&s.toml);
    }
    out
}

/// `text` as a lowercase slug of letters, digits and `-`, without the hash tags mutant ids carry.
pub fn slug(text: &str) -> String {
    // `@6194bebe` tags a statement's content; it only adds noise to a readable id.
    let without_tags: String =
        text.split(':').map(|part| part.split_once('@').map_or(part, |(name, _)| name)).collect::<Vec<_>>().join("-");
    let mut out = String::new();
    for c in without_tags.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let mut out: String = out.chars().take(MAX_SLUG).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() { "request".into() } else { out }
}

/// `deny.suggested.<slug>` (`suggested.<slug>` for allow), suffixed until no scenario has it.
fn unique_id(source: &str, expect: Expect, used: &mut BTreeSet<String>) -> String {
    let base = match expect {
        Expect::Deny => format!("deny.suggested.{}", slug(source)),
        Expect::Allow => format!("suggested.{}", slug(source)),
    };
    let id = (1..).map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") }).find(|id| !used.contains(id));
    let id = id.unwrap_or(base);
    used.insert(id.clone());
    id
}

/// The service and operation of an action: `ec2:RunInstances` → (`ec2`, `RunInstances`).
pub fn split_action(action: &str) -> (&str, &str) {
    action.split_once(':').unwrap_or((action, ""))
}

/// An ARN with the target's partition, region and account segments written as the
/// `${AWS::…}` variables scenario files use; other values are kept as they are.
pub fn templated(arn: &str, target: &Target) -> String {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() < 6 || parts[0] != "arn" {
        return arn.to_string();
    }
    let swap = |value: &str, ours: &str, var: &str| if value == ours { var.to_string() } else { value.to_string() };
    let partition = swap(parts[1], &target.partition, "${AWS::Partition}");
    let region = swap(parts[3], &target.region, "${AWS::Region}");
    let account = swap(parts[4], &target.account_id, "${AWS::AccountId}");
    format!("arn:{partition}:{}:{region}:{account}:{}", parts[2], parts[5])
}

/// Why the scenario loader would refuse a scenario of this witness, if it would.
fn unloadable(witness: &Witness, resource: &str) -> Option<String> {
    let (service, operation) = split_action(&witness.action);
    if !SERVICES.contains(&service) {
        return Some(format!("scenarios may not call service `{service}` (only {})", SERVICES.join(", ")));
    }
    if operation.is_empty() || !operation.starts_with(|c: char| c.is_ascii_uppercase()) {
        return Some(format!("`{}` names no operation", witness.action));
    }
    let values = witness.context.values().flatten().chain(std::iter::once(&witness.resource));
    if values.into_iter().any(|v| v.contains("${")) {
        return Some("a value holds `${`, which scenario files read as a variable".into());
    }
    if resource != "*" && (!resource.starts_with("arn:") || resource.splitn(6, ':').count() < 6) {
        return Some(format!("the resource `{resource}` is neither `*` nor an ARN"));
    }
    None
}

/// One suggestion: header comment, then the scenario (commented out when unloadable).
fn scenario(seed: &Seed, id: String, expect: Expect, target: &Target) -> Suggestion {
    let w = &seed.witness;
    let resource = templated(&w.resource, target);
    let problem = unloadable(w, &resource);
    let mut body = String::new();
    write_scenario(&mut body, seed, &id, expect, &resource, target);
    let mut toml = header(seed, expect, problem.as_deref());
    match &problem {
        None => toml.push_str(&body),
        Some(_) => body.lines().for_each(|l| {
            let _ = writeln!(toml, "# {l}");
        }),
    }
    Suggestion { id, expect, witness: w.clone(), origins: seed.origins.clone(), unloadable: problem, toml }
}

/// The comment above a suggestion: what it came from and what to review.
fn header(seed: &Seed, expect: Expect, problem: Option<&str>) -> String {
    let mut out = String::from("# Generated by `iam-conformance suggest` — review before use.\n");
    for o in &seed.origins {
        let _ = writeln!(out, "# From {}.", o.describe().replace('\n', " "));
    }
    let _ = writeln!(out, "# Witness request: {}.", seed.witness.describe());
    if expect == Expect::Allow {
        out.push_str(
            "# The policy allows this request and the mutant does not: an allow scenario kills the\n\
             # mutant, but it adds the request to the contract — keep it only if a caller needs it.\n",
        );
    }
    if let Some(p) = problem {
        let _ = writeln!(out, "# Commented out: the scenario loader would refuse it: {p}.");
    }
    out
}

/// The `[[scenario]]` table itself.
fn write_scenario(out: &mut String, seed: &Seed, id: &str, expect: Expect, resource: &str, target: &Target) {
    let w = &seed.witness;
    let (service, operation) = split_action(&w.action);
    let _ = writeln!(out, "[[scenario]]");
    let _ = writeln!(out, "id = {}", quote(id));
    let _ = writeln!(out, "service = {}", quote(service));
    let _ = writeln!(out, "operation = {}", quote(operation));
    let _ = writeln!(out, "expect = {}", quote(expect.as_str()));
    let _ = writeln!(out, "provenance = {}", quote(NO_KNOWN_CALLER));
    let boundary = seed.origins[0].boundary(w);
    match expect {
        Expect::Deny => {
            let _ = writeln!(out, "boundary = {}", quote(&boundary));
        }
        // `boundary` is for deny scenarios only; the sentence stays as a comment.
        Expect::Allow => {
            let _ = writeln!(out, "# {boundary}");
        }
    }
    let _ = writeln!(out, "synthetic = {}", quote(&synthetic_reason(service, operation)));
    write_input(out, service, operation);
    let _ = writeln!(out, "\n[[scenario.check]]");
    let _ = writeln!(out, "action = {}", quote(&w.action));
    let _ = writeln!(out, "resource = {}", quote(resource));
    write_context(out, &w.context, target);
}

/// Why the suggestion is not sent by live runs yet, in the words the report will show.
fn synthetic_reason(service: &str, operation: &str) -> String {
    match crate::wire::models().service(service) {
        Some(m) if m.has_operation(operation) => {
            "suggested from a witness request; its input is not written yet: fill in [scenario.input], then remove this line".into()
        }
        _ => format!(
            "suggested from a witness request; the harness's wire models cannot send `{service}:{operation}`: name the call that makes this check, or keep it synthetic with the reason"
        ),
    }
}

/// An empty `[scenario.input]` with a TODO naming the operation's input members.
fn write_input(out: &mut String, service: &str, operation: &str) {
    let _ = writeln!(out, "\n[scenario.input]");
    let members = input_members(service, operation);
    if members.is_empty() {
        let _ = writeln!(out, "# TODO: the call's parameters (the wire model has no input for this operation).");
        return;
    }
    let _ = writeln!(
        out,
        "# TODO: the call's parameters. `{operation}` takes (the wire model does not say which are required):"
    );
    for line in wrap(&members, 88) {
        let _ = writeln!(out, "#   {line}");
    }
}

/// The top-level input members of an operation in the wire model, sorted.
fn input_members(service: &str, operation: &str) -> Vec<String> {
    let Some(model) = crate::wire::models().service(service) else { return Vec::new() };
    let Some(input) = model.operations.get(operation).and_then(|op| op.input.as_ref()) else { return Vec::new() };
    model.shape(input).members.keys().cloned().collect()
}

/// Names joined by `, ` in lines of at most `width` characters.
fn wrap(names: &[String], width: usize) -> Vec<String> {
    let mut lines: Vec<String> = vec![String::new()];
    for n in names {
        let line = lines.last_mut().expect("lines starts non-empty");
        if !line.is_empty() && line.len() + n.len() + 2 > width {
            lines.push(n.clone());
        } else {
            if !line.is_empty() {
                line.push_str(", ");
            }
            line.push_str(n);
        }
    }
    lines
}

/// `[scenario.check.context]`, one key a line; ARN values templated like the resource.
fn write_context(out: &mut String, context: &BTreeMap<String, Vec<String>>, target: &Target) {
    if context.is_empty() {
        return;
    }
    let _ = writeln!(out, "[scenario.check.context]");
    for (key, values) in context {
        let values: Vec<String> = values.iter().map(|v| quote(&templated(v, target))).collect();
        let value = match values.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let _ = writeln!(out, "{} = {value}", quote(key));
    }
}

/// A TOML basic string, escaped by the toml crate (keys are quoted the same way).
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::test_support::policies;
    use crate::analysis::{Subject, prove};
    use crate::catalog::Catalog;
    use crate::loc::Loc;
    use crate::scenario::{parse_profile, parse_scenarios, validate_profile};

    const POLICY: &str = "\
- Effect: Allow
  Action: ec2:DescribeVpcs
  Resource: '*'
- Sid: Secrets
  Effect: Allow
  Action: secretsmanager:CreateSecret
  Resource: arn:*:secretsmanager:*:*:secret:app/*
";
    const APP: &str = "arn:aws:secretsmanager:us-west-2:000000000000:secret:app/db-AbCdEf";
    const OTHER: &str = "arn:aws:secretsmanager:us-west-2:000000000000:secret:other/db-AbCdEf";

    fn witness(action: &str, resource: &str, context: &[(&str, &[&str])]) -> Witness {
        let context = context.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect();
        Witness { action: action.into(), resource: resource.into(), context }
    }

    fn mutant(id: &str, status: MutantStatus, witness: Option<Witness>) -> MutantResult {
        MutantResult {
            id: id.into(),
            description: "widen `arn:*:secretsmanager:*:*:secret:app/*` to `*`".into(),
            loc: Loc::new(&std::sync::Arc::from("t.yaml"), 7, 13),
            status,
            killed_by: Vec::new(),
            reason: None,
            proof: None,
            witness,
            policy_allows_witness: None,
            undecided: None,
        }
    }

    /// A profile of the allow scenarios the policy needs, plus `more` (scenario TOML).
    fn profile_with(more: &str) -> crate::scenario::Profile {
        let text =
            "name = \"t\"\ndescription = \"t\"\ntemplate = \"t.yaml\"\nrole = \"R\"\nscenario_files = [\"s.toml\"]\n";
        let mut profile = parse_profile(text, "profile.toml").expect("profile parses");
        let base = format!(
            "[[scenario]]\nid = \"ec2.describe-vpcs\"\nservice = \"ec2\"\noperation = \"DescribeVpcs\"\nexpect = \"allow\"\nprovenance = \"t\"\n[[scenario.check]]\naction = \"ec2:DescribeVpcs\"\nresource = \"*\"\n\n\
             [[scenario]]\nid = \"secrets.app\"\nservice = \"secretsmanager\"\noperation = \"CreateSecret\"\nexpect = \"allow\"\nprovenance = \"t\"\n[[scenario.check]]\naction = \"secretsmanager:CreateSecret\"\nresource = \"{APP}\"\n"
        );
        profile.scenarios = parse_scenarios(&base, "s.toml", Catalog::embedded()).expect("base parses");
        profile
            .scenarios
            .extend(parse_scenarios(more, "suggested.toml", Catalog::embedded()).expect("suggestion parses"));
        validate_profile(&profile).expect("profile validates");
        profile
    }

    fn proof_of(policies: &[Policy], profile: &crate::scenario::Profile) -> Proof {
        let target = Target::default();
        prove(&Subject { policies, external: &[], profile, target: &target, catalog: Catalog::embedded() })
    }

    #[test]
    fn actions_split_into_service_and_operation() {
        assert_eq!(split_action("ec2:RunInstances"), ("ec2", "RunInstances"));
        assert_eq!(split_action("nonsense"), ("nonsense", ""));
    }

    #[test]
    fn the_targets_segments_become_variables_and_others_stay() {
        let t = Target::default();
        assert_eq!(
            templated("arn:aws:ec2:us-west-2:000000000000:instance/i-1", &t),
            "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/i-1"
        );
        // Another region is what a widened region segment is about: kept literal.
        assert_eq!(
            templated("arn:aws:ec2:eu-west-1:000000000000:vpc/vpc-1", &t),
            "arn:${AWS::Partition}:ec2:eu-west-1:${AWS::AccountId}:vpc/vpc-1"
        );
        assert_eq!(
            templated("arn:aws:iam::000000000000:role/a:b", &t),
            "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/a:b"
        );
        assert_eq!(templated("*", &t), "*");
    }

    #[test]
    fn slugs_drop_hash_tags_and_stay_short() {
        assert_eq!(
            slug("widen-arn-segment:mini-policy#Secrets@6194bebe:0:partition=aws"),
            "widen-arn-segment-mini-policy-secrets-0-partitio"
        );
        assert_eq!(slug("ec2:RunInstances"), "ec2-runinstances");
        assert_eq!(slug("@@@"), "request");
        assert!(slug(&"x:".repeat(100)).len() <= MAX_SLUG);
    }

    #[test]
    fn only_surviving_mutants_grants_and_widened_scopes_with_witnesses_are_seeds() {
        let w = witness("secretsmanager:CreateSecret", OTHER, &[]);
        let mutants = [
            mutant("a", MutantStatus::Survived, Some(w.clone())),
            mutant("b", MutantStatus::Survived, None),
            mutant("c", MutantStatus::Killed, Some(w.clone())),
            mutant("d", MutantStatus::Survived, Some(w.clone())),
        ];
        let seeds = seeds(&mutants, &[], &[]);
        assert_eq!(seeds.len(), 1, "one seed per distinct witness");
        assert_eq!(seeds[0].origins.len(), 2, "mutants a and d share it");
    }

    #[test]
    fn a_widening_mutants_witness_becomes_a_deny_scenario_that_loads_and_kills_it() {
        let policies = policies(POLICY);
        let before = proof_of(&policies, &profile_with(""));
        let id = "widen-resource:p#Secrets@86c7dd6b:0";
        let survived = before.mutants.iter().find(|m| m.id.starts_with("widen-resource:p#Secrets"));
        let survived = survived.expect("the widened resource is a mutant");
        assert_eq!(survived.status, MutantStatus::Survived, "no deny scenario crosses the scope yet");
        // The witness the exact procedure would give (hand-built until it fills them in).
        let w = witness("secretsmanager:CreateSecret", OTHER, &[("aws:RequestedRegion", &["us-west-2"])]);
        let seeds = seeds(&[mutant(&survived.id, MutantStatus::Survived, Some(w))], &[], &[]);
        let taken = before.scenarios.iter().map(|s| s.id.clone()).collect();
        let suggestions = suggest(&seeds, &policies, &Target::default(), &taken);
        let s = &suggestions[0];
        assert_eq!(s.expect, Expect::Deny);
        assert_eq!(s.id, "deny.suggested.widen-resource-secretsmanager-createsecret");
        assert!(s.unloadable.is_none());
        let text = document(&suggestions);
        assert!(text.contains("# From surviving mutant `widen-resource:p#Secrets"), "{text}");
        assert!(text.contains("resource = \"arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:other/db-AbCdEf\""), "{text}");
        assert!(text.contains("[scenario.check.context]\n\"aws:RequestedRegion\" = \"us-west-2\""), "{text}");
        assert!(text.contains("# TODO: the call's parameters. `CreateSecret` takes"), "{text}");
        let after = proof_of(&policies, &profile_with(&text));
        let row = after.scenarios.iter().find(|r| r.id == s.id).expect("the suggestion is a scenario");
        assert!(row.pass, "the policy denies the witness");
        let m = after.mutants.iter().find(|m| m.id == survived.id).expect("same mutant");
        assert_eq!(m.status, MutantStatus::Killed, "{id}: the suggestion kills it");
    }

    #[test]
    fn a_narrowing_mutants_witness_becomes_an_allow_scenario() {
        let policies = policies(POLICY);
        let w = witness("secretsmanager:CreateSecret", APP, &[]);
        let seeds = seeds(&[mutant("drop-statement:p#Secrets", MutantStatus::Survived, Some(w))], &[], &[]);
        let s = &suggest(&seeds, &policies, &Target::default(), &BTreeSet::new())[0];
        assert_eq!(s.expect, Expect::Allow);
        assert!(s.id.starts_with("suggested."), "{}", s.id);
        assert!(s.toml.contains("adds the request to the contract"), "{}", s.toml);
        assert!(!s.toml.contains("\nboundary ="), "allow scenarios carry no boundary");
        profile_with(&s.toml);
    }

    #[test]
    fn an_unexpected_grant_is_denied_even_though_the_policy_allows_it() {
        let policies = policies(POLICY);
        let grant = UnexpectedGrant {
            action: "ec2:DescribeVpcs".into(),
            resource: "*".into(),
            statements: Vec::new(),
            loc: Loc::new(&std::sync::Arc::from("t.yaml"), 3, 11),
            context: None,
            witness: Some(witness("ec2:DescribeVpcs", "*", &[("aws:SourceIp", &["10.0.0.1", "10.0.0.2"])])),
        };
        let seeds = seeds(&[], &[grant], &[]);
        let s = &suggest(&seeds, &policies, &Target::default(), &BTreeSet::new())[0];
        assert_eq!((s.expect, s.id.as_str()), (Expect::Deny, "deny.suggested.ec2-describevpcs"));
        assert!(s.toml.contains("\"aws:SourceIp\" = [\"10.0.0.1\", \"10.0.0.2\"]"), "{}", s.toml);
        assert!(s.toml.contains("boundary = \"`ec2:DescribeVpcs` is granted but no scenario"), "{}", s.toml);
        profile_with(&s.toml);
    }

    #[test]
    fn ids_are_unique_among_suggestions_and_the_profile() {
        let w1 = witness("ec2:DescribeVpcs", "*", &[]);
        let w2 = witness("ec2:DescribeVpcs", "*", &[("aws:SourceIp", &["10.0.0.1"])]);
        let grant = |w: Witness| UnexpectedGrant {
            action: w.action.clone(),
            resource: "*".into(),
            statements: Vec::new(),
            loc: Loc::new(&std::sync::Arc::from("t.yaml"), 1, 1),
            context: None,
            witness: Some(w),
        };
        let seeds = seeds(&[], &[grant(w1), grant(w2)], &[]);
        let taken = BTreeSet::from(["deny.suggested.ec2-describevpcs".to_string()]);
        let ids: Vec<String> = suggest(&seeds, &[], &Target::default(), &taken).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["deny.suggested.ec2-describevpcs-2", "deny.suggested.ec2-describevpcs-3"]);
    }

    #[test]
    fn what_the_loader_would_refuse_is_written_commented_out_and_still_parses() {
        let finding = Finding {
            kind: FindingKind::WidenedScope,
            severity: crate::analysis::Severity::Fail,
            message: "granted outside its scope".into(),
            action: None,
            resource: None,
            loc: None,
            scenario: None,
            witness: Some(witness(
                "cloudformation:CreateStack",
                "arn:aws:cloudformation:us-west-2:000000000000:stack/x/y",
                &[],
            )),
        };
        let seeds = seeds(&[], &[], &[finding]);
        let s = &suggest(&seeds, &[], &Target::default(), &BTreeSet::new())[0];
        assert!(s.unloadable.as_deref().is_some_and(|p| p.contains("`cloudformation`")), "{:?}", s.unloadable);
        assert!(s.toml.lines().all(|l| l.starts_with('#')), "{}", s.toml);
        assert!(parse_scenarios(&document(std::slice::from_ref(s)), "x.toml", Catalog::embedded()).unwrap().is_empty());
    }

    #[test]
    fn an_action_the_wire_models_cannot_send_says_so_in_its_synthetic_reason() {
        let w = witness("iam:PassRole", "arn:aws:iam::000000000000:role/x", &[]);
        let grant = UnexpectedGrant {
            action: w.action.clone(),
            resource: w.resource.clone(),
            statements: Vec::new(),
            loc: Loc::new(&std::sync::Arc::from("t.yaml"), 1, 1),
            context: None,
            witness: Some(w),
        };
        let s = &suggest(&seeds(&[], &[grant], &[]), &[], &Target::default(), &BTreeSet::new())[0];
        assert!(s.toml.contains("cannot send `iam:PassRole`"), "{}", s.toml);
        profile_with(&s.toml);
    }
}
