//! The request context AWS builds (issue 9), end to end: the seed plus one tightening CAPA
//! lives with exactly as before is judged as AWS would judge it, by `check` and by `run`
//! through the gate on moto (`tests/fixtures/context/`); a grant behind a condition every
//! real request satisfies is found; a key the model cannot know makes the proof
//! undecided, naming it; the report lists the keys each decision read. The facts and their
//! pages: `crates/core/src/context/mod.rs`. Live runs talk only to 127.0.0.1.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/context").join(name)
}

/// Runs `iam-conformance <command> --template <fixture> --report-dir <dir>`; the exit code,
/// the output and the report.
fn run(command: &str, template: &str, dir: &Path) -> (i32, String, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .arg(command)
        .arg("--template")
        .arg(fixture(template))
        .arg("--report-dir")
        .arg(dir)
        .output()
        .expect("the binary runs");
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let report = std::fs::read_to_string(dir.join("report.json"))
        .map(|t| serde_json::from_str(&t).expect("report.json parses"))
        .unwrap_or_else(|e| panic!("no report.json ({e}):\n{text}"));
    (out.status.code().unwrap_or(-1), text, report)
}

fn findings<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == kind).collect()
}

fn row<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no row {id}"))
}

/// The keys a model-decided check of `row` read, with their status.
fn keys_read(row: &Value, action: &str) -> Vec<(String, String)> {
    row["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] == action)
        .flat_map(|c| c["keys_read"].as_array().cloned().unwrap_or_default())
        .map(|k| (k["key"].as_str().unwrap().to_string(), k["status"].as_str().unwrap().to_string()))
        .collect()
}

/// No finding says AWS would decide one of the contract's calls otherwise.
fn judged_as_aws(report: &Value, text: &str) {
    for kind in ["missing_grant", "excess_grant", "live_mismatch", "check_mismatch", "unmodelled_key", "harness_error"]
    {
        assert!(findings(report, kind).is_empty(), "{kind}: {:#?}\n{text}", findings(report, kind));
    }
}

/// `check`: each tightening is conformant, as AWS would judge it, and the decisions read
/// the keys the tightening names from the request-context model.
#[test]
fn the_four_tightenings_are_conformant_statically() {
    let tmp = tempfile::tempdir().unwrap();
    for (template, scenario, action, key) in [
        ("deny-outside-region.yaml", "ec2.create-vpc", "ec2:CreateVpc", "aws:requestedregion"),
        ("allow-in-region.yaml", "ec2.create-vpc", "ec2:CreateVpc", "aws:requestedregion"),
        ("deny-ec2-unless-bootstrapper.yaml", "ec2.create-vpc", "ec2:CreateVpc", "aws:principalarn"),
        (
            "deny-terminate-untagged.yaml",
            "ec2.terminate-instances",
            "ec2:TerminateInstances",
            "ec2:resourcetag/sigs.k8s.io/cluster-api-provider-aws/role",
        ),
        // Of the same kind: the tags CreateVpc gave the VPC, replayed in dependency order.
        (
            "deny-delete-unowned.yaml",
            "ec2.delete-vpc",
            "ec2:DeleteVpc",
            "ec2:resourcetag/sigs.k8s.io/cluster-api-provider-aws/cluster/dkp-demo",
        ),
    ] {
        let dir = tmp.path().join(template);
        let (code, text, report) = run("check", template, &dir);
        judged_as_aws(&report, &text);
        assert_eq!(code, 0, "{template} is conformant:\n{text}");
        assert_eq!(report["counts"]["scenarios_failed"], 0, "{template}");
        let read = keys_read(row(&report, scenario), action);
        assert!(read.iter().any(|(k, s)| k == key && s == "provided"), "{template}: {scenario} read {key}: {read:?}");
        // The report names the context it decided in, the fixed instant among it.
        assert_eq!(report["request_context"]["current_time"], "2026-12-01T12:00:00Z", "{template}");
        assert_eq!(
            report["request_context"]["principal_arn"], "arn:aws:iam::000000000000:role/dkp-bootstrapper-role",
            "{template}"
        );
    }
}

/// The new statements' mutants are noticed by the same calls asked outside the contract's
/// context: from another region, by another principal, on untagged instances.
#[test]
fn mutants_of_a_tightening_are_killed_outside_the_contracts_context() {
    let tmp = tempfile::tempdir().unwrap();
    for (template, sid, probe) in [
        ("deny-outside-region.yaml", "DenyOutsideRegion", "(another region)"),
        ("deny-ec2-unless-bootstrapper.yaml", "DenyEc2ToOthers", "(another principal and account)"),
        ("deny-terminate-untagged.yaml", "DenyTerminateUntagged", "(resources without tags)"),
    ] {
        let (_, text, report) = run("check", template, &tmp.path().join(template));
        let dropped = report["minimality"]["mutants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"].as_str().unwrap().starts_with(&format!("drop-statement:dkp-bootstrapper-policy#{sid}@")))
            .unwrap_or_else(|| panic!("{template}: no drop mutant of {sid}\n{text}"));
        assert_eq!(dropped["status"], "killed", "{dropped}");
        assert!(
            dropped["killed_by"].as_array().unwrap().iter().any(|k| k.as_str().unwrap().ends_with(probe)),
            "{dropped}"
        );
    }
}

