//! The catalog probe finds grants hidden behind conditions: a statement granting `iam:*`
//! from any address must be an unexpected grant even when the profile (wrongly) accepts
//! dropping that statement as an equivalent mutant.

use std::path::Path;
use std::process::Command;

fn check(profile: &Path, template: &Path, dir: &Path) -> (i32, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["check", "--profile"])
        .arg(profile)
        .arg("--template")
        .arg(template)
        .arg("--report-dir")
        .arg(dir)
        .output()
        .unwrap();
    let report = serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    (out.status.code().unwrap_or(-1), report)
}

#[test]
fn a_grant_behind_a_condition_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/dkp-bootstrapper");
    let profile = tmp.path().join("profile");
    std::fs::create_dir(&profile).unwrap();
    for entry in std::fs::read_dir(&seed_dir).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), profile.join(entry.file_name())).unwrap();
    }
    for (name, condition) in [
        ("ip", "{IpAddress: {aws:SourceIp: 0.0.0.0/0}}"),
        ("numeric", "{NumericLessThan: {aws:MultiFactorAuthAge: '3600'}}"),
        ("date", "{DateGreaterThan: {aws:CurrentTime: '2020-01-01T00:00:00Z'}}"),
        ("null", "{'Null': {aws:TokenIssueTime: 'false'}}"),
    ] {
        let seed = std::fs::read_to_string(seed_dir.join("template.yaml")).unwrap();
        let extra = format!(
            "        - Action: [iam:*]\n          Condition: {condition}\n          Effect: Allow\n          Resource: '*'\n        Version: 2012-10-17\n      Roles:"
        );
        let template_text = seed.replacen("        Version: 2012-10-17\n      Roles:", &extra, 1);
        assert_ne!(template_text, seed);
        let template = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&template, template_text).unwrap();

        // Accept the new statement's drop-statement mutant, as a careless profile might.
        let (_, first) = check(&profile, &template, &tmp.path().join(format!("{name}-1")));
        let dropped = first["minimality"]["mutants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| {
                m["status"] == "survived"
                    && m["id"].as_str().unwrap().starts_with("drop-statement:dkp-bootstrapper-policy@")
            })
            .unwrap_or_else(|| panic!("{name}: the new statement's drop mutant survives"))["id"]
            .as_str()
            .unwrap()
            .to_string();
        let profile_toml = profile.join("profile.toml");
        let original = std::fs::read_to_string(&profile_toml).unwrap();
        std::fs::write(
            &profile_toml,
            format!("{original}\n[[equivalent_mutant]]\nid = \"{dropped}\"\nreason = \"careless\"\n"),
        )
        .unwrap();

        let (code, report) = check(&profile, &template, &tmp.path().join(format!("{name}-2")));
        std::fs::write(&profile_toml, original).unwrap();
        assert_eq!(code, 1, "{name}: not conformant");
        let unexpected: Vec<&str> = report["minimality"]["catalog"]["unexpected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["action"].as_str().unwrap())
            .collect();
        assert!(
            unexpected.contains(&"iam:CreateUser"),
            "{name}: iam:CreateUser is an unexpected grant: {unexpected:?}"
        );
    }
}

/// Conditions with several values, wildcards that equality reads literally, policy
/// variables and several clauses on one key do not hide a grant from the probe either
/// (shapes found by review that once passed as conformant).
#[test]
fn tricky_conditions_do_not_hide_grants() {
    let tmp = tempfile::tempdir().unwrap();
    let seed_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/dkp-bootstrapper");
    let seed = std::fs::read_to_string(seed_dir.join("template.yaml")).unwrap();
    for (name, condition) in [
        ("several-values", "{StringEquals: {aws:TagKeys: ['env*', environment]}}"),
        ("variable-default", "{StringEquals: {aws:TagKeys: \"${ec2:CreateAction, 'environment'}\"}}"),
        ("two-clauses-one-key", "{StringLike: {aws:TagKeys: 'env*'}, StringNotEquals: {aws:TagKeys: envx}}"),
    ] {
        // The statement also grants ec2:DeleteTags, which the contract needs, so that
        // dropping it is noticed; what it adds beyond that must be found.
        let statement = format!(
            "        - Action: ['???:*Tag*']\n          Condition: {condition}\n          Effect: Allow\n          Resource: ['*']\n        Version: 2012-10-17\n      Roles:"
        );
        let text = seed.replacen("          - ec2:DeleteTags\n", "", 1).replacen(
            "        Version: 2012-10-17\n      Roles:",
            &statement,
            1,
        );
        let template = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&template, text).unwrap();
        let (code, report) = check(&seed_dir, &template, &tmp.path().join(name));
        assert_eq!(code, 1, "{name}: not conformant");
        let unexpected: Vec<&str> = report["minimality"]["catalog"]["unexpected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["action"].as_str().unwrap())
            .collect();
        assert!(unexpected.contains(&"iam:TagRole"), "{name}: iam:TagRole is found: {unexpected:?}");
    }
}
