//! Real live runs: the binary installs (or reuses) moto, starts it, deploys the seed
//! template, runs every scenario through the gate and tears down. These talk only to
//! 127.0.0.1 and stop what they start.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn run(args: &[&str], dir: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .arg("run")
        .arg("--report-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).expect("report.json written")).unwrap()
}

fn row<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["scenarios"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap_or_else(|| panic!("no row {id}"))
}

#[test]
fn seed_profile_runs_live_on_moto() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let (code, stdout, stderr) = run(&[], &dir);
    let report = report(&dir);
    let env = &report["environment"];
    assert_eq!(env["iam_decided_by"], "gate", "{stdout}\n{stderr}");
    let rows = report["scenarios"].as_array().unwrap();
    // Every row was decided live or says why not; none is passed without a decision.
    for r in rows {
        let observed = r["observed"].as_str().unwrap();
        assert!(["allowed", "denied", "skipped", "error"].contains(&observed), "{r}");
        if r["pass"] == true {
            assert!(observed == "allowed" || observed == "denied", "a passing row was decided: {r}");
            assert!(r["decided_by"] == "gate" || r["decided_by"] == "service", "{r}");
        }
        if observed == "skipped" {
            assert!(r["note"].as_str().is_some_and(|n| !n.is_empty()), "a skipped row says why: {r}");
        }
    }
    // Exactly what moto cannot serve and what no live run sends is skipped: nothing else
    // may quietly drop out of the run.
    let mut skipped: Vec<&str> =
        rows.iter().filter(|r| r["observed"] == "skipped").map(|r| r["id"].as_str().unwrap()).collect();
    skipped.sort_unstable();
    assert_eq!(
        skipped,
        [
            "autoscaling.describe-instance-refreshes",
            "autoscaling.start-instance-refresh",
            "deny.asg.create-or-update-tags-launch-configuration-arn",
            "deny.asg.delete-launch-configuration-arn",
            "deny.asg.update-launch-configuration-arn",
            "ec2.delete-launch-template-versions",
            "near-miss.elb.create-target-group",
        ],
        "{stdout}"
    );
    // The gate decided the near-misses and PassRole boundaries itself.
    for id in
        ["near-miss.ec2.create-volume", "deny.passrole.bootstrapper-role", "deny.secrets.create-shared-prefix-no-slash"]
    {
        let r = row(&report, id);
        assert_eq!(r["observed"], "denied", "{r}");
        assert_eq!(r["decided_by"], "gate", "{r}");
        // Denied by evaluation, not refused: the gate derived checks and one was denied.
        let checks = r["gate_checks"].as_array().unwrap();
        assert!(checks.iter().any(|c| c["outcome"] != "allowed"), "{r}");
    }
    // Calls the gate allowed reached moto and were answered.
    let vpc = row(&report, "ec2.create-vpc");
    assert_eq!(vpc["observed"], "allowed", "{vpc}");
    assert_eq!(vpc["backend"]["status"], 200, "{vpc}");
    assert!(!vpc["gate_checks"].as_array().unwrap().is_empty(), "{vpc}");
    assert_eq!(code, report["exit_code"].as_i64().unwrap() as i32, "{stdout}\n{stderr}");
    assert_eq!(code, 0, "the seed is conformant live too:\n{stdout}\n{stderr}");
}

#[test]
fn widened_passrole_fails_live_decided_by_the_gate() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string("scenarios/dkp-bootstrapper/template.yaml").unwrap();
    let widened = seed.replace("arn:*:iam::*:role/*.cluster-api-provider-aws.sigs.k8s.io", "arn:*:iam::*:role/*");
    assert_ne!(seed, widened);
    let template = tmp.path().join("widened.yaml");
    std::fs::write(&template, widened).unwrap();
    let dir = tmp.path().join("r");
    let (code, stdout, stderr) = run(&["--template", template.to_str().unwrap()], &dir);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let report = report(&dir);
    let r = row(&report, "deny.passrole.bootstrapper-role");
    assert_eq!(r["observed"], "allowed", "{r}");
    assert_eq!(r["decided_by"], "gate", "{r}");
    assert_eq!(r["pass"], false, "{r}");
    let passrole = r["gate_checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["action"] == "iam:PassRole")
        .expect("the gate checked PassRole");
    assert_eq!(passrole["outcome"], "allowed", "{passrole}");
    assert!(
        report["findings"].as_array().unwrap().iter().any(|f| f["kind"] == "live_mismatch"
            && f["message"].as_str().unwrap().contains("deny.passrole.bootstrapper-role"))
    );
}