/// A grant behind a condition every real request satisfies (the harness calls over HTTPS)
/// is an unexpected grant.
#[test]
fn a_grant_behind_secure_transport_is_unexpected() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, text, report) = run("check", "create-volume-over-tls.yaml", tmp.path());
    assert_eq!(code, 1, "{text}");
    let unexpected = findings(&report, "unexpected_grant");
    assert!(unexpected.iter().any(|f| f["action"] == "ec2:CreateVolume"), "{unexpected:#?}");
    // The near-miss scenario that must be denied CreateVolume says so too.
    assert!(findings(&report, "excess_grant").iter().any(|f| f["scenario"] == "near-miss.ec2.create-volume"));
}

/// A decision that depends on a key the model cannot know (`aws:userid`: the role id is
/// assigned at creation) is undecided, naming the key and the action — never guessed.
#[test]
fn a_key_the_model_cannot_know_is_undecided() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, text, report) = run("check", "reads-userid.yaml", tmp.path());
    assert_eq!(code, 2, "{text}");
    assert_eq!(report["verdict"], "inconclusive");
    let undecided = findings(&report, "unmodelled_key");
    assert!(!undecided.is_empty(), "{text}");
    let f = undecided.iter().find(|f| f["action"] == "ec2:CreateVpc").expect("CreateVpc is undecided");
    assert_eq!(f["severity"], "undecided");
    assert!(f["message"].as_str().unwrap().contains("`aws:userid`"), "{f}");
    // Undecided checks are not reported as missing grants.
    assert!(findings(&report, "missing_grant").is_empty(), "{:#?}", findings(&report, "missing_grant"));
    let check = row(&report, "ec2.create-vpc")["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "ec2:CreateVpc")
        .cloned()
        .unwrap();
    assert_eq!(check["undecided"], serde_json::json!(["aws:userid"]), "{check}");
    assert!(
        keys_read(row(&report, "ec2.create-vpc"), "ec2:CreateVpc")
            .contains(&("aws:userid".into(), "not_modelled".into()))
    );
}

/// `run` on moto: the gate decides each call in the request context too (the principal
/// from IAM, the region, the instance's tags looked up in moto), so each tightening is
/// conformant live.
fn live_conformant(template: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let (code, text, report) = run("run", template, tmp.path());
    judged_as_aws(&report, &text);
    assert_eq!(report["environment"]["iam_decided_by"], "gate", "{text}");
    assert_eq!(code, 0, "{template} is conformant live:\n{text}");
}

#[test]
fn deny_outside_region_is_conformant_on_moto() {
    live_conformant("deny-outside-region.yaml");
}

#[test]
fn allow_in_region_is_conformant_on_moto() {
    live_conformant("allow-in-region.yaml");
}

#[test]
fn deny_ec2_unless_bootstrapper_is_conformant_on_moto() {
    live_conformant("deny-ec2-unless-bootstrapper.yaml");
}

#[test]
fn deny_terminate_untagged_is_conformant_on_moto() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, text, report) = run("run", "deny-terminate-untagged.yaml", tmp.path());
    judged_as_aws(&report, &text);
    assert_eq!(code, 0, "{text}");
    // The gate read the instance's tag (looked up in moto) for its decision.
    let terminate = row(&report, "ec2.terminate-instances");
    assert_eq!(terminate["decided_by"], "gate", "{terminate}");
    let check =
        terminate["gate_checks"].as_array().unwrap().iter().find(|c| c["action"] == "ec2:TerminateInstances").unwrap();
    assert_eq!(check["keys_read"], serde_json::json!(["ec2:resourcetag/sigs.k8s.io/cluster-api-provider-aws/role"]));
}

#[test]
fn deny_delete_unowned_is_conformant_on_moto() {
    live_conformant("deny-delete-unowned.yaml");
}

/// The converse: a Deny on the tag every CAPA instance carries denies every terminate, in
/// the static proof and at the gate alike — the gate is not blind to resource tags.
#[test]
fn a_deny_on_the_role_tag_denies_live_too() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, text, report) = run("run", "deny-terminate-tagged.yaml", tmp.path());
    assert_eq!(code, 1, "{text}");
    let terminate = row(&report, "ec2.terminate-instances");
    assert_eq!(
        (terminate["observed"].as_str(), terminate["decided_by"].as_str()),
        (Some("denied"), Some("gate")),
        "{terminate}"
    );
    let check =
        terminate["gate_checks"].as_array().unwrap().iter().find(|c| c["action"] == "ec2:TerminateInstances").unwrap();
    assert_eq!(check["outcome"], "explicit_deny", "{check}");
    // The model and the gate agree: a missing grant statically, denied live by the same
    // statement, with the model saying denied.
    assert!(findings(&report, "missing_grant").iter().any(|f| f["scenario"] == "ec2.terminate-instances"));
    for f in findings(&report, "live_mismatch") {
        let message = f["message"].as_str().unwrap();
        assert!(message.contains("DenyTerminateTagged") && message.ends_with("the model says denied"), "{message}");
    }
}

