//! A real live run on the open-source LocalStack runtime, started on the host by the
//! binary (installed into the cached venv by localstack/setup-localstack.sh). LocalStack
//! serves EC2, IAM, STS, Secrets Manager and CloudFormation but not classic ELB or Auto
//! Scaling, and enforces no IAM: the report must say all of that.

use std::process::Command;

use serde_json::Value;

#[test]
fn seed_profile_runs_on_the_localstack_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("r");
    let out = Command::new(env!("CARGO_BIN_EXE_iam-conformance"))
        .args(["run", "--target", "localstack", "--report-dir"])
        .arg(&dir)
        .output()
        .expect("the binary runs");
    let show = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("report.json")).unwrap_or_else(|e| panic!("{e}\n{show}")),
    )
    .unwrap();
    let env = &report["environment"];
    assert!(env["target"].as_str().unwrap().starts_with("LocalStack"), "{env}");
    assert_eq!(env["iam_decided_by"], "gate");
    assert_eq!(env["service_enforces_iam"], false, "the open-source runtime enforces no IAM: {env}");
    let rows = report["scenarios"].as_array().unwrap();
    let row = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("no row {id}"));
    // EC2, Secrets Manager and IAM calls are served live.
    for id in ["ec2.create-vpc", "ec2.create-subnet-public", "secretsmanager.create-secret"] {
        let r = row(id);
        assert_eq!(r["observed"], "allowed", "{r}\n{show}");
        assert_eq!(r["backend"]["status"], 200, "{r}");
    }
    // Classic ELB and Auto Scaling are not: the calls that reach LocalStack come back 501
    // and are reported skipped with its reason, never passed.
    for id in ["elb.create-load-balancer-first-in-account", "autoscaling.create-auto-scaling-group-first-in-account"] {
        let r = row(id);
        assert_eq!(r["observed"], "skipped", "{r}");
        assert_eq!(r["pass"], false, "{r}");
        assert!(r["note"].as_str().unwrap().contains("501"), "{r}");
    }
    // The gate still decides denials before anything reaches LocalStack.
    let r = row("near-miss.ec2.create-volume");
    assert_eq!((r["observed"].as_str(), r["decided_by"].as_str()), (Some("denied"), Some("gate")), "{r}");
    assert!(rows.iter().all(|r| r["pass"] == false || r["observed"] == "allowed" || r["observed"] == "denied"));
    // Its state went with it: only its log stays beside the reports.
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .map(|p| p.display().to_string())
        .collect();
    assert!(leftovers.is_empty(), "data directories left behind: {leftovers:?}");
}
