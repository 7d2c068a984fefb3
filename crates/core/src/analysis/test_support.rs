//! Tiny hand-written policies and profiles for the analysis unit tests, read with the
//! core's own parsers so that locations are real.

use std::sync::Arc;

use super::{FindingKind, Proof, Subject, prove};
use crate::catalog::Catalog;
use crate::loc::Loc;
use crate::policy::{Policy, PolicyKind, parse_policy};
use crate::scenario::{Profile, parse_profile, parse_scenarios};
use crate::template::render::Target;

/// One identity policy named `p` in `p.yaml`, from its statements as YAML (a list at
/// column 0); statement lines are offset by two from the text given.
pub(crate) fn policies(statements: &str) -> Vec<Policy> {
    let text = format!("Version: 2012-10-17\nStatement:\n{statements}");
    let node = crate::template::yaml::parse(&text, &Arc::from("p.yaml")).expect("test policy parses as YAML");
    vec![parse_policy("p", &node, PolicyKind::Identity).expect("test policy is a policy")]
}

/// One scenario with one check of `action` on `resource`, as TOML; `expect` is `allow` or
/// `deny` (a deny scenario gets a boundary).
pub(super) fn scenario(id: &str, expect: &str, action: &str, resource: &str) -> String {
    let (service, operation) = action.split_once(':').expect("service:Operation");
    let boundary = if expect == "deny" { "boundary = \"a test edge\"\n" } else { "" };
    format!(
        "[[scenario]]\nid = \"{id}\"\nservice = \"{service}\"\noperation = \"{operation}\"\nexpect = \"{expect}\"\n\
         provenance = \"test\"\n{boundary}\n[[scenario.check]]\naction = \"{action}\"\nresource = \"{resource}\"\n\n"
    )
}

/// A profile of `scenarios` (TOML, file `s.toml`) with `extra` appended to its
/// `profile.toml` (equivalent mutants, upstream gaps).
pub(super) fn profile(scenarios: &str, extra: &str) -> Profile {
    let text = format!(
        "name = \"t\"\ndescription = \"t\"\ntemplate = \"t.yaml\"\nrole = \"Role\"\nscenario_files = [\"s.toml\"]\n{extra}"
    );
    let mut profile = parse_profile(&text, "profile.toml").expect("test profile parses");
    profile.scenarios = parse_scenarios(scenarios, "s.toml", Catalog::embedded()).expect("test scenarios parse");
    profile
}

/// The proof of `policies` against `profile` for the default target.
pub(super) fn prove_of(policies: &[Policy], profile: &Profile, external: &[(String, Loc)]) -> Proof {
    prove(&Subject { policies, external, profile, target: &Target::default(), catalog: Catalog::embedded() })
}

/// The messages of the proof's findings of `kind`, in order.
pub(super) fn messages(proof: &Proof, kind: FindingKind) -> Vec<&str> {
    proof.findings.iter().filter(|f| f.kind == kind).map(|f| f.message.as_str()).collect()
}

/// A policy the scenarios of [`tight_profile`] prove exactly minimal: every action
/// exercised, the scoped statement's boundary crossed, every mutant killed or accepted.
pub(super) const TIGHT_POLICY: &str = "\
- Effect: Allow
  Action: ec2:DescribeVpcs
  Resource: '*'
- Sid: Secrets
  Effect: Allow
  Action: secretsmanager:CreateSecret
  Resource: arn:*:secretsmanager:*:*:secret:app/*
";

/// The secret [`TIGHT_POLICY`] allows, and one outside its scope.
pub(super) const APP_SECRET: &str = "arn:aws:secretsmanager:us-west-2:000000000000:secret:app/db-AbCdEf";
/// A secret outside `app/`, which [`TIGHT_POLICY`] must not allow.
pub(super) const OTHER_SECRET: &str = "arn:aws:secretsmanager:us-west-2:000000000000:secret:other/db-AbCdEf";

/// The two mutants of [`TIGHT_POLICY`] no scenario can notice (widening the service or
/// the resource type of a `secret` ARN), accepted as equivalent.
pub(super) const TIGHT_EQUIVALENTS: &str = "
[[equivalent_mutant]]
id = \"widen-arn-segment:p#Secrets@86c7dd6b:0:service=secretsmanager\"
reason = \"CreateSecret only acts on secrets.\"

[[equivalent_mutant]]
id = \"widen-arn-segment:p#Secrets@86c7dd6b:0:resource[0]=secret\"
reason = \"CreateSecret only acts on secrets.\"
";

/// The scenarios that prove [`TIGHT_POLICY`], followed by `more`.
pub(super) fn tight_scenarios(more: &str) -> String {
    [
        scenario("ec2.describe-vpcs", "allow", "ec2:DescribeVpcs", "*"),
        scenario("secrets.app", "allow", "secretsmanager:CreateSecret", APP_SECRET),
        scenario("deny.secrets.other", "deny", "secretsmanager:CreateSecret", OTHER_SECRET),
        more.to_string(),
    ]
    .concat()
}

/// [`tight_scenarios`] in a profile that accepts [`TIGHT_EQUIVALENTS`] and adds `extra`.
pub(super) fn tight_profile(more: &str, extra: &str) -> Profile {
    profile(&tight_scenarios(more), &format!("{TIGHT_EQUIVALENTS}{extra}"))
}