/// A key AWS takes from the request's own parameters (`ec2:InstanceType` of RunInstances,
/// catalog/request-keys.toml) is provided from the scenario's input, not left undecided;
/// the exact procedure then names the request the scenarios leave unpinned: a launch of
/// another instance type, which only the Deny refuses.
#[test]
fn a_request_parameter_key_is_provided_from_the_input() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, text, report) = run("check", "deny-other-instance-types.yaml", tmp.path());
    assert!(findings(&report, "missing_grant").is_empty(), "{text}");
    // Undecided only where the call does not state the type: an Auto Scaling group launches
    // from a launch template, whose instance type the scenario's input does not hold.
    let unmodelled = findings(&report, "unmodelled_key");
    assert!(!unmodelled.is_empty(), "{text}");
    for f in &unmodelled {
        let m = f["message"].as_str().unwrap();
        assert!(m.contains("`ec2:instancetype`") && m.contains("scenario `autoscaling."), "{f}");
    }
    let rows = report["scenarios"].as_array().unwrap();
    let launch = rows
        .iter()
        .find(|r| keys_read(r, "ec2:RunInstances").iter().any(|(k, _)| k == "ec2:instancetype"))
        .expect("a RunInstances check reads ec2:InstanceType");
    assert!(
        keys_read(launch, "ec2:RunInstances").contains(&("ec2:instancetype".into(), "provided".into())),
        "{launch}"
    );
    assert_eq!(code, 2, "undecided where the type is not stated: {text}");
    let survivors = findings(&report, "surviving_mutant");
    let dropped = survivors
        .iter()
        .find(|f| f["message"].as_str().unwrap().contains("drop-statement:"))
        .unwrap_or_else(|| panic!("{survivors:#?}"));
    // Another type, or none stated: the Deny's StringNotEquals holds for both.
    let t = dropped["witness"]["context"]["ec2:instancetype"][0].as_str();
    assert!(t.is_none_or(|t| !["t3.micro", "t3.large", "t3.xlarge"].contains(&t)), "{dropped}");
    assert_eq!(dropped["witness"]["action"], "ec2:RunInstances", "{dropped}");
}

/// Resource tags beyond EC2: a Deny of deleting a classic load balancer, an Auto Scaling
/// group or a secret the cluster does not own is conformant, statically (the world model
/// replays the create and tagging calls) and on moto (the gate reads the tags with ELB's
/// DescribeTags, DescribeAutoScalingGroups and ListSecrets); each delete's decision read
/// the tag as provided.
#[test]
fn deny_delete_unowned_balancers_groups_secrets_is_conformant_statically_and_on_moto() {
    let template = "deny-delete-unowned-balancers-groups-secrets.yaml";
    let tmp = tempfile::tempdir().unwrap();
    let (code, text, report) = run("check", template, tmp.path());
    judged_as_aws(&report, &text);
    assert_eq!(code, 0, "{text}");
    let key = "aws:resourcetag/sigs.k8s.io/cluster-api-provider-aws/cluster/dkp-demo".to_string();
    for (id, action) in [
        ("elb.delete-load-balancer", "elasticloadbalancing:DeleteLoadBalancer"),
        ("autoscaling.delete-auto-scaling-group", "autoscaling:DeleteAutoScalingGroup"),
        ("secretsmanager.delete-secret", "secretsmanager:DeleteSecret"),
    ] {
        let read = keys_read(row(&report, id), action);
        assert!(read.contains(&(key.clone(), "provided".to_string())), "{id}: {read:?}");
    }

    let live = tempfile::tempdir().unwrap();
    let (code, text, report) = run("run", template, live.path());
    judged_as_aws(&report, &text);
    assert_eq!(code, 0, "{text}");
    for (id, action) in [
        ("elb.delete-load-balancer", "elasticloadbalancing:DeleteLoadBalancer"),
        ("secretsmanager.delete-secret", "secretsmanager:DeleteSecret"),
    ] {
        let delete = row(&report, id);
        let observed = (delete["observed"].as_str(), delete["decided_by"].as_str());
        assert_eq!(observed, (Some("allowed"), Some("gate")), "{delete}");
        let checks = delete["gate_checks"].as_array().unwrap();
        let check = checks.iter().find(|c| c["action"] == action).unwrap();
        assert_eq!(check["keys_read"], serde_json::json!([key]), "{check}");
    }
}
